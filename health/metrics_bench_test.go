package health

import (
	"bufio"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// What a scrape of the health metrics costs: the scheduler's text writer
// (what /metrics does), and for comparison the registry path it replaced
// (a registry gathers the reference collector, expfmt writes the text).
//
//	go test -run='^$' -bench=Exposition -benchmem -count=3 ./health/

// benchScheduler returns a scheduler with n targets of one check each,
// every check with a result in.
func benchScheduler(b testing.TB, n int) *Scheduler {
	h := &harness{clock: NewFakeClock(t0)}
	s := NewScheduler(SchedulerOptions{Clock: h.clock})
	ts := make([]Target, n)
	for i := range ts {
		c := &fakeChecker{desc: "tcp x", clock: h.clock, h: h}
		ts[i] = Target{Service: "tcp/192.0.2." + strconv.Itoa(i/1000) + ":80", Server: "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ":80",
			Checks: []CheckSpec{{Name: "tcp:80", Checker: c, Schedule: Every{time.Second}, Timeout: 500 * time.Millisecond}}}
	}
	if err := s.Update(ts); err != nil {
		b.Fatal(err)
	}
	s.Start()
	h.s = s
	for range 3 { // up
		h.clock.Advance(time.Second)
		for s.pending.Load() != 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return s
}

func benchExpose(b *testing.B, c prometheus.Collector) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	var series, bytes int
	b.ResetTimer()
	for b.Loop() {
		families, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		w := &countingWriter{}
		series = 0
		for _, f := range families {
			series += len(f.GetMetric())
			if _, err := expfmt.MetricFamilyToText(w, f); err != nil {
				b.Fatal(err)
			}
		}
		bytes = w.n
	}
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(bytes), "text-bytes")
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return io.Discard.Write(p)
}

func BenchmarkExposition(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("targets="+strconv.Itoa(n), func(b *testing.B) {
			s := benchScheduler(b, n)
			defer s.Stop(b.Context())
			w := &countingWriter{}
			bw := bufio.NewWriterSize(w, 64<<10)
			pw := promtext.NewWriter(bw)
			// The layout is built at the first scrape after an Update:
			// not what each scrape costs.
			s.Snapshot()(pw)
			b.ReportAllocs()
			for b.Loop() {
				w.n = 0
				s.Snapshot()(pw)
				if err := bw.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.n), "text-bytes")
		})
	}
}

// BenchmarkExpositionRegistry is the registry path the text writer
// replaced.
func BenchmarkExpositionRegistry(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("targets="+strconv.Itoa(n), func(b *testing.B) {
			s := benchScheduler(b, n)
			defer s.Stop(b.Context())
			benchExpose(b, registryCollector{s})
		})
	}
}

// BenchmarkExpositionPerTargetHistogram is the alternative not taken: a
// duration histogram per real server and check instead of per check type.
func BenchmarkExpositionPerTargetHistogram(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("targets="+strconv.Itoa(n), func(b *testing.B) {
			desc := prometheus.NewDesc("ipvs_real_server_health_check_duration_seconds", "Duration of the check.", metricsCheckLabels, nil)
			buckets := map[float64]uint64{}
			for i, ub := range metricsDurationBuckets {
				buckets[ub] = uint64(i * 10)
			}
			benchExpose(b, prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
				for i := range n {
					ch <- prometheus.MustNewConstHistogram(desc, 1000, 1.5, buckets,
						"tcp/192.0.2."+strconv.Itoa(i/1000)+":80", "10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256)+":80", "tcp:80")
				}
			}))
		})
	}
}

// BenchmarkVerdicts is what a controller's pass takes of every real
// server's verdict: Verdicts (without the checks) against Status.
//
//	go test -run='^$' -bench=Verdicts -benchmem ./health/
func BenchmarkVerdicts(b *testing.B) {
	s := benchScheduler(b, 10000)
	defer s.Stop(b.Context())
	for _, way := range []struct {
		name string
		get  func() []ServerStatus
	}{{"Status", s.Status}, {"Verdicts", s.Verdicts}} {
		b.Run(way.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(way.get()) != 10000 {
					b.Fatal("not 10,000 statuses")
				}
			}
		})
	}
}
