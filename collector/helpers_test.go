package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fakeSource returns the snapshots and errors it is given, one per call,
// repeating the last one.
type fakeSource struct {
	mu    sync.Mutex
	steps []step
	calls int
}

type step struct {
	snap *ipvs.Snapshot
	err  error
}

func (f *fakeSource) Snapshot(context.Context) (*ipvs.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.steps[min(f.calls, len(f.steps)-1)]
	f.calls++
	return s.snap, s.err
}

func sourceOf(steps ...step) *fakeSource { return &fakeSource{steps: steps} }

// loadTable reads testdata/table.json.
func loadTable(t testing.TB) *ipvs.Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "table.json"))
	if err != nil {
		t.Fatal(err)
	}
	var snap ipvs.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatalf("parse table.json: %v", err)
	}
	return &snap
}

// newTestCollector returns a Collector whose clock advances 125ms per
// reading, so ipvs_scrape_duration_seconds is 0.125 in golden files.
func newTestCollector(src Source, opts Options) *Collector {
	c := New(src, nil, opts)
	var mu sync.Mutex
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(125 * time.Millisecond)
		return t
	}
	return c
}

// scrape registers c in a fresh pedantic registry, gathers and renders the
// text exposition: what /metrics would serve.
func scrape(t testing.TB, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatalf("register: %v", err)
	}
	return gatherText(t, reg)
}

// gatherText gathers g and renders the text exposition.
func gatherText(t testing.TB, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatalf("encode %s: %v", mf.GetName(), err)
		}
	}
	return buf.String()
}

// compareGolden compares got with testdata/name line by line, or rewrites
// the file with -update.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	want := strings.Split(string(b), "\n")
	have := strings.Split(got, "\n")
	for i := 0; i < max(len(want), len(have)); i++ {
		var w, h string
		if i < len(want) {
			w = want[i]
		}
		if i < len(have) {
			h = have[i]
		}
		if w != h {
			t.Errorf("%s line %d:\n got: %q\nwant: %q", path, i+1, h, w)
		}
	}
}
