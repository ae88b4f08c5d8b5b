//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestModuleNotLoaded starts lvs-sidecar while the ip_vs module is not
// loaded: it must say so (ipvs_up 0, no table, one log line with the fix),
// a write through the project's writer must fail with ErrModuleNotLoaded
// and leave the module unloaded, and once ip_vs is loaded the very next
// scrape of the same process must show the table.
//
// It is the first test in the binary that touches ip_vs (Go runs tests in
// file order, then source order): the VM boots without ip_vs, so it sees
// a kernel that never had it. When run alone it unloads ip_vs first.
func TestModuleNotLoaded(t *testing.T) {
	requireLab(t)
	unloadIPVS(t)
	vip := netip.MustParseAddr(labEnv(t, "LAB_VIP"))
	rs1 := labRS(1)

	sc := startSidecar(t)
	for i := range 3 {
		s := sc.scrape(t)
		if s.Up != 0 {
			t.Fatalf("scrape %d: ipvs_up = %v without ip_vs, want 0", i, s.Up)
		}
		for name := range s.Families {
			switch name {
			case "ipvs_up", "ipvs_scrape_success", "ipvs_scrape_duration_seconds":
				continue
			}
			if strings.HasPrefix(name, "ipvs_") && s.Series(name) > 0 {
				t.Errorf("scrape %d: %d series of %s without ip_vs", i, s.Series(name), name)
			}
		}
	}
	const hint = "modprobe ip_vs"
	if n := strings.Count(sc.log(), hint); n != 1 {
		t.Errorf("lvs-sidecar's log says %q %d times after three scrapes, want once:\n%s", hint, n, sc.log())
	}

	w, err := ipvs.NewWriter(ipvs.WriterOptions{NetNS: "/run/netns/director"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: vip, Port: 9999}
	err = w.CreateService(ctx, &ipvs.Service{ServiceKey: key, Scheduler: "rr"})
	if !errors.Is(err, ipvs.ErrModuleNotLoaded) {
		t.Fatalf("CreateService without ip_vs: err = %v, want ErrModuleNotLoaded", err)
	}
	if !strings.Contains(err.Error(), hint) {
		t.Errorf("CreateService without ip_vs: %q does not say %q", err, hint)
	}
	t.Logf("CreateService without ip_vs: %v", err)
	if ipvsLoaded(t) || len(lsmodIPVS(t)) > 0 {
		t.Fatalf("the failed write or the scrapes loaded ip_vs (modules: %q)", lsmodIPVS(t))
	}

	inNS(t, "root", "modprobe", "ip_vs")
	t.Cleanup(func() {
		if _, err := tryInNS(t, "director", "ipvsadm", "-C"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	svc := netip.AddrPortFrom(vip, key.Port).String()
	inNS(t, "director", "ipvsadm", "-A", "-t", svc, "-s", "rr")
	inNS(t, "director", "ipvsadm", "-a", "-t", svc, "-r", netip.AddrPortFrom(rs1, 80).String(), "-m", "-w", "5")

	s := sc.scrape(t) // the next one: no polling
	if s.Up != 1 {
		t.Fatalf("first scrape after modprobe ip_vs: ipvs_up = %v, want 1", s.Up)
	}
	if d := Diff(s, procIPVS(t), FieldScheduler|FieldForward|FieldWeight|FieldConns); len(d) > 0 {
		t.Errorf("first scrape after modprobe ip_vs differs from /proc/net/ip_vs:\n%s", strings.Join(d, "\n"))
	}
	if s.Services["tcp/"+svc] == nil {
		t.Errorf("first scrape after modprobe ip_vs has no service tcp/%s:\n%s", svc, s.String())
	}
	if n := strings.Count(sc.log(), hint); n != 1 {
		t.Errorf("lvs-sidecar's log says %q %d times in the end, want once:\n%s", hint, n, sc.log())
	}

	// The writer that refused works now, without a restart either.
	rs2 := labRS(2)
	if err := w.CreateDestination(ctx, key, &ipvs.Destination{Address: rs2, Port: 80, Weight: 2}); err != nil {
		t.Fatalf("CreateDestination after modprobe ip_vs: %v", err)
	}
	if got := procIPVS(t).Services["tcp/"+svc]; got == nil || got.Servers[netip.AddrPortFrom(rs2, 80).String()] == nil {
		t.Errorf("the writer's real server is not in /proc/net/ip_vs:\n%s", procIPVS(t).String())
	}
}

// unloadIPVS removes ip_vs and every module that uses it (schedulers,
// helpers), and fails the test when it cannot: then a test before this one
// left services behind.
func unloadIPVS(t *testing.T) {
	t.Helper()
	for _, m := range lsmodIPVS(t) {
		if m != "ip_vs" {
			inNS(t, "root", "rmmod", m)
		}
	}
	if ipvsLoaded(t) {
		inNS(t, "root", "rmmod", "ip_vs")
	}
	if ipvsLoaded(t) || len(lsmodIPVS(t)) > 0 {
		t.Fatalf("cannot unload ip_vs: modules %q still loaded", lsmodIPVS(t))
	}
}

// TestLabHasIPVS proves the lab itself: the ip_vs module loads, its proc
// file appears, and a service created with ipvsadm in the director's
// namespace is listed there — by ipvsadm and in /proc/net/ip_vs — and not
// in the VM's root namespace.
func TestLabHasIPVS(t *testing.T) {
	requireLab(t)
	inNS(t, "root", "modprobe", "ip_vs")
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Fatalf("after modprobe ip_vs: %v", err)
	}

	vip := netip.MustParseAddr(labEnv(t, "LAB_VIP"))
	const port = 8080
	service := netip.AddrPortFrom(vip, port).String()
	inNS(t, "director", "ipvsadm", "-A", "-t", service, "-s", "wrr")
	t.Cleanup(func() {
		if _, err := tryInNS(t, "director", "ipvsadm", "-D", "-t", service); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	t.Run("ipvsadm lists it", func(t *testing.T) {
		out := inNS(t, "director", "ipvsadm", "-Ln")
		want := fmt.Sprintf("TCP  %s wrr", service)
		if !containsLine(out, want) {
			t.Errorf("ipvsadm -Ln in director has no line %q:\n%s", want, out)
		}
	})
	t.Run("proc lists it", func(t *testing.T) {
		out := inNS(t, "director", "cat", "/proc/net/ip_vs")
		// /proc/net/ip_vs prints an IPv4 address and port in hex.
		b := vip.As4()
		want := fmt.Sprintf("TCP  %02X%02X%02X%02X:%04X wrr", b[0], b[1], b[2], b[3], port)
		if !containsLine(out, want) {
			t.Errorf("/proc/net/ip_vs in director has no line %q:\n%s", want, out)
		}
	})
	t.Run("root namespace does not", func(t *testing.T) {
		out := inNS(t, "root", "ipvsadm", "-Ln")
		if strings.Contains(out, service) {
			t.Errorf("the director's service leaked into the root namespace:\n%s", out)
		}
	})
}

// containsLine reports whether a line of out, trimmed of surrounding space,
// equals want.
func containsLine(out, want string) bool {
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) == want {
			return true
		}
	}
	return false
}
