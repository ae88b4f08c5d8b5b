package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// The soak: the real binary for a long time (make soak: an hour) with
// 1,000 checked real servers of which 10% flap, scraped as Prometheus
// does. It is a benchmark that runs once and prints a sample every few
// minutes and a summary, not a test: without -soak.duration it skips, so
// `make bench` and CI never run it. BENCHMARKS.md, "Soak", has the
// figures.
//
//	go test -run='^$' -bench=Soak -benchtime=1x -timeout=0 ./cmd/lvs-sidecar/ -args -soak.duration=1h
var (
	soakDuration = flag.Duration("soak.duration", 0, "BenchmarkSoak runs this long (make soak: 1h); 0 skips it")
	soakEvery    = flag.Duration("soak.every", 15*time.Second, "BenchmarkSoak scrapes this often")
	soakPrint    = flag.Duration("soak.print", 5*time.Minute, "BenchmarkSoak prints a sample this often")
)

const (
	soakServices   = 100 // of 10 real servers each
	soakPerService = 10
	soakFlappers   = 10 // listeners that flap; each service's last real server is one of them
)

// soakSample is what one scrape saw of the process.
type soakSample struct {
	at                 time.Duration // since the measurement began
	scrape             time.Duration // the whole gzip scrape, as Prometheus would time it
	rssKiB             int64
	fds, goroutines    int
	heapMiB            float64
	targeted, actuated float64
}

// BenchmarkSoak runs the sidecar on a simulated table (its controller
// creates the table, then drains and restores the flapping servers), 100
// services of 10 real servers on loopback, one tcp check every 5s each
// (rise 2, fall 2); 100 of them (10%) are on ports that close and open
// again every 20 to 56 seconds. It scrapes /metrics with gzip every
// -soak.every and records the scrape's time, VmRSS, open descriptors,
// goroutines and heap. The summary compares the first and last tenths of
// the run (after five minutes of warm-up): a leak shows as a last tenth
// above the first.
func BenchmarkSoak(b *testing.B) {
	if *soakDuration <= 0 {
		b.Skip("the soak runs only with -soak.duration (make soak)")
	}
	steady := make([]*listener, soakPerService-1)
	for i := range steady {
		steady[i] = newListener(b, "127.0.0.1:0")
	}
	flappers := make([]*flapper, soakFlappers)
	for i := range flappers {
		flappers[i] = newFlapper(b, time.Duration(20+4*i)*time.Second)
	}
	var cfg strings.Builder
	cfg.WriteString("services:\n")
	for i := range soakServices {
		fmt.Fprintf(&cfg, "  - name: s%d\n    address: 198.18.0.%d:80\n    scheduler: wrr\n    real_servers:\n", i, i+1)
		for j := range soakPerService {
			port := flappers[i%soakFlappers].port
			if j < soakPerService-1 {
				port = steady[j].port()
			}
			fmt.Fprintf(&cfg, "      - {address: 127.0.0.1:%s, forward: nat, weight: %d}\n", port, 1+j%3)
		}
		cfg.WriteString("    checks:\n      - {type: tcp, schedule: \"@every 5s\", timeout: 500ms, rise: 2, fall: 2}\n")
	}
	s := start(b, "--ipvs.simulate", "--config.file="+writeFile(b, b.TempDir(), "soak.yml", cfg.String()))
	url := "http://" + s.addr + "/metrics"
	client := &http.Client{Timeout: 30 * time.Second}
	testutil.Poll(b, 2*time.Minute, time.Second, func() error {
		_, body := get(b, client, url, "", "")
		if v, _ := metric(body, "ipvs_real_servers"); v != soakServices*soakPerService {
			return fmt.Errorf("%v real servers in the table, want %d", v, soakServices*soakPerService)
		}
		return nil
	})
	for _, f := range flappers {
		f.run()
	}
	pid := s.cmd.Process.Pid
	cpu0 := pidCPU(b, pid)
	var samples []soakSample
	begin := time.Now()
	next := begin
	lastPrint := time.Duration(-1)
	fmt.Fprintf(os.Stderr, "%8s %9s %8s %5s %10s %8s %11s %9s\n", "elapsed", "scrape", "RSS MiB", "fds", "goroutines", "heap MiB", "targeted", "writes")
	for b.Loop() {
		for time.Since(begin) < *soakDuration {
			time.Sleep(time.Until(next)) // the scrape interval
			next = next.Add(*soakEvery)
			smp := soakScrape(b, client, url, pid)
			smp.at = time.Since(begin)
			samples = append(samples, smp)
			if lastPrint < 0 || smp.at-lastPrint >= *soakPrint {
				lastPrint = smp.at
				fmt.Fprintf(os.Stderr, "%8s %9s %8.1f %5d %10d %8.1f %11.0f %9.0f\n", smp.at.Round(time.Second), smp.scrape.Round(time.Microsecond),
					float64(smp.rssKiB)/1024, smp.fds, smp.goroutines, smp.heapMiB, smp.targeted, smp.actuated)
			}
		}
	}
	elapsed := time.Since(begin)
	b.ReportMetric(float64(pidCPU(b, pid)-cpu0)/elapsed.Seconds()/1e7, "cpu-%")
	soakReport(b, samples)
}

// soakScrape scrapes the sidecar once, as Prometheus does (gzip), and
// reads what the process holds right after.
func soakScrape(b *testing.B, client *http.Client, url string, pid int) soakSample {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	scrape := time.Since(t0)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("/metrics: %d, %v", resp.StatusCode, err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The counters and the runtime's figures, from a plain scrape.
	_, body := get(b, client, url, "", "")
	value := func(name string) float64 {
		v, ok := metric(body, name)
		if !ok {
			b.Fatalf("no %s in the exposition", name)
		}
		return v
	}
	return soakSample{
		scrape:     scrape,
		rssKiB:     procStatus(b, pid)["VmRSS"],
		fds:        len(fds),
		goroutines: int(value("go_goroutines")),
		heapMiB:    value("go_memstats_heap_inuse_bytes") / (1 << 20),
		targeted:   sumFamily(body, "ipvs_controller_targeted_total"),
		actuated:   sumFamily(body, "ipvs_controller_actuations_total"),
	}
}

// sumFamily adds up every sample of a family.
func sumFamily(body, name string) float64 {
	var sum float64
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, name+"{"); ok {
			var v float64
			if _, err := fmt.Sscan(rest[strings.LastIndexByte(rest, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// soakReport prints and reports the first and last tenths of the samples
// after five minutes of warm-up (or of all of them, for a short run).
func soakReport(b *testing.B, samples []soakSample) {
	warm := samples
	for i, s := range samples {
		if s.at >= 5*time.Minute {
			warm = samples[i:]
			break
		}
	}
	n := max(len(warm)/10, 1)
	if len(warm) < 2*n {
		b.Fatalf("%d samples after warm-up: run longer", len(warm))
	}
	first, last := warm[:n], warm[len(warm)-n:]
	scrapes := func(s []soakSample) (p50, maxd time.Duration) {
		d := make([]time.Duration, len(s))
		for i := range s {
			d[i] = s[i].scrape
		}
		slices.Sort(d)
		return d[(len(d)-1)/2], d[len(d)-1]
	}
	mean := func(s []soakSample, f func(soakSample) float64) float64 {
		var sum float64
		for _, x := range s {
			sum += f(x)
		}
		return sum / float64(len(s))
	}
	rows := []struct {
		name string
		f    func(soakSample) float64
	}{
		{"rss-MiB", func(s soakSample) float64 { return float64(s.rssKiB) / 1024 }},
		{"fds", func(s soakSample) float64 { return float64(s.fds) }},
		{"goroutines", func(s soakSample) float64 { return float64(s.goroutines) }},
		{"heap-MiB", func(s soakSample) float64 { return s.heapMiB }},
	}
	fmt.Fprintf(os.Stderr, "\nsoak: %d scrapes over %s; first and last tenths after warm-up (%d scrapes each), means:\n", len(samples), samples[len(samples)-1].at.Round(time.Second), n)
	for _, r := range rows {
		a, z := mean(first, r.f), mean(last, r.f)
		fmt.Fprintf(os.Stderr, "  %-11s first %9.1f  last %9.1f\n", r.name, a, z)
		b.ReportMetric(a, "first-"+r.name)
		b.ReportMetric(z, "last-"+r.name)
	}
	p50a, maxa := scrapes(first)
	p50z, maxz := scrapes(last)
	fmt.Fprintf(os.Stderr, "  %-11s first p50 %s max %s  last p50 %s max %s\n", "scrape", p50a, maxa, p50z, maxz)
	b.ReportMetric(float64(p50a.Microseconds())/1000, "first-scrape-p50-ms")
	b.ReportMetric(float64(p50z.Microseconds())/1000, "last-scrape-p50-ms")
	end := samples[len(samples)-1]
	fmt.Fprintf(os.Stderr, "  targeted writes (the verdict changes the controller acted on) %.0f, table writes %.0f\n", end.targeted, end.actuated)
	b.ReportMetric(end.targeted, "targeted-writes")
}

// flapper is a loopback port that is open for one period, closed for the
// next, and so on: a real server that comes and goes.
type flapper struct {
	tb     testing.TB
	l      *listener
	port   string
	period time.Duration
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newFlapper(tb testing.TB, period time.Duration) *flapper {
	f := &flapper{tb: tb, l: newListener(tb, "127.0.0.1:"+staticPort(tb)), period: period, stop: make(chan struct{})}
	f.port = f.l.port()
	tb.Cleanup(func() { close(f.stop); f.wg.Wait() })
	return f
}

// staticPort returns a free port of 127.0.0.1 below the kernel's
// ephemeral range. A flapper reopens its port after a closed period; an
// ephemeral one can meanwhile be the source port of one of the checks'
// connections (the first hour-long soak lost two flappers so).
func staticPort(tb testing.TB) string {
	tb.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		fmt.Sscan(string(b), &low)
	}
	for p := low - 1; p > 1024; p-- {
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			ln.Close()
			if !soakPortsTaken[p] {
				soakPortsTaken[p] = true
				return fmt.Sprint(p)
			}
		}
	}
	tb.Fatal("no free port of 127.0.0.1 below the ephemeral range")
	return ""
}

// soakPortsTaken are the ports staticPort gave out.
var soakPortsTaken = map[int]bool{}

// run starts the flapping: closed after a period, open after the next.
func (f *flapper) run() {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		t := time.NewTicker(f.period)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
			}
			if f.l.ln != nil {
				f.l.close()
				continue
			}
			// The same port again: staticPort keeps it below the
			// ephemeral range. Not f.l.open: Fatal is for the test's
			// own goroutine.
			if err := f.l.listen(); err != nil {
				f.tb.Errorf("flapper %s: reopen: %v", f.l.addr, err)
				return
			}
		}
	}()
}
