package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// lines renders the records as "LEVEL err=<err>" for comparison.
func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		line := rec.Level.String()
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				line += " err=" + a.Value.String()
			}
			return true
		})
		out = append(out, line)
	}
	return out
}

func TestLogsOnlyTransitions(t *testing.T) {
	notLoaded := fmt.Errorf("read the IPVS table: %w", ipvs.ErrModuleNotLoaded)
	denied := fmt.Errorf("read the IPVS table: %w", ipvs.ErrPermission)
	table := loadTable(t)
	partial := loadTable(t)
	partial.Totals, partial.Partial = nil, errors.New("read totals: no /proc/net/ip_vs_stats")

	fail := step{err: notLoaded}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"fails twice with the same error, then recovers", []step{fail, fail, {snap: table}},
			[]string{"WARN err=" + notLoaded.Error(), "INFO"}},
		{"error text changes", []step{fail, {err: denied}, {err: denied}},
			[]string{"WARN err=" + notLoaded.Error(), "WARN err=" + denied.Error()}},
		{"readable from the start is said once", []step{{snap: table}, {snap: table}, {snap: table}},
			[]string{"INFO"}},
		{"partial, then complete", []step{{snap: table}, {snap: partial}, {snap: partial}, {snap: table}},
			[]string{"INFO", "WARN err=" + partial.Partial.Error(), "INFO"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			c := New(sourceOf(tt.steps...), slog.New(rec), Options{})
			for range tt.steps {
				scrape(t, c)
			}
			got := rec.lines()
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("logged\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestProbeSharesTheLogState checks that the startup probe and the scrapes
// after it log a persistent failure once, and that Probe returns the error.
func TestProbeSharesTheLogState(t *testing.T) {
	notLoaded := fmt.Errorf("read the IPVS table: %w", ipvs.ErrModuleNotLoaded)
	rec := &recorder{}
	c := New(sourceOf(step{err: notLoaded}), slog.New(rec), Options{})
	if err := c.Probe(t.Context()); !errors.Is(err, ipvs.ErrModuleNotLoaded) {
		t.Fatalf("Probe returned %v, want ErrModuleNotLoaded", err)
	}
	scrape(t, c)
	scrape(t, c)
	got := rec.lines()
	if len(got) != 1 || !strings.Contains(got[0], "modprobe ip_vs") {
		t.Errorf("logged %q, want one line that says modprobe ip_vs", got)
	}
}
