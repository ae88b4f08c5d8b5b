package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

type funcSource func(ctx context.Context) (*ipvs.Snapshot, error)

func (f funcSource) Snapshot(ctx context.Context) (*ipvs.Snapshot, error) { return f(ctx) }

// TestBrokenSourceStillScrapes checks that a Source that hangs, panics or
// returns nothing yields a valid scrape with ipvs_up 0 and no table.
func TestBrokenSourceStillScrapes(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })

	tests := []struct {
		name    string
		src     funcSource
		wantErr string
	}{
		{"ignores its deadline", func(context.Context) (*ipvs.Snapshot, error) {
			<-release
			return &ipvs.Snapshot{}, nil
		}, "no answer within 200ms"},
		{"honours its deadline", func(ctx context.Context) (*ipvs.Snapshot, error) {
			deadline, ok := ctx.Deadline()
			if !ok {
				return nil, errors.New("no deadline")
			}
			left := time.Until(deadline).Round(100 * time.Millisecond)
			<-ctx.Done()
			return nil, fmt.Errorf("deadline in %s: %w", left, ipvs.ErrTimeout)
		}, "deadline in 200ms: " + ipvs.ErrTimeout.Error()},
		{"panics", func(context.Context) (*ipvs.Snapshot, error) {
			panic("boom")
		}, "reader panicked: boom"},
		{"returns no snapshot and no error", func(context.Context) (*ipvs.Snapshot, error) {
			return nil, nil
		}, "no snapshot and no error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			c := newTestCollector(tt.src, Options{Timeout: 200 * time.Millisecond})
			c.health.logger = slog.New(rec)
			got := scrape(t, c)
			want := []string{"ipvs_up 0", "ipvs_scrape_success 0", "ipvs_scrape_duration_seconds "}
			for _, w := range want {
				if !strings.Contains(got, "\n"+w) {
					t.Errorf("exposition lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "ipvs_services") {
				t.Errorf("exposition has table metrics although the read failed:\n%s", got)
			}
			if lines := rec.lines(); len(lines) != 1 || !strings.Contains(lines[0], tt.wantErr) {
				t.Errorf("logged %q, want one warning with %q", lines, tt.wantErr)
			}
		})
	}
}

// TestConcurrentScrapes gathers from one registry in parallel, as two
// Prometheus servers scraping one sidecar do: every exposition must be the
// golden one (the race detector checks the shared label pairs).
func TestConcurrentScrapes(t *testing.T) {
	c := newTestCollector(sourceOf(step{snap: loadTable(t)}), Options{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := withoutDuration(scrapeGolden(t, "table.prom"))

	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			mfs, err := reg.Gather()
			if err != nil {
				got[i] = err.Error()
				return
			}
			var b strings.Builder
			for _, mf := range mfs {
				if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
					got[i] = err.Error()
					return
				}
			}
			got[i] = b.String()
		})
	}
	wg.Wait()
	for i, g := range got {
		if g := withoutDuration(g); g != want {
			t.Errorf("scrape %d differs from testdata/table.prom:\n%s", i, g)
		}
	}
}

// withoutDuration drops the ipvs_scrape_duration_seconds sample, which
// depends on how concurrent scrapes interleave their clock readings.
func withoutDuration(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "ipvs_scrape_duration_seconds ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func scrapeGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
