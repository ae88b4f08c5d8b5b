package health

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// TestSYNRoutePacket: a SYN made from the route's template, its checksum
// updated for the port and ISN, is the SYN synPacket builds whole.
func TestSYNRoutePacket(t *testing.T) {
	for _, tc := range []struct{ source, target string }{
		{"192.0.2.1", "192.0.2.2:80"},
		{"10.255.255.254", "10.0.0.1:65535"},
		{"2001:db8::1", "[2001:db8::2]:443"},
		{"fe80::1", "[fe80::2%lo]:1"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			source, target := netip.MustParseAddr(tc.source), netip.MustParseAddrPort(tc.target)
			r := newSynRoute(nil, nil, source, target)
			var b [synLen]byte
			for _, v := range []struct {
				port uint16
				isn  uint32
			}{{0, 0}, {1, 1}, {65535, 0xffffffff}, {40000, 0xfffe0001}} {
				if got, want := r.packet(&b, v.port, v.isn), synPacket(source, target, v.port, v.isn); !bytes.Equal(got, want) {
					t.Errorf("port %d isn %#x: got %x, want %x", v.port, v.isn, got, want)
				}
			}
			for range 1000 {
				port, isn := uint16(rand.Uint32()), rand.Uint32()
				if got, want := r.packet(&b, port, isn), synPacket(source, target, port, isn); !bytes.Equal(got, want) {
					t.Fatalf("port %d isn %#x: got %x, want %x", port, isn, got, want)
				}
			}
		})
	}
}

// TestSYNRouteCache: a check reuses its route until it expires, is
// forgotten or the scanner changes; an explicit source never expires.
func TestSYNRouteCache(t *testing.T) {
	s, other := &SYNScanner{}, &SYNScanner{}
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			c := NewSYN(netip.AddrPortFrom(addr, 80), SYNOptions{})
			now := time.Now()
			r1, cached, err := s.route(c, now)
			if err != nil {
				t.Fatal(err)
			}
			if cached || r1.source != addr || !r1.expires.Equal(now.Add(synRouteTTL)) {
				t.Fatalf("first lookup: cached %v, source %s, expires in %s; want a lookup, source %s, expiring in %s",
					cached, r1.source, r1.expires.Sub(now), addr, synRouteTTL)
			}
			if r, cached, _ := s.route(c, now.Add(synRouteTTL-time.Millisecond)); !cached || r != r1 {
				t.Errorf("before the TTL: cached %v, same %v; want the cached route", cached, r == r1)
			}
			r2, cached, _ := s.route(c, now.Add(synRouteTTL))
			if cached || r2 == r1 || r2.source != addr {
				t.Errorf("at the TTL: cached %v, same %v, source %s; want a new lookup", cached, r2 == r1, r2.source)
			}
			c.forget(r1) // stale: keeps r2
			if r, cached, _ := s.route(c, now.Add(synRouteTTL)); !cached || r != r2 {
				t.Errorf("after forgetting an older route: cached %v, same %v; want r2 still", cached, r == r2)
			}
			c.forget(r2)
			r3, cached, _ := s.route(c, now.Add(synRouteTTL))
			if cached || r3 == r2 {
				t.Errorf("after forget: cached %v; want a new lookup", cached)
			}
			if r, cached, _ := other.route(c, now.Add(synRouteTTL)); cached || r.scanner != other {
				t.Errorf("on another scanner: cached %v; want a lookup of its own", cached)
			}
		})
	}
	t.Run("explicit source", func(t *testing.T) {
		src := netip.MustParseAddr("127.0.0.2") // not the route's: 127.0.0.1 is
		c := NewSYN(netip.MustParseAddrPort("127.0.0.1:80"), SYNOptions{Source: src})
		now := time.Now()
		r1, _, err := s.route(c, now)
		if err != nil {
			t.Fatal(err)
		}
		if r1.source != src || !r1.expires.IsZero() {
			t.Errorf("source %s, expires %v; want %s, never", r1.source, r1.expires, src)
		}
		if r, cached, _ := s.route(c, now.Add(24*time.Hour)); !cached || r != r1 {
			t.Errorf("a day later: cached %v; want the same route", cached)
		}
	})
}

// TestSYNRouteChanges: a check follows a change of its route's source
// (after the silence the old source got), and the loss of the address it
// had cached (the send fails, the check looks up again), within one run.
func TestSYNRouteChanges(t *testing.T) {
	n := probeNewNet(t, "", probeTargetFirewall)
	s := n.checker.synScanner(t)
	n.checker.run(func() {
		// Deleting the primary IPv4 address keeps the secondary one.
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/c0/promote_secondaries", []byte("1"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	const timeout = 300 * time.Millisecond
	for _, fam := range []struct {
		target, primary, alt netip.Addr
		bits                 string
		route                []string // the prefix route, to replace
	}{
		{n.target4, netip.MustParseAddr("192.0.2.1"), n.alt4, "24", []string{"-4", "route", "replace", "192.0.2.0/24", "dev", "c0"}},
		{n.target6, netip.MustParseAddr("2001:db8::1"), n.alt6, "64", []string{"-6", "route", "replace", "2001:db8::/64", "dev", "c0", "metric", "256"}},
	} {
		t.Run(probeFamily(fam.target), func(t *testing.T) {
			_, open := n.target.listenTCP(fam.target, 0)
			_, altOnly := n.target.listenTCP(fam.target, probePortAltOnly)
			check := func(c *SYN, class Class) {
				t.Helper()
				var r Result
				n.checker.run(func() { r, _ = probeTimed(c, timeout) })
				if r.Class != class {
					t.Fatalf("%s: %s (%s), want %s", c, r.Class, r.Reason, class)
				}
			}
			source := func(c *SYN) netip.Addr {
				if r := c.route.Load(); r != nil {
					return r.source
				}
				return netip.Addr{}
			}

			toOpen, toAlt := NewSYN(open, SYNOptions{Scanner: s}), NewSYN(altOnly, SYNOptions{Scanner: s})
			check(toOpen, ClassOpen)
			r1 := toOpen.route.Load()
			if source(toOpen) != fam.primary {
				t.Fatalf("cached source %s, want %s", source(toOpen), fam.primary)
			}
			check(toOpen, ClassOpen)
			if toOpen.route.Load() != r1 {
				t.Error("the second check did not reuse the cached route")
			}
			check(toAlt, ClassFiltered)
			if r := toAlt.route.Load(); r != nil {
				t.Errorf("after silence the route from %s is still cached", r.source)
			}

			n.checker.ip(append(append([]string{"-n", n.checker.name}, fam.route...), "src", fam.alt.String())...)
			check(toAlt, ClassOpen)
			if source(toAlt) != fam.alt {
				t.Errorf("source %s after the route changed, want %s", source(toAlt), fam.alt)
			}
			// toOpen keeps its source while the director has it.
			check(toOpen, ClassOpen)
			if toOpen.route.Load() != r1 {
				t.Error("a route whose source is still on the director was looked up again before its TTL")
			}
			n.checker.ip("-n", n.checker.name, "addr", "del", fam.primary.String()+"/"+fam.bits, "dev", "c0")
			check(toOpen, ClassOpen)
			if source(toOpen) != fam.alt {
				t.Errorf("source %s after %s was removed, want %s", source(toOpen), fam.primary, fam.alt)
			}
		})
	}
}

// TestSYNRouteLinkLocalSource: a target without a zone whose route's
// source is link-local (the director has no other address on that link)
// is checked from it, which the kernel does not allow as an explicit
// source without an interface.
func TestSYNRouteLinkLocalSource(t *testing.T) {
	c, tg := probeNewNetns(t, ""), probeNewNetns(t, "")
	c.ip("-n", c.name, "link", "add", "c0", "type", "veth", "peer", "name", "t0", "netns", tg.name)
	for _, end := range []struct {
		ns         *probeNetns
		dev, addrs string
	}{{c, "c0", "fe80::1/64"}, {tg, "t0", "fe80::2/64 2001:db8:9::2/64"}} {
		end.ns.ip("-n", end.ns.name, "link", "set", end.dev, "addrgenmode", "none")
		for _, a := range strings.Fields(end.addrs) {
			end.ns.ip("-n", end.ns.name, "addr", "add", a, "dev", end.dev, "nodad")
		}
		end.ns.ip("-n", end.ns.name, "link", "set", end.dev, "up")
	}
	c.ip("-n", c.name, "-6", "route", "add", "2001:db8:9::/64", "dev", "c0")
	s := c.synScanner(t)
	_, target := tg.listenTCP(netip.MustParseAddr("2001:db8:9::2"), 0)
	syn := NewSYN(target, SYNOptions{Scanner: s})
	var r Result
	// The carrier comes up asynchronously: the first checks may go
	// nowhere.
	testutil.Poll(t, 5*time.Second, 50*time.Millisecond, func() error {
		c.run(func() { r, _ = probeTimed(syn, 300*time.Millisecond) })
		if r.Class != ClassOpen {
			return fmt.Errorf("%s: %s (%s), want open", syn, r.Class, r.Reason)
		}
		return nil
	})
	if rt := syn.route.Load(); rt == nil || rt.source != netip.MustParseAddr("fe80::1") {
		t.Errorf("cached route %+v, want one from fe80::1", rt)
	}
}
