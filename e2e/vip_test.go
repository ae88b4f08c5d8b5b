//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// TestVIPLocal: ipvs_service_vip_local follows the director's VIPs. The
// director holds LAB_VIP and LAB_VIP6 on lo (topology.sh): their services
// are 1, a service on an address it does not hold is 0, a fwmark service
// has no series. Deleting LAB_VIP turns its service to 0, adding it back
// to 1. A second sidecar in a namespace of its own with --ipvs.netns
// naming the director's sees the same, so the addresses are read where
// the table is; a third there without the flag reads its own namespace
// (no IPVS services in it: nothing to say).
func TestVIPLocal(t *testing.T) {
	requireLab(t)
	vip, vip6 := labEnv(t, "LAB_VIP"), labEnv(t, "LAB_VIP6")
	const other = "192.0.2.99" // held by no namespace of the lab
	inNS(t, "root", "modprobe", "ip_vs")
	t.Cleanup(func() {
		if _, err := tryInNS(t, "director", "ipvsadm", "-C"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		// Put LAB_VIP back if the test left without doing so.
		_, _ = tryInNS(t, "director", "ip", "addr", "add", vip+"/32", "dev", "lo")
	})
	for _, spec := range [][]string{
		{"-t", vip + ":8097"},
		{"-u", vip + ":8097"},
		{"-t", "[" + vip6 + "]:8097"},
		{"-t", other + ":8097"},
		{"-f", "97"},
	} {
		inNS(t, "director", append(append([]string{"ipvsadm", "-A"}, spec...), "-s", "rr")...)
	}
	const own = "sidecar-vip"
	newBareNS(t, own)
	sidecars := map[string]*daemon{
		"in the director":   startSidecar(t),
		"with --ipvs.netns": startDaemon(t, own, "/metrics", "lvs-sidecar", "--ipvs.netns=/run/netns/director"),
	}
	tcp, udp, tcp6 := "tcp/"+vip+":8097", "udp/"+vip+":8097", "tcp/["+vip6+"]:8097"
	expect := func(want map[string]float64) {
		t.Helper()
		for where, sc := range sidecars {
			for svc, w := range want {
				awaitMetric(t, sc, 5*time.Second, w, "ipvs_service_vip_local", "service", svc)
			}
			s := sc.scrape(t)
			if _, ok := metric(s, "ipvs_service_vip_local", "service", "fwmark/97/ipv4"); ok {
				t.Errorf("sidecar %s: the fwmark service has ipvs_service_vip_local", where)
			}
			if v, _ := metric(s, "ipvs_scrape_success"); v != 1 {
				t.Errorf("sidecar %s: ipvs_scrape_success %v", where, v)
			}
		}
	}
	expect(map[string]float64{tcp: 1, udp: 1, tcp6: 1, "tcp/" + other + ":8097": 0})

	inNS(t, "director", "ip", "addr", "del", vip+"/32", "dev", "lo")
	expect(map[string]float64{tcp: 0, udp: 0, tcp6: 1})
	inNS(t, "director", "ip", "addr", "add", vip+"/32", "dev", "lo")
	expect(map[string]float64{tcp: 1, udp: 1, tcp6: 1})
}
