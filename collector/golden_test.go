package collector

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

func TestGolden(t *testing.T) {
	partial := loadTable(t)
	partial.Totals = nil
	partial.Partial = fmt.Errorf("read host-wide totals: open /proc/net/ip_vs_stats: %w", errors.New("no such file or directory"))

	// The director holds two of the table's VIPs, one of each family,
	// and an address no service uses.
	held := fakeAddrs{addrs: ipvs.LocalAddrs{
		netip.MustParseAddr("192.0.2.10"): {}, netip.MustParseAddr("2001:db8::10"): {}, netip.MustParseAddr("198.51.100.1"): {},
	}}
	tests := []struct {
		golden string
		step   step
		addrs  AddrSource
	}{
		{"table.prom", step{snap: loadTable(t)}, nil},
		{"vip.prom", step{snap: loadTable(t)}, held},
		{"failing.prom", step{err: fmt.Errorf("read the IPVS table: %w", ipvs.ErrModuleNotLoaded)}, held},
		{"partial.prom", step{snap: partial}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got := scrape(t, newTestCollector(sourceOf(tt.step), Options{Addrs: tt.addrs}))
			compareGolden(t, tt.golden, got)
			// The text writer of /metrics writes the very same bytes, so
			// it has no golden files of its own.
			fast := fastText(t, newTestCollector(sourceOf(tt.step), Options{Addrs: tt.addrs}))
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

// fakeAddrs is an AddrSource that returns addrs, or err.
type fakeAddrs struct {
	addrs ipvs.LocalAddrs
	err   error
}

func (f fakeAddrs) LocalAddrs(context.Context) (ipvs.LocalAddrs, error) { return f.addrs, f.err }

// TestVIPLocal: ipvs_service_vip_local follows the addresses held, is
// absent for fwmark services, and a failed read of the addresses drops
// the family and sets ipvs_scrape_success 0 (a VIP never looks released
// because it could not be read), while the table's metrics stay.
func TestVIPLocal(t *testing.T) {
	parse := func(text string) map[string]*dto.MetricFamily {
		t.Helper()
		p := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return mfs
	}
	values := func(mf *dto.MetricFamily) map[string]float64 {
		out := map[string]float64{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	src := sourceOf(step{snap: loadTable(t)})
	for _, held := range []string{"192.0.2.53", "192.0.2.10"} {
		addrs := fakeAddrs{addrs: ipvs.LocalAddrs{netip.MustParseAddr(held): {}}}
		for name, text := range map[string]string{
			"registry": scrape(t, newTestCollector(src, Options{Addrs: addrs})),
			"text":     fastText(t, newTestCollector(src, Options{Addrs: addrs})),
		} {
			mfs := parse(text)
			got := values(mfs["ipvs_service_vip_local"])
			services := values(mfs["ipvs_service_real_servers"])
			for svc := range services {
				v, ok := got[svc]
				if strings.HasPrefix(svc, "fwmark/") {
					if ok {
						t.Errorf("%s: %s has ipvs_service_vip_local", name, svc)
					}
					continue
				}
				want := 0.0
				if strings.Contains(svc, "/"+held+":") {
					want = 1
				}
				if !ok || v != want {
					t.Errorf("%s, %s held: %s = %v (present %v), want %v", name, held, svc, v, ok, want)
				}
			}
			if s := mfs["ipvs_scrape_success"].GetMetric()[0].GetGauge().GetValue(); s != 1 {
				t.Errorf("%s: ipvs_scrape_success %v", name, s)
			}
		}
	}

	failing := fakeAddrs{err: errors.New("read the local addresses: boom")}
	mfs := parse(scrape(t, newTestCollector(src, Options{Addrs: failing})))
	if _, ok := mfs["ipvs_service_vip_local"]; ok {
		t.Error("a failed address read still exports ipvs_service_vip_local")
	}
	if mfs["ipvs_service_real_servers"] == nil || mfs["ipvs_up"].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Error("a failed address read lost the table")
	}
	if s := mfs["ipvs_scrape_success"].GetMetric()[0].GetGauge().GetValue(); s != 0 {
		t.Errorf("a failed address read: ipvs_scrape_success %v, want 0", s)
	}

	// An empty set (nothing held) still exports 0 for every service.
	mfs = parse(scrape(t, newTestCollector(src, Options{Addrs: fakeAddrs{}})))
	for svc, v := range values(mfs["ipvs_service_vip_local"]) {
		if v != 0 {
			t.Errorf("nothing held: %s = %v", svc, v)
		}
	}
	if len(values(mfs["ipvs_service_vip_local"])) != 8 {
		t.Errorf("nothing held: %d series, want 8 (10 services, 2 of them fwmark)", len(values(mfs["ipvs_service_vip_local"])))
	}
}
