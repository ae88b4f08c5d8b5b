package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/collector"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/load"
	"github.com/lvs-sidecar/lvs-sidecar/notify"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// What the whole sidecar costs at scale, with health checks and the
// controller: a /metrics scrape (table, health and controller families
// together) and the memory the process holds. BENCHMARKS.md, "Scale",
// has the numbers and the commands.

// scalePerService is how many real servers each service of a scale
// configuration has; scaleDown of them are a closed port.
const (
	scalePerService = 10
	scaleDown       = 1
)

// scaleConfig declares realServers real servers, scalePerService per
// service, each service on a VIP of its own in 198.18.0.0/15. The real
// servers of every service are the same loopback ports: ports (listening,
// up) and closed (nothing listens: the kernel answers RST, down), so that
// 10,000 checked real servers need a handful of sockets. One tcp check
// each, every interval.
func scaleConfig(realServers int, ports []string, closed string, interval time.Duration) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range realServers / scalePerService {
		fmt.Fprintf(&b, "  - name: s%d\n    address: 198.18.%d.%d:80\n    scheduler: wrr\n    real_servers:\n", i, i/250, i%250+1)
		for j := range scalePerService {
			port := closed
			if j < scalePerService-scaleDown {
				port = ports[j%len(ports)]
			}
			fmt.Fprintf(&b, "      - {address: 127.0.0.1:%s, forward: nat, weight: %d}\n", port, 1+j%3)
		}
		fmt.Fprintf(&b, "    checks:\n      - {type: tcp, schedule: \"@every %v\", timeout: 500ms, rise: 1, fall: 1}\n", interval)
	}
	return b.String()
}

// scalePorts opens the listeners of a scale configuration (closed when
// the test ends) and picks a closed port.
func scalePorts(tb testing.TB) (ports []string, closed string) {
	tb.Helper()
	for range scalePerService - scaleDown {
		ports = append(ports, newListener(tb, "127.0.0.1:0").port())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	_, closed, _ = net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return ports, closed
}

// scaleState is the state of a serving sidecar built the way serve builds
// it (simulated table, checks, notifier, load poller, controller,
// maintenance store, HTTP surface), in this process.
type scaleState struct {
	handler http.Handler
	// tableOnly serves the same table without --config.file: no checks,
	// no controller.
	tableOnly http.Handler
	hc        *checks
}

// newScaleState builds the state for realServers checked real servers
// and waits until every one has a verdict and the controller has
// converged on them. With running false, the checks and the controller
// are stopped then: their state stays, nothing changes it between
// scrapes.
func newScaleState(tb testing.TB, realServers int, running bool) *scaleState {
	tb.Helper()
	logger := slog.New(slog.DiscardHandler)
	ports, closed := scalePorts(tb)
	cfg, err := config.Parse([]byte(scaleConfig(realServers, ports, closed, 2*time.Second)), "scale.yml")
	if err != nil {
		tb.Fatal(err)
	}
	o := options{telemetryPath: "/metrics", ipvsTimeout: 5 * time.Second, simulate: simulateOptions{enabled: true}, config: cfg}
	reader, closeReader, err := openTable(&o, logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(closeReader)
	table := collector.New(reader, logger, collector.Options{Timeout: o.ipvsTimeout})
	store := actuator.NewMaintenance()
	ctx, cancel := context.WithCancel(context.Background())
	hc, err := newChecks(ctx, "scale.yml", cfg, reader, o, logger)
	if err != nil {
		tb.Fatal(err)
	}
	hc.notifier = notify.New(cfg, notify.Options{Logger: logger})
	hc.events = web.NewEvents(web.DefaultEvents)
	cancelNotify := hc.sched.Subscribe(hc.notifier.HealthEvent)
	cancelEvents := hc.sched.Subscribe(hc.events.HealthEvent)
	hc.load = load.New(load.Options{Logger: logger})
	if hc.ctl, err = newController(cfg, o, reader, hc, store, logger); err != nil {
		tb.Fatal(err)
	}
	hc.ctl.Start(ctx)
	hc.load.Update(cfg)
	go hc.run(ctx)
	stop := sync.OnceFunc(func() {
		cancel()
		stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer stopCancel()
		if err := hc.ctl.Stop(stopCtx); err != nil {
			tb.Error(err)
		}
		if err := hc.stop(stopCtx); err != nil {
			tb.Error(err)
		}
		if err := hc.load.Stop(stopCtx); err != nil {
			tb.Error(err)
		}
	})
	tb.Cleanup(func() {
		stop()
		cancelNotify()
		cancelEvents()
		hc.notifier.Close(context.Background())
	})
	policy, err := web.NewPolicy(web.Options{}, logger)
	if err != nil {
		tb.Fatal(err)
	}
	handler, err := newHandler(o, table, reader, hc, store, policy, logger)
	if err != nil {
		tb.Fatal(err)
	}
	tableOnly, err := newHandler(o, collector.New(reader, logger, collector.Options{Timeout: o.ipvsTimeout}), reader, nil, nil, policy, logger)
	if err != nil {
		tb.Fatal(err)
	}
	awaitConverged(tb, hc, realServers)
	if !running {
		stop()
	}
	return &scaleState{handler: handler, tableOnly: tableOnly, hc: hc}
}

// awaitConverged waits until every real server has a verdict and the
// controller's last pass decided each one and left nothing pending.
func awaitConverged(tb testing.TB, hc *checks, realServers int) {
	tb.Helper()
	testutil.Poll(tb, 2*time.Minute, 200*time.Millisecond, func() error {
		st := hc.sched.Status()
		if len(st) != realServers {
			return fmt.Errorf("%d real servers checked, want %d", len(st), realServers)
		}
		for _, s := range st {
			if s.State == health.StateUnknown {
				return fmt.Errorf("%s %s has no verdict yet", s.Service, s.Server)
			}
		}
		ctl := hc.ctl.Controller().Status()
		n := 0
		for _, svc := range ctl.Services {
			for _, rs := range svc.RealServers {
				if !rs.Decided || rs.Pending || rs.Verdict == health.StateUnknown {
					return fmt.Errorf("the controller has not converged on %s %s", svc.Service, rs.Server)
				}
				n++
			}
		}
		if n != realServers {
			return fmt.Errorf("the controller's last pass has %d real servers, want %d", n, realServers)
		}
		return nil
	})
}

// BenchmarkScrapeChecked measures a whole /metrics scrape of a sidecar
// with checks and the controller: the registry's families (Go runtime,
// process, reloads...), the table's, the checks', the controller's and
// the maintenance store's, from the handler serve builds, into a
// ResponseWriter that discards the body; with only=table, the same table
// served without --config.file, to compare with. Checks and controller
// are stopped once converged so that only the scrape runs; series counts
// the samples of one body.
func BenchmarkScrapeChecked(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, variant := range []string{"", "/gzip", "/only=table", "/only=table/gzip"} {
			b.Run(fmt.Sprintf("real_servers=%d%s", n, variant), func(b *testing.B) {
				st := newScaleState(b, n, false)
				h := st.handler
				if strings.Contains(variant, "only=table") {
					h = st.tableOnly
				}
				enc := ""
				if strings.HasSuffix(variant, "gzip") {
					enc = "gzip"
				}
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if enc != "" {
					req.Header.Set("Accept-Encoding", enc)
				}
				w := testutil.NewDiscardResponse()
				series := countSeries(b, h)
				runtime.GC()
				b.ReportAllocs()
				cpu := processCPU(b)
				for b.Loop() {
					w.Reset()
					h.ServeHTTP(w, req)
				}
				b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(w.N), "body-bytes")
				b.ReportMetric(float64(series), "series")
			})
		}
	}
}

// BenchmarkScrapeCheckedRatio measures what issue 12's target compares:
// the CPU of a whole /metrics scrape of a sidecar with checks and the
// controller over that of the same table served without --config.file,
// both through the handler serve builds. Each iteration scrapes one, then
// the other, so that the load of a shared machine, which drifts from
// second to second, weighs on both alike; cpu-ns/op is the checked
// scrape's, table-cpu-ns/op the table-only one's, ratio their quotient.
// With gzip the scraper sends Accept-Encoding: gzip, as Prometheus does.
func BenchmarkScrapeCheckedRatio(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, enc := range []string{"", "gzip"} {
			name := fmt.Sprintf("real_servers=%d", n)
			if enc != "" {
				name += "/" + enc
			}
			b.Run(name, func(b *testing.B) {
				st := newScaleState(b, n, false)
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if enc != "" {
					req.Header.Set("Accept-Encoding", enc)
				}
				checked, table := testutil.NewDiscardResponse(), testutil.NewDiscardResponse()
				runtime.GC()
				b.ReportAllocs()
				var checkedCPU, tableCPU time.Duration
				for b.Loop() {
					checked.Reset()
					cpu := processCPU(b)
					st.handler.ServeHTTP(checked, req)
					mid := processCPU(b)
					table.Reset()
					st.tableOnly.ServeHTTP(table, req)
					checkedCPU, tableCPU = checkedCPU+mid-cpu, tableCPU+processCPU(b)-mid
				}
				b.ReportMetric(float64(checkedCPU)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(tableCPU)/float64(b.N), "table-cpu-ns/op")
				b.ReportMetric(float64(checkedCPU)/float64(tableCPU), "ratio")
				b.ReportMetric(float64(checked.N), "body-bytes")
				b.ReportMetric(float64(table.N), "table-body-bytes")
			})
		}
	}
}

// countSeries scrapes h once and counts its samples.
func countSeries(tb testing.TB, h http.Handler) int {
	tb.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		tb.Fatalf("/metrics: %d", w.Code)
	}
	n := 0
	for line := range strings.Lines(w.Body.String()) {
		if !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// BenchmarkStateMemory builds the whole state of a sidecar checking
// 10,000 real servers, checks and controller running, scrapes it once and
// reports the heap it holds (HeapInuse after a garbage collection, and
// what it grew by from before the state was built), and the bytes of its
// live objects (HeapAlloc then: the rest of HeapInuse is the free room
// in the spans that hold them, which no allocation of another size can
// use). With
// -scale.heapprofile it writes a heap profile of that moment, every
// allocation of 512 bytes or more sampled, to see what holds it:
//
//	go test -run='^$' -bench=StateMemory -benchtime=3x ./cmd/lvs-sidecar/ -args -scale.heapprofile=/tmp/heap.out
//	go tool pprof -sample_index=inuse_space -top /tmp/heap.out
func BenchmarkStateMemory(b *testing.B) {
	const n = 10000
	if *heapProfile != "" {
		runtime.MemProfileRate = 512
	}
	before := heapInuse()
	st := newScaleState(b, n, true)
	countSeries(b, st.handler)
	var heap uint64
	for b.Loop() {
		heap = heapInuse()
	}
	if *heapProfile != "" {
		writeHeapProfile(b, *heapProfile)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "objects-MiB")
	b.ReportMetric(float64(heap-before)/n, "heap-B/real-server")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
}

var heapProfile = flag.String("scale.heapprofile", "", "BenchmarkStateMemory writes a heap profile of the state to this file")

// writeHeapProfile writes the heap profile of the objects alive at the
// last garbage collection to path.
func writeHeapProfile(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}

// heapInuse returns HeapInuse after a garbage collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkProcessRSS runs the real binary with --ipvs.simulate and a
// configuration of 10,000 checked real servers, waits until every one has
// a verdict and the controller has converged, then scrapes it over HTTP
// with gzip, as Prometheus does, b.N times. It reports the process's
// VmRSS and VmHWM after the scrapes, its heap (go_memstats_heap_inuse_bytes)
// and its CPU per scrape (utime+stime of the sidecar, the checks' CPU
// between scrapes included: 5,000 checks/s), and VmRSS after each scrape
// (its largest and mean). -scale.every spaces the scrapes as Prometheus
// does, for the memory of a process in its steady state:
//
//	go test -run='^$' -bench=ProcessRSS -benchtime=8x ./cmd/lvs-sidecar/ -args -scale.every=15s
//
// With only=table the same
// table is seeded (--ipvs.simulate.seed) and served without
// --config.file: no checks, no controller.
func BenchmarkProcessRSS(b *testing.B) {
	const n = 10000
	for _, variant := range []string{"checked", "only=table"} {
		b.Run(variant, func(b *testing.B) {
			ports, closed := scalePorts(b)
			dir := b.TempDir()
			text := scaleConfig(n, ports, closed, 2*time.Second)
			args := []string{"--ipvs.simulate", "--config.file=" + writeFile(b, dir, "lvs.yml", text)}
			ready := func(body string) error { return converged(body, n) }
			if variant == "only=table" {
				args = []string{"--ipvs.simulate", "--ipvs.simulate.seed=" + writeFile(b, dir, "seed.rules", scaleSeed(b, text))}
				ready = func(body string) error {
					if v, _ := metric(body, "ipvs_real_servers"); v != n {
						return fmt.Errorf("%v real servers in the table, want %d", v, n)
					}
					return nil
				}
			}
			s := start(b, args...)
			benchmarkProcess(b, s, ready)
		})
	}
}

// scaleSeed turns a scale configuration into the ipvsadm rules of the
// table its controller makes.
func scaleSeed(tb testing.TB, text string) string {
	tb.Helper()
	cfg, err := config.Parse([]byte(text), "scale.yml")
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for _, svc := range cfg.Services {
		vip := svc.Key.Address.String() + ":" + strconv.Itoa(int(svc.Key.Port))
		fmt.Fprintf(&b, "-A -t %s -s %s\n", vip, svc.Scheduler)
		for _, rs := range svc.RealServers {
			fmt.Fprintf(&b, "-a -t %s -r %s -m -w %d\n", vip, rs.Address, rs.Weight)
		}
	}
	return b.String()
}

// benchmarkProcess waits until a scrape of s is ready, then scrapes it
// b.N times and reports what the process holds and spends.
func benchmarkProcess(b *testing.B, s *sidecar, ready func(body string) error) {
	url := "http://" + s.addr + "/metrics"
	client := &http.Client{Timeout: 30 * time.Second}
	testutil.Poll(b, 2*time.Minute, time.Second, func() error {
		_, body := get(b, client, url, "", "")
		return ready(body)
	})
	cpu := pidCPU(b, s.cmd.Process.Pid)
	var size int64
	var rssMax, rssSum float64
	for b.Loop() {
		if *scrapeEvery > 0 {
			time.Sleep(*scrapeEvery) // a scrape interval, not a guess at a delay
		}
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		// Set by hand, the transport leaves the body compressed.
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		size, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("/metrics: %d, %v", resp.StatusCode, err)
		}
		rss := float64(procStatus(b, s.cmd.Process.Pid)["VmRSS"]) / 1024
		rssMax, rssSum = max(rssMax, rss), rssSum+rss
	}
	b.ReportMetric(float64(pidCPU(b, s.cmd.Process.Pid)-cpu)/float64(b.N), "sidecar-cpu-ns/op")
	b.ReportMetric(rssMax, "rss-max-MiB")
	b.ReportMetric(rssSum/float64(b.N), "rss-mean-MiB")
	b.ReportMetric(float64(size), "gzip-bytes")
	_, body := get(b, client, url, "", "")
	// What the Go runtime holds: the heap in use, the heap it keeps
	// without using it (idle, not yet returned to the kernel), stacks.
	memstat := func(name string) float64 {
		v, ok := metric(body, "go_memstats_"+name+"_bytes")
		if !ok {
			b.Fatalf("no go_memstats_%s_bytes", name)
		}
		return v / (1 << 20)
	}
	b.ReportMetric(memstat("heap_inuse"), "heap-MiB")
	b.ReportMetric(memstat("heap_idle")-memstat("heap_released"), "heap-idle-MiB")
	b.ReportMetric(memstat("stack_inuse"), "stack-MiB")
	b.ReportMetric(memstat("sys"), "go-sys-MiB")
	status := procStatus(b, s.cmd.Process.Pid)
	b.ReportMetric(float64(status["VmRSS"])/1024, "rss-MiB")
	b.ReportMetric(float64(status["VmHWM"])/1024, "hwm-MiB")
	// Of VmRSS: the process's own memory (heap, stacks, the runtime's
	// structures) and the pages of the binary and libraries it touched.
	b.ReportMetric(float64(status["RssAnon"])/1024, "rss-anon-MiB")
	b.ReportMetric(float64(status["RssFile"])/1024, "rss-file-MiB")
}

var scrapeEvery = flag.Duration("scale.every", 0, "BenchmarkProcessRSS waits this long before each scrape (Prometheus's scrape interval: 15s); 0 scrapes back to back")

// converged tells from a scrape whether every one of n real servers has
// a verdict and the controller has nothing pending.
func converged(body string, n int) error {
	var checked, unknown, pending, decided int
	for line := range strings.Lines(body) {
		switch {
		case strings.HasPrefix(line, "ipvs_real_server_health_state{"):
			checked++
			if strings.Contains(line, `state="unknown"`) {
				unknown++
			}
		case strings.HasPrefix(line, "ipvs_controller_pending{") && strings.HasSuffix(line, " 1\n"):
			pending++
		case strings.HasPrefix(line, "ipvs_real_server_desired_weight{") &&
			!strings.Contains(line, `reason="no_verdict"`) && !strings.Contains(line, `reason="local_error"`):
			decided++
		}
	}
	if checked != n || unknown != 0 || pending != 0 || decided != n {
		return fmt.Errorf("%d real servers checked (want %d), %d without a verdict, %d decided, %d pending", checked, n, unknown, decided, pending)
	}
	return nil
}

// processCPU returns the user+system CPU time this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pidCPU returns the user+system CPU time of process pid, from
// /proc/PID/stat (in clock ticks of 10 ms).
func pidCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// procStatus returns the kB fields of /proc/PID/status (VmRSS, VmHWM...).
func procStatus(tb testing.TB, pid int) map[string]int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int64{}
	for line := range strings.Lines(string(b)) {
		name, rest, ok := strings.Cut(line, ":")
		v, unit, _ := strings.Cut(strings.TrimSpace(rest), " ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil && unit == "kB" {
			out[name] = n
		}
	}
	return out
}
