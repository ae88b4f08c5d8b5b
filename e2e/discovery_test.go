//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDiscoveryChecksTheKernelTable runs lvs-sidecar in discovery mode (no
// services in its config) against a table built with ipvsadm, as operators
// with ipvsadm scripts would: every kernel destination gets a verdict on
// its own port, a destination added later is picked up (and judged down
// when nothing answers), and a deleted one disappears from the metrics.
func TestDiscoveryChecksTheKernelTable(t *testing.T) {
	requireLab(t)
	inNS(t, "root", "modprobe", "ip_vs")
	svc := labEnv(t, "LAB_VIP") + ":8090"
	inNS(t, "director", "ipvsadm", "-A", "-t", svc, "-s", "rr")
	t.Cleanup(func() {
		if _, err := tryInNS(t, "director", "ipvsadm", "-D", "-t", svc); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	var servers []string
	for n := 1; n <= 3; n++ {
		rs := netip.AddrPortFrom(labRS(n), 80).String() // topology.sh's HTTP responders
		inNS(t, "director", "ipvsadm", "-a", "-t", svc, "-r", rs, "-m")
		servers = append(servers, rs)
	}

	cfg := filepath.Join(t.TempDir(), "discovery.yml")
	if err := os.WriteFile(cfg, []byte(`defaults:
  check: {type: tcp, schedule: "@every 300ms", timeout: 200ms, rise: 1, fall: 1}
discovery:
  enabled: true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := startSidecar(t, "--config.file="+cfg, "--discovery.refresh-interval=1s")
	service := "tcp/" + svc

	poll(t, 15*time.Second, func() error {
		return wantHealth(sc, service, map[string]float64{servers[0]: 1, servers[1]: 1, servers[2]: 1})
	})

	// A destination added by hand on a port nothing listens on: found at
	// the next refresh and judged down (RST).
	dead := netip.AddrPortFrom(labRS(1), 81).String()
	inNS(t, "director", "ipvsadm", "-a", "-t", svc, "-r", dead, "-m")
	poll(t, 15*time.Second, func() error {
		return wantHealth(sc, service, map[string]float64{servers[0]: 1, servers[1]: 1, servers[2]: 1, dead: 0})
	})

	// Deleted from the table: gone from the health metrics.
	inNS(t, "director", "ipvsadm", "-d", "-t", svc, "-r", dead)
	poll(t, 15*time.Second, func() error {
		return wantHealth(sc, service, map[string]float64{servers[0]: 1, servers[1]: 1, servers[2]: 1})
	})
}

// wantHealth scrapes d and compares the verdicts of service's real
// servers (1 for up, 0 for down or unknown, from
// ipvs_real_server_health_state) with want, server by server; a server
// missing on either side is a difference.
func wantHealth(d *daemon, service string, want map[string]float64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := d.tryScrape(ctx)
	if err != nil {
		return err
	}
	got := map[string]float64{}
	if fam := s.Families["ipvs_real_server_health_state"]; fam != nil {
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] == service {
				up := 0.0
				if labels["state"] == "up" {
					up = 1
				}
				got[labels["server"]] = up
			}
		}
	}
	for server, w := range want {
		if g, ok := got[server]; !ok || g != w {
			return fmt.Errorf("verdicts (1 up) of %s: got %v, want %v", service, got, want)
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("verdicts (1 up) of %s: got %v, want exactly %v", service, got, want)
	}
	return nil
}
