package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The rulesets of the namespaces where checks meet firewalls (see
// probeNewNet). The target drops some ports (silence) and answers others
// with ICMP errors (see probeICMPCodes); the checker drops one port on its
// own way out.
var (
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
` + probeICMPCodeRules() + `	}
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

// probeICMPCodes are the ICMP destination unreachables the target's
// firewall answers TCP and UDP with, a port each, named as the checks'
// reasons name them. nmap's port-scanning documentation: every one of
// them means filtered for TCP; for UDP a port unreachable means closed
// and the others filtered.
var probeICMPCodes = []struct {
	v6     bool
	port   uint16
	reject string // the nft reject's argument
	name   string
	isPort bool // a port unreachable
}{
	{false, 90, "icmp type net-unreachable", "ICMP network unreachable (type 3, code 0)", false},
	{false, 91, "icmp type host-unreachable", "ICMP host unreachable (type 3, code 1)", false},
	{false, 92, "icmp type prot-unreachable", "ICMP protocol unreachable (type 3, code 2)", false},
	{false, 93, "icmp type port-unreachable", "ICMP port unreachable (type 3, code 3)", true},
	{false, 99, "icmp type net-prohibited", "ICMP network administratively prohibited (type 3, code 9)", false},
	{false, 100, "icmp type host-prohibited", "ICMP host administratively prohibited (type 3, code 10)", false},
	{false, 103, "icmp type admin-prohibited", "ICMP communication administratively prohibited (type 3, code 13)", false},
	{true, 110, "icmpv6 type no-route", "ICMPv6 no route to destination (type 1, code 0)", false},
	{true, 111, "icmpv6 type admin-prohibited", "ICMPv6 administratively prohibited (type 1, code 1)", false},
	{true, 113, "icmpv6 type addr-unreachable", "ICMPv6 address unreachable (type 1, code 3)", false},
	{true, 114, "icmpv6 type port-unreachable", "ICMPv6 port unreachable (type 1, code 4)", true},
	{true, 115, "icmpv6 type policy-fail", "ICMPv6 source address failed policy (type 1, code 5)", false},
	{true, 116, "icmpv6 type reject-route", "ICMPv6 reject route to destination (type 1, code 6)", false},
}

// probeICMPCodeRules returns the target's rules for probeICMPCodes.
func probeICMPCodeRules() string {
	var b strings.Builder
	for _, c := range probeICMPCodes {
		proto := "ipv4"
		if c.v6 {
			proto = "ipv6"
		}
		fmt.Fprintf(&b, "\t\tmeta nfproto %s meta l4proto { tcp, udp } th dport %d reject with %s\n", proto, c.port, c.reject)
	}
	return b.String()
}

// probeICMPCodeCases returns the cases of probeICMPCodes for addr's family
// with the verdicts of a TCP check, or of a UDP one. from is the address
// the ICMP comes from (the target's).
func probeICMPCodeCases(addr netip.Addr, udp bool) []probeNetCase {
	var out []probeNetCase
	for _, c := range probeICMPCodes {
		if c.v6 != addr.Is6() {
			continue
		}
		class := ClassFiltered
		if udp && c.isPort {
			class = ClassClosed
		}
		out = append(out, probeNetCase{name: c.name, target: netip.AddrPortFrom(addr, c.port), class: class,
			reason: c.name + " from " + addr.String(), mayWait: !udp && addr.Is6()})
	}
	return out
}

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

func TestTCPLoopback(t *testing.T) { testTCPLoopback(t, tcpCheck) }

// tcpCheck is the checker the TCP tests run for c: c itself, whose Check
// waits on Go's poller; tcp_async_test.go runs them on the event loop
// too.
func tcpCheck(c *TCP) Checker { return c }

func testTCPLoopback(t *testing.T, mk func(*TCP) Checker) {
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			t.Parallel()
			t.Run("open", func(t *testing.T) {
				l, target := probeListenTCP(t, addr)
				c := mk(NewTCP(target, TCPOptions{}))
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
				r, _ := probeTimed(mk(NewTCP(target, TCPOptions{})), 2*time.Second)
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
				r, _ := probeTimed(mk(NewTCP(target, TCPOptions{Source: source})), 2*time.Second)
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
				r, _ := probeTimed(mk(NewTCP(target, TCPOptions{Source: other})), 2*time.Second)
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
	// mayWait: the answer may come at once or at the deadline (see
	// probeNetTargets)
	mayWait bool
}

// probeNetTargets lists the targets every TCP-based checker meets in n for
// addr's family, with the connect checker's verdicts; open is a listening
// port in the target namespace.
//
// Over IPv6 the kernel delivers the target's ICMPv6 error while connect()
// still owns the socket when both ends share a host (nstat:
// TcpExtLockDroppedIcmps): it queues the error (IPV6_RECVERR), and
// connect fails only at the retransmitted SYN's error a second later, or
// at the deadline, when the check reads the queued error. Across a real
// link the error arrives after connect returned.
func probeNetTargets(n *probeNet, addr netip.Addr, open uint16) []probeNetCase {
	unroutable, noroute, prohibited := n.unroutable4, n.noroute4, n.prohibited4
	if addr.Is6() {
		unroutable, noroute, prohibited = n.unroutable6, n.noroute6, n.prohibited6
	}
	at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(addr, port) }
	cases := []probeNetCase{
		{name: "open", target: at(open), class: ClassOpen},
		{name: "closed", target: at(probePortNothing), class: ClassClosed, reason: "connection refused (RST)"},
		{name: "dropped", target: at(probePortDropped), class: ClassFiltered, reason: "no answer to SYN within", untilDeadline: true},
		{name: "unreachable route", target: netip.AddrPortFrom(unroutable, 80), class: ClassLocalError, reason: "no route to host (EHOSTUNREACH): an unreachable route in this director's routing table"},
		{name: "no route", target: netip.AddrPortFrom(noroute, 80), class: ClassLocalError, reason: "network is unreachable (ENETUNREACH): no route to it in this director's routing table"},
		{name: "prohibit route", target: netip.AddrPortFrom(prohibited, 80), class: ClassLocalError, reason: "permission denied (EACCES): a prohibit route or a firewall rule on this director"},
		// The kernel retransmits a SYN its own firewall dropped, so
		// connect sees silence, as with a remote drop.
		{name: "dropped on the way out", target: at(probePortOutDropped), class: ClassFiltered, reason: "no answer to SYN within", untilDeadline: true},
	}
	return append(cases, probeICMPCodeCases(addr, false)...)
}

// probeCheckNet runs c inside the checker namespace and checks the verdict
// and how long it took: a check that waits for its deadline gets timeout
// and must return by it; one that is answered gets a long deadline and
// must return well before it.
func probeCheckNet(t *testing.T, n *probeNet, c Checker, tc probeNetCase, timeout time.Duration) Result {
	t.Helper()
	var lo, hi time.Duration
	switch {
	case tc.untilDeadline:
		lo, hi = timeout-10*time.Millisecond, timeout+probeSlack
	case tc.mayWait:
		hi = timeout + probeSlack
	default:
		timeout = probeAnsweredTimeout
		hi = timeout / 2
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

func TestTCPNamespace(t *testing.T) { testTCPNamespace(t, tcpCheck) }

func testTCPNamespace(t *testing.T, mk func(*TCP) Checker) {
	n := probeNewNet(t, probeCheckerFirewall, probeTargetFirewall)
	const timeout = 300 * time.Millisecond
	for _, addr := range n.targets() {
		_, open := n.target.listenTCP(addr, 0)
		for _, tc := range probeNetTargets(n, addr, open.Port()) {
			t.Run(probeFamily(addr)+"/"+tc.name, func(t *testing.T) {
				probeCheckNet(t, n, mk(NewTCP(tc.target, TCPOptions{})), tc, timeout)
			})
		}
	}
	// The target drops one port from the checker's default address, so
	// the check passes only from the Source given; a source the checker
	// does not have is its own trouble.
	for _, fam := range []struct{ target, alt, absent netip.Addr }{{n.target4, n.alt4, n.absent4}, {n.target6, n.alt6, n.absent6}} {
		_, l := n.target.listenTCP(fam.target, probePortAltOnly)
		t.Run(probeFamily(fam.target)+"/source", func(t *testing.T) {
			probeCheckNet(t, n, mk(NewTCP(l, TCPOptions{})), probeNetCase{class: ClassFiltered, untilDeadline: true}, timeout)
			probeCheckNet(t, n, mk(NewTCP(l, TCPOptions{Source: fam.alt})), probeNetCase{class: ClassOpen}, timeout)
			probeCheckNet(t, n, mk(NewTCP(l, TCPOptions{Source: fam.absent})), probeNetCase{class: ClassLocalError,
				reason: "cannot assign requested address (EADDRNOTAVAIL): the source address is not on this director"}, timeout)
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

// deadlineReporter is a Checker that answers with the timeout
// probeDeadline would name in a reason.
type deadlineReporter struct{}

func (deadlineReporter) String() string { return "deadline reporter" }

func (deadlineReporter) Check(ctx context.Context) Result {
	_, cancel, timeout := probeDeadline(ctx)
	defer cancel()
	return Result{Class: ClassFiltered, Reason: fmt.Sprintf("no answer within %s", timeout)}
}

// TestProbeDeadlineNamesConfiguredTimeout: a reason names the timeout the
// check was configured with, not the time left when the checker looked
// (which went negative for a run that started late).
func TestProbeDeadlineNamesConfiguredTimeout(t *testing.T) {
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-40*time.Millisecond))
	defer cancel()
	if _, _, d := probeDeadline(past); d != 0 {
		t.Errorf("deadline passed, no configured timeout: names %v, want 0", d)
	}
	if _, _, d := probeDeadline(withProbeTimeout(past, 300*time.Millisecond)); d != 300*time.Millisecond {
		t.Errorf("deadline passed, configured 300ms: names %v, want 300ms", d)
	}

	// Through the scheduler, on a fake clock whose deadlines are nowhere
	// near the wall clock's now.
	h := newHarness(t, SchedulerOptions{})
	if err := h.s.Update([]Target{{Service: svc, Server: rs1,
		Checks: []CheckSpec{every(deadlineReporter{}, time.Second, 300*time.Millisecond)}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(time.Second)
	st := h.status(svc, rs1)
	if len(st.Checks) != 1 || st.Checks[0].Last.Reason != "no answer within 300ms" {
		t.Fatalf("checks %+v, want one whose reason is %q", st.Checks, "no answer within 300ms")
	}
}

// TestTCPOpenResets checks that an open check ends its connection with a
// RST, not a FIN: the server's read fails with ECONNRESET.
func TestTCPOpenResets(t *testing.T) {
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			l, target := probeListenTCP(t, addr)
			probeWant(t, NewTCP(target, TCPOptions{}).Check(context.Background()), ClassOpen, "handshake completed")
			_ = l.SetDeadline(time.Now().Add(2 * time.Second))
			conn, err := l.Accept()
			if err != nil {
				t.Fatalf("accept: %v", err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := conn.Read(make([]byte, 1))
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("the server's read after the check: %d bytes, %v; want ECONNRESET (a RST)", n, err)
			}
		})
	}
}
