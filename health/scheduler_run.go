package health

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// checkRun is one run of a check, from the moment it is due until its
// Check returns (or an asyncChecker reports its result).
type checkRun struct {
	s       *Scheduler
	c       *check
	gen     uint32
	checker Checker
	timeout time.Duration
	nominal slot
	due     time.Duration // on the monotonic clock
	sem     chan struct{} // the scheduler's when the run was launched
	async   asyncChecker  // the checker, when the run has no goroutine

	start   atomic.Int64 // when Check started: the monotonic reading + 1; 0 before
	claimed atomic.Bool  // the run's result has been recorded (or dropped)

	// The context Check gets derives from no other, which saves
	// registering every run with the check's context; stop cancels it.
	mu      sync.Mutex
	stopped bool
	cancel  context.CancelFunc
}

// stop cancels the run's Check, or keeps it from starting.
func (r *checkRun) stop() {
	r.mu.Lock()
	r.stopped = true
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// modeInterval returns the fixed interval of mode m, 0 for a cron spec.
func (c *check) modeInterval(m checkMode) time.Duration {
	switch {
	case m == modeFast && c.spec.FastInterval > 0:
		return c.spec.FastInterval
	case m == modeDown && c.spec.DownInterval > 0:
		return c.spec.DownInterval
	}
	return scheduleInterval(c.spec.Schedule)
}

// scheduleFirstLocked queues c for its first run, or its first run after
// a timing change: a random offset within the interval, so that checks
// added together spread out, or the cron spec's next time.
func (s *Scheduler) scheduleFirstLocked(c *check, now slot) {
	c.mode = c.v.mode()
	c.lastMode = c.mode
	if iv := c.modeInterval(c.mode); iv > 0 {
		c.nominal = now.at(now.mono + time.Duration(s.rnd.Int64N(int64(iv))))
	} else if next, ok := c.after(c.mode, now, now); ok {
		c.nominal = next
	} else {
		c.nominal = never(now)
	}
	s.queueLocked(c)
}

// queueLocked puts c in the heap at its nominal time plus jitter.
func (s *Scheduler) queueLocked(c *check) {
	due := c.nominal.mono
	if c.spec.Jitter > 0 {
		due += time.Duration(s.rnd.Int64N(int64(c.spec.Jitter)))
	}
	s.queue.set(c, int64(due))
}

// armLocked sets the timer to the earliest due check.
func (s *Scheduler) armLocked(now slot) {
	if len(s.queue) == 0 {
		if s.timer != nil && s.isArmed {
			s.timer.Stop()
		}
		s.isArmed = false
		return
	}
	due := time.Duration(s.queue[0].key)
	if s.isArmed && due == s.armed {
		return
	}
	if s.timer == nil {
		s.timer = s.clock.AfterFunc(due-now.mono, s.fire)
	} else {
		s.timer.Reset(due - now.mono)
	}
	s.armed, s.isArmed = due, true
}

// fire starts every check that is due (or nearly: see fireCoalesce), or
// skips it while its previous run has not returned, and queues each for
// its next run. Runs of an asyncChecker start after it let go of the
// lock (see startAsync).
func (s *Scheduler) fire() {
	// The list is reused: fires seldom overlap, and then one makes its
	// own.
	buf := s.fireBuf.Swap(nil)
	if buf == nil {
		buf = new([]*checkRun)
	}
	s.mu.Lock()
	async := s.fireLocked((*buf)[:0])
	s.mu.Unlock()
	for i, r := range async {
		if i > 0 && i%fireYieldEvery == 0 {
			runtime.Gosched()
		}
		s.startAsync(r)
	}
	clear(async)
	*buf = async
	s.fireBuf.Store(buf)
}

// fireYieldEvery is how many asynchronous runs fire starts before it
// yields its processor. A TCP run's system calls are raw (rawsys.go):
// they keep the processor, and the runtime cannot preempt a goroutine
// inside one, so that fire starting the hundreds of runs a coalesced
// wake-up can hold (a connect to a listener on this host makes the whole
// handshake inside the call) would, with GOMAXPROCS=1, keep every other
// goroutine waiting until the last had started.
const fireYieldEvery = 16

// fireLocked is fire's work under the lock; it appends to async the runs
// to start with startAsync and returns it.
func (s *Scheduler) fireLocked(async []*checkRun) []*checkRun {
	s.isArmed = false
	if s.stopped {
		return async
	}
	now := s.now()
	for len(s.queue) > 0 {
		c := s.queue[0].c
		due := s.queue[0].key
		if due > int64(now.mono+c.early()) {
			break
		}
		if r := c.run.Load(); r != nil {
			s.skipped.Add(1)
			s.abandonIfOverdueLocked(r, now)
		} else {
			async = s.launchLocked(c, time.Duration(due), async)
		}
		// Next from the nominal time, not now, so that lag does not make
		// the schedule drift; from now when it fell behind by a whole
		// interval, so that missed runs are skipped rather than bunched.
		next, ok := c.after(c.mode, c.nominal, now)
		if ok && next.mono <= now.mono {
			next, ok = c.after(c.mode, now, now)
		}
		if !ok {
			next = never(now)
		}
		c.nominal = next
		s.queueLocked(c)
	}
	s.armLocked(now)
	return async
}

// fireCoalesce is how early a run may start to share its wake-up with
// the run due just before it: the timer fires for the earliest due
// check, and every check due within fireCoalesce after it (and within a
// tenth of its interval) starts with it. At a few hundred checks per
// second each wake-up of the process (the poller's thread, the timer,
// the goroutines it readies, sysmon) costs as much CPU as the check
// itself, which a C event loop does not pay; starting runs up to 10 ms
// early woke the process about a third as often and cut the CPU per
// check by a quarter to a third, and 50 ms (5 % of a 1 s interval)
// another third (BENCHMARKS.md, "CPU per check at a paced rate"). The
// schedule keeps its nominal times: an early run moves no later one, and
// no run starts late for it.
const fireCoalesce = 50 * time.Millisecond

// early is how long before its due time c may start (see fireCoalesce):
// none for a cron spec, whose runs name wall-clock seconds.
func (c *check) early() time.Duration {
	return min(fireCoalesce, c.modeInterval(c.mode)/10)
}

// launchLocked makes c's run and starts it on a goroutine of its own
// (execute), or, for an asyncChecker that gets a slot at once, appends
// it to async for fire to start without one.
func (s *Scheduler) launchLocked(c *check, due time.Duration, async []*checkRun) []*checkRun {
	r := &checkRun{s: s, c: c, gen: c.gen, checker: c.checker, timeout: c.spec.Timeout,
		nominal: c.nominal, due: due, sem: s.sem}
	c.run.Store(r)
	s.pending.Add(1)
	s.wg.Add(1)
	// The asynchronous path keeps time on the real clock (the scanner's
	// timer), so a fake clock's runs take the goroutine's. With no slot
	// free the run waits for one on its goroutine, as every run did
	// before: its wait is the lag MaxInFlight means, in the order the
	// slots free, with no second queue to keep.
	if ac, ok := r.checker.(asyncChecker); ok && s.realTime {
		select {
		case r.sem <- struct{}{}:
			r.async = ac
			return append(async, r)
		default:
		}
	}
	go s.execute(r)
	return async
}

// asyncChecker is a Checker that can run without a goroutine of its own
// (the SYN check: its scanner keeps every probe in flight under one
// timer).
type asyncChecker interface {
	Checker
	// startAsync starts a check with deadline timeout and never waits
	// on the network. Either it returns the result at once (started
	// false), or it reports it to done exactly once, from another
	// goroutine (maybe before startAsync returned), and returns cancel,
	// which ends the check early (done then gets a canceled result, if
	// it got no other); cancel never calls done itself and may be called
	// under any lock, more than once, and after done.
	startAsync(timeout time.Duration, done resultSink) (cancel func(), res Result, started bool)
}

// resultSink takes the result of a run an asyncChecker started. The
// scheduler's is the run itself (*checkRun): an interface rather than a
// func, because a closure over the run would be an allocation for every
// run, and most end in startAsync without calling it.
type resultSink interface{ finish(Result) }

// sinkFunc is a func as a resultSink.
type sinkFunc func(Result)

func (f sinkFunc) finish(res Result) { f(res) }

// finish records the result of r's asynchronous run.
func (r *checkRun) finish(res Result) { r.s.finishRun(r, res, nil) }

// execute waits for a slot, runs the check with its deadline and records
// the result.
//
// A run waits for its slot until the scheduler aborts, not until its
// check is removed: a context per check to wake it would cost a few
// hundred bytes for each of 10,000 checks (BENCHMARKS.md, "Scale"), for
// a wait that other runs' deadlines bound; a removed check's run gives
// its slot back as soon as it has it.
func (s *Scheduler) execute(r *checkRun) {
	select {
	case r.sem <- struct{}{}:
	case <-s.root.Done():
		s.dropRun(r)
		return
	}
	ctx, cancel := s.clock.WithTimeout(withProbeTimeout(context.Background(), r.timeout), r.timeout)
	if !s.beginRun(r, cancel) {
		cancel()
		return
	}
	res, stack := runCheck(ctx, r.checker)
	cancel()
	s.finishRun(r, res, stack)
}

// startAsync starts a run of an asyncChecker, which holds a slot: its
// result comes to finishRun from the checker's own goroutines (see
// asyncChecker), or at once, recorded here.
func (s *Scheduler) startAsync(r *checkRun) {
	if !s.beginRun(r, nil) {
		return
	}
	cancel, res, started := r.async.startAsync(r.timeout, r)
	if !started {
		s.finishRun(r, res, nil)
		return
	}
	r.mu.Lock()
	r.cancel = cancel
	stopped := r.stopped
	r.mu.Unlock()
	if stopped {
		cancel()
	}
}

// beginRun starts r, which holds a slot, on the clock: false when it
// must not run (stopped, or the scheduler stopping), and then it ended
// r. cancel, if not nil, is what stop calls from now on.
func (s *Scheduler) beginRun(r *checkRun, cancel context.CancelFunc) bool {
	r.mu.Lock()
	stopped := r.stopped
	r.cancel = cancel
	r.mu.Unlock()
	if stopped || s.root.Err() != nil || s.halted.Load() {
		<-r.sem
		s.dropRun(r)
		return false
	}
	start := s.clock.Monotonic()
	r.start.Store(int64(start) + 1)
	s.running.Add(1)
	s.lag.Observe(max(start-r.due, 0).Seconds())
	return true
}

// finishRun records the result of r, which began, unless the scheduler
// gave up on it (abandonIfOverdueLocked), gives its slot back and ends
// it.
func (s *Scheduler) finishRun(r *checkRun, res Result, stack []byte) {
	if !r.claimed.CompareAndSwap(false, true) {
		// The scheduler gave up on this run and recorded a timeout.
		s.dropRun(r)
		return
	}
	s.running.Add(-1)
	<-r.sem
	mode, ok := s.record(r, res, stack, s.clock.Now())
	s.endRun(r, mode, ok)
	s.wg.Done()
}

// dropRun ends r without a result of its own.
func (s *Scheduler) dropRun(r *checkRun) {
	s.endRun(r, 0, false)
	s.wg.Done()
}

// runCheck calls the checker, turning a panic into an error result (and
// returning its stack) and an out-of-range class into ClassError.
func runCheck(ctx context.Context, checker Checker) (res Result, stack []byte) {
	defer func() {
		if p := recover(); p != nil {
			res = Result{Class: ClassError, Reason: fmt.Sprintf("checker panicked: %v", p)}
			stack = debug.Stack()
		}
	}()
	res = checker.Check(ctx)
	if res.Class > ClassLocalError {
		res.Reason = fmt.Sprintf("checker returned class %d: %s", res.Class, res.Reason)
		res.Class = ClassError
	}
	return res, nil
}

// abandonIfOverdueLocked records a timeout for a run whose Check is still
// running a grace period past its deadline, and frees its slot, so that a
// checker that ignores its context holds neither a slot nor the verdict.
// The check stays skipped until Check returns.
func (s *Scheduler) abandonIfOverdueLocked(r *checkRun, now slot) {
	started := r.start.Load()
	if started == 0 {
		return
	}
	elapsed := now.mono - time.Duration(started-1)
	if elapsed < r.timeout+checkGrace || !r.claimed.CompareAndSwap(false, true) {
		return
	}
	s.abandons.Add(1)
	s.running.Add(-1)
	<-r.sem
	res := Result{Class: ClassTimeout, Latency: elapsed,
		Reason: fmt.Sprintf("the checker did not return within %v of its %v deadline", checkGrace, r.timeout)}
	// record takes the server's lock, which must not be taken under the
	// scheduler's.
	s.pending.Add(1)
	go func() {
		defer s.pending.Add(-1)
		mode, ok := s.record(r, res, nil, now.wall)
		s.mu.Lock()
		s.rescheduleLocked(r, mode, ok, s.now())
		s.mu.Unlock()
	}()
}

// record counts a result into its check's verdict and its server's state.
// It returns the check's new mode, and true if that changed (and the check
// was neither removed nor replaced since the run started). A change of the
// server's state is logged after the server's lock is released.
func (s *Scheduler) record(r *checkRun, res Result, stack []byte, now time.Time) (checkMode, bool) {
	mode, ok, rec := s.recordLocked(r, res, stack, now)
	if rec != nil {
		s.logTransition(*rec)
	}
	return mode, ok
}

// recordLocked is record under the server's lock; rec is the log record
// of the server's change of state, if it changed.
func (s *Scheduler) recordLocked(r *checkRun, res Result, stack []byte, now time.Time) (mode checkMode, ok bool, rec *slog.Record) {
	c := r.c
	srv := c.srv
	srv.mu.Lock()
	defer srv.mu.Unlock()
	c.observers[res.Class].Observe(res.Latency.Seconds())
	if c.gen != r.gen {
		return 0, false, nil
	}
	c.counts[res.Class]++
	c.last, c.lastTime = res, now
	if stack != nil && !c.panicked {
		s.log.Error("health checker panicked", "service", srv.key.service, "server", srv.key.server,
			"check", c.name(), "reason", res.Reason, "stack", string(stack))
	}
	c.panicked = stack != nil
	if res.Local() {
		s.localErrorLocked(srv, c, res, now)
		return c.lastMode, false, nil
	}
	s.localEndLocked(srv, c, now, true)
	if c.v.observe(res.Pass(), c.spec.rise(), c.spec.fall()) {
		if st := srv.combinedLocked(); st != srv.state {
			r := s.transitionLocked(srv, st, now, c, res)
			rec = &r
		}
	}
	mode = c.v.mode()
	if mode == c.lastMode {
		return mode, false, rec
	}
	c.lastMode = mode
	return mode, true, rec
}

// localErrorLocked records a local error of c: the check's verdict stays
// as it is, and the server's first check in local error freezes it,
// logged once for the episode. The server's lock is held.
func (s *Scheduler) localErrorLocked(srv *server, c *check, res Result, now time.Time) {
	reason := c.name() + ": " + res.Reason
	if srv.local != nil {
		srv.local.reason = reason
	}
	if c.localErr {
		return
	}
	c.localErr = true
	srv.localErrs++
	if srv.localErrs > 1 {
		return
	}
	srv.local = &serverLocal{since: now, reason: reason}
	s.frozen.Add(1)
	s.log.Warn("a check cannot run on this director (local_error): the real server's verdict is frozen until it can",
		"service", srv.key.service, "server", srv.key.server, "check", c.name(), "reason", res.Reason,
		"state", srv.state.String())
}

// localEndLocked ends c's local error, if it had one; the server's last
// one ends the server's episode, logged when log is set (not when the
// check was removed). The server's lock is held.
func (s *Scheduler) localEndLocked(srv *server, c *check, now time.Time, log bool) {
	if !c.localErr {
		return
	}
	c.localErr = false
	srv.localErrs--
	if srv.localErrs > 0 {
		return
	}
	s.frozen.Add(-1)
	if log {
		s.log.Info("the real server's checks run again on this director: its verdict is no longer frozen",
			"service", srv.key.service, "server", srv.key.server, "check", c.name(),
			"frozen_for", now.Sub(srv.local.since).Round(time.Millisecond), "state", srv.state.String())
	}
	srv.local = nil
}

// endRun marks the run's Check as returned and applies the check's new
// mode if it changed (only then it takes the scheduler's lock).
func (s *Scheduler) endRun(r *checkRun, mode checkMode, changed bool) {
	r.c.run.CompareAndSwap(r, nil)
	if changed {
		s.mu.Lock()
		s.rescheduleLocked(r, mode, changed, s.now())
		s.mu.Unlock()
	}
	s.pending.Add(-1)
}

// rescheduleLocked moves the check's next run when its mode changed: the
// new interval counts from the run that changed it (HAProxy picks inter,
// fastinter or downinter after each check), or now if that is past.
func (s *Scheduler) rescheduleLocked(r *checkRun, mode checkMode, ok bool, now slot) {
	c := r.c
	if !ok || c.gen != r.gen || c.index < 0 || mode == c.mode {
		return
	}
	c.mode = mode
	next, found := c.after(mode, r.nominal, now)
	switch {
	case !found:
		next = never(now)
	case next.mono < now.mono:
		next = now
	}
	c.nominal = next
	s.queueLocked(c)
	if !s.stopped {
		s.armLocked(now)
	}
}

// transitionLocked moves srv to state st, tells the verdict hooks and
// publishes the event; c and res are the check and result that caused it,
// c nil for a configuration change. It returns the change's log record,
// for the caller to write with logTransition once it has released the
// server's lock: a log write can take milliseconds (a slow disk, a full
// pipe; 1–22 ms to the lab's 9p share), and the controller's targeted
// write of the change reads the server's status under that lock. The
// server's lock is held.
func (s *Scheduler) transitionLocked(srv *server, st State, now time.Time, c *check, res Result) slog.Record {
	ev := Event{Time: now, Service: srv.key.service, Server: srv.key.server, Old: srv.state, New: st, Result: res}
	srv.state, srv.since = st, now
	attrs := []slog.Attr{
		slog.String("service", ev.Service), slog.String("server", ev.Server),
		slog.String("from", ev.Old.String()), slog.String("to", ev.New.String()),
	}
	if c != nil {
		ev.Check = c.name()
		attrs = append(attrs, slog.String("check", c.name()), slog.String("result", res.Class.String()),
			slog.String("reason", res.Reason), slog.Duration("latency", res.Latency),
			slog.Int("in_a_row", int(max(c.v.passes, c.v.fails))))
	} else {
		attrs = append(attrs, slog.String("reason", res.Reason))
	}
	level := slog.LevelInfo
	if st == StateDown {
		level = slog.LevelWarn
	}
	var pc [1]uintptr
	runtime.Callers(1, pc[:])
	rec := slog.NewRecord(time.Now(), level, "real server "+st.String(), pc[0])
	rec.AddAttrs(attrs...)
	// The hooks after the dispatcher's wake-up: the goroutine a hook
	// wakes last (the controller's) is the one that runs next.
	s.events.publish(ev)
	s.hooks.call(ev)
	return rec
}

// logTransition writes the log record of a state change (transitionLocked).
func (s *Scheduler) logTransition(rec slog.Record) {
	ctx := context.Background()
	if s.log.Enabled(ctx, rec.Level) {
		_ = s.log.Handler().Handle(ctx, rec)
	}
}
