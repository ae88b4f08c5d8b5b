package actuator

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TableReader reads the kernel's IPVS table; *ipvs.Reader satisfies it.
type TableReader interface {
	Snapshot(ctx context.Context) (*ipvs.Snapshot, error)
}

// TableWriter changes the kernel's IPVS table; *ipvs.Writer satisfies it.
// The controller never deletes a service.
type TableWriter interface {
	CreateService(ctx context.Context, s *ipvs.Service) error
	UpdateService(ctx context.Context, s *ipvs.Service) error
	CreateDestination(ctx context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error
	UpdateDestination(ctx context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error
	DeleteDestination(ctx context.Context, k ipvs.ServiceKey, server netip.AddrPort) error
}

// VerdictSource gives the real servers' health verdicts; *health.Scheduler
// satisfies it. Status is the level the controller reads on every pass,
// Subscribe the edge that makes it write the changed real server at once
// (see Run). A source that also has StatusOf(service, server) (as
// *health.Scheduler does) spares that write a copy of every status; one
// that also has OnVerdict (as *health.Scheduler does) tells the controller
// of a change in the step that makes it, not through its subscribers'
// goroutine.
type VerdictSource interface {
	Status() []health.ServerStatus
	Subscribe(fn func(health.Event)) (cancel func())
}

// AdminState says which real servers an operator put into maintenance;
// *Maintenance satisfies it. Service is the service key
// ("tcp/192.0.2.1:80"), server "addr:port".
type AdminState interface {
	InMaintenance(service, server string) bool
}

// DefaultPassTimeout bounds one reconcile pass (the table read and every
// write) when Options.PassTimeout is 0.
const DefaultPassTimeout = 10 * time.Second

// Options are what a Controller works with besides the configuration.
type Options struct {
	// Reader reads the table; required.
	Reader TableReader
	// Writer changes the table; required (a dry_run controller never
	// calls it).
	Writer TableWriter
	// Verdicts are the health checks' verdicts; required.
	Verdicts VerdictSource
	// Admin says which real servers are in maintenance; nil: none.
	Admin AdminState
	// Clock defaults to health.RealClock; tests pass a FakeClock.
	Clock health.Clock
	// Logger receives one line per action (with its reason), per drifted
	// real server, per panic change and per distinct error; nil discards.
	Logger *slog.Logger
	// PassTimeout bounds one pass; default DefaultPassTimeout.
	PassTimeout time.Duration
	// Sysctls reads the IPVS sysctls (whether a drain stops persistent
	// clients); nil: the Reader if it can, else none.
	Sysctls SysctlReader
	// OnAction, when not nil, is called from the pass (or the targeted
	// write of a verdict change) after each successful write to the table
	// and when a service enters or leaves panic or fail open (see
	// Action). It runs on the controller's goroutine while the pass holds
	// its lock: it must not block, call back into the Controller or do
	// I/O; a subscriber that sends notifications queues the action and
	// returns (package notify does).
	OnAction func(Action)
	// Load gives the polled load of the real servers with a load block;
	// nil: none (every server keeps its declared weight).
	Load LoadSource
	// Labels, when not nil, has the label sets of the real servers the
	// health checks know (*health.Scheduler): the controller's metrics
	// use the same strings instead of rendering their own (a label set
	// per real server). Nil: the controller renders them.
	Labels LabeledServers
}

// Controller reconciles the kernel table with the state the configuration,
// the verdicts and the maintenance store ask for. It writes its own
// metrics (a promtext.Source). Its methods are safe for
// concurrent use.
type Controller struct {
	reader      TableReader
	writer      TableWriter
	verdicts    VerdictSource
	admin       AdminState
	load        LoadSource
	clock       health.Clock
	log         *slog.Logger
	passTimeout time.Duration

	trigger chan struct{} // one slot: triggers coalesce
	running atomic.Bool

	// verdict wakes Run for the verdict changes in queue (one slot).
	verdict chan struct{}
	queueMu sync.Mutex
	queue   verdictQueue

	// passMu serializes passes; the memory below belongs to the pass.
	passMu   sync.Mutex
	services map[ipvs.ServiceKey]*serviceMemory
	dests    map[destKey]*destMemory
	readErr  string // the last table read error logged
	// names are those of the configuration of the last pass.
	names *names
	// passes counts the passes, to tell the memory a pass saw
	// (destMemory.seen, serviceMemory.seen) from what it no longer saw.
	passes uint64
	// targets are the targets of the service a pass is on, reused from
	// service to service and pass to pass, and pointers to each.
	targets    []target
	targetPtrs []*target
	// inKernel and inConfig are the destinations of the service a pass
	// is on, in the table and in the configuration, by address.
	inKernel map[netip.AddrPort]*ipvs.Destination
	inConfig map[netip.AddrPort]bool
	// store keeps what the controller applied across restarts (nil:
	// nowhere).
	store AppliedStore
	// saver wakes Run's saver goroutine (runSaver) to write what
	// saveTargeted left (nil while Run is not running: saves are made at
	// once).
	saver        chan struct{}
	sysctls      SysctlReader
	onAction     func(Action)
	sysctlErr    string
	fleetSuspect bool // the last pass found a suspect fleet failure
	// last is what the last full pass that read the table leaves for
	// targeted writes; nil after a failed read.
	last *lastTable

	// writeMu serializes writes of the state file (held while one is
	// made, and while the saver's base changes); saveMu guards what they
	// share, never held across one: the records the file holds or is
	// about to (saveBase: what the last run left, then the last pass's
	// save and the targeted writes merged since, written only with both
	// locks held), those of the targeted writes not merged yet
	// (saveDelta), whether the last write failed, and its error as last
	// logged (see save.go).
	writeMu   sync.Mutex
	saveMu    sync.Mutex
	saveBase  []AppliedDest // sorted by service and server, never changed in place
	saveDelta map[[2]string]appliedRecord
	saveRetry bool
	saveErr   string

	// mu guards the configuration and what the last pass published.
	mu      sync.Mutex
	cfg     *config.Config
	status  Status
	counter counters

	duration prometheus.Histogram
	latency  prometheus.Histogram // verdict change to targeted write
	metricsState
	// onPass, for tests, is called by Run after each pass, and
	// onTargeted after each round of targeted writes, once the timer of
	// the next pass is set.
	onPass, onTargeted func()
}

// New returns a controller for cfg. It does not touch the table until Run.
func New(cfg *config.Config, opts Options) (*Controller, error) {
	switch {
	case cfg == nil:
		return nil, errors.New("actuator: no configuration")
	case opts.Reader == nil || opts.Writer == nil:
		return nil, errors.New("actuator: a table reader and writer are required")
	case opts.Verdicts == nil:
		return nil, errors.New("actuator: a verdict source is required")
	}
	if opts.Admin == nil {
		opts.Admin = noMaintenance{}
	}
	if opts.Clock == nil {
		opts.Clock = health.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PassTimeout <= 0 {
		opts.PassTimeout = DefaultPassTimeout
	}
	c := &Controller{
		reader:      opts.Reader,
		writer:      opts.Writer,
		verdicts:    opts.Verdicts,
		admin:       opts.Admin,
		load:        opts.Load,
		clock:       opts.Clock,
		log:         opts.Logger,
		passTimeout: opts.PassTimeout,
		trigger:     make(chan struct{}, 1),
		verdict:     make(chan struct{}, 1),
		services:    make(map[ipvs.ServiceKey]*serviceMemory),
		dests:       make(map[destKey]*destMemory),
		inKernel:    make(map[netip.AddrPort]*ipvs.Destination),
		inConfig:    make(map[netip.AddrPort]bool),
		cfg:         cfg,
		counter:     newCounters(),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "ipvs", Subsystem: "controller", Name: "reconcile_duration_seconds",
			Help:    "Duration of reconcile passes: reading the table, deciding and writing.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "ipvs", Subsystem: "controller", Name: "verdict_to_write_seconds",
			Help:    "Time from a real server's verdict change in the health checks to the end of its targeted write to the table.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
	c.histograms = prometheus.NewRegistry()
	c.histograms.MustRegister(c.duration, c.latency)
	c.status = Status{Mode: cfg.Controller.Mode, Period: period(cfg)}
	c.sysctls = opts.Sysctls
	c.onAction = opts.OnAction
	c.labels = opts.Labels
	if c.sysctls == nil {
		c.sysctls, _ = opts.Reader.(SysctlReader)
	}
	if st, ok := opts.Admin.(AppliedStore); ok {
		c.store = st
		if l, ok := st.(appliedLister); ok {
			c.saveBase = l.AppliedList()
		} else {
			recs, _ := st.Applied()
			c.saveBase = appliedList(recs)
		}
	}
	return c, nil
}

type noMaintenance struct{}

func (noMaintenance) InMaintenance(string, string) bool { return false }

// period returns the configured period or its default.
func period(cfg *config.Config) time.Duration {
	if cfg.Controller.Period > 0 {
		return cfg.Controller.Period
	}
	return config.DefaultControllerPeriod
}

// Trigger asks for a pass as soon as possible. It never blocks; triggers
// that arrive before the pass starts make one pass, and those that arrive
// while it runs make one more. Wire it to whatever changes what the
// controller wants: maintenance changes (Maintenance.OnChange), reloads.
// Verdict changes need no trigger: Run subscribes to them and writes each
// changed real server at once.
func (c *Controller) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Update replaces the configuration (a reload) and triggers a pass: new
// services and real servers are created as their verdicts allow, changed
// ones updated, and services or real servers the file no longer declares
// are left in the table as they are (and no longer touched). The mode and
// the period come from cfg.Controller; to override the file's mode (a
// command-line flag), pass a copy of the Config with Controller.Mode
// changed.
func (c *Controller) Update(cfg *config.Config) {
	if cfg == nil {
		return
	}
	c.mu.Lock()
	c.cfg = cfg
	c.status.Mode, c.status.Period = cfg.Controller.Mode, period(cfg)
	c.mu.Unlock()
	c.Trigger()
}

// config returns the current configuration.
func (c *Controller) config() *config.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

// Run reconciles until ctx is done: at once, then every period, sooner
// while a slow start ramps, and at once on every Trigger. A verdict change
// is written at once for its real server alone (a targeted write, from the
// table as the last pass left it, without reading it), with a full pass
// within followUp after it; when the targeted write cannot be sure to do
// what a full pass would (a change of panic or fail open, no pass yet, a
// reload since, a failed write), a full pass runs at once instead. Run
// returns nil when ctx is done, leaving the table as it is (a write in
// progress is abandoned at its deadline). Run may be called only once.
func (c *Controller) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("actuator: Run called twice")
	}
	// The saver writes the state file for the targeted writes; on the
	// way out it writes what is still pending.
	c.saver = make(chan struct{}, 1)
	stopSaver, saverDone := make(chan struct{}), make(chan struct{})
	go c.runSaver(stopSaver, saverDone)
	defer func() {
		close(stopSaver)
		<-saverDone
	}()
	var cancel func()
	if h, ok := c.verdicts.(verdictHook); ok {
		cancel = h.OnVerdict(c.noteVerdict)
	} else {
		cancel = c.verdicts.Subscribe(c.noteVerdict)
	}
	defer cancel()
	var timer health.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if ctx.Err() != nil {
			return nil
		}
		next := c.pass(ctx)
		if timer == nil {
			timer = c.clock.AfterFunc(next, c.Trigger)
		} else {
			timer.Reset(next)
		}
		if c.onPass != nil {
			c.onPass()
		}
		if !c.await(ctx, timer, c.clock.Monotonic()+next) {
			return nil
		}
	}
}

// await makes the targeted writes of verdict changes until a full pass
// is due (a Trigger, the timer, or a targeted write that cannot decide
// alone), or ctx is done (false). due is when timer fires (monotonic):
// after a targeted write it fires within followUp (or the next step of a
// ramp it started), never later.
func (c *Controller) await(ctx context.Context, timer health.Timer, due time.Duration) bool {
	for {
		// Verdict changes first: a pending pass waits the few
		// microseconds of their writes, not they the pass's table read.
		select {
		case <-c.verdict:
		default:
			select {
			case <-ctx.Done():
				return false
			case <-c.trigger:
				return true
			case <-c.verdict:
			}
		}
		full, followIn := c.targeted(ctx)
		if now := c.clock.Monotonic(); !full && followIn > 0 && due-now > followIn {
			due = now + followIn
			timer.Reset(followIn)
		}
		if c.onTargeted != nil {
			c.onTargeted()
		}
		if full {
			return true
		}
	}
}
