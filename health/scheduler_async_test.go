package health

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// oneSource makes every random offset and jitter 0 (Int64N(n) of a
// source that always draws 1), so that every check's first run is due
// at Start.
type oneSource struct{}

func (oneSource) Uint64() uint64 { return 1 }

// asyncFake is a fakeChecker that is an asyncChecker too: a run on the
// scheduler's asynchronous path returns immediate at once when set, else
// waits until the test releases it.
type asyncFake struct {
	*fakeChecker
	immediate *Result

	mu   sync.Mutex
	held []*asyncFakeRun
}

// asyncFakeRun is one run of an asyncFake, reported once.
type asyncFakeRun struct {
	once sync.Once
	done resultSink
}

func (r *asyncFakeRun) report(res Result) { r.once.Do(func() { r.done.finish(res) }) }

func (f *asyncFake) startAsync(_ time.Duration, done resultSink) (func(), Result, bool) {
	if f.immediate != nil {
		return nil, *f.immediate, false
	}
	r := &asyncFakeRun{done: done}
	f.mu.Lock()
	f.held = append(f.held, r)
	f.mu.Unlock()
	return func() { go r.report(Result{Class: ClassError, Reason: probeCanceledReason}) }, Result{}, true
}

// starts returns how many runs started on the asynchronous path.
func (f *asyncFake) starts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.held)
}

// release reports res for every run started so far.
func (f *asyncFake) release(res Result) {
	f.mu.Lock()
	held := f.held
	f.mu.Unlock()
	for _, r := range held {
		go r.report(res)
	}
}

// asyncRuns returns how many of s's checks have a run without a
// goroutine, and how many one with.
func asyncRuns(s *Scheduler) (async, goroutine int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.servers {
		for _, c := range srv.checks {
			if r := c.run.Load(); r != nil && r.async != nil {
				async++
			} else if r != nil {
				goroutine++
			}
		}
	}
	return async, goroutine
}

// stopScheduler stops s, which must have nothing in flight.
func stopScheduler(t *testing.T, s *Scheduler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSchedulerAsyncFallback: with MaxInFlight 1 and two runs due at
// once, the first holds the slot without a goroutine, the second waits
// for it on the goroutine path, and runs Check when the first reports.
func TestSchedulerAsyncFallback(t *testing.T) {
	s := NewScheduler(SchedulerOptions{MaxInFlight: 1, Rand: rand.New(oneSource{})})
	a := &asyncFake{fakeChecker: &fakeChecker{desc: "syn 10.0.0.1:80", clock: RealClock{}, script: script("P")}}
	b := &asyncFake{fakeChecker: &fakeChecker{desc: "syn 10.0.0.2:80", clock: RealClock{}, script: script("P")}}
	if err := s.Update([]Target{
		{Service: svc, Server: rs1, Checks: []CheckSpec{every(a, time.Hour, time.Minute)}},
		{Service: svc, Server: rs2, Checks: []CheckSpec{every(b, time.Hour, time.Minute)}},
	}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if async, goroutine := asyncRuns(s); async != 1 || goroutine != 1 {
			return fmt.Errorf("%d runs without a goroutine and %d with, want 1 and 1", async, goroutine)
		}
		return nil
	})
	if n := a.starts() + b.starts(); n != 1 {
		t.Fatalf("%d asynchronous starts, want 1", n)
	}
	first, second := a, b
	if b.starts() == 1 {
		first, second = b, a
	}
	if n := len(second.callTimes()); n != 0 {
		t.Fatalf("the run waiting for the slot called Check %d times before it had the slot", n)
	}
	first.release(pass(time.Millisecond))
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if n, pending := len(second.callTimes()), s.pending.Load(); n != 1 || pending != 0 {
			return fmt.Errorf("the waiting run called Check %d times, %d runs pending; want 1 and 0", n, pending)
		}
		return nil
	})
	stopScheduler(t, s)
	for _, st := range s.Status() {
		if c := st.Checks[0]; c.Passes != 1 || c.Last.Class != ClassOpen {
			t.Errorf("%s: %d passes, last %s; want 1 pass", st.Server, c.Passes, c.Last.Class)
		}
	}
	if len(first.callTimes()) != 0 {
		t.Error("the asynchronous run called Check too")
	}
}

// TestSchedulerAsyncImmediate: a result startAsync returns at once is
// recorded as any other.
func TestSchedulerAsyncImmediate(t *testing.T) {
	s := NewScheduler(SchedulerOptions{Rand: rand.New(oneSource{})})
	res := Result{Class: ClassLocalError, Reason: "route to the target: no route"}
	f := &asyncFake{fakeChecker: &fakeChecker{desc: "syn 10.0.0.1:80", clock: RealClock{}}, immediate: &res}
	if err := s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{every(f, time.Hour, time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if st, _ := s.StatusOf(svc, rs1); st.LocalError == "" || s.pending.Load() != 0 {
			return fmt.Errorf("status %+v, %d pending; want a local error recorded", st, s.pending.Load())
		}
		return nil
	})
	stopScheduler(t, s)
	if len(f.callTimes()) != 0 {
		t.Error("Check was called for a run that started asynchronously")
	}
}

// TestSchedulerAsyncFakeClock: an asyncChecker's deadline is on the
// real clock, so with a fake one its runs take the goroutine path.
func TestSchedulerAsyncFakeClock(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	f := &asyncFake{fakeChecker: h.checker("syn 10.0.0.1:80", script("P"))}
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{every(f, time.Second, 500*time.Millisecond)}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(3 * time.Second)
	if n := len(f.callTimes()); n < 2 {
		t.Errorf("Check called %d times in 3 intervals, want at least 2", n)
	}
	if n := f.starts(); n != 0 {
		t.Errorf("%d asynchronous starts with a fake clock, want none", n)
	}
}

// synScheduler returns a scheduler with every SYN check of n's servers
// towards the silent target of s, all due at Start, timeout 50s.
func synScheduler(t *testing.T, s *SYNScanner, servers int) *Scheduler {
	t.Helper()
	sch := NewScheduler(SchedulerOptions{Rand: rand.New(oneSource{})})
	targets := make([]Target, servers)
	for i := range targets {
		syn := NewSYN(synSilentTarget("127.0.0.1"), SYNOptions{Scanner: s})
		targets[i] = Target{Service: svc, Server: fmt.Sprintf("server %d", i),
			Checks: []CheckSpec{{Checker: syn, Schedule: Every{time.Minute}, Timeout: 50 * time.Second}}}
	}
	if err := sch.Update(targets); err != nil {
		t.Fatal(err)
	}
	return sch
}

// synSchedulerIdle waits until sch has no run pending and s no probe.
func synSchedulerIdle(t *testing.T, sch *Scheduler, s *SYNScanner) {
	t.Helper()
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		s.mu.Lock()
		registered := len(s.probes)
		s.mu.Unlock()
		if pending := sch.pending.Load(); pending != 0 || registered != 0 {
			return fmt.Errorf("%d runs pending, %d probes registered; want none", pending, registered)
		}
		return nil
	})
}

// TestSchedulerSYNRemovedInFlight: removing a check cancels its SYN in
// flight at once, long before its deadline.
func TestSchedulerSYNRemovedInFlight(t *testing.T) {
	_, s := synSilent(t)
	sch := synScheduler(t, s, 1)
	sch.Start()
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if async, _ := asyncRuns(sch); async != 1 || sch.running.Load() != 1 {
			return fmt.Errorf("%d runs without a goroutine, %d running; want 1 and 1", async, sch.running.Load())
		}
		return nil
	})
	if err := sch.Update(nil); err != nil {
		t.Fatal(err)
	}
	synSchedulerIdle(t, sch, s)
	stopScheduler(t, sch)
}

// TestSchedulerSYNStopInFlight: a Stop whose context ends with SYNs in
// flight cancels them; they complete, and no goroutine is left behind.
func TestSchedulerSYNStopInFlight(t *testing.T) {
	_, s := synSilent(t)
	const servers = 20
	before := runtime.NumGoroutine()
	sch := synScheduler(t, s, servers)
	sch.Start()
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if running := sch.running.Load(); running != servers {
			return fmt.Errorf("%d running, want %d", running, servers)
		}
		return nil
	})
	if async, goroutine := asyncRuns(sch); async != servers || goroutine != 0 {
		t.Errorf("%d runs without a goroutine and %d with, want %d and 0", async, goroutine, servers)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := sch.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with %d checks in flight: %v, want its context's deadline", servers, err)
	}
	synSchedulerIdle(t, sch, s)
	testutil.Poll(t, 10*time.Second, 10*time.Millisecond, func() error {
		if now := runtime.NumGoroutine(); now > before {
			return fmt.Errorf("%d goroutines, %d before", now, before)
		}
		return nil
	})
}
