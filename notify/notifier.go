package notify

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// Options are what a Notifier works with besides the configuration.
type Options struct {
	// Logger receives one line per drop episode, per distinct send error
	// and per target change; nil discards.
	Logger *slog.Logger
	// Hostname names the director when notifications.director is empty;
	// nil: os.Hostname.
	Hostname func() (string, error)
	// Clock times the drop episodes (how long a target has gone without
	// dropping a notification); nil: health.RealClock. Tests pass the
	// FakeClock that drives their scheduler or controller, so that
	// events seconds apart are seconds apart for the notifier too.
	Clock health.Clock
}

// Notifier fans notifications out to the configured targets. Its methods
// are safe for concurrent use and never block on the network: they queue
// and return (a few microseconds).
type Notifier struct {
	log      *slog.Logger
	hostname func() (string, error)
	clock    health.Clock
	start    time.Time

	mu       sync.Mutex
	closed   bool
	director string
	targets  []*target // file order
	services map[string]serviceInfo
	// up are the real servers whose latest verdict, as the health events
	// told it, is up, for keepalived's up counts: by service, the
	// servers, sorted. The others take no room, and a sorted list costs
	// a third of what a map of every server's state did.
	up map[string][]string
}

type serviceInfo struct {
	name    string
	key     ipvs.ServiceKey
	servers int
}

// New returns a Notifier for cfg.Notifications and starts one goroutine
// per target. Close stops them.
func New(cfg *config.Config, opts Options) *Notifier {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Hostname == nil {
		opts.Hostname = os.Hostname
	}
	if opts.Clock == nil {
		opts.Clock = health.RealClock{}
	}
	n := &Notifier{log: opts.Logger, hostname: opts.Hostname, clock: opts.Clock, start: time.Now(),
		up: make(map[string][]string)}
	n.Update(cfg)
	return n
}

// Director returns the name the notifications carry.
func (n *Notifier) Director() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.director
}

func (n *Notifier) directorName(cfg *config.Notifications) string {
	if cfg.Director != "" {
		return cfg.Director
	}
	h, err := n.hostname()
	if err != nil || h == "" {
		n.log.Warn("cannot read the host name for notifications; set notifications.director", "err", err)
		return "lvs-sidecar"
	}
	return h
}

// Update replaces the targets with cfg's (a reload). A target whose
// settings did not change keeps its queue, its goroutine and its socket;
// removed and changed ones are stopped after sending what they hold (for
// up to their timeout), and new ones start. Update does not wait for the
// old ones.
func (n *Notifier) Update(cfg *config.Config) {
	director := n.directorName(&cfg.Notifications)
	services := make(map[string]serviceInfo, len(cfg.Services))
	for i := range cfg.Services {
		s := &cfg.Services[i]
		services[s.Key.String()] = serviceInfo{name: s.Name, key: s.Key, servers: len(s.RealServers)}
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	old := make(map[string]*target, len(n.targets))
	for _, t := range n.targets {
		old[t.cfg.Name] = t
	}
	var next []*target
	for _, tc := range cfg.Notifications.Targets {
		if t, ok := old[tc.Name]; ok && reflect.DeepEqual(t.cfg, tc) && director == n.director {
			next = append(next, t)
			delete(old, tc.Name)
			continue
		}
		t := newTarget(tc, director, n.start, n.clock, n.log)
		go t.run()
		next = append(next, t)
		n.log.Info("notification target started", "target", tc.Name, "address", tc.Address, "version", tc.SNMP.Version.String(),
			"type", typeName(tc.Inform), "mode", tc.Mode.String())
	}
	n.director, n.targets, n.services = director, next, services
	for svc := range n.up {
		if _, ok := services[svc]; !ok {
			delete(n.up, svc)
		}
	}
	n.mu.Unlock()
	for _, t := range old {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), t.cfg.Timeout)
			defer cancel()
			t.shutdown(ctx)
		}()
		n.log.Info("notification target stopped (configuration changed)", "target", t.cfg.Name)
	}
}

// publish fills in what the notifier knows about n's service and queues n
// for every target that wants its kind.
func (n *Notifier) publish(note Notification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	if note.Event == EventStateChange {
		n.setUpLocked(note.Service, note.Server, note.NewState == health.StateUp)
	}
	if s, ok := n.services[note.Service]; ok {
		note.serviceKey, note.declared, note.ServersTotal = s.key, true, s.servers
		if note.Name == "" {
			note.Name = s.name
		}
		note.ServersUp += len(n.up[note.Service])
	}
	kind := note.Event.Kind()
	for _, t := range n.targets {
		if t.cfg.Wants(kind) {
			c := note
			t.enqueue(&c)
		}
	}
}

// setUpLocked records whether server of service is up; n.mu is held.
func (n *Notifier) setUpLocked(service, server string, up bool) {
	servers := n.up[service]
	i, found := slices.BinarySearch(servers, server)
	switch {
	case up && !found:
		n.up[service] = slices.Insert(servers, i, server)
	case !up && found:
		n.up[service] = slices.Delete(servers, i, i+1)
	}
}

// HealthEvent queues a real server's change of state; subscribe it to
// health.Scheduler.
func (n *Notifier) HealthEvent(e health.Event) { n.publish(FromHealth(e)) }

// Action queues a controller action; pass it as actuator.Options.OnAction.
func (n *Notifier) Action(a actuator.Action) { n.publish(FromAction(a)) }

// ReloadFailed queues lsConfigReloadFailed with the reload's error.
func (n *Notifier) ReloadFailed(err error) {
	if err == nil {
		err = errors.New("reload failed")
	}
	n.publish(Notification{Event: EventReloadFailed, Time: time.Now(), Message: err.Error()})
}

// Started queues lsSidecarStart with the version.
func (n *Notifier) Started(version string) {
	n.publish(Notification{Event: EventStart, Time: time.Now(), Message: version})
}

// Close queues lsSidecarStop, then stops every target: what is queued is
// still sent until ctx is done, when sends in progress are abandoned.
func (n *Notifier) Close(ctx context.Context) {
	n.publish(Notification{Event: EventStop, Time: time.Now()})
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	targets := n.targets
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() { t.shutdown(ctx) })
	}
	wg.Wait()
}
