package health

import (
	"context"
	"net/netip"
	"regexp"
	"testing"
	"time"
)

// Every checker is a Checker.
var (
	_ Checker = (*TCP)(nil)
	_ Checker = (*SYN)(nil)
	_ Checker = (*UDP)(nil)
	_ Checker = (*ICMP)(nil)
	_ Checker = (*HTTP)(nil)
)

func TestCheckerStrings(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.1:80")
	mapped := netip.MustParseAddrPort("[::ffff:10.0.0.1]:53")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:443")
	for _, tc := range []struct {
		c    Checker
		want string
	}{
		{NewTCP(v4, TCPOptions{}), "tcp 10.0.0.1:80"},
		{NewTCP(v6, TCPOptions{}), "tcp [2001:db8::1]:443"},
		{NewSYN(v4, SYNOptions{}), "syn 10.0.0.1:80"},
		{NewUDP(mapped, UDPOptions{}), "udp 10.0.0.1:53"},
		{NewICMP(v4.Addr(), ICMPOptions{}), "icmp 10.0.0.1"},
		{NewICMP(v6.Addr(), ICMPOptions{}), "icmp 2001:db8::1"},
		{NewHTTP(v4, HTTPOptions{Path: "/healthz"}), "http GET http://10.0.0.1:80/healthz"},
		{NewHTTP(v6, HTTPOptions{TLS: true}), "https GET https://[2001:db8::1]:443/"},
		{NewHTTP(mapped, HTTPOptions{Method: "HEAD", Path: "/?x=1", Host: "www.example.com"}), "http HEAD http://10.0.0.1:53/?x=1 (Host: www.example.com)"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// TestCheckersCanceled cancels each checker while it waits for a target
// that never answers: it must return at once with an error, not wait for
// its deadline or call the silence filtered.
func TestCheckersCanceled(t *testing.T) {
	n := probeNewNet(t, "", `table inet lvs_test {
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr 192.0.2.1 drop
	}
}
`)
	s := n.checker.synScanner(t)
	at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(n.target4, port) }
	icmp := NewICMP(n.target4, ICMPOptions{})
	icmp.spawn = n.checker.goIn
	for _, c := range []Checker{
		NewTCP(at(80), TCPOptions{}),
		NewSYN(at(80), SYNOptions{Scanner: s}),
		NewUDP(at(53), UDPOptions{Expect: regexp.MustCompile(".")}),
		NewHTTP(at(80), HTTPOptions{}),
		icmp,
	} {
		t.Run(c.String(), func(t *testing.T) {
			var r Result
			var took time.Duration
			n.checker.run(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				start := time.Now() // before the timer: it may fire before Check starts
				time.AfterFunc(100*time.Millisecond, cancel)
				r = c.Check(ctx)
				took = time.Since(start)
			})
			probeWant(t, r, ClassError, "check canceled")
			probeWantLatency(t, took, 100*time.Millisecond, time.Second)
		})
	}
}
