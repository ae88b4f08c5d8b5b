package collector

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// syntheticTable returns a table of n destinations, 10 per service: VIPs on
// ports 80 and 443 (TCP, some UDP, every tenth IPv6), real servers in
// 10.0.0.0/8 or 2001:db8::/32, counters in the billions.
func syntheticTable(tb testing.TB, n int) *ipvs.Snapshot {
	const perService = 10
	snap := &ipvs.Snapshot{
		Info:     &ipvs.Info{Version: 0x010201, ConnTableSize: 4096},
		Timeouts: &ipvs.Timeouts{TCP: 900, TCPFin: 120, UDP: 300},
		Totals:   &ipvs.Stats{Connections: 1 << 40, PacketsIn: 1 << 44, PacketsOut: 1 << 43, BytesIn: 1 << 52, BytesOut: 1 << 53},
	}
	for i := 0; len(snap.Services)*perService < n; i++ {
		v6 := i%10 == 9
		key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Port: 80 + uint16(i%2)*363}
		key.Address = netip.AddrFrom4([4]byte{198, 51, byte(100 + i/512), byte(i / 2 % 256)})
		if v6 {
			key.Family = ipvs.FamilyIPv6
			key.Address = netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::%x", i/2, i%2+1))
		}
		if i%7 == 3 {
			key.Protocol = ipvs.UDP
		}
		s := ipvs.Service{ServiceKey: key, Scheduler: "wlc", Flags: ipvs.FlagHashed,
			Stats: ipvs.Stats{Connections: 123456789 * uint64(i+1), PacketsIn: 9876543210, PacketsOut: 8765432109, BytesIn: 1234567890123, BytesOut: 2345678901234}}
		for j := 0; j < perService && len(snap.Services)*perService+j < n; j++ {
			d := ipvs.Destination{Family: key.Family, Port: 8080, Forward: ipvs.ForwardMasq, Weight: 100, ActiveConns: uint32(j * 13), InactiveConns: uint32(j * 71),
				Stats: ipvs.Stats{Connections: 12345678 * uint64(j+1), PacketsIn: 987654321, PacketsOut: 876543210, BytesIn: 123456789012, BytesOut: 234567890123}}
			if v6 {
				d.Address = netip.MustParseAddr(fmt.Sprintf("2001:db8:ffff:%x::%x", i, j+1))
			} else {
				d.Address = netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i % 256), byte(j + 1)})
			}
			s.Destinations = append(s.Destinations, d)
		}
		snap.Services = append(snap.Services, s)
	}
	if got := snap.Destinations(); got != n {
		tb.Fatalf("synthetic table has %d destinations, want %d", got, n)
	}
	return snap
}

type staticSource struct{ snap *ipvs.Snapshot }

func (s staticSource) Snapshot(context.Context) (*ipvs.Snapshot, error) { return s.snap, nil }

// benchSizes are the table sizes every scrape benchmark runs at, in
// destinations (10 per service).
var benchSizes = []int{10, 1000, 10000}

// BenchmarkScrape measures what a /metrics scrape costs on top of the
// kernel dump: Handler serving the whole text body, uncompressed, into a
// ResponseWriter that discards it. The snapshot is in memory; the registry
// beside it is empty, as in BenchmarkScrapeRegistry. cpu-ns/op is the
// process's CPU time (all goroutines, garbage collection included) per
// scrape.
func BenchmarkScrape(b *testing.B) {
	benchmarkHandler(b, "")
}

// BenchmarkScrapeGzip is BenchmarkScrape for a scraper that accepts gzip,
// as Prometheus does.
func BenchmarkScrapeGzip(b *testing.B) {
	benchmarkHandler(b, "gzip")
}

func benchmarkHandler(b *testing.B, acceptEncoding string) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("destinations=%d", n), func(b *testing.B) {
			h := Handler(prometheus.NewRegistry(), New(staticSource{syntheticTable(b, n)}, nil, Options{}), HandlerOpts{})
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", acceptEncoding)
			}
			w := testutil.NewDiscardResponse()
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				w.Reset()
				h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(w.N), "body-bytes")
		})
	}
}

// BenchmarkScrapeRegistry measures the path /metrics took before Handler,
// for comparison: gather the collector from a production (non-pedantic)
// registry and encode the text format with expfmt.
func BenchmarkScrapeRegistry(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("destinations=%d", n), func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(New(staticSource{syntheticTable(b, n)}, nil, Options{}))
			format := expfmt.NewFormat(expfmt.TypeTextPlain)
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, format)
				for _, mf := range mfs {
					if err := enc.Encode(mf); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkGzipLevel compresses the text body of a 10,000-destination table
// with the encoders worth considering, to choose the one Handler uses:
// the standard library's at DefaultCompression and BestSpeed, and
// klauspost/compress's gzip at BestSpeed (what Handler uses); gzip-bytes
// is the compressed size.
func BenchmarkGzipLevel(b *testing.B) {
	var body bytes.Buffer
	c := New(staticSource{syntheticTable(b, 10000)}, nil, Options{})
	if err := c.WriteText(b.Context(), &body); err != nil {
		b.Fatal(err)
	}
	type encoder interface {
		io.WriteCloser
		Reset(io.Writer)
	}
	for _, e := range []struct {
		name string
		new  func() (encoder, error)
	}{
		{"stdlib/level=default", func() (encoder, error) { return stdgzip.NewWriterLevel(io.Discard, stdgzip.DefaultCompression) }},
		{"stdlib/level=best-speed", func() (encoder, error) { return stdgzip.NewWriterLevel(io.Discard, stdgzip.BestSpeed) }},
		{"klauspost/level=best-speed", func() (encoder, error) { return gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) }},
	} {
		b.Run(e.name, func(b *testing.B) {
			gz, err := e.new()
			if err != nil {
				b.Fatal(err)
			}
			var out countWriter
			b.SetBytes(int64(body.Len()))
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				out = 0
				gz.Reset(&out)
				if _, err := gz.Write(body.Bytes()); err != nil {
					b.Fatal(err)
				}
				if err := gz.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(out), "gzip-bytes")
		})
	}
}

// countWriter counts what is written to it.
type countWriter int

func (w *countWriter) Write(p []byte) (int, error) {
	*w += countWriter(len(p))
	return len(p), nil
}

// BenchmarkCollect measures the collector's own share of a scrape: Collect
// into a channel drained by another goroutine, as the registry does, without
// the registry's checks, sorting and the encoding.
func BenchmarkCollect(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("destinations=%d", n), func(b *testing.B) {
			c := New(staticSource{syntheticTable(b, n)}, nil, Options{})
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				ch := make(chan prometheus.Metric, 1000) // the registry's capacity
				go func() {
					c.Collect(ch)
					close(ch)
				}()
				for range ch {
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the user+system CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
