package health

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/robfig/cron/v3"
)

// The end-to-end benchmarks run the real Scheduler on the wall clock for
// b.N checks and report what the process spent: the targets and the
// interval fix the rate (checks/s), so ns/op is 1/rate and the costs are
// cpu-ns/check and cores (CPU time over wall time, all goroutines and the
// garbage collector included, read with getrusage).
//
//	go test -run='^$' -bench='Scheduler|CronLoop' -benchtime=100000x -count=3 ./health/

// countingChecker is the cheapest checker: it counts and passes.
type countingChecker struct {
	n    *atomic.Int64
	name string
}

func (c countingChecker) Check(context.Context) Result {
	c.n.Add(1)
	return Result{Class: ClassOpen, Latency: time.Microsecond}
}

func (c countingChecker) String() string { return c.name }

var benchRates = []struct {
	targets  int
	interval time.Duration
}{
	{1000, 100 * time.Millisecond},  // 10,000 checks/s
	{10000, time.Second},            // 10,000 checks/s
	{10000, 200 * time.Millisecond}, // 50,000 checks/s: headroom
}

func BenchmarkSchedulerFake(b *testing.B) {
	for _, r := range benchRates {
		b.Run(fmt.Sprintf("targets=%d/interval=%v", r.targets, r.interval), func(b *testing.B) {
			var n atomic.Int64
			benchmarkScheduler(b, r.targets, r.interval, &n, func(i int) Checker {
				return countingChecker{n: &n, name: "fake " + strconv.Itoa(i)}
			})
		})
	}
}

func BenchmarkSchedulerTCP(b *testing.B) {
	ports := benchListeners(b, 50)
	for _, r := range benchRates[:2] {
		b.Run(fmt.Sprintf("targets=%d/interval=%v", r.targets, r.interval), func(b *testing.B) {
			var n atomic.Int64
			benchmarkScheduler(b, r.targets, r.interval, &n, func(i int) Checker {
				target := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[i%len(ports)])
				return countRuns(NewTCP(target, TCPOptions{}), func() { n.Add(1) })
			})
		})
	}
}

// benchmarkScheduler schedules targets checks every interval, waits one
// interval for all to have started, then measures b.N checks.
func benchmarkScheduler(b *testing.B, targets int, interval time.Duration, n *atomic.Int64, mk func(int) Checker) {
	s := NewScheduler(SchedulerOptions{})
	ts := make([]Target, targets)
	for i := range ts {
		ts[i] = Target{Service: "tcp/192.0.2.1:80", Server: "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ":80",
			Checks: []CheckSpec{{Name: "tcp:80", Checker: mk(i), Schedule: Every{interval}, Timeout: interval / 2, Jitter: interval / 10}}}
	}
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
	benchWait(b, n, int64(targets), 2*interval+5*time.Second)
	lag0 := benchLag(s)

	runtime.GC()
	b.ResetTimer()
	cpu0, start, n0 := benchCPU(b), time.Now(), n.Load()
	benchWait(b, n, n0+int64(b.N), time.Duration(b.N)*interval/time.Duration(targets)*4+30*time.Second)
	wall, cpu := time.Since(start), benchCPU(b)-cpu0
	b.StopTimer()
	done := n.Load() - n0

	lag1 := benchLag(s)
	results := s.Status()
	failed := 0
	for _, st := range results {
		if st.State == StateDown || st.Checks[0].Fails > 0 {
			failed++
			if failed == 1 {
				b.Errorf("failing: %+v", st)
			}
		}
	}
	if failed > 0 {
		b.Errorf("%d of %d targets failing", failed, len(results))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(done)/wall.Seconds(), "checks/s")
	b.ReportMetric(float64(cpu)/float64(done), "cpu-ns/check")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric((lag1.sum-lag0.sum)/float64(lag1.count-lag0.count)*1e6, "lag-mean-µs")
	b.ReportMetric(float64(lag1.over1ms-lag0.over1ms)/float64(lag1.count-lag0.count)*100, "lag>1ms-%")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(benchRSS(b)/(1<<20), "rss-MiB")
}

// benchWait polls until n reaches want.
func benchWait(b *testing.B, n *atomic.Int64, want int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d checks after %v, want %d", n.Load(), limit, want)
		}
		time.Sleep(time.Millisecond)
	}
}

type benchLagStats struct {
	count, over1ms uint64
	sum            float64
}

func benchLag(s *Scheduler) benchLagStats {
	var m dto.Metric
	if err := s.lag.Write(&m); err != nil {
		panic(err)
	}
	h := m.GetHistogram()
	st := benchLagStats{count: h.GetSampleCount(), sum: h.GetSampleSum()}
	for _, bk := range h.GetBucket() {
		if bk.GetUpperBound() == 0.001 {
			st.over1ms = st.count - bk.GetCumulativeCount()
		}
	}
	return st
}

func benchCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRSS returns the process's resident set size in bytes.
func benchRSS(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb * 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// benchListeners starts a helper process (this test binary) that listens
// on count loopback ports and accepts and closes every connection, so
// that the accepting side's CPU is not the benchmark's.
func benchListeners(b *testing.B, count int) []uint16 {
	return listenerProcess(b, "TestSchedulerBenchListenerProcess", "HEALTH_BENCH_LISTENERS="+strconv.Itoa(count), count)
}

// listenerProcess runs this test binary's test named test with env set,
// as a listener process killed when b ends, and returns the count ports it
// prints ("port N" lines; the test framework's own output is skipped).
func listenerProcess(b *testing.B, test, env string, count int) []uint16 {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var ports []uint16
	sc := bufio.NewScanner(out)
	for len(ports) < count && sc.Scan() {
		p, err := strconv.ParseUint(strings.TrimPrefix(sc.Text(), "port "), 10, 16)
		if err != nil {
			continue
		}
		ports = append(ports, uint16(p))
	}
	if len(ports) != count {
		b.Fatalf("listener process gave %d ports, want %d: %v", len(ports), count, sc.Err())
	}
	return ports
}

// TestSchedulerBenchListenerProcess is BenchmarkSchedulerTCP's listener
// process; it does nothing in a normal test run.
func TestSchedulerBenchListenerProcess(t *testing.T) {
	count, err := strconv.Atoi(os.Getenv("HEALTH_BENCH_LISTENERS"))
	if err != nil {
		t.Skip("helper process for BenchmarkSchedulerTCP")
	}
	for range count {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("port %d\n", l.Addr().(*net.TCPAddr).Port)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	select {} // until killed
}

// phased fires every interval at a fixed phase: what cron.Cron would need
// to spread many checks (its own "@every" fires on whole seconds).
type phased struct{ interval, phase time.Duration }

func (p phased) Next(t time.Time) time.Time {
	base := t.Truncate(p.interval).Add(p.phase)
	for !base.After(t) {
		base = base.Add(p.interval)
	}
	return base
}

// BenchmarkCronLoop measures cron.Cron driving the same load as
// BenchmarkSchedulerFake, with SkipIfStillRunning and Recover: the
// comparison behind running the checks from a heap and one timer.
func BenchmarkCronLoop(b *testing.B) {
	for _, r := range benchRates[:2] {
		b.Run(fmt.Sprintf("targets=%d/interval=%v", r.targets, r.interval), func(b *testing.B) {
			var n atomic.Int64
			c := cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger), cron.Recover(cron.DiscardLogger)))
			rnd := rand.New(rand.NewPCG(1, 2))
			for range r.targets {
				chk := countingChecker{n: &n}
				c.Schedule(phased{r.interval, time.Duration(rnd.Int64N(int64(r.interval)))}, cron.FuncJob(func() {
					ctx, cancel := context.WithTimeout(context.Background(), r.interval/2)
					chk.Check(ctx)
					cancel()
				}))
			}
			c.Start()
			defer c.Stop()
			benchWait(b, &n, int64(r.targets), 2*r.interval+5*time.Second)
			runtime.GC()
			b.ResetTimer()
			cpu0, start, n0 := benchCPU(b), time.Now(), n.Load()
			benchWait(b, &n, n0+int64(b.N), time.Duration(b.N)*r.interval/time.Duration(r.targets)*4+30*time.Second)
			wall, cpu := time.Since(start), benchCPU(b)-cpu0
			b.StopTimer()
			done := n.Load() - n0
			b.ReportMetric(float64(done)/wall.Seconds(), "checks/s")
			b.ReportMetric(float64(cpu)/float64(done), "cpu-ns/check")
			b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
		})
	}
}
