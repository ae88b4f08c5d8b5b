package collector

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

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
		}, "no answer within 50ms"},
		{"honours its deadline", func(ctx context.Context) (*ipvs.Snapshot, error) {
			<-ctx.Done()
			return nil, ipvs.ErrTimeout
		}, ipvs.ErrTimeout.Error()},
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
			c := newTestCollector(tt.src, Options{Timeout: 50 * time.Millisecond})
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
