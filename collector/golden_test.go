package collector

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

func TestGolden(t *testing.T) {
	partial := loadTable(t)
	partial.Totals = nil
	partial.Partial = fmt.Errorf("read host-wide totals: open /proc/net/ip_vs_stats: %w", errors.New("no such file or directory"))

	tests := []struct {
		golden string
		step   step
	}{
		{"table.prom", step{snap: loadTable(t)}},
		{"failing.prom", step{err: fmt.Errorf("read the IPVS table: %w", ipvs.ErrModuleNotLoaded)}},
		{"partial.prom", step{snap: partial}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got := scrape(t, newTestCollector(sourceOf(tt.step), Options{}))
			compareGolden(t, tt.golden, got)
			// The text writer of /metrics writes the very same bytes, so
			// it has no golden files of its own.
			fast := fastText(t, newTestCollector(sourceOf(tt.step), Options{}))
			if *update {
				if fast != got {
					t.Errorf("the text writer differs from the registry at byte %d", firstDifference(fast, got))
				}
				return
			}
			compareGolden(t, tt.golden, fast)
		})
	}
}

// TestCounterExact checks that a counter above 2^32 (and 2^40) reaches the
// exposition with its exact integer value.
func TestCounterExact(t *testing.T) {
	const want = 1<<40 + 7
	snap := loadTable(t)
	if got := snap.Services[0].Stats.BytesIn; got != want {
		t.Fatalf("fixture changed: BytesIn of the first service is %d, want %d", got, want)
	}
	text := scrape(t, newTestCollector(sourceOf(step{snap: snap}), Options{}))
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	mf := mfs["ipvs_service_incoming_bytes_total"]
	if mf == nil {
		t.Fatal("no ipvs_service_incoming_bytes_total in the exposition")
	}
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "service" && l.GetValue() == "tcp/192.0.2.10:80" {
				if got := m.GetCounter().GetValue(); uint64(got) != want || got != float64(want) {
					t.Fatalf("exposed %v (%d), want exactly %d", got, uint64(got), uint64(want))
				}
				return
			}
		}
	}
	t.Fatal("no series for tcp/192.0.2.10:80")
}
