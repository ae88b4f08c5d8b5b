package health

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is where fake clocks start: a whole minute, so that cron specs fire
// at predictable offsets.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeChecker is a scripted Checker: it returns its script's results in
// turn (the last one forever), records when it was called on the clock,
// and can hang until its context is done.
type fakeChecker struct {
	desc   string
	clock  Clock
	hang   bool          // wait for ctx.Done, then return a timeout
	block  chan struct{} // if set, wait for it, ignoring ctx
	script []Result

	mu    sync.Mutex
	calls []time.Time     // on the wall clock
	monos []time.Duration // the same calls on the monotonic clock

	h       *harness
	active  atomic.Int64
	maxSeen atomic.Int64
}

func pass(latency time.Duration) Result {
	return Result{Class: ClassOpen, Latency: latency, Reason: "handshake completed"}
}

func fail(latency time.Duration) Result {
	return Result{Class: ClassClosed, Latency: latency, Reason: "connection refused"}
}

// script spells results: P a pass, F a failure (1 ms latency each).
func script(s string) []Result {
	var out []Result
	for _, p := range results(s) {
		if p {
			out = append(out, pass(time.Millisecond))
		} else {
			out = append(out, fail(time.Millisecond))
		}
	}
	return out
}

func (f *fakeChecker) String() string { return f.desc }

func (f *fakeChecker) Check(ctx context.Context) Result {
	n := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, f.clock.Now())
	f.monos = append(f.monos, f.clock.Monotonic())
	i := len(f.calls) - 1
	f.mu.Unlock()
	switch {
	case f.hang:
		f.h.hang(ctx)
		return Result{Class: ClassFiltered, Latency: 500 * time.Millisecond, Reason: "no answer: " + ctx.Err().Error()}
	case f.block != nil:
		f.h.wait(f.block)
	}
	if len(f.script) == 0 {
		return pass(time.Millisecond)
	}
	return f.script[min(i, len(f.script)-1)]
}

// callTimes returns when the checker was called.
func (f *fakeChecker) callTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls...)
}

// monoTimes returns when the checker was called, on the monotonic clock.
func (f *fakeChecker) monoTimes() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.monos...)
}

// gaps returns the durations between consecutive calls.
func (f *fakeChecker) gaps() []time.Duration {
	calls := f.callTimes()
	var out []time.Duration
	for i := 1; i < len(calls); i++ {
		out = append(out, calls[i].Sub(calls[i-1]))
	}
	return out
}

// harness runs a Scheduler on a FakeClock and collects its events.
type harness struct {
	t       *testing.T
	clock   *FakeClock
	s       *Scheduler
	mu      sync.Mutex
	events  []Event
	waiting map[<-chan struct{}]int // what hanging and blocked checks wait for
}

// hangingLive counts the checks waiting in a hanging or blocked checker
// for a channel still open: one whose channel is closed is on its way
// out, though it may not have woken yet, and must not count as settled.
func (h *harness) hangingLive() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var n int64
	for ch, k := range h.waiting {
		select {
		case <-ch:
		default:
			n += int64(k)
		}
	}
	return n
}

// hang waits in a hanging checker until ctx is done.
func (h *harness) hang(ctx context.Context) { h.wait(ctx.Done()) }

// wait waits in a checker until ch is closed.
func (h *harness) wait(ch <-chan struct{}) {
	h.mu.Lock()
	if h.waiting == nil {
		h.waiting = make(map[<-chan struct{}]int)
	}
	h.waiting[ch]++
	h.mu.Unlock()
	<-ch
	h.mu.Lock()
	if h.waiting[ch]--; h.waiting[ch] == 0 {
		delete(h.waiting, ch)
	}
	h.mu.Unlock()
}

func newHarness(t *testing.T, opts SchedulerOptions) *harness {
	t.Helper()
	h := &harness{t: t, clock: NewFakeClock(t0)}
	opts.Clock = h.clock
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	h.s = NewScheduler(opts)
	h.s.Subscribe(func(ev Event) {
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
	})
	t.Cleanup(func() {
		// Short: checks hanging until a fake deadline are canceled.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = h.s.Stop(ctx)
	})
	return h
}

// checker returns a fake checker on the harness's clock.
func (h *harness) checker(desc string, results []Result) *fakeChecker {
	return &fakeChecker{desc: desc, clock: h.clock, script: results, h: h}
}

// settle waits until every launched run has returned, except those
// blocked in a hanging checker, and those waiting for a slot that such
// runs hold.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	quiet := func() bool {
		pending, running, blocked := h.s.pending.Load(), h.s.running.Load(), h.hangingLive()
		limit := int64(cap(h.s.sem))
		return pending == blocked || (running == limit && blocked == running && int64(len(h.s.sem)) == limit)
	}
	for {
		// Twice, with a yield between: a run may be between two counters.
		if quiet() {
			runtime.Gosched()
			if quiet() {
				return
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("scheduler did not settle: %d runs pending, %d running, %d blocked",
				h.s.pending.Load(), h.s.running.Load(), h.hangingLive())
		}
		runtime.Gosched()
	}
}

// advance moves the fake clock by d, stopping at each timer on the way
// and letting the runs it starts finish before going on.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	target := h.clock.Now().Add(d)
	h.settle()
	// After an Advance(0), only a timer that re-arms itself for now is
	// still due now: a busy loop, which must fail the test, not hang it.
	for stuck := 0; ; {
		next, ok := h.clock.NextDeadline()
		if !ok || next.After(target) {
			break
		}
		if step := next.Sub(h.clock.Now()); step > 0 {
			stuck = 0
		} else if stuck++; stuck > 1000 {
			h.t.Fatalf("timers keep firing at %v without the clock moving (%d wakeups): a busy loop", h.clock.Now(), h.clock.Wakeups())
		}
		h.clock.Advance(next.Sub(h.clock.Now()))
		h.settle()
	}
	h.clock.Advance(target.Sub(h.clock.Now()))
	h.settle()
}

// waitEvents waits until n events arrived and returns them.
func (h *harness) waitEvents(n int) []Event {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		got := append([]Event(nil), h.events...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("got %d events, want %d: %+v", len(got), n, got)
		}
		runtime.Gosched()
	}
}

// status returns the status of one real server.
func (h *harness) status(service, server string) ServerStatus {
	h.t.Helper()
	for _, st := range h.s.Status() {
		if st.Service == service && st.Server == server {
			return st
		}
	}
	h.t.Fatalf("no status for %s %s", service, server)
	return ServerStatus{}
}

// every returns a check spec on an Every schedule.
func every(c Checker, interval, timeout time.Duration) CheckSpec {
	return CheckSpec{Checker: c, Schedule: Every{Interval: interval}, Timeout: timeout}
}
