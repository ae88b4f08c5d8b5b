package health

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

const (
	svc = "tcp/192.0.2.1:80"
	rs1 = "10.0.0.1:80"
	rs2 = "10.0.0.2:80"
)

func TestSchedulerRiseFall(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	c := h.checker("tcp 10.0.0.1:80", script("PPFFFPP"))
	spec := every(c, time.Second, 500*time.Millisecond)
	spec.Rise, spec.Fall = 2, 3
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()

	// The first run comes at a random offset within the first interval.
	h.advance(time.Second)
	calls := c.callTimes()
	if len(calls) != 1 {
		t.Fatalf("%d runs in the first interval, want 1", len(calls))
	}
	if st := h.status(svc, rs1); st.State != StateUnknown || st.Checks[0].Passes != 1 {
		t.Fatalf("after one pass: %+v, want unknown with 1 pass", st)
	}

	want := []State{StateUnknown, StateUp, StateUp, StateUp, StateDown, StateDown, StateUp}
	got := []State{StateUnknown}
	for range len(want) - 1 {
		h.advance(time.Second)
		got = append(got, h.status(svc, rs1).State)
	}
	if !slices.Equal(got, want) {
		t.Errorf("states after each run: %v, want %v", got, want)
	}
	for i, g := range c.gaps() {
		if g != time.Second {
			t.Errorf("gap %d between runs is %v, want 1s (no fast or down interval set)", i, g)
		}
	}

	events := h.waitEvents(3)
	wantEvents := []struct {
		old, new State
		class    Class
	}{{StateUnknown, StateUp, ClassOpen}, {StateUp, StateDown, ClassClosed}, {StateDown, StateUp, ClassOpen}}
	for i, w := range wantEvents {
		ev := events[i]
		if ev.Service != svc || ev.Server != rs1 || ev.Old != w.old || ev.New != w.new ||
			ev.Check != "tcp 10.0.0.1:80" || ev.Result.Class != w.class {
			t.Errorf("event %d: %+v, want %v -> %v by check %q with %v", i, ev, w.old, w.new, "tcp 10.0.0.1:80", w.class)
		}
	}
	if events[1].Time != calls[0].Add(4*time.Second) {
		t.Errorf("down event at %v, want the fifth run's time %v", events[1].Time, calls[0].Add(4*time.Second))
	}
	if len(events) != 3 {
		t.Errorf("%d events, want 3", len(events))
	}
}

func TestSchedulerIntervalModes(t *testing.T) {
	// HAProxy's inter, fastinter and downinter: 10s while stable, 1s while
	// the verdict is changing, 30s while down.
	h := newHarness(t, SchedulerOptions{})
	c := h.checker("tcp 10.0.0.1:80", script("PPFFFPPF"))
	spec := every(c, 10*time.Second, 500*time.Millisecond)
	spec.Rise, spec.Fall = 2, 2
	spec.FastInterval, spec.DownInterval = time.Second, 30*time.Second
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(2 * time.Minute)

	// P (unknown, changing) 1s P (up) 10s F (changing) 1s F (down) 30s F
	// 30s P (changing) 1s P (up) 10s F (changing) 1s.
	want := []time.Duration{time.Second, 10 * time.Second, time.Second, 30 * time.Second, 30 * time.Second,
		time.Second, 10 * time.Second, time.Second}
	gaps := c.gaps()
	if len(gaps) < len(want) || !slices.Equal(gaps[:len(want)], want) {
		t.Errorf("gaps between runs %v, want %v", gaps, want)
	}
}

func TestSchedulerStartup(t *testing.T) {
	// Every real server has a first verdict once rise or fall results came
	// in; before that it is unknown and no event is sent.
	h := newHarness(t, SchedulerOptions{})
	up := h.checker("tcp 10.0.0.1:80", script("P"))
	down := h.checker("tcp 10.0.0.2:80", script("F"))
	specUp, specDown := every(up, time.Second, 100*time.Millisecond), every(down, time.Second, 100*time.Millisecond)
	specUp.Rise, specDown.Fall = 3, 3
	if err := h.s.Update([]Target{
		{Service: svc, Server: rs1, Checks: []CheckSpec{specUp}},
		{Service: svc, Server: rs2, Checks: []CheckSpec{specDown}},
	}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	for _, st := range h.s.Status() {
		if st.State != StateUnknown || st.Since != t0 {
			t.Errorf("%s at start: %v since %v, want unknown since %v", st.Server, st.State, st.Since, t0)
		}
	}
	h.advance(2 * time.Second) // two runs each
	for _, st := range h.s.Status() {
		if st.State != StateUnknown {
			t.Errorf("%s after 2 runs: %v, want unknown", st.Server, st.State)
		}
	}
	h.mu.Lock()
	n := len(h.events)
	h.mu.Unlock()
	if n != 0 {
		t.Errorf("%d events before any verdict, want 0", n)
	}
	h.advance(time.Second)
	events := h.waitEvents(2)
	got := map[string]State{}
	for _, ev := range events {
		if ev.Old != StateUnknown {
			t.Errorf("first event %+v is not from unknown", ev)
		}
		got[ev.Server] = ev.New
	}
	if got[rs1] != StateUp || got[rs2] != StateDown {
		t.Errorf("first verdicts %v, want %s up and %s down", got, rs1, rs2)
	}
}

func TestSchedulerFlapping(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	c := h.checker("tcp 10.0.0.1:80", script(strings.Repeat("PF", 20)))
	spec := every(c, time.Second, 100*time.Millisecond)
	spec.Rise, spec.Fall = 2, 2
	spec.FastInterval = 200 * time.Millisecond
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(5 * time.Second)
	if n := len(c.callTimes()); n < 16 || n > 40 {
		t.Fatalf("%d runs, want 16 to 40 (the script's)", n)
	}
	if st := h.status(svc, rs1); st.State != StateUnknown {
		t.Errorf("after flapping: %v, want unknown", st.State)
	}
	for i, g := range c.gaps()[:15] {
		if g != 200*time.Millisecond {
			t.Errorf("gap %d is %v, want the fast interval while flapping", i, g)
		}
	}
}

func TestSchedulerCronSpec(t *testing.T) {
	tests := []struct {
		spec string
		want []time.Duration // offsets from t0 of the first runs
	}{
		{"*/5 * * * * *", []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second}},
		{"7,37 * * * * *", []time.Duration{7 * time.Second, 37 * time.Second, 67 * time.Second}},
		{"*/2 * * * *", []time.Duration{2 * time.Minute, 4 * time.Minute}},
		{"@every 1500ms", nil}, // random first offset: checked by gaps
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			h := newHarness(t, SchedulerOptions{})
			c := h.checker("tcp 10.0.0.1:80", nil)
			sched, err := ParseSchedule(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			spec := CheckSpec{Checker: c, Schedule: sched, Timeout: time.Second}
			if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
				t.Fatal(err)
			}
			h.s.Start()
			if tt.want == nil {
				h.advance(10 * time.Second)
				gaps := c.gaps()
				if len(gaps) < 5 {
					t.Fatalf("%d runs in 10s, want 6 or 7", len(gaps)+1)
				}
				for _, g := range gaps {
					if g != 1500*time.Millisecond {
						t.Errorf("gaps %v, want 1.5s each", gaps)
						break
					}
				}
				return
			}
			h.advance(tt.want[len(tt.want)-1])
			var got []time.Duration
			for _, at := range c.callTimes() {
				got = append(got, at.Sub(t0))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("runs at %v after t0, want %v", got, tt.want)
			}
		})
	}
}

func TestSchedulerSubSecond(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	c := h.checker("tcp 10.0.0.1:80", nil)
	if err := h.s.Update([]Target{{Service: svc, Server: rs1,
		Checks: []CheckSpec{every(c, 100*time.Millisecond, 50*time.Millisecond)}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(time.Second)
	calls := c.callTimes()
	if len(calls) != 10 {
		t.Errorf("%d runs in 1s at 100ms, want 10", len(calls))
	}
	for _, g := range c.gaps() {
		if g != 100*time.Millisecond {
			t.Errorf("gaps %v, want 100ms", c.gaps())
			break
		}
	}
}

func TestSchedulerHungCheckDelaysNoOther(t *testing.T) {
	h := newHarness(t, SchedulerOptions{MaxInFlight: 2})
	hung := h.checker("tcp 10.0.0.1:80", nil)
	hung.hang = true
	quick := h.checker("tcp 10.0.0.2:80", nil)
	if err := h.s.Update([]Target{
		{Service: svc, Server: rs1, Checks: []CheckSpec{every(hung, time.Second, 900*time.Millisecond)}},
		{Service: svc, Server: rs2, Checks: []CheckSpec{every(quick, 100*time.Millisecond, 50*time.Millisecond)}},
	}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(5 * time.Second)
	if n := len(hung.callTimes()); n != 5 {
		t.Errorf("hung check ran %d times in 5s, want 5 (each returns at its deadline)", n)
	}
	if n := len(quick.callTimes()); n != 50 {
		t.Errorf("quick check ran %d times in 5s beside the hung one, want 50", n)
	}
	for _, g := range quick.gaps() {
		if g != 100*time.Millisecond {
			t.Fatalf("quick check gaps %v, want 100ms", quick.gaps())
		}
	}
	if st := h.status(svc, rs1); st.State != StateDown || st.Checks[0].Last.Class != ClassFiltered {
		t.Errorf("hung server: %v with %+v, want down, filtered", st.State, st.Checks[0].Last)
	}
	if h.s.skipped.Load() != 0 {
		t.Errorf("%d runs skipped, want 0: the hung check returns at its deadline", h.s.skipped.Load())
	}
}

func TestSchedulerConcurrencyBound(t *testing.T) {
	const n, limit = 10, 3
	h := newHarness(t, SchedulerOptions{MaxInFlight: limit})
	var checkers []*fakeChecker
	var targets []Target
	sched, err := ParseSchedule("*/5 * * * * *")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		c := h.checker("tcp 10.0.1."+string(rune('0'+i))+":80", nil)
		c.hang = true
		checkers = append(checkers, c)
		targets = append(targets, Target{Service: svc, Server: c.desc[4:],
			Checks: []CheckSpec{{Checker: c, Schedule: sched, Timeout: time.Second}}})
	}
	if err := h.s.Update(targets); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	// All ten are due at t0+5s; three run, seven wait for a slot.
	h.advance(5 * time.Second)
	if got := h.s.running.Load(); got != limit {
		t.Errorf("%d checks running, want %d", got, limit)
	}
	if got := h.s.pending.Load(); got != n {
		t.Errorf("%d runs pending, want %d", got, n)
	}
	// Each batch of three hangs until its 1s deadline.
	h.advance(time.Second) // 3 done, 3 more start at 6s
	h.advance(time.Second) // 6 done, 3 more start at 7s
	h.advance(time.Second) // 9 done, the last starts at 8s
	h.advance(time.Second) // all done at 9s
	for _, c := range checkers {
		if len(c.callTimes()) != 1 {
			t.Errorf("%s ran %d times, want 1", c.desc, len(c.callTimes()))
		}
		if m := c.maxSeen.Load(); m > 1 {
			t.Errorf("%s ran %d times at once", c.desc, m)
		}
	}
	var starts []time.Duration
	for _, c := range checkers {
		starts = append(starts, c.callTimes()[0].Sub(t0))
	}
	slices.Sort(starts)
	want := []time.Duration{5, 5, 5, 6, 6, 6, 7, 7, 7, 8}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(starts, want) {
		t.Errorf("runs started at %v, want %v", starts, want)
	}
	// Lag: 3 runs on time, 3 one second late, 3 two and 1 three.
	m := metricValue(t, h.s, "ipvs_health_scheduler_lag_seconds", nil)
	if m.GetHistogram().GetSampleCount() != n || m.GetHistogram().GetSampleSum() != 12 {
		t.Errorf("lag histogram: %d samples, sum %v; want 10 samples, sum 12s", m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum())
	}
}

func TestSchedulerSkipsAndAbandonsStuckCheck(t *testing.T) {
	// A checker that ignores its deadline is skipped while it runs; a grace
	// period past its deadline, its run is recorded as a timeout and its
	// slot freed.
	h := newHarness(t, SchedulerOptions{MaxInFlight: 1})
	stuck := h.checker("tcp 10.0.0.1:80", nil)
	stuck.block = make(chan struct{})
	spec := every(stuck, time.Second, 500*time.Millisecond)
	spec.Fall = 1
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(time.Second) // first run starts and blocks
	first := stuck.callTimes()[0]
	h.advance(first.Add(time.Second).Sub(h.clock.Now())) // 1s: due again, skipped
	if got := h.s.skipped.Load(); got != 1 {
		t.Errorf("%d skipped, want 1", got)
	}
	if got := h.s.running.Load(); got != 1 {
		t.Errorf("%d running, want 1", got)
	}
	h.advance(time.Second) // 2s > 500ms deadline + 1s grace: abandoned
	events := h.waitEvents(1)
	if ev := events[0]; ev.New != StateDown || ev.Result.Class != ClassTimeout || !strings.Contains(ev.Result.Reason, "did not return") {
		t.Errorf("event %+v, want down by a timeout the scheduler recorded", ev)
	}
	if got := h.s.abandons.Load(); got != 1 {
		t.Errorf("%d abandoned, want 1", got)
	}
	if got := h.s.running.Load(); got != 0 {
		t.Errorf("%d running after the abandon, want 0 (slot freed)", got)
	}
	if n := len(stuck.callTimes()); n != 1 {
		t.Errorf("%d calls while the first has not returned, want 1", n)
	}
	close(stuck.block)
	h.advance(time.Second)
	if n := len(stuck.callTimes()); n != 2 {
		t.Errorf("%d calls once the checker returned, want 2", n)
	}
}

func TestSchedulerPanickingChecker(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	spec := every(panicker{}, time.Second, 100*time.Millisecond)
	spec.Fall = 1
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(3 * time.Second)
	st := h.status(svc, rs1)
	if st.State != StateDown || st.Checks[0].Last.Class != ClassError || !strings.Contains(st.Checks[0].Last.Reason, "panicked: boom") {
		t.Errorf("status %+v, want down with an error result naming the panic", st)
	}
	if st.Checks[0].Fails != 3 {
		t.Errorf("%d failures, want 3: the scheduler survives every panic", st.Checks[0].Fails)
	}
}

type panicker struct{}

func (panicker) Check(context.Context) Result { panic("boom") }
func (panicker) String() string               { return "panic 10.0.0.1:80" }

func TestSchedulerStop(t *testing.T) {
	t.Run("waits for running checks", func(t *testing.T) {
		h := newHarness(t, SchedulerOptions{})
		c := h.checker("tcp 10.0.0.1:80", nil)
		c.block = make(chan struct{})
		if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{every(c, time.Second, 500*time.Millisecond)}}}); err != nil {
			t.Fatal(err)
		}
		h.s.Start()
		h.advance(time.Second)
		done := make(chan error)
		go func() { done <- h.s.Stop(context.Background()) }()
		select {
		case err := <-done:
			t.Fatalf("Stop returned %v while a check runs", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(c.block)
		if err := <-done; err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := h.s.Update(nil); err != ErrStopped {
			t.Errorf("Update after Stop: %v, want ErrStopped", err)
		}
	})
	t.Run("gives up at its deadline and cancels checks", func(t *testing.T) {
		h := newHarness(t, SchedulerOptions{})
		c := h.checker("tcp 10.0.0.1:80", nil)
		c.hang = true // until the fake deadline, which never comes, or cancellation
		if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{every(c, time.Second, 500*time.Millisecond)}}}); err != nil {
			t.Fatal(err)
		}
		h.s.Start()
		h.advance(time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err := h.s.Stop(ctx)
		if err == nil || !strings.Contains(err.Error(), "1 checks still running") {
			t.Errorf("Stop: %v, want a deadline error naming 1 running check", err)
		}
		testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
			if n := h.s.pending.Load(); n != 0 {
				return fmt.Errorf("%d runs still pending after Stop canceled them", n)
			}
			return nil
		})
	})
}
