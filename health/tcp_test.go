package health

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The rulesets of the namespaces where checks meet firewalls (see
// probeNewNet). The target drops some ports (silence) and answers others
// with an ICMP host unreachable; the checker drops one port on its own way
// out.
const (
	probeTargetFirewall = `table inet lvs_test {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 81 drop
		udp dport 81 drop
		tcp dport 82 reject with icmpx type host-unreachable
		udp dport 82 reject with icmpx type host-unreachable
		ip saddr 192.0.2.1 tcp dport 84 drop
		ip6 saddr 2001:db8::1 tcp dport 84 drop
		ip saddr 192.0.2.1 udp dport 84 drop
		ip6 saddr 2001:db8::1 udp dport 84 drop
	}
}
`
	probeCheckerFirewall = `table inet lvs_test {
	chain output {
		type filter hook output priority 0; policy accept;
		tcp dport 83 drop
		udp dport 83 drop
	}
}
`
)

// Ports of the firewalls.
const (
	probePortNothing     = 80 // nothing listens, nothing filters
	probePortDropped     = 81
	probePortUnreachable = 82
	probePortOutDropped  = 83
	// dropped from the checker's default source, open from its alt
	// address when something listens
	probePortAltOnly = 84
)

// probeCheck runs one check with a timeout.
func probeCheck(c Checker, timeout time.Duration) Result {
	r, _ := probeTimed(c, timeout)
	return r
}

// probeTimed runs one check with a timeout and returns its result and how
// long Check took from the caller's view.
func probeTimed(c Checker, timeout time.Duration) (Result, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	r := c.Check(ctx)
	return r, time.Since(start)
}

func TestTCPLoopback(t *testing.T) {
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			t.Parallel()
			t.Run("open", func(t *testing.T) {
				l, target := probeListenTCP(t, addr)
				c := NewTCP(target, TCPOptions{})
				r, took := probeTimed(c, 2*time.Second)
				probeWant(t, r, ClassOpen, "handshake completed")
				if r.Latency <= 0 || r.Latency > took {
					t.Errorf("latency %s, want in (0, %s]", r.Latency, took)
				}
				// The handshake really completed: the listener has the
				// connection, already reset by the checker.
				_ = l.SetDeadline(time.Now().Add(2 * time.Second))
				conn, err := l.Accept()
				if err != nil {
					t.Fatalf("accept after an open check: %v", err)
				}
				conn.Close()
			})
			t.Run("closed", func(t *testing.T) {
				target := probeClosedPort(t, addr, unix.SOCK_STREAM)
				r, _ := probeTimed(NewTCP(target, TCPOptions{}), 2*time.Second)
				probeWant(t, r, ClassClosed, "connection refused (RST)")
			})
			t.Run("source", func(t *testing.T) {
				source := netip.MustParseAddr("127.0.0.2")
				if addr.Is6() {
					// ::1 is the only IPv6 loopback address; the check
					// still binds it explicitly.
					source = addr
				}
				l, target := probeListenTCP(t, netip.IPv4Unspecified())
				if addr.Is6() {
					l, target = probeListenTCP(t, netip.IPv6Unspecified())
				}
				target = netip.AddrPortFrom(addr, target.Port())
				r, _ := probeTimed(NewTCP(target, TCPOptions{Source: source}), 2*time.Second)
				probeWant(t, r, ClassOpen, "")
				_ = l.SetDeadline(time.Now().Add(2 * time.Second))
				conn, err := l.Accept()
				if err != nil {
					t.Fatalf("accept: %v", err)
				}
				defer conn.Close()
				if got := conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); got != source {
					t.Errorf("server saw the check from %s, want source %s", got, source)
				}
			})
			t.Run("source of the other family", func(t *testing.T) {
				_, target := probeListenTCP(t, addr)
				other := netip.MustParseAddr("::1")
				if addr.Is6() {
					other = netip.MustParseAddr("127.0.0.1")
				}
				r, _ := probeTimed(NewTCP(target, TCPOptions{Source: other}), 2*time.Second)
				probeWant(t, r, ClassError, "")
			})
		})
	}
}

// probeNetCase is one target of the namespace tests: an address and port
// of probeNet and what the checkers must say about it.
type probeNetCase struct {
	name   string
	target netip.AddrPort
	class  Class
	reason string
	// filtered checks last until the deadline; the others answer at once
	untilDeadline bool
}

// probeNetTargets lists the targets every TCP-based checker meets in n for
// addr's family, with the connect checker's verdicts; open is a listening
// port in the target namespace.
func probeNetTargets(n *probeNet, addr netip.Addr, open uint16) []probeNetCase {
	unroutable := n.unroutable4
	if addr.Is6() {
		unroutable = n.unroutable6
	}
	at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(addr, port) }
	cases := []probeNetCase{
		{"open", at(open), ClassOpen, "", false},
		{"closed", at(probePortNothing), ClassClosed, "connection refused (RST)", false},
		{"dropped", at(probePortDropped), ClassFiltered, "no answer to SYN within", true},
		{"no route", netip.AddrPortFrom(unroutable, 80), ClassClosed, "no route to host", false},
		// The kernel retransmits a SYN its own firewall dropped, so
		// connect sees silence, as with a remote drop.
		{"dropped on the way out", at(probePortOutDropped), ClassFiltered, "no answer to SYN within", true},
	}
	if addr.Is4() {
		// Over IPv6 the kernel delivers the target's ICMPv6 error while
		// connect() still owns the socket when both ends share a host
		// (nstat: TcpExtLockDroppedIcmps), and only the retransmitted
		// SYN's error, a second later, fails the connect; across a real
		// link the error arrives after connect returned. The route case
		// above covers the errno for IPv6.
		cases = append(cases, probeNetCase{"ICMP host unreachable", at(probePortUnreachable), ClassClosed, "no route to host (ICMP host unreachable)", false})
	}
	return cases
}

// probeCheckNet runs c inside the checker namespace and checks the verdict
// and how long it took: a check that waits for its deadline gets timeout
// and must return by it; one that is answered gets a long deadline and
// must return well before it.
func probeCheckNet(t *testing.T, n *probeNet, c Checker, tc probeNetCase, timeout time.Duration) Result {
	t.Helper()
	if !tc.untilDeadline {
		timeout = probeAnsweredTimeout
	}
	lo, hi := time.Duration(0), timeout/2
	if tc.untilDeadline {
		lo, hi = timeout-10*time.Millisecond, timeout+probeSlack
	}
	return probeCheckWithin(t, func(f func()) { n.checker.run(f) }, c, tc.class, tc.reason, timeout, lo, hi)
}

// probeCheckWithin runs c (through run, which may move it into a
// namespace) and checks its verdict and that it took between lo and hi. A
// busy machine can delay any goroutine, so a check that took too long
// runs again, up to three times: only a check that is late every time
// fails.
func probeCheckWithin(t *testing.T, run func(func()), c Checker, class Class, reason string, timeout, lo, hi time.Duration) Result {
	t.Helper()
	var r Result
	var took []time.Duration
	for range 3 {
		var d time.Duration
		run(func() { r, d = probeTimed(c, timeout) })
		probeWant(t, r, class, reason)
		took = append(took, d)
		if d <= hi {
			break
		}
	}
	probeWantLatency(t, slices.Min(took), lo, hi)
	return r
}

// Test timing: how late a check may return after its deadline, and the
// deadline of checks that should be answered at once.
const (
	probeSlack           = 100 * time.Millisecond
	probeAnsweredTimeout = 2 * time.Second
)

func TestTCPNamespace(t *testing.T) {
	n := probeNewNet(t, probeCheckerFirewall, probeTargetFirewall)
	const timeout = 300 * time.Millisecond
	for _, addr := range n.targets() {
		_, open := n.target.listenTCP(addr, 0)
		for _, tc := range probeNetTargets(n, addr, open.Port()) {
			t.Run(probeFamily(addr)+"/"+tc.name, func(t *testing.T) {
				probeCheckNet(t, n, NewTCP(tc.target, TCPOptions{}), tc, timeout)
			})
		}
	}
	// The target drops one port from the checker's default address, so
	// the check passes only from the Source given.
	for _, fam := range []struct{ target, alt netip.Addr }{{n.target4, n.alt4}, {n.target6, n.alt6}} {
		_, l := n.target.listenTCP(fam.target, probePortAltOnly)
		t.Run(probeFamily(fam.target)+"/source", func(t *testing.T) {
			probeCheckNet(t, n, NewTCP(l, TCPOptions{}), probeNetCase{class: ClassFiltered, untilDeadline: true}, timeout)
			probeCheckNet(t, n, NewTCP(l, TCPOptions{Source: fam.alt}), probeNetCase{class: ClassOpen}, timeout)
		})
	}
}

func TestProbeRound(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{299600 * time.Microsecond, 300 * time.Millisecond},
		{296 * time.Millisecond, 300 * time.Millisecond},
		{999800 * time.Microsecond, time.Second},
		{1960 * time.Millisecond, 2 * time.Second},
		{50400 * time.Microsecond, 50 * time.Millisecond},
		{500 * time.Microsecond, 500 * time.Microsecond},
	} {
		if got := probeRound(tc.in); got != tc.want {
			t.Errorf("probeRound(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
