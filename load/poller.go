// Package load polls the load of real servers over SNMP, for the
// controller's load weights: one goroutine and one SNMP client per real
// server that has a load block, each poll bounded by the block's timeout.
// Nothing here blocks the health checks or the controller: they read the
// last sample, which a worker replaces after each poll.
//
// A real server that does not answer, or answers with something that is
// not a load, for stale_after intervals is stale: Load reports it not
// fresh, and the controller gives it back its declared weight. The
// poller logs the start and the end of each stale episode once, and
// exports the polled load, the poll errors and the staleness.
package load

import (
	"context"
	"log/slog"
	"net/netip"
	"reflect"
	"sync"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// Options are what a Poller works with.
type Options struct {
	// Logger gets one line per stale episode (start and end) and per
	// change of the set of targets; nil discards.
	Logger *slog.Logger
	// Clock defaults to health.RealClock; tests pass a FakeClock.
	Clock health.Clock
	// Do runs fn on a thread inside the network namespace the real
	// servers are reached from (ipvs.NetNS.Do for --ipvs.netns); nil:
	// the process's own.
	Do func(fn func() error) error
	// OnChange is called (from a worker's goroutine, never blocking it
	// for long: Controller.Trigger) when a sample moved by at least the
	// block's hysteresis or a real server became stale or fresh.
	OnChange func()

	dial      dialer // tests: a fake client
	afterPoll func() // tests: called after each poll is recorded
}

// key identifies a real server as the controller and the metrics do:
// the service key's String() and "addr:port".
type key struct{ service, server string }

// Poller runs the workers of the real servers with a load block. Its
// methods are safe for concurrent use.
type Poller struct {
	opts Options

	mu      sync.Mutex
	workers map[key]*worker
	stopped bool
	wg      sync.WaitGroup
}

// New returns a poller with no targets; Update gives it some.
func New(opts Options) *Poller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = health.RealClock{}
	}
	if opts.dial == nil {
		opts.dial = dialSNMP
	}
	if opts.OnChange == nil {
		opts.OnChange = func() {}
	}
	return &Poller{opts: opts, workers: make(map[key]*worker)}
}

// Update makes the targets those of cfg: a worker starts for each real
// server with a load block that has none, stops for each that no longer
// has one, and restarts for each whose block changed. Workers whose block
// is the same keep their samples.
func (p *Poller) Update(cfg *config.Config) {
	want := make(map[key]*config.LoadWeight)
	addrs := make(map[key]netip.Addr)
	for i := range cfg.Services {
		s := &cfg.Services[i]
		for j := range s.RealServers {
			rs := &s.RealServers[j]
			if rs.Load == nil {
				continue
			}
			k := key{s.Key.String(), rs.Address.String()}
			want[k], addrs[k] = rs.Load, rs.Address.Addr()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	added, removed := 0, 0
	// A worker whose block changed is replaced, and its successor starts
	// from its last answer: a reload that changes, say, the credentials
	// or the curve does not give the server its declared weight back
	// until the next answer.
	changed := make(map[key]*worker)
	for k, w := range p.workers {
		if l, ok := want[k]; ok && reflect.DeepEqual(*l, *w.cfg) {
			continue
		} else if ok {
			changed[k] = w
		} else {
			removed++
		}
		w.stop()
		delete(p.workers, k)
	}
	for k, l := range want {
		if _, ok := p.workers[k]; ok {
			continue
		}
		w := newWorker(k, addrs[k], l, &p.opts)
		if old := changed[k]; old != nil {
			w.inherit(old)
		}
		p.workers[k] = w
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w.run()
		}()
		added++
	}
	if added > 0 || removed > 0 {
		p.opts.Logger.Info("load polls configured", "real_servers", len(p.workers), "started", added-len(changed),
			"stopped", removed, "changed", len(changed))
	}
}

// Load returns the last load polled from a real server (in the unit of
// its load block's start and full), how many good answers it has given
// (a new one is a new step for the controller), and whether the load is
// fresh; a stale or never-read load is not.
func (p *Poller) Load(service, server string) (value float64, seq uint64, fresh bool) {
	p.mu.Lock()
	w := p.workers[key{service, server}]
	p.mu.Unlock()
	if w == nil {
		return 0, 0, false
	}
	return w.sample()
}

// Stop stops every worker and waits for them until ctx ends; a poll in
// flight ends at its deadline.
func (p *Poller) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.stopped = true
	for k, w := range p.workers {
		w.stop()
		delete(p.workers, k)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
