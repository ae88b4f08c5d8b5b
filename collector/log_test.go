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

// addrSteps is an AddrSource that returns its errors in turn (nil: an
// empty set), repeating the last; a "panic" error panics instead.
type addrSteps struct {
	mu    sync.Mutex
	errs  []error
	calls int
}

func (a *addrSteps) LocalAddrs(context.Context) (ipvs.LocalAddrs, error) {
	a.mu.Lock()
	err := a.errs[min(a.calls, len(a.errs)-1)]
	a.calls++
	a.mu.Unlock()
	if err != nil && err.Error() == "panic" {
		panic("boom")
	}
	return ipvs.LocalAddrs{}, err
}

// TestAddrLogsOnlyTransitions: a failing address read is logged once
// while it keeps failing with the same error, again when the error
// changes, and its end once; a panic in the source is such an error.
func TestAddrLogsOnlyTransitions(t *testing.T) {
	rec := &recorder{}
	boom := errors.New("read the local addresses: boom")
	src := &addrSteps{errs: []error{nil, boom, boom, errors.New("panic"), nil, nil}}
	c := New(sourceOf(step{snap: loadTable(t)}), slog.New(rec), Options{Addrs: src})
	for range 6 {
		fastText(t, c)
	}
	got := strings.Join(rec.lines(), "\n")
	want := strings.Join([]string{
		"INFO", // the table is readable
		"WARN err=" + boom.Error(),
		"WARN err=read the local addresses: panicked: boom",
		"INFO",
	}, "\n")
	if got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}
