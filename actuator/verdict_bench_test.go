package actuator

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// The verdict-to-write benchmarks run Run on the real clock over a
// converged table (fakeTable: no kernel here) and time, for each verdict
// change of one real server (down, then up again), the time from the
// verdict to the start of its write call. They report the distribution
// (p50, p90, p99, max in ns) and the full passes that ran meanwhile (the
// follow-up passes of the targeted writes, whose table reads delay the
// changes that come during them). Run them with -benchtime=10000x for
// 10,000 changes:
//
//	go test -run='^$' -bench=VerdictToWrite -benchtime=10000x ./actuator/

// latencies reports the distribution of d.
func latencies(b *testing.B, d []time.Duration, passes int64) {
	b.Helper()
	slices.Sort(d)
	at := func(q float64) float64 { return float64(d[min(len(d)-1, int(q*float64(len(d))))].Nanoseconds()) }
	b.ReportMetric(at(0.5), "p50-ns")
	b.ReportMetric(at(0.9), "p90-ns")
	b.ReportMetric(at(0.99), "p99-ns")
	b.ReportMetric(float64(d[len(d)-1].Nanoseconds()), "max-ns")
	b.ReportMetric(float64(passes), "full-passes")
	b.ReportMetric(0, "ns/op") // the distribution says it; the loop's mean includes the waits
}

// startRun runs the controller until the benchmark ends and returns once
// its first pass is done, and a counter of its passes.
func startRun(b *testing.B, r *rig) *atomic.Int64 {
	b.Helper()
	passes := new(atomic.Int64)
	first := make(chan struct{})
	r.c.onPass = func() {
		if passes.Add(1) == 1 {
			close(first)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.c.Run(ctx)
	}()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	<-first
	return passes
}

// BenchmarkVerdictToWrite: verdict changes handed to the controller's
// subscription by the test's verdict source, in the caller's goroutine
// (the health scheduler's dispatcher does it in its own).
//
// With state-file, the controller keeps what it applied in a --state.file
// (a file in the test's temporary directory), rewritten and synced after
// each change that no other change follows at once.
func BenchmarkVerdictToWrite(b *testing.B) {
	for _, size := range []struct {
		services, servers int
		state             bool
	}{{10, 10, false}, {100, 100, false}, {100, 100, true}} {
		name := fmt.Sprintf("%dx%d", size.services, size.servers)
		if size.state {
			name += "-state-file"
		}
		b.Run(name, func(b *testing.B) {
			r, cfg := benchRigOn(b, size.services, size.servers, health.RealClock{}, nil)
			if size.state {
				m, err := LoadMaintenance(filepath.Join(b.TempDir(), "state.json"))
				if err != nil {
					b.Fatal(err)
				}
				if r.c, err = New(cfg, Options{Reader: r.table, Writer: r.table, Verdicts: r.v, Admin: m, Clock: health.RealClock{}}); err != nil {
					b.Fatal(err)
				}
			}
			wrote := make(chan time.Time, 1)
			r.table.onWrite = func(string) { wrote <- time.Now() }
			passes := startRun(b, r)
			d := make([]time.Duration, 0, b.N)
			before := passes.Load()
			b.ResetTimer()
			for i := range b.N {
				// Each server of each service in turn, down then up.
				s := &cfg.Services[(i/2)%size.services]
				rs := s.RealServers[(i/2/size.services)%size.servers].Address.String()
				state := health.StateDown
				if i%2 == 1 {
					state = health.StateUp
				}
				start := time.Now()
				r.v.set(s.Key.String(), rs, state)
				d = append(d, (<-wrote).Sub(start))
			}
			b.StopTimer()
			latencies(b, d, passes.Load()-before)
		})
	}
}

// switchChecker passes or fails as its switch says.
type switchChecker struct {
	name string
	fail *atomic.Bool
}

func (c switchChecker) Check(context.Context) health.Result {
	if c.fail != nil && c.fail.Load() {
		return health.Result{Class: health.ClassClosed, Reason: "connection refused (RST)"}
	}
	return health.Result{Class: health.ClassOpen}
}

func (c switchChecker) String() string { return c.name }

// stamped is a health.Scheduler that keeps the time of the last verdict
// change it delivered to the controller.
type stamped struct {
	*health.Scheduler
	at atomic.Int64 // UnixNano of the last event's Time
}

func (s *stamped) Subscribe(fn func(health.Event)) func() {
	return s.Scheduler.Subscribe(func(ev health.Event) {
		s.at.Store(ev.Time.UnixNano())
		fn(ev)
	})
}

// BenchmarkVerdictToWriteScheduler: the verdicts of a real
// health.Scheduler on the real clock (every real server checked every
// second by a checker without I/O, rise and fall 1, one of them every
// millisecond and switched between passing and failing), from the
// scheduler's transition (Event.Time) through its dispatcher goroutine to
// the write call.
func BenchmarkVerdictToWriteScheduler(b *testing.B) {
	for _, size := range []struct{ services, servers int }{{10, 10}, {100, 100}} {
		b.Run(fmt.Sprintf("%dx%d", size.services, size.servers), func(b *testing.B) {
			sched := health.NewScheduler(health.SchedulerOptions{})
			src := &stamped{Scheduler: sched}
			r, cfg := benchRigOn(b, size.services, size.servers, health.RealClock{}, src)
			fail := new(atomic.Bool)
			var targets []health.Target
			for i := range cfg.Services {
				s := &cfg.Services[i]
				for j := range s.RealServers {
					rs := s.RealServers[j].Address.String()
					spec := health.CheckSpec{Name: "tcp:80", Checker: switchChecker{name: "switch " + rs},
						Schedule: health.Every{Interval: time.Second}, Timeout: 100 * time.Millisecond, Rise: 1, Fall: 1}
					if i == 0 && j == 0 {
						spec.Checker = switchChecker{name: "switch " + rs, fail: fail}
						spec.Schedule, spec.Timeout = health.Every{Interval: time.Millisecond}, 500*time.Microsecond
					}
					targets = append(targets, health.Target{Service: s.Key.String(), Server: rs, Checks: []health.CheckSpec{spec}})
				}
			}
			if err := sched.Update(targets); err != nil {
				b.Fatal(err)
			}
			sched.Start()
			b.Cleanup(func() { _ = sched.Stop(context.Background()) })
			// Every server's first verdict before the controller starts.
			testutil.Poll(b, 10*time.Second, 10*time.Millisecond, func() error {
				up := 0
				for _, st := range sched.Status() {
					if st.State == health.StateUp {
						up++
					}
				}
				if up != len(targets) {
					return fmt.Errorf("%d of %d servers up", up, len(targets))
				}
				return nil
			})
			wrote := make(chan time.Time, 1)
			r.table.onWrite = func(string) { wrote <- time.Now() }
			passes := startRun(b, r)
			d := make([]time.Duration, 0, b.N)
			before := passes.Load()
			b.ResetTimer()
			for i := range b.N {
				fail.Store(i%2 == 0)
				at := <-wrote
				d = append(d, at.Sub(time.Unix(0, src.at.Load())))
			}
			b.StopTimer()
			latencies(b, d, passes.Load()-before)
		})
	}
}

func (s *stamped) OnVerdict(fn func(health.Event)) func() {
	return s.Scheduler.OnVerdict(func(ev health.Event) {
		s.at.Store(ev.Time.UnixNano())
		fn(ev)
	})
}
