package health

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MinMaxInFlight is the least bound on the checks that run at once when
// SchedulerOptions.MaxInFlight is 0 (automatic).
const MinMaxInFlight = 256

// checkGrace is how long past its deadline a Check may run before the
// scheduler records a timeout for it and frees its slot (see
// Checker: Check must return by its context's deadline).
const checkGrace = time.Second

// ErrStopped is returned by Update after Stop.
var ErrStopped = errors.New("health: scheduler stopped")

// SchedulerOptions configures a Scheduler; the zero value is usable.
type SchedulerOptions struct {
	// Clock defaults to RealClock; tests pass a FakeClock.
	Clock Clock
	// Logger receives one line per real server state change (Info when up,
	// Warn when down) and per checker panic; nil discards.
	Logger *slog.Logger
	// MaxInFlight bounds how many checks run at once; a due check waits
	// for a slot, and the wait counts as scheduler lag. 0 (automatic) sets
	// it at each Update to what the checks need if every one of them took
	// its whole timeout at its fastest rate (the sum of timeout/interval),
	// and at least MinMaxInFlight: then the bound never delays checks in a
	// steady state, however many targets are filtered, and only flattens
	// bursts such as many cron specs firing on the same second.
	MaxInFlight int
	// Rand draws the random offsets and jitter; nil seeds one at random.
	Rand *rand.Rand
}

// Scheduler runs the checks of a set of real servers on their schedules,
// keeps a rise/fall verdict per check and a state per real server, tells
// subscribers when a real server changes state, and exports it all as
// metric families written by promtext (Snapshot: a promtext.Source), at a
// fraction of what a registry costs per series.
//
// Verdicts: each check starts unknown and becomes up after Rise
// consecutive passes and down after Fall consecutive failures, from
// unknown too: a steady server has its first verdict after max(Rise,
// Fall) runs at most, a flapping one none. A real server's state combines
// its checks' verdicts (CombineAll by default: down as soon as one check
// is down, up when all are up); while the combination is undecided (a
// check has no verdict yet) the server keeps its state, so it is unknown
// only until its first verdict, and a check added by Update does not
// unsettle it. Each
// change of a server's state is logged once (Info when up, Warn when
// down, with the check, its result class, reason and latency), counted
// and timestamped in the metrics, and sent to subscribers.
//
// The checks' schedules are cron.Schedules driven by one timer on the
// earliest due check (a heap), not by cron.Cron, whose loop sorts every
// entry on every wake and reads the wall clock (see BENCHMARKS.md, "Health
// checks"). Due times are kept on the clock's monotonic reading: an
// @every schedule never looks at the wall clock, and a cron spec computes
// its next wall-clock time and converts it to a monotonic deadline, so
// that a step of the wall clock (date -s, an NTP step) moves no interval,
// and a cron spec re-aligns to the new wall clock at its next run. Like
// cron's SkipIfStillRunning and Recover wrappers, a check
// that is still running when due again is skipped (and counted), and a
// panicking checker yields an error result instead of crashing.
//
// Each run has its own goroutine and context deadline (the check's
// Timeout), so a hung check delays no other; at most MaxInFlight run at
// once. A SYN or TCP check's run has neither when a slot is free at
// once (asyncChecker): the SYN scanner, or for a TCP check an epoll
// event loop (reactor.go, tcp_async.go), keeps the deadline and reports
// the result.
type Scheduler struct {
	clock Clock
	log   *slog.Logger
	auto  bool // MaxInFlight is automatic
	// realTime: the clock is RealClock, whose time an asyncChecker
	// keeps on its own.
	realTime bool
	root     context.Context // canceled by Stop when its deadline passes
	abort    context.CancelFunc

	mu      sync.Mutex
	sem     chan struct{} // a token per running check; replaced by Update when automatic
	rnd     *rand.Rand
	servers []*server // in the order of the last Update; serverLocked finds one
	queue   checkHeap
	timer   Timer
	armed   time.Duration // the monotonic deadline the timer is set to, if isArmed
	isArmed bool
	started bool
	stopped bool
	nchecks int
	specs   sharedSpecsOf // during Update: the checks' specs, to share

	wg       sync.WaitGroup // one per launched run, until its Check returns
	pending  atomic.Int64   // launched runs whose Check has not returned, and abandon records
	running  atomic.Int64   // runs holding a slot
	skipped  atomic.Uint64
	abandons atomic.Uint64
	frozen   atomic.Int64                // real servers with a check in local error
	fireBuf  atomic.Pointer[[]*checkRun] // fire's list of runs to start, for reuse
	halted   atomic.Bool                 // Stop was called: runs waiting for a slot give up

	metricsState

	events *eventDispatcher
	hooks  subList // OnVerdict's
}

// serverKey identifies a real server of a virtual service.
type serverKey struct{ service, server string }

// server is one real server: its checks and combined state.
type server struct {
	key serverKey

	mu      sync.Mutex
	checks  []*check
	since   time.Time
	combine Combine
	state   State

	// localErrs counts the checks whose latest result is a local error:
	// while it is above 0 the server is frozen by local errors, and
	// local says since when and why. Rare: behind a pointer it costs a
	// server without one 8 bytes, not 40 (a server is 104 bytes in all,
	// Go's size class of 112).
	localErrs int32
	local     *serverLocal
}

// serverLocal is a server's episode of local errors: when its first
// check in local error came in, and the latest one's check and reason.
type serverLocal struct {
	since  time.Time
	reason string
}

// check is one check of a real server. Fields under "srv.mu" are written
// with both the scheduler's and the server's lock held, so either lock
// suffices to read them.
type check struct {
	srv *server

	// srv.mu
	spec      *checkSpec      // the spec but its Checker, shared with the checks alike; spec.Name is the check's name
	checker   Checker         // its String() is the check's identity with the name
	observers *classObservers // the duration histograms of its kind, by class
	last      Result
	lastTime  time.Time
	counts    [numClasses]uint32 // results by class: 136 years at a run a second (a wrap reads as a counter reset)
	gen       uint32             // bumped when the check is removed or replaced
	v         verdict
	panicked  bool      // the latest run panicked
	localErr  bool      // the latest result was a local error
	lastMode  checkMode // the mode of the latest result, to tell a change

	// scheduler's mu (mode beside the flags above: a word for them all;
	// 184 bytes in all, Go's size class of 192)
	mode    checkMode
	index   int32 // in the heap, -1 when not queued
	nominal slot  // next run time by the schedule; the heap keeps it plus jitter

	run atomic.Pointer[checkRun] // the run whose Check has not returned, if any
}

// name returns the check's name; either lock suffices (a check keeps its
// name: one of another name is another check).
func (c *check) name() string { return c.spec.Name }

// classObservers are the duration histograms of one check kind, by
// class: shared by every check of the kind (Scheduler.observers).
type classObservers [numClasses]prometheus.Observer

// NewScheduler returns a scheduler with no targets; Update gives it some
// and Start starts running them.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	auto := opts.MaxInFlight <= 0
	if auto {
		opts.MaxInFlight = MinMaxInFlight
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	root, abort := context.WithCancel(context.Background())
	s := &Scheduler{
		clock:  opts.Clock,
		log:    opts.Logger,
		sem:    make(chan struct{}, opts.MaxInFlight),
		auto:   auto,
		root:   root,
		abort:  abort,
		rnd:    opts.Rand,
		events: newEventDispatcher(),
	}
	_, s.realTime = opts.Clock.(RealClock)
	s.lag, s.durations, s.histograms = newHistograms()
	s.observers = make(map[string]*classObservers)
	return s
}

// Update replaces the set of targets. Checks that still exist (same
// service, server and check name, and the same Checker.String()) keep
// their verdict, counters and timing; others start unknown; removed ones
// stop (a removed check's running Check is canceled and its result
// dropped). Invalid targets leave the current set running and return an
// error naming each problem.
func (s *Scheduler) Update(targets []Target) error {
	if err := validateTargets(targets); err != nil {
		return fmt.Errorf("health: invalid targets: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	s.specs = make(sharedSpecsOf)
	defer func() { s.specs = nil }()
	now := s.now()
	// A map of the servers only while the targets change: kept, it would
	// cost some 80 bytes a real server (serverLocked finds one without).
	old := make(map[serverKey]*server, len(s.servers))
	for _, srv := range s.servers {
		old[srv.key] = srv
	}
	servers := make([]*server, 0, len(targets))
	nchecks := 0
	for i := range targets {
		t := &targets[i]
		key := serverKey{t.Service, t.Server}
		srv := old[key]
		if srv == nil {
			srv = &server{key: key, since: now.wall}
		} else {
			delete(old, key) // targets are unique: validateTargets
		}
		s.updateServerLocked(srv, t, now)
		servers = append(servers, srv)
		nchecks += len(srv.checks)
	}
	for _, srv := range old {
		srv.mu.Lock()
		for _, c := range srv.checks {
			s.removeCheckLocked(c)
		}
		srv.checks = nil
		srv.mu.Unlock()
	}
	s.servers, s.nchecks = servers, nchecks
	s.gen++ // a new layout for the metrics
	if limit := maxInFlightFor(targets, now.wall); s.auto && limit != cap(s.sem) {
		// Runs hold the channel they took their token from.
		s.sem = make(chan struct{}, limit)
	}
	if s.started {
		s.armLocked(now)
	}
	return nil
}

// updateServerLocked gives srv the checks of t, keeping those that still
// exist, and recomputes its state.
func (s *Scheduler) updateServerLocked(srv *server, t *Target, now slot) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	old := make(map[string]*check, len(srv.checks))
	for _, c := range srv.checks {
		old[c.name()] = c
	}
	checks := make([]*check, 0, len(t.Checks))
	for j := range t.Checks {
		spec := t.Checks[j]
		name := spec.name()
		c := old[name]
		if c != nil && c.checker.String() == spec.Checker.String() {
			delete(old, name)
			retime := !sameTiming(c.spec, &spec)
			s.setSpecLocked(c, spec)
			if retime && s.started {
				s.scheduleFirstLocked(c, now)
			}
		} else {
			c = &check{srv: srv, index: -1}
			s.setSpecLocked(c, spec)
			if s.started {
				s.scheduleFirstLocked(c, now)
			}
		}
		checks = append(checks, c)
	}
	for _, c := range old {
		s.removeCheckLocked(c)
	}
	srv.checks = checks
	srv.combine = t.Combine
	if st := srv.combinedLocked(); st != srv.state {
		// Rare, and under the scheduler's lock anyway: logged here.
		s.logTransition(s.transitionLocked(srv, st, now.wall, nil, Result{Reason: "configuration changed"}))
	}
}

// sameTiming reports whether two specs schedule alike.
func sameTiming(a *checkSpec, b *CheckSpec) bool {
	return a.FastInterval == b.FastInterval && a.DownInterval == b.DownInterval &&
		a.Jitter == b.Jitter && sameSchedule(a.Schedule, b.Schedule)
}

func (s *Scheduler) setSpecLocked(c *check, spec CheckSpec) {
	kind := spec.kind()
	changed := c.observers == nil || c.spec.Type != kind
	c.spec, c.checker = s.specs.share(&spec, kind), spec.Checker
	if changed {
		obs := s.observers[kind]
		if obs == nil {
			obs = new(classObservers)
			for i, class := range Classes {
				obs[i] = s.durations.WithLabelValues(kind, class.String())
			}
			s.observers[kind] = obs
		}
		c.observers = obs
	}
}

// removeCheckLocked stops c for good; the server's lock is held.
func (s *Scheduler) removeCheckLocked(c *check) {
	s.localEndLocked(c.srv, c, time.Time{}, false)
	c.gen++
	if r := c.run.Load(); r != nil {
		r.stop()
	}
	if c.index >= 0 {
		s.queue.remove(c)
	}
}

// combinedLocked returns the server's state from its checks' verdicts.
func (srv *server) combinedLocked() State {
	var buf [8]State
	states := buf[:0]
	for _, c := range srv.checks {
		states = append(states, c.v.state)
	}
	return combineStates(srv.combine, states, srv.state)
}

// Start starts running the checks, each at its first due time. It does
// nothing after the first call or after Stop.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	go s.events.run()
	now := s.now()
	for _, srv := range s.servers {
		srv.mu.Lock()
		for _, c := range srv.checks {
			s.scheduleFirstLocked(c, now)
		}
		srv.mu.Unlock()
	}
	s.armLocked(now)
}

// Stop stops scheduling checks and waits until the running ones return
// and subscribers got every event, or until ctx is done: then it cancels
// the running checks and returns an error. The scheduler cannot be
// started again.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.halted.Store(true)
	started := s.started
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("health: stop: %d checks still running: %w", s.pending.Load(), ctx.Err())
	}
	s.abortRuns()
	if started {
		if e := s.events.close(ctx); e != nil && err == nil {
			err = fmt.Errorf("health: stop: event delivery unfinished: %w", e)
		}
	}
	return err
}

// abortRuns cancels every check's context and running Check.
func (s *Scheduler) abortRuns() {
	s.abort()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.servers {
		for _, c := range srv.checks {
			if r := c.run.Load(); r != nil {
				r.stop()
			}
		}
	}
}

// LocalErrors returns how many real servers are frozen by local errors
// now: a check of theirs could not run on this director at its latest
// run (ClassLocalError; see ServerStatus.LocalError). While it is above
// 0 the verdicts of those servers say nothing new, and the sidecar is not
// ready for acting on them: a controller should hold its actions
// (ServerStatus.LocalError names the servers, for holding them alone).
// Safe to call from any goroutine, cheap (one atomic load).
func (s *Scheduler) LocalErrors() int { return int(s.frozen.Load()) }

// Status returns a snapshot of every real server, sorted by service and
// server.
func (s *Scheduler) Status() []ServerStatus {
	servers := s.sortedServers()
	out := make([]ServerStatus, len(servers))
	for i, srv := range servers {
		out[i] = srv.status()
	}
	return out
}

// Verdicts returns what Status does without each server's Checks (nil):
// its state, since when, and its local error, in Status's order. That is
// all a controller's pass reads of every server, and at 10,000 real
// servers the checks' copies would be 10,000 allocations and 0.96 of the
// 2.33 MB of each pass's copy (BenchmarkVerdicts).
func (s *Scheduler) Verdicts() []ServerStatus {
	servers := s.sortedServers()
	out := make([]ServerStatus, len(servers))
	for i, srv := range servers {
		srv.mu.Lock()
		out[i] = srv.verdictLocked()
		srv.mu.Unlock()
	}
	return out
}

// sortedServers returns a copy of the servers sorted by service, then
// server: Status's order, sorted as pointers (8 bytes a swap, not a
// status's 128).
func (s *Scheduler) sortedServers() []*server {
	s.mu.Lock()
	servers := slices.Clone(s.servers)
	s.mu.Unlock()
	slices.SortFunc(servers, func(a, b *server) int {
		return cmp.Or(cmp.Compare(a.key.service, b.key.service), cmp.Compare(a.key.server, b.key.server))
	})
	return servers
}

// StatusOf returns the snapshot of one real server (service and server as
// in Target), without copying the others' as Status does; ok is false
// when the scheduler does not check it.
func (s *Scheduler) StatusOf(service, server string) (st ServerStatus, ok bool) {
	s.mu.Lock()
	srv := s.serverLocked(serverKey{service, server})
	s.mu.Unlock()
	if srv == nil {
		return ServerStatus{}, false
	}
	return srv.status(), true
}

// serverLocked returns the server of key, nil if none; s.mu is held. It
// searches the metrics layout's servers, sorted by key.
func (s *Scheduler) serverLocked(key serverKey) *server {
	l := s.layoutLocked()
	i, found := slices.BinarySearchFunc(l.servers, key, func(srv *server, key serverKey) int {
		return compareServers(srv.key, key)
	})
	if !found {
		return nil
	}
	return l.servers[i]
}

// verdictLocked returns srv's status without its checks; srv.mu is
// held.
func (srv *server) verdictLocked() ServerStatus {
	st := ServerStatus{Service: srv.key.service, Server: srv.key.server, State: srv.state, Since: srv.since}
	if srv.local != nil {
		st.LocalError, st.LocalErrorSince = srv.local.reason, srv.local.since
	}
	return st
}

// status returns a snapshot of srv.
func (srv *server) status() ServerStatus {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	st := srv.verdictLocked()
	st.Checks = make([]CheckStatus, len(srv.checks))
	for i, c := range srv.checks {
		st.Checks[i] = CheckStatus{Name: c.name(), State: c.v.state, Last: c.last, LastTime: c.lastTime,
			Passes: int(c.v.passes), Fails: int(c.v.fails)}
	}
	return st
}
