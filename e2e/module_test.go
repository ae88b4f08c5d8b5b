//go:build e2e

package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
)

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
