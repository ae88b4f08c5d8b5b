package health

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// probeICMPRules drop echo requests in the target namespace: all of them
// to .10 (::10), every other one to .11 (::11), those from the checker's
// default address to .12 (::12). nft's "numgen inc" counts
// the requests that reach the rule, so the pattern is exact: with an even
// count, a check loses half.
const probeICMPRules = `table inet lvs_test {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr 192.0.2.10 icmp type echo-request drop
		ip6 daddr 2001:db8::10 icmpv6 type echo-request drop
		ip daddr 192.0.2.11 icmp type echo-request numgen inc mod 2 == 0 drop
		ip6 daddr 2001:db8::11 icmpv6 type echo-request numgen inc mod 2 == 0 drop
		ip saddr 192.0.2.1 ip daddr 192.0.2.12 icmp type echo-request drop
		ip6 saddr 2001:db8::1 ip6 daddr 2001:db8::12 icmpv6 type echo-request drop
	}
}
`

func TestICMPLoopback(t *testing.T) {
	probeNeedRoot(t, "the ICMP check (raw sockets)")
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			t.Parallel()
			t.Run("replies", func(t *testing.T) {
				r, took := probeTimed(NewICMP(addr, ICMPOptions{Count: 3, Interval: 10 * time.Millisecond}), 2*time.Second)
				probeWant(t, r, ClassOpen, "3/3 replies")
				if r.Latency <= 0 || r.Latency >= took {
					t.Errorf("latency (average round trip) %s, want in (0, %s)", r.Latency, took)
				}
				// It returns with the last reply, not at the deadline.
				probeWantLatency(t, took, 20*time.Millisecond, time.Second)
			})
			t.Run("defaults", func(t *testing.T) {
				r, _ := probeTimed(NewICMP(addr, ICMPOptions{}), 2*time.Second)
				probeWant(t, r, ClassOpen, "1/1 replies")
			})
			t.Run("timeout shorter than the requests need", func(t *testing.T) {
				// 5 requests 200ms apart need 800ms; by 300ms two went out.
				const timeout = 300 * time.Millisecond
				probeCheckWithin(t, probeHere, NewICMP(addr, ICMPOptions{Count: 5, Interval: 200 * time.Millisecond}),
					ClassError, "3/5 lost (3 not sent within the 300ms timeout), 60% loss, max 0%", timeout, timeout-10*time.Millisecond, timeout+probeSlack)
			})
		})
	}
}

func TestICMPNamespace(t *testing.T) {
	n := probeNewNet(t, "", probeICMPRules)
	for _, a := range []string{"192.0.2.10/24", "192.0.2.11/24", "192.0.2.12/24", "2001:db8::10/64", "2001:db8::11/64", "2001:db8::12/64"} {
		n.target.ip("-n", n.target.name, "addr", "add", a, "dev", "t0", "nodad")
	}
	const timeout = 500 * time.Millisecond
	for _, fam := range []struct {
		ok, dropped, half, altOnly, alt, unroutable, noroute, absent netip.Addr
	}{
		{n.target4, netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12"), n.alt4, n.unroutable4, n.noroute4, n.absent4},
		{n.target6, netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::11"), netip.MustParseAddr("2001:db8::12"), n.alt6, n.unroutable6, n.noroute6, n.absent6},
	} {
		fast := ICMPOptions{Count: 4, Interval: 20 * time.Millisecond}
		lenient := fast
		lenient.MaxLossPercent = 50
		strict := fast
		strict.MaxLossPercent = 25
		fromAlt := fast
		fromAlt.Source = fam.alt
		fromAbsent := fast
		fromAbsent.Source = fam.absent
		for _, tc := range []struct {
			probeNetCase
			opts ICMPOptions
		}{
			{probeNetCase{"replies", netip.AddrPortFrom(fam.ok, 0), ClassOpen, "4/4 replies", false, false}, fast},
			{probeNetCase{"all dropped", netip.AddrPortFrom(fam.dropped, 0), ClassFiltered, "4/4 lost", true, false}, fast},
			{probeNetCase{"half dropped, 25% allowed", netip.AddrPortFrom(fam.half, 0), ClassError, "2/4 lost, 50% loss, max 25%", true, false}, strict},
			{probeNetCase{"half dropped, 50% allowed", netip.AddrPortFrom(fam.half, 0), ClassOpen, "2/4 lost, 50% loss, max 50%", true, false}, lenient},
			{probeNetCase{"unreachable route", netip.AddrPortFrom(fam.unroutable, 0), ClassLocalError, "no route to host (EHOSTUNREACH)", false, false}, fast},
			{probeNetCase{"no route", netip.AddrPortFrom(fam.noroute, 0), ClassLocalError, "network is unreachable (ENETUNREACH)", false, false}, fast},
			{probeNetCase{"from a source the director lacks", netip.AddrPortFrom(fam.ok, 0), ClassLocalError, "EADDRNOTAVAIL", false, false}, fromAbsent},
			{probeNetCase{"from the default source", netip.AddrPortFrom(fam.altOnly, 0), ClassFiltered, "4/4 lost", true, false}, fast},
			{probeNetCase{"from the source given", netip.AddrPortFrom(fam.altOnly, 0), ClassOpen, "4/4 replies", false, false}, fromAlt},
		} {
			t.Run(probeFamily(fam.ok)+"/"+tc.name, func(t *testing.T) {
				c := NewICMP(tc.target.Addr(), tc.opts)
				c.spawn = n.checker.goIn
				r := probeCheckNet(t, n, c, tc.probeNetCase, timeout)
				if tc.class == ClassOpen && (r.Latency <= 0 || r.Latency > timeout) {
					t.Errorf("latency %s, want the average round trip", r.Latency)
				}
			})
		}
	}
}

func TestICMPWithoutNetRaw(t *testing.T) {
	probeNeedRoot(t, "dropping CAP_NET_RAW")
	c := NewICMP(probeLoopbacks[0], ICMPOptions{})
	c.spawn = func(f func()) { probeGoThread(t, probeDropNetRaw, f) }
	r, took := probeTimed(c, time.Second)
	probeWant(t, r, ClassLocalError, "CAP_NET_RAW")
	if took > 500*time.Millisecond {
		t.Errorf("took %s: the error should come at once", took)
	}
	if !strings.HasPrefix(r.Reason, "icmp check: raw sockets need the CAP_NET_RAW capability") {
		t.Errorf("reason %q", r.Reason)
	}
}
