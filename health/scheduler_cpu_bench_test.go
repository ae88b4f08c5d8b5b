package health

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSchedulerCPUPerCheck measures what the lab's check benchmark
// (lab/cmd/labbench) compares with keepalived's TCP_CHECK: the CPU the
// process spends per check at a paced rate, where every check wakes the
// process on its own (a few hundred checks per second, not the thousands
// of BenchmarkSchedulerTCP, whose checks share wake-ups). The real
// Scheduler runs the real TCP or SYN checker on N targets every interval
// (timeout half the interval, at most 1s; no jitter) for b.N checks, the targets being distinct
// addresses 127.1.0.1, 127.1.0.2, ... on one port of a listener bound to lo
// in a helper process (this test binary) that accepts and closes each
// connection, so that the server application's CPU is not ours (the
// kernel's work for both ends of loopback is, as it is over the lab's
// veth pairs). It reports per check the process's user and system time
// (getrusage), heap allocations and bytes (runtime.MemStats), and system
// calls (perf's raw_syscalls:sys_enter tracepoint, when it can be opened).
//
//	nice -n 10 go test -run='^$' -bench=SchedulerCPUPerCheck -benchtime=2000x -count=3 ./health/
func BenchmarkSchedulerCPUPerCheck(b *testing.B) {
	sets := []struct {
		targets  int
		interval time.Duration
	}{{200, time.Second}, {1000, 5 * time.Second}}
	for _, kind := range []string{"tcp", "syn"} {
		for _, set := range sets {
			b.Run(fmt.Sprintf("%s-%d", kind, set.targets), func(b *testing.B) {
				benchmarkCPUPerCheck(b, kind, set.targets, set.interval)
			})
		}
	}
}

func benchmarkCPUPerCheck(b *testing.B, kind string, targets int, interval time.Duration) {
	port := benchLoListener(b)
	var scanner *SYNScanner
	if kind == "syn" {
		probeNeedRoot(b, "the SYN check (raw sockets)")
		var err error
		if scanner, err = NewSYNScanner(); err != nil {
			b.Fatal(err)
		}
		defer scanner.Close()
	}
	ctr := newBenchCounter()
	ts := make([]Target, targets)
	for i := range ts {
		target := netip.AddrPortFrom(probeBenchAddr(i), port)
		var checker Checker
		if kind == "syn" {
			checker = NewSYN(target, SYNOptions{Scanner: scanner})
		} else {
			checker = NewTCP(target, TCPOptions{})
		}
		ts[i] = Target{Service: "tcp/192.0.2.1:80", Server: target.String(),
			Checks: []CheckSpec{{Name: kind + ":80", Checker: ctr.wrap(checker), Schedule: Every{interval}, Timeout: min(time.Second, interval/2)}}}
	}
	s := NewScheduler(SchedulerOptions{})
	if err := s.Update(ts); err != nil {
		b.Fatal(err)
	}
	s.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			b.Error(err)
		}
	}()
	// Every target checked once: the steady state.
	ctr.wait(b, int64(targets), 2*interval+10*time.Second)

	sc, scErr := newSyscallCounter()
	if scErr == nil {
		defer sc.close()
	}
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var sys0 uint64
	if sc != nil {
		sys0 = sc.count()
	}
	n0 := ctr.n.Load()
	ru0 := benchRusage(b)
	b.ResetTimer()
	ctr.wait(b, n0+int64(b.N), time.Duration(b.N)*interval/time.Duration(targets)*3+30*time.Second)
	ru1 := benchRusage(b)
	var sys1 uint64
	if sc != nil {
		sys1 = sc.count()
	}
	runtime.ReadMemStats(&ms1)
	b.StopTimer()
	done := float64(ctr.n.Load() - n0)

	failed := 0
	for _, st := range s.Status() {
		if c := st.Checks[0]; c.Fails > 0 || c.Last.Class != ClassOpen {
			failed++
			if failed == 1 {
				b.Errorf("failing: %s: %s %q", st.Server, c.Last.Class, c.Last.Reason)
			}
		}
	}
	if failed > 0 {
		b.Errorf("%d of %d targets failing", failed, targets)
	}
	user := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano())
	sys := time.Duration(ru1.Stime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(done/b.Elapsed().Seconds(), "checks/s")
	b.ReportMetric(float64(user.Nanoseconds())/done/1e3, "user-µs/check")
	b.ReportMetric(float64(sys.Nanoseconds())/done/1e3, "sys-µs/check")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/done, "allocs/check")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/done, "B/check")
	if sc != nil {
		b.ReportMetric(float64(sys1-sys0)/done, "syscalls/check")
	} else {
		b.Logf("no syscall count: %v", scErr)
	}
}

func benchRusage(b *testing.B) unix.Rusage {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru
}

// benchCounter counts the checks that returned and wakes a waiter when
// they reach its number: polling would wake the process more often than
// the checks do at a few hundred per second.
type benchCounter struct {
	n    atomic.Int64
	want atomic.Int64
	mu   sync.Mutex
	ch   chan struct{}
}

func newBenchCounter() *benchCounter {
	c := &benchCounter{}
	c.want.Store(-1)
	return c
}

// wrap returns checker counting into c; an asyncChecker stays one, so
// that the scheduler runs it as it would run the checker.
func (c *benchCounter) wrap(checker Checker) Checker {
	return countRuns(checker, c.add)
}

// countRuns returns checker calling done after each run, on either of
// the scheduler's paths.
func countRuns(checker Checker, done func()) Checker {
	counted := countedCheckerFunc{Checker: checker, done: done}
	if a, ok := checker.(asyncChecker); ok {
		return countedAsync{counted, a}
	}
	return counted
}

func (c *benchCounter) add() {
	if c.n.Add(1) == c.want.Load() {
		c.mu.Lock()
		close(c.ch)
		c.mu.Unlock()
	}
}

// wait returns once n checks have returned.
func (c *benchCounter) wait(b *testing.B, n int64, limit time.Duration) {
	c.mu.Lock()
	ch := make(chan struct{})
	c.ch = ch
	c.want.Store(n)
	if c.n.Load() >= n {
		c.want.Store(-1)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(limit):
		b.Fatalf("%d checks after %v, want %d", c.n.Load(), limit, n)
	}
}

// countedCheckerFunc calls done after each Check.
type countedCheckerFunc struct {
	Checker
	done func()
}

func (c countedCheckerFunc) Check(ctx context.Context) Result {
	r := c.Checker.Check(ctx)
	c.done()
	return r
}

// countedAsync is countedCheckerFunc for an asyncChecker: done after each
// result (its closure is one allocation per check more than the checker
// makes).
type countedAsync struct {
	countedCheckerFunc
	a asyncChecker
}

// startAsync counts the run's end: the sink it passes on is the
// benchmark's one allocation per check (allocs/check counts it).
func (c countedAsync) startAsync(timeout time.Duration, done resultSink) (func(), Result, bool) {
	cancel, r, ok := c.a.startAsync(timeout, sinkFunc(func(r Result) {
		done.finish(r)
		c.done()
	}))
	if !ok {
		c.done()
	}
	return cancel, r, ok
}

// benchLoListener starts a helper process (this test binary) that
// listens on one port of every address of lo and accepts and closes
// every connection, and returns the port.
func benchLoListener(b *testing.B) uint16 {
	return listenerProcess(b, "TestSchedulerBenchLoListenerProcess", "HEALTH_BENCH_LO_LISTENER=1", 1)[0]
}

// TestSchedulerBenchLoListenerProcess is BenchmarkSchedulerCPUPerCheck's
// listener process; it does nothing in a normal test run.
func TestSchedulerBenchLoListenerProcess(t *testing.T) {
	if os.Getenv("HEALTH_BENCH_LO_LISTENER") == "" {
		t.Skip("helper process for BenchmarkSchedulerCPUPerCheck")
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "lo")
		}); err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("port %d\n", l.Addr().(*net.TCPAddr).Port)
	for {
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}
