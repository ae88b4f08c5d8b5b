package collector

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestVIPLocalKernel runs the collector's real address reader in a
// network namespace the test makes: the VIP of tcp/192.0.2.10:80 (of
// table.json; this kernel has no IPVS, so the table is the fixture's)
// added to an interface there makes the series 1, deleted 0, and a
// collector reading the test's own namespace never says 1 for it.
func TestVIPLocalKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	name := fmt.Sprintf("lvs-vip-coll-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ns, err := ipvs.OpenNetNS("/run/netns/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	run("-n", name, "link", "set", "lo", "up")

	src := sourceOf(step{snap: loadTable(t)})
	value := func(addrs AddrSource, service string) (float64, bool) {
		t.Helper()
		p := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := p.TextToMetricFamilies(strings.NewReader(fastText(t, newTestCollector(src, Options{Addrs: addrs}))))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mfs["ipvs_service_vip_local"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" && l.GetValue() == service {
					return m.GetGauge().GetValue(), true
				}
			}
		}
		return 0, false
	}
	inNS := &ipvs.AddrReader{NetNS: ns}
	here := &ipvs.AddrReader{}
	const v4, v6 = "tcp/192.0.2.10:80", "tcp/[2001:db8::10]:80"
	if v, _ := value(here, v4); v == 1 {
		t.Skip("this host holds 192.0.2.10 itself")
	}
	want := func(addrs AddrSource, service string, w float64) {
		t.Helper()
		v, ok := value(addrs, service)
		if !ok || v != w {
			t.Errorf("%s: ipvs_service_vip_local = %v (present %v), want %v", service, v, ok, w)
		}
	}
	want(inNS, v4, 0)
	run("-n", name, "addr", "add", "192.0.2.10/32", "dev", "lo")
	// nodad: without it even lo holds the address tentative for a moment.
	run("-n", name, "addr", "add", "2001:db8::10/128", "dev", "lo", "nodad")
	want(inNS, v4, 1)
	want(inNS, v6, 1)
	want(inNS, "udp/192.0.2.53:53", 0)
	want(here, v4, 0)
	run("-n", name, "addr", "del", "192.0.2.10/32", "dev", "lo")
	want(inNS, v4, 0)
	want(inNS, v6, 1)
}
