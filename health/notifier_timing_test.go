package health_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/notify"
)

// flapScript is what each flapping checker returns, call after call (P a
// pass, F a failure; the last one forever): with rise and fall 1 the
// verdict changes every second run for 16 runs, holds for 8, then flaps
// again. The quiet spell in the middle is seconds without a notification
// while the stuck targets' queues stay full.
const flapScript = "PPFFPPFFPPFFPPFF" + "FFFFFFFF" + "PPFFPPFFPPFFPPFF" + "FFFFFFFF"

// flapper is a Checker that follows flapScript and records when (on the
// fake clock) it was called.
type flapper struct {
	name  string
	clock *health.FakeClock

	mu    sync.Mutex
	walls []time.Time
	monos []time.Duration
}

func (f *flapper) String() string { return "flap " + f.name }

func (f *flapper) Check(context.Context) health.Result {
	f.mu.Lock()
	i := len(f.walls)
	f.walls = append(f.walls, f.clock.Now())
	f.monos = append(f.monos, f.clock.Monotonic())
	f.mu.Unlock()
	if flapScript[min(i, len(flapScript)-1)] == 'P' {
		return health.Result{Class: health.ClassOpen, Latency: time.Millisecond, Reason: "handshake completed"}
	}
	return health.Result{Class: health.ClassClosed, Latency: time.Millisecond, Reason: "connection refused (RST)"}
}

func (f *flapper) calls() ([]time.Time, []time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.walls...), append([]time.Duration(nil), f.monos...)
}

// wantStates returns the states the server of a checker called n times
// went through, by flapScript with rise and fall 1.
func wantStates(n int) []health.State {
	var out []health.State
	last := health.StateUnknown
	for i := range n {
		st := health.StateDown
		if flapScript[min(i, len(flapScript)-1)] == 'P' {
			st = health.StateUp
		}
		if st != last {
			out = append(out, st)
			last = st
		}
	}
	return out
}

// silentReceiver is a loopback UDP socket that reads what it gets and
// never answers: a receiver that is hung.
func silentReceiver(t *testing.T) (addr string, received func() int) {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu sync.Mutex
		n  int
	)
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// logLines counts the lines of a text log that contain every one of
// parts.
func logLines(logs *testutil.SyncBuffer, parts ...string) int {
	n := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// maxDuration is the longest of the calls it measured, overall and while
// a stuck target's queue was full.
type maxDuration struct {
	mu        sync.Mutex
	calls     int
	all, full time.Duration
	fullCalls int
}

func (m *maxDuration) add(d time.Duration, full bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	m.all = max(m.all, d)
	if full {
		m.fullCalls++
		m.full = max(m.full, d)
	}
}

func (m *maxDuration) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("%d calls, longest %v; %d with the hung target's queue full, longest %v", m.calls, m.all, m.fullCalls, m.full)
}

// TestChecksKeepTimingWithReceiversDown runs a real Scheduler on a
// FakeClock with 16 flapping real servers (8 on "@every 1s", 8 on a cron
// spec for every second, so that those fall due together) and a Notifier
// subscribed to it first, as main wires them, with three inform targets:
// one at a socket that reads and never answers (hung), one at a loopback
// port with nothing listening (ICMP port unreachable), both with a queue
// of 4 and a 30 s timeout, and one at Debian's snmptrapd. Over 40 s of
// fake time every check runs exactly at its scheduled time (none late,
// none skipped), the subscriber after the notifier and snmptrapd get
// every verdict change in order, the stuck targets count what they drop,
// the hung one's queue-full warning is logged once for the whole outage
// (the quiet spell included) and Close abandons its inform.
func TestChecksKeepTimingWithReceiversDown(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := health.NewFakeClock(t0)
	trapd := testutil.StartSnmptrapd(t, "authCommunity log public\n", filepath.Join("..", "mib"))
	hungAddr, hungReceived := silentReceiver(t)
	closedAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreeUDPPort(t))

	var yml strings.Builder
	yml.WriteString("services:\n")
	type rs struct{ service, server string }
	var servers []rs
	for i, svc := range []struct{ name, vip, net string }{{"web", "192.0.2.10:80", "10.0.0."}, {"api", "192.0.2.20:443", "10.0.1."}} {
		fmt.Fprintf(&yml, "  - name: %s\n    address: %s\n    real_servers:\n", svc.name, svc.vip)
		for j := 1; j <= 8; j++ {
			server := fmt.Sprintf("%s%d:%d", svc.net, j, 80+363*i)
			fmt.Fprintf(&yml, "      - {address: %s}\n", server)
			servers = append(servers, rs{"tcp/" + svc.vip, server})
		}
	}
	fmt.Fprintf(&yml, `notifications:
  director: lb1
  targets:
    - {name: hung, address: %s, community: public, type: inform, timeout: 30s, retries: 1, queue_size: 4, send: [state]}
    - {name: closed, address: %s, community: public, type: inform, timeout: 30s, retries: 1, queue_size: 4, send: [state]}
    - {name: nms, address: %s, community: public, type: inform, timeout: 5s, retries: 3, queue_size: 10000, send: [state]}
`, hungAddr, closedAddr, trapd.Addr)
	cfg, err := config.Parse([]byte(yml.String()), "test.yml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml.String())
	}

	logs := &testutil.SyncBuffer{}
	n := notify.New(cfg, notify.Options{Clock: clock, Hostname: func() (string, error) { return "lb1", nil },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	s := health.NewScheduler(health.SchedulerOptions{Clock: clock, Rand: rand.New(rand.NewPCG(1, 2))})
	var (
		targets  []health.Target
		checkers []*flapper
	)
	everySecond, err := health.ParseSchedule("* * * * * *")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range servers {
		f := &flapper{name: r.server, clock: clock}
		spec := health.CheckSpec{Name: "flap", Checker: f, Schedule: health.Every{Interval: time.Second}, Timeout: 200 * time.Millisecond, Rise: 1, Fall: 1}
		if i%2 == 1 {
			spec.Schedule = everySecond
		}
		checkers = append(checkers, f)
		targets = append(targets, health.Target{Service: r.service, Server: r.server, Checks: []health.CheckSpec{spec}})
	}
	if err := s.Update(targets); err != nil {
		t.Fatal(err)
	}

	// The notifier first, as main subscribes it before the controller:
	// the scheduler's dispatcher calls subscribers one after the other,
	// so a notifier that blocked would hold up the next one.
	var healthCalls maxDuration
	s.Subscribe(func(e health.Event) {
		st, _ := n.Stats("hung")
		start := time.Now()
		n.HealthEvent(e)
		healthCalls.add(time.Since(start), st.Queued == 4)
	})
	var (
		mu  sync.Mutex
		got = map[string][]health.State{}
	)
	s.Subscribe(func(e health.Event) {
		mu.Lock()
		got[e.Server] = append(got[e.Server], e.New)
		mu.Unlock()
	})
	s.Start()
	stopped := false
	defer func() {
		if !stopped {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n.Close(ctx)
			_ = s.Stop(ctx)
		}
	}()

	// Move the clock from one due time to the next, each time only once
	// every run started has ended, as a real clock would if checks take
	// their 1 ms: then a run that is late or skipped is the scheduler's
	// doing, not the test's.
	settle := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s.RunsPending() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("at %v: %d runs still pending after 10 s (a check waiting for a subscriber?)", clock.Now().Sub(t0), s.RunsPending())
			}
			runtime.Gosched()
		}
	}
	const span = 40 * time.Second
	end := t0.Add(span)
	for {
		next, ok := clock.NextDeadline()
		if !ok || next.After(end) {
			break
		}
		clock.Advance(next.Sub(clock.Now()))
		settle()
	}
	clock.Advance(end.Sub(clock.Now()))
	settle()

	// Every run at its scheduled time: @every checks from their first
	// offset (within the first second) one second apart, cron checks on
	// every whole second of the wall clock; none missing.
	totalRuns, wantEvents := 0, 0
	want := map[string][]health.State{}
	for i, f := range checkers {
		walls, monos := f.calls()
		totalRuns += len(walls)
		if i%2 == 1 {
			if len(walls) != int(span/time.Second) {
				t.Errorf("%s (cron): %d runs in %v, want %d", f.name, len(walls), span, span/time.Second)
			}
			for k, w := range walls {
				if want := t0.Add(time.Duration(k+1) * time.Second); !w.Equal(want) {
					t.Errorf("%s (cron): run %d at %v, want %v", f.name, k, w.Sub(t0), want.Sub(t0))
					break
				}
			}
		} else {
			if len(monos) == 0 || monos[0] < 0 || monos[0] >= time.Second {
				t.Fatalf("%s (@every 1s): first runs at %v", f.name, monos)
			}
			// A run may start up to health.FireCoalesce before its time
			// (to share the wake-up of the run due just before it), never
			// after.
			early := min(health.FireCoalesce, time.Second/10)
			fewest, most := int((span-monos[0]-early)/time.Second)+1, int((span-monos[0]+early)/time.Second)+1
			if len(monos) < fewest || len(monos) > most {
				t.Errorf("%s (@every 1s): %d runs, want %d to %d from its first at %v", f.name, len(monos), fewest, most, monos[0])
			}
			for k := 1; k < len(monos); k++ {
				if off := monos[k] - monos[0] - time.Duration(k)*time.Second; off <= -early || off >= early {
					t.Errorf("%s (@every 1s): run %d %v after the first, want %ds ± %v", f.name, k, monos[k]-monos[0], k, early)
					break
				}
			}
		}
		want[f.name] = wantStates(len(walls))
		wantEvents += len(want[f.name])
	}
	for _, mf := range testutil.ParseText(t, testutil.SourceText(t, s)) {
		switch mf.GetName() {
		case "ipvs_health_checks_skipped_total":
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 0 {
				t.Errorf("%v runs skipped, want none", v)
			}
		case "ipvs_health_scheduler_lag_seconds":
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != uint64(totalRuns) || h.GetSampleSum() != 0 {
				t.Errorf("scheduler lag: %d runs summing %vs, want %d runs, none late", h.GetSampleCount(), h.GetSampleSum(), totalRuns)
			}
		}
	}

	// Every verdict change reached the subscriber after the notifier, and
	// snmptrapd through the working target, in order.
	testutil.Poll(t, 10*time.Second, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		have := 0
		for _, states := range got {
			have += len(states)
		}
		if have < wantEvents {
			return fmt.Errorf("the subscriber after the notifier got %d of %d verdict changes", have, wantEvents)
		}
		return nil
	})
	mu.Lock()
	for server, states := range want {
		if fmt.Sprint(got[server]) != fmt.Sprint(states) {
			t.Errorf("%s: events %v, want %v", server, got[server], states)
		}
	}
	mu.Unlock()
	testutil.Poll(t, 20*time.Second, 20*time.Millisecond, func() error {
		if st, _ := n.Stats("nms"); st.Acked != uint64(wantEvents) {
			return fmt.Errorf("snmptrapd acknowledged %d of %d informs: %+v", st.Acked, wantEvents, st)
		}
		return nil
	})
	printed := map[string][]string{}
	for _, tr := range trapd.Traps() {
		var server, state string
		for _, vb := range strings.Split(tr, "\t") {
			vb = strings.TrimSpace(vb)
			if v, ok := strings.CutPrefix(vb, "LVS-SIDECAR-MIB::lsNotifyServer = STRING: "); ok {
				server = strings.Trim(v, `"`)
			}
			if v, ok := strings.CutPrefix(vb, "LVS-SIDECAR-MIB::lsNotifyNewState = INTEGER: "); ok {
				state, _, _ = strings.Cut(v, "(")
			}
		}
		printed[server] = append(printed[server], state)
	}
	for server, states := range want {
		if fmt.Sprint(printed[server]) != fmt.Sprint(states) {
			t.Errorf("%s: snmptrapd printed %v, want %v", server, printed[server], states)
		}
	}

	// The stuck targets: nothing sent or acknowledged; everything they
	// were given is queued, in flight (one), failed or dropped, and the
	// drops are counted.
	testutil.Poll(t, 10*time.Second, 10*time.Millisecond, func() error {
		if hungReceived() == 0 {
			return fmt.Errorf("the hung receiver got no inform")
		}
		if st, _ := n.Stats("closed"); st.Queued != 0 || st.Failed+st.Dropped != uint64(wantEvents) {
			return fmt.Errorf("closed port: %+v, want the %d informs failed or dropped", st, wantEvents)
		}
		return nil
	})
	hung, _ := n.Stats("hung")
	closed, _ := n.Stats("closed")
	t.Logf("%d runs, %d verdict changes; hung target %+v; closed port %+v", totalRuns, wantEvents, hung, closed)
	t.Logf("HealthEvent: %v", &healthCalls)
	if accounted := hung.Queued + int(hung.Dropped+hung.Failed); hung.Sent != 0 || hung.Acked != 0 || hung.Dropped == 0 ||
		accounted < wantEvents-1 || accounted > wantEvents {
		t.Errorf("hung target: %+v, want nothing sent, drops, and the %d informs queued, in flight (at most one), failed or dropped",
			hung, wantEvents)
	}
	if closed.Sent != 0 || closed.Acked != 0 || closed.Failed == 0 {
		t.Errorf("closed port: %+v, want failures and nothing sent", closed)
	}

	// Logged once: one queue-full warning for the hung target's whole
	// outage, quiet spell included (its queue never drained), and one
	// failure line for the closed port's.
	if got := logLines(logs, "notification queue full", "target=hung"); got != 1 {
		t.Errorf("%d queue-full lines for the hung target, want 1:\n%s", got, logs)
	}
	if got := logLines(logs, "notification not delivered", "target=closed"); got != 1 {
		t.Errorf("%d failure lines for the closed port, want 1:\n%s", got, logs)
	}
	if got := logLines(logs, "notification queue full", "target=closed"); (closed.Dropped == 0) != (got == 0) || got > int(closed.Dropped) {
		t.Errorf("%d queue-full lines for the closed port with %d dropped:\n%s", got, closed.Dropped, logs)
	}

	// Close abandons the hung inform at its deadline instead of waiting
	// out its 30 s timeout and retry.
	closedCh := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		n.Close(ctx)
		close(closedCh)
	}()
	select {
	case <-closedCh:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return within 20 s with a 100 ms deadline: it waits for the hung inform")
	}
	stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("scheduler stop: %v", err)
	}
}
