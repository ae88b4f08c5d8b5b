package health

import (
	"net/netip"
	"strings"
	"testing"
)

// TestRawSockaddrOfAddrPort: the kernel's form of a target made straight
// from its netip.AddrPort is the one made through the unix.Sockaddr
// (probeSockaddr, rawSockaddrOf), byte for byte, for IPv4 and IPv6; an
// address with a zone is left to probeSockaddr, which looks up its
// interface.
func TestRawSockaddrOfAddrPort(t *testing.T) {
	for _, s := range []string{"192.0.2.1:80", "10.0.0.255:65535", "0.0.0.0:1", "[2001:db8::1]:443", "[::1]:8080", "[::ffff:192.0.2.1]:80"} {
		ap := netip.MustParseAddrPort(s)
		var direct, via rawSockaddr
		if !rawSockaddrOfAddrPort(ap, &direct) {
			t.Errorf("%s: not converted", s)
			continue
		}
		sa, err := probeSockaddr(ap)
		if err != nil {
			t.Fatal(err)
		}
		if !rawSockaddrOf(sa, &via) {
			t.Fatalf("%s: rawSockaddrOf refused %T", s, sa)
		}
		if direct != via {
			t.Errorf("%s: %+v, through unix.Sockaddr %+v", s, direct, via)
		}
	}
	var r rawSockaddr
	if rawSockaddrOfAddrPort(netip.MustParseAddrPort("[fe80::1%lo]:80"), &r) {
		t.Error("an address with a zone was converted without its interface's index")
	}
}

// TestTCPUnknownZone: a target whose IPv6 zone names no interface is an
// error of the check's settings, found before any packet is sent.
func TestTCPUnknownZone(t *testing.T) {
	res := NewTCP(netip.MustParseAddrPort("[fe80::1%nosuchif0]:80"), TCPOptions{}).Check(t.Context())
	if res.Class != ClassError || !strings.Contains(res.Reason, "zone") {
		t.Errorf("result %s %q, want error naming the zone", res.Class, res.Reason)
	}
}
