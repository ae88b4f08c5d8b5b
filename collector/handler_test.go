package collector

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// newServingHandler wires Handler as web.NewHandler does: the exporter's
// own collectors in a registry, the table beside it, promhttp counting the
// requests.
func newServingHandler(t *testing.T, c *Collector, opts HandlerOpts) http.Handler {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("lvs_sidecar"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.InstrumentMetricHandler(reg, Handler(reg, c, opts))
}

// serve runs one request through h and returns the response.
func serve(h http.Handler, acceptEncoding string) *http.Response {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// body reads a response body, gunzipping it when it says it is gzip.
func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = gz
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read the body: %v", err)
	}
	return string(b)
}

// TestHandlerServesEverythingOnce scrapes the handler and checks the whole
// exposition: the text format content type, every family once and in one
// piece, the exporter's own families and then exactly the golden table.
func TestHandlerServesEverythingOnce(t *testing.T) {
	h := newServingHandler(t, newTestCollector(sourceOf(step{snap: loadTable(t)}), Options{}), HandlerOpts{})
	for scrape := range 2 { // the second also has promhttp's count of the first
		resp := serve(h, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/plain; version=0.0.4; charset=utf-8" {
			t.Errorf("Content-Type %q", got)
		}
		text := body(t, resp)
		if err := checkFamiliesOnce(text); err != nil {
			t.Fatalf("scrape %d: %v", scrape, err)
		}
		parseText(t, text)
		golden := scrapeGolden(t, "table.prom")
		if !strings.HasSuffix(text, golden) {
			t.Errorf("scrape %d does not end with testdata/table.prom", scrape)
		}
		for _, want := range []string{"\nlvs_sidecar_build_info{", "\ngo_goroutines ", "\nprocess_cpu_seconds_total "} {
			if !strings.Contains(text, want) {
				t.Errorf("scrape %d lacks %q", scrape, strings.TrimSpace(want))
			}
		}
		if scrape == 1 && !strings.Contains(text, "\npromhttp_metric_handler_requests_total{code=\"200\"} 1\n") {
			t.Errorf("the second scrape does not count the first in promhttp_metric_handler_requests_total")
		}
	}
}

// checkFamiliesOnce fails an exposition in which a family appears twice or
// is split: every sample must follow the "# TYPE" line of its family, and
// no "# TYPE" line may repeat a name.
func checkFamiliesOnce(text string) error {
	seen := map[string]bool{}
	current := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			if seen[name] {
				return fmt.Errorf("line %d: family %s appears twice", n, name)
			}
			seen[name], current = true, name
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		// Summaries and histograms name their samples with suffixes.
		base := name
		for _, suffix := range []string{"_sum", "_count", "_bucket"} {
			if strings.HasSuffix(name, suffix) && seen[strings.TrimSuffix(name, suffix)] {
				base = strings.TrimSuffix(name, suffix)
			}
		}
		if base != current {
			return fmt.Errorf("line %d: sample of %s in the family of %s", n, name, current)
		}
	}
	if len(seen) == 0 {
		return errors.New("no families")
	}
	return sc.Err()
}

// TestCheckFamiliesOnce proves checkFamiliesOnce can fail.
func TestCheckFamiliesOnce(t *testing.T) {
	for name, text := range map[string]string{
		"family twice":   "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na{x=\"1\"} 2\n",
		"family split":   "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n",
		"sample untyped": "a 1\n",
		"empty":          "",
	} {
		t.Run(name, func(t *testing.T) {
			if err := checkFamiliesOnce(text); err == nil {
				t.Errorf("accepted %q", text)
			}
		})
	}
	if err := checkFamiliesOnce("# TYPE a summary\na_sum 1\na_count 1\n# TYPE b gauge\nb 1\n"); err != nil {
		t.Errorf("rejected a valid exposition: %v", err)
	}
}

// TestHandlerLeavesOutClashingFamilies registers the table collector in the
// handler's registry as well, the mistake that would serve every IPVS family
// twice: the handler serves each once and logs the mistake.
func TestHandlerLeavesOutClashingFamilies(t *testing.T) {
	c := newTestCollector(sourceOf(step{snap: loadTable(t)}), Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	rec := &recorder{}
	text := body(t, serve(Handler(reg, c, HandlerOpts{Logger: slog.New(rec)}), ""))
	if err := checkFamiliesOnce(text); err != nil {
		t.Fatal(err)
	}
	if want := scrapeGolden(t, "table.prom"); text != want {
		t.Errorf("exposition differs from testdata/table.prom at byte %d", firstDifference(text, want))
	}
	if lines := rec.lines(); len(lines) != 1 || !strings.Contains(lines[0], "ERROR") {
		t.Errorf("logged %q, want one error", lines)
	}
}

// TestHandlerGzip checks that the body is gzipped exactly when the request
// accepts gzip, and that it unzips to the plain body.
func TestHandlerGzip(t *testing.T) {
	h := Handler(prometheus.NewRegistry(), newTestCollector(sourceOf(step{snap: loadTable(t)}), Options{}), HandlerOpts{})
	want := scrapeGolden(t, "table.prom")
	for _, tt := range []struct {
		acceptEncoding string
		gzip           bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"br, gzip;q=0.5, deflate", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"deflate, br", false},
		{"identity", false},
	} {
		t.Run(fmt.Sprintf("Accept-Encoding=%q", tt.acceptEncoding), func(t *testing.T) {
			resp := serve(h, tt.acceptEncoding)
			if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tt.gzip {
				t.Errorf("Content-Encoding %q, want gzip: %v", resp.Header.Get("Content-Encoding"), tt.gzip)
			}
			if got := resp.Header.Get("Content-Type"); got != ContentType {
				t.Errorf("Content-Type %q", got)
			}
			if got := body(t, resp); got != want {
				t.Errorf("body differs from testdata/table.prom at byte %d", firstDifference(got, want))
			}
		})
	}
}

// TestHandlerLimitsRequestsInFlight holds two scrapes inside a Source that
// blocks until released: a third scrape is turned away with 503 at once,
// and once the two finish scrapes are served again.
func TestHandlerLimitsRequestsInFlight(t *testing.T) {
	const limit = 2
	entered, release := make(chan struct{}), make(chan struct{})
	table := loadTable(t)
	src := funcSource(func(ctx context.Context) (*ipvs.Snapshot, error) {
		entered <- struct{}{}
		<-release
		return table, nil
	})
	h := newServingHandler(t, newTestCollector(src, Options{Timeout: time.Minute}), HandlerOpts{MaxRequestsInFlight: limit})

	codes := make(chan int, limit)
	for range limit {
		go func() { codes <- serve(h, "").StatusCode }()
	}
	deadline := time.After(10 * time.Second)
	for range limit {
		select {
		case <-entered:
		case <-deadline:
			t.Fatal("the first scrapes did not reach the Source within 10s")
		}
	}

	resp := serve(h, "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("scrape over the limit: status %d, want 503", resp.StatusCode)
	}
	if b := body(t, resp); !strings.Contains(b, "Limit of concurrent requests reached (2)") {
		t.Errorf("scrape over the limit: body %q", b)
	}

	close(release)
	for range limit {
		select {
		case code := <-codes:
			if code != http.StatusOK {
				t.Errorf("a scrape within the limit: status %d", code)
			}
		case <-deadline:
			t.Fatal("the released scrapes did not finish within 10s")
		}
	}
	go func() {
		for range entered { // the next scrape's Source signals too
		}
	}()
	defer close(entered)
	resp = serve(h, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape after the others finished: status %d", resp.StatusCode)
	}
	if b := body(t, resp); !strings.Contains(b, `promhttp_metric_handler_requests_total{code="503"} 1`) {
		t.Errorf("promhttp did not count the 503")
	}
}

// TestHandlerUnreadableTable checks the exposition when the Source fails:
// 200 with ipvs_up 0 and no table, what testdata/failing.prom has.
func TestHandlerUnreadableTable(t *testing.T) {
	rec := &recorder{}
	c := newTestCollector(sourceOf(step{err: fmt.Errorf("read the IPVS table: %w", ipvs.ErrModuleNotLoaded)}), Options{})
	c.health.logger = slog.New(rec)
	resp := serve(newServingHandler(t, c, HandlerOpts{}), "gzip")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	text := body(t, resp)
	if !strings.HasSuffix(text, scrapeGolden(t, "failing.prom")) {
		t.Errorf("exposition does not end with testdata/failing.prom:\n%s", text)
	}
	if strings.Contains(text, "ipvs_service_") || strings.Contains(text, "ipvs_real_server_") {
		t.Error("exposition has table series although the table could not be read")
	}
	if lines := rec.lines(); len(lines) != 1 || !strings.Contains(lines[0], "modprobe ip_vs") {
		t.Errorf("logged %q, want the one warning that names the fix", lines)
	}
}

// TestHandlerServesWhatCouldBeGathered checks that a failing collector in
// the registry costs its own families only, as with promhttp's
// ContinueOnError, and is logged.
func TestHandlerServesWhatCouldBeGathered(t *testing.T) {
	up := 1.0
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		name, help := "other_up", "Other."
		return []*dto.MetricFamily{{Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(),
			Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &up}}}}}, errors.New("collect other: broken")
	})
	rec := &recorder{}
	h := Handler(g, newTestCollector(sourceOf(step{snap: loadTable(t)}), Options{}), HandlerOpts{Logger: slog.New(rec)})
	text := body(t, serve(h, ""))
	if want := "# HELP other_up Other.\n# TYPE other_up gauge\nother_up 1\n" + scrapeGolden(t, "table.prom"); text != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", text, want)
	}
	if lines := rec.lines(); len(lines) != 1 || !strings.Contains(lines[0], "collect other: broken") {
		t.Errorf("logged %q, want the gather error", lines)
	}
}

// textSource is a promtext.Source of fixed families, counting its
// snapshots and writes.
type textSource struct {
	families  []*promtext.Family
	snapshots atomic.Int32
	writes    atomic.Int32
}

func (s *textSource) Families() []string {
	var out []string
	for _, f := range s.families {
		out = append(out, f.Name())
	}
	return out
}

func (s *textSource) Snapshot() func(*promtext.Writer) {
	s.snapshots.Add(1)
	return func(w *promtext.Writer) {
		s.writes.Add(1)
		for i, f := range s.families {
			w.Begin(f)
			w.Sample(float64(i), `{server="10.0.0.1:80"}`)
		}
	}
}

// TestHandlerWritesSources: the families of the handler's sources come
// after the table's, each once, every scrape reads and writes each
// source once, gzipped too; a registry family under a source's name is
// left out (and logged), so the scrape stays valid.
func TestHandlerWritesSources(t *testing.T) {
	src := &textSource{families: []*promtext.Family{
		promtext.NewFamily("ipvs_test_one", "First test family.", promtext.Gauge),
		promtext.NewFamily("ipvs_test_two_total", "Second test family.", promtext.Counter),
	}}
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ipvs_test_one", Help: "A registry family of a source's name."})
	reg := prometheus.NewRegistry()
	reg.MustRegister(clash)
	rec := &recorder{}
	h := Handler(reg, newTestCollector(sourceOf(step{snap: loadTable(t)}), Options{}), HandlerOpts{Logger: slog.New(rec), Sources: []promtext.Source{src}})
	want := scrapeGolden(t, "table.prom") +
		"# HELP ipvs_test_one First test family.\n# TYPE ipvs_test_one gauge\nipvs_test_one{server=\"10.0.0.1:80\"} 0\n" +
		"# HELP ipvs_test_two_total Second test family.\n# TYPE ipvs_test_two_total counter\nipvs_test_two_total{server=\"10.0.0.1:80\"} 1\n"
	for i, enc := range []string{"", "gzip"} {
		text := body(t, serve(h, enc))
		if err := checkFamiliesOnce(text); err != nil {
			t.Fatal(err)
		}
		parseText(t, text)
		if text != want {
			t.Errorf("scrape %d (%q) differs from the table then the source at byte %d", i, enc, firstDifference(text, want))
		}
		if n, m := src.snapshots.Load(), src.writes.Load(); n != int32(i+1) || m != n {
			t.Errorf("after %d scrapes: %d snapshots, %d writes", i+1, n, m)
		}
	}
	if lines := rec.lines(); len(lines) != 2 || !strings.Contains(lines[0], "ERROR") {
		t.Errorf("logged %q, want an error per scrape", lines)
	}
}

// TestHandlerRefusesSourcesThatClash: two sources of one family, or a
// source of one of the table's, is a programming error Handler refuses
// at once.
func TestHandlerRefusesSourcesThatClash(t *testing.T) {
	c := newTestCollector(sourceOf(step{snap: loadTable(t)}), Options{})
	one := &textSource{families: []*promtext.Family{promtext.NewFamily("ipvs_test_one", "One.", promtext.Gauge)}}
	table := &textSource{families: []*promtext.Family{promtext.NewFamily("ipvs_up", "A table family.", promtext.Gauge)}}
	for name, sources := range map[string][]promtext.Source{
		"two sources":      {one, one},
		"a table family":   {table},
		"after a good one": {one, table},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Handler accepted sources whose families clash")
				}
			}()
			Handler(prometheus.NewRegistry(), c, HandlerOpts{Sources: sources})
		})
	}
}
