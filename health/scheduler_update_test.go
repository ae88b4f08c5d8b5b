package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

func TestSchedulerUpdateKeepsState(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	a := h.checker("tcp 10.0.0.1:80", script("P"))
	b := h.checker("tcp 10.0.0.2:80", script("F"))
	specA, specB := every(a, time.Second, 100*time.Millisecond), every(b, time.Second, 100*time.Millisecond)
	specA.Name, specB.Name = "tcp:80", "tcp:80"
	if err := h.s.Update([]Target{
		{Service: svc, Server: rs1, Checks: []CheckSpec{specA}},
		{Service: svc, Server: rs2, Checks: []CheckSpec{specB}},
	}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(3 * time.Second)
	h.waitEvents(2)
	before := h.status(svc, rs1)
	if before.State != StateUp || before.Checks[0].Passes != 3 {
		t.Fatalf("before the update: %+v, want up after 3 passes", before)
	}
	aCalls := a.callTimes()

	// Keep rs1 (same check, new rise/fall and timeout), drop rs2, add rs3
	// with a new checker, and give rs1 a second check.
	c := h.checker("tcp 10.0.0.3:80", script("P"))
	extra := h.checker("http GET http://10.0.0.1:80/", script("P"))
	specA.Rise, specA.Timeout = 5, 200*time.Millisecond
	if err := h.s.Update([]Target{
		{Service: svc, Server: rs1, Checks: []CheckSpec{specA, every(extra, time.Second, 100*time.Millisecond)}},
		{Service: svc, Server: "10.0.0.3:80", Checks: []CheckSpec{every(c, time.Second, 100*time.Millisecond)}},
	}); err != nil {
		t.Fatal(err)
	}
	after := h.status(svc, rs1)
	if after.State != StateUp || after.Since != before.Since || after.Checks[0] != before.Checks[0] {
		t.Errorf("rs1 after the update: %+v, want its state kept: %+v", after, before)
	}
	if after.Checks[1].State != StateUnknown {
		t.Errorf("new check of rs1: %+v, want unknown", after.Checks[1])
	}
	if st := h.status(svc, "10.0.0.3:80"); st.State != StateUnknown {
		t.Errorf("new server: %+v, want unknown", st)
	}
	for _, st := range h.s.Status() {
		if st.Server == rs2 {
			t.Errorf("removed server still has a status: %+v", st)
		}
	}
	bRuns := len(b.callTimes())
	h.advance(3 * time.Second)
	if n := len(b.callTimes()); n != bRuns {
		t.Errorf("removed server's checker ran %d more times", n-bRuns)
	}
	// rs1's check kept its timing: the same phase, 1s apart.
	calls := a.callTimes()
	for i, at := range calls {
		if want := aCalls[0].Add(time.Duration(i) * time.Second); at != want {
			t.Errorf("rs1 run %d at %v, want %v (the timing kept)", i, at.Sub(t0), want.Sub(t0))
		}
	}
	if len(c.callTimes()) != 3 || len(extra.callTimes()) != 3 {
		t.Errorf("new checks ran %d and %d times in 3s, want 3", len(c.callTimes()), len(extra.callTimes()))
	}
	// The old server's state was up; the new check joined it after rise
	// passes (the default 2) without a transition in between.
	events := h.waitEvents(3)
	if len(events) != 3 || events[2].Server != "10.0.0.3:80" || events[2].New != StateUp {
		t.Errorf("events %+v, want rs1 up, rs2 down, rs3 up", events)
	}

	// A new Checker.String() under the same name is a different check: its
	// verdict starts over.
	specA.Checker = h.checker("tcp 10.0.0.1:8080", script("P"))
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{specA}}}); err != nil {
		t.Fatal(err)
	}
	if st := h.status(svc, rs1); st.State != StateUp || st.Checks[0].State != StateUnknown || st.Checks[0].Passes != 0 {
		t.Errorf("replaced check: %+v, want server up (kept) and check unknown", st)
	}
}

func TestSchedulerUpdateRemovingTheFailingCheck(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	good := h.checker("tcp 10.0.0.1:80", script("P"))
	bad := h.checker("http GET http://10.0.0.1:80/", script("F"))
	specGood, specBad := every(good, time.Second, 100*time.Millisecond), every(bad, time.Second, 100*time.Millisecond)
	specGood.Rise, specBad.Fall = 1, 1
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{specGood, specBad}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(time.Second)
	if ev := h.waitEvents(1)[0]; ev.New != StateDown || ev.Check != bad.desc {
		t.Fatalf("event %+v, want down by %q", ev, bad.desc)
	}
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{specGood}}}); err != nil {
		t.Fatal(err)
	}
	ev := h.waitEvents(2)[1]
	if ev.Old != StateDown || ev.New != StateUp || ev.Check != "" || ev.Result.Reason != "configuration changed" {
		t.Errorf("event %+v, want up by the configuration change", ev)
	}

	// CombineAny: one passing check is enough.
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Combine: CombineAny, Checks: []CheckSpec{specGood, specBad}}}); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Second)
	if st := h.status(svc, rs1); st.State != StateUp {
		t.Errorf("any of up and down: %v, want up", st.State)
	}
}

func TestSchedulerJitterSpread(t *testing.T) {
	const n = 500
	const interval, jitter = time.Second, 200 * time.Millisecond
	h := newHarness(t, SchedulerOptions{MaxInFlight: n})
	var checkers []*fakeChecker
	var targets []Target
	for i := range n {
		c := h.checker("tcp 10.0.0.1:80", nil)
		spec := every(c, interval, 100*time.Millisecond)
		spec.Jitter = jitter
		checkers = append(checkers, c)
		targets = append(targets, Target{Service: svc, Server: time.Duration(i).String(), Checks: []CheckSpec{spec}})
	}
	if err := h.s.Update(targets); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(6 * time.Second)

	// First runs: a uniform offset in [0, interval) plus a jitter in
	// [0, jitter): spread over 1.2s, about n/10 per 100ms of the first
	// second.
	var bins [12]int
	var gaps []float64
	for _, c := range checkers {
		calls := c.callTimes()
		if len(calls) < 5 {
			t.Fatalf("%d runs in 6s, want 5 or more", len(calls))
		}
		first := calls[0].Sub(t0)
		if first < 0 || first >= interval+jitter {
			t.Fatalf("first run at %v, want within [0, %v)", first, interval+jitter)
		}
		bins[first/(100*time.Millisecond)]++
		// A run may start up to early before its time, to share the
		// wake-up of the run due just before it (fireCoalesce).
		early := min(fireCoalesce, interval/10)
		for _, g := range c.gaps() {
			if g <= interval-jitter-early || g >= interval+jitter+early {
				t.Fatalf("gap %v, want within (%v, %v)", g, interval-jitter-early, interval+jitter+early)
			}
			gaps = append(gaps, g.Seconds())
		}
	}
	// Bins 2..9 hold n/10 each in expectation (the first two and last two
	// are ramps of the jitter's convolution): allow ±50 %, far beyond
	// chance for a uniform spread and far below a herd.
	for i := 2; i < 10; i++ {
		if bins[i] < n/20 || bins[i] > n*3/20 {
			t.Errorf("first runs per 100ms %v: bin %d has %d, want about %d", bins, i, bins[i], n/10)
		}
	}
	// Gaps between runs are the interval plus the difference of two
	// jitters: mean the interval, standard deviation jitter/sqrt(6).
	var sum, sq float64
	for _, g := range gaps {
		sum += g
	}
	mean := sum / float64(len(gaps))
	for _, g := range gaps {
		sq += (g - mean) * (g - mean)
	}
	sd := math.Sqrt(sq / float64(len(gaps)))
	wantSD := jitter.Seconds() / math.Sqrt(6)
	if math.Abs(mean-interval.Seconds()) > 0.01 {
		t.Errorf("mean gap %.4fs over %d gaps, want %v ± 10ms", mean, len(gaps), interval)
	}
	if math.Abs(sd-wantSD) > 0.1*wantSD {
		t.Errorf("gap standard deviation %.4fs, want %.4fs ± 10%%", sd, wantSD)
	}
}

func TestSchedulerLogsEachTransitionOnce(t *testing.T) {
	var buf testutil.SyncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, SchedulerOptions{Logger: logger})
	c := h.checker("tcp 10.0.0.1:80", []Result{
		pass(time.Millisecond), pass(time.Millisecond), pass(time.Millisecond),
		{Class: ClassFiltered, Latency: 500 * time.Millisecond, Reason: "no answer in 500ms"},
	})
	spec := every(c, time.Second, 600*time.Millisecond)
	spec.Name = "tcp:80"
	spec.Fall = 2
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(10 * time.Second) // 10 runs: up after 2, down after the 5th
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d log lines for 10 runs and 2 transitions, want 2:\n%s", len(lines), buf.String())
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "real server up", "service": svc, "server": rs1, "from": "unknown", "to": "up",
			"check": "tcp:80", "result": "open", "reason": "handshake completed", "latency": float64(time.Millisecond), "in_a_row": float64(2)},
		{"level": "WARN", "msg": "real server down", "service": svc, "server": rs1, "from": "up", "to": "down",
			"check": "tcp:80", "result": "filtered", "reason": "no answer in 500ms", "latency": float64(500 * time.Millisecond), "in_a_row": float64(2)},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
	}
}

func TestSchedulerRealClock(t *testing.T) {
	// The production path: RealClock timers, context deadlines, a
	// sub-second interval.
	s := NewScheduler(SchedulerOptions{})
	var mu sync.Mutex
	var events []Event
	s.Subscribe(func(ev Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})
	quick := &fakeChecker{desc: "tcp 127.0.0.1:1", clock: RealClock{}}
	hung := &fakeChecker{desc: "tcp 127.0.0.1:2", clock: RealClock{}, hang: true, h: &harness{}}
	if err := s.Update([]Target{
		{Service: svc, Server: "127.0.0.1:1", Checks: []CheckSpec{every(quick, 20*time.Millisecond, 10*time.Millisecond)}},
		{Service: svc, Server: "127.0.0.1:2", Checks: []CheckSpec{every(hung, 50*time.Millisecond, 30*time.Millisecond)}},
	}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	testutil.Poll(t, 10*time.Second, 5*time.Millisecond, func() error {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if runs := len(quick.callTimes()); n < 2 || runs < 20 {
			return fmt.Errorf("%d events, %d quick runs; want 2 and 20", n, runs)
		}
		return nil
	})
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := map[string]State{}
	for _, x := range s.Status() {
		st[x.Server] = x.State
	}
	if st["127.0.0.1:1"] != StateUp || st["127.0.0.1:2"] != StateDown {
		t.Errorf("states %v, want the quick server up and the hung one down", st)
	}
	if hung.maxSeen.Load() > 1 {
		t.Errorf("the hung check ran %d times at once", hung.maxSeen.Load())
	}
	for _, x := range s.Status() {
		if x.Server == "127.0.0.1:2" && x.Checks[0].Last.Class != ClassFiltered {
			t.Errorf("hung check's result %+v, want filtered at its deadline", x.Checks[0].Last)
		}
	}
}

func TestSchedulerUpdateCancelsRemovedRuns(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	hung := h.checker("tcp 10.0.0.1:80", nil)
	hung.hang = true
	spec := every(hung, time.Second, 900*time.Millisecond)
	spec.Fall = 1
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(time.Second) // the run hangs until its fake deadline
	if h.hangingLive() != 1 {
		t.Fatalf("%d runs hanging, want 1", h.hangingLive())
	}
	if err := h.s.Update(nil); err != nil {
		t.Fatal(err)
	}
	// No clock movement: only the cancellation can end the run.
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		if h.s.pending.Load() != 0 {
			return errors.New("the removed check's run was not canceled")
		}
		return nil
	})
	if got := metricValue(t, h.s, "ipvs_health_check_duration_seconds", map[string]string{"type": "tcp", "result": "filtered"}); got.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("%d durations observed, want the canceled run's 1", got.GetHistogram().GetSampleCount())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) != 0 || len(h.s.Status()) != 0 {
		t.Errorf("events %v and status %v after removing the only target, want none", h.events, h.s.Status())
	}
}

// TestSchedulerCoalescesWakeups: runs due within fireCoalesce of each
// other start on one wake-up, none more than that early, and none
// drifts: the k-th run of a check stays within the early bound of k
// intervals after its first.
func TestSchedulerCoalescesWakeups(t *testing.T) {
	const n, interval, runs = 200, time.Second, 5
	h := newHarness(t, SchedulerOptions{MaxInFlight: n})
	var checkers []*fakeChecker
	var targets []Target
	for i := range n {
		c := h.checker("tcp 10.0.0."+strconv.Itoa(i)+":80", nil)
		checkers = append(checkers, c)
		targets = append(targets, Target{Service: svc, Server: strconv.Itoa(i), Checks: []CheckSpec{every(c, interval, interval/2)}})
	}
	if err := h.s.Update(targets); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	w0 := h.clock.Wakeups()
	h.advance(runs*interval - time.Millisecond)
	total := 0
	for _, c := range checkers {
		calls := c.callTimes()
		total += len(calls)
		for k, at := range calls {
			off := at.Sub(calls[0]) - time.Duration(k)*interval
			if off <= -fireCoalesce || off >= fireCoalesce {
				t.Fatalf("%s: run %d at %v after its first, want %v ± %v", c.desc, k, at.Sub(calls[0]), time.Duration(k)*interval, fireCoalesce)
			}
		}
	}
	if total < n*(runs-1) {
		t.Fatalf("%d runs of %d checks in %v, want at least %d", total, n, runs*interval, n*(runs-1))
	}
	// 200 checks a second at random offsets are 5ms apart on average:
	// with a 10ms window a wake-up starts about three.
	if w := h.clock.Wakeups() - w0; w*2 > uint64(total) {
		t.Errorf("%d timer wake-ups for %d runs, want fewer than half as many", w, total)
	}
}
