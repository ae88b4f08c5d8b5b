package health

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"golang.org/x/sys/unix"
)

// Shared helpers for the checkers' tests: loopback targets, network
// namespaces with nftables rules (the only place a test drops or rejects
// packets), and threads without CAP_NET_RAW.

// probeNeedRoot skips the test when it cannot create namespaces or raw
// sockets, except in CI, where a missing privilege must fail the run.
func probeNeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s needs root, and CI must run it as root", why)
	}
	t.Skipf("%s needs root (CI runs it as root)", why)
}

// probeLoopbacks are the loopback addresses every checker is tested on.
var probeLoopbacks = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}

// probeFamily names an address family for subtest names.
func probeFamily(a netip.Addr) string {
	if a.Is4() {
		return "v4"
	}
	return "v6"
}

// probeListenTCP listens on addr:0 and returns the listener's address.
func probeListenTCP(t testing.TB, addr netip.Addr) (*net.TCPListener, netip.AddrPort) {
	t.Helper()
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l, l.Addr().(*net.TCPAddr).AddrPort()
}

// probeClosedPort reserves a port on addr with a socket that is bound but
// neither listening nor connected, so nothing else takes the port during
// the test and the kernel answers a SYN to it with a RST.
func probeClosedPort(t testing.TB, addr netip.Addr, sotype int) netip.AddrPort {
	t.Helper()
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: addr.As16()})
	if addr.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: addr.As4()}
	}
	fd, err := unix.Socket(family, sotype|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		t.Fatalf("bind %s: %v", addr, err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	switch sa := got.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(addr, uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(addr, uint16(sa.Port))
	}
	t.Fatalf("getsockname: unexpected %T", got)
	return netip.AddrPort{}
}

// probeNetns is a network namespace a test created: loopback up, an
// nftables ruleset loaded, deleted when the test ends.
type probeNetns struct {
	t    testing.TB
	name string
}

// probeNewNetns creates a namespace named lvs-test-<random> with lo up and
// loads ruleset (nft syntax, may be empty) into it.
func probeNewNetns(t testing.TB, ruleset string) *probeNetns {
	t.Helper()
	probeNeedRoot(t, "a network namespace")
	n := &probeNetns{t: t, name: fmt.Sprintf("lvs-test-%08x", rand.Uint32())}
	n.ip("netns", "add", n.name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", n.name, err, out)
		}
	})
	n.ip("-n", n.name, "link", "set", "lo", "up")
	if ruleset != "" {
		if _, err := exec.LookPath("nft"); err != nil {
			t.Fatalf("nft is needed to drop packets in a test namespace (apt-get install nftables): %v", err)
		}
		cmd := exec.Command("ip", "netns", "exec", n.name, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(ruleset)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft -f in %s: %v: %s\n%s", n.name, err, out, ruleset)
		}
	}
	return n
}

// probeNet is two namespaces joined by a veth pair: the checks run in
// checker and probe addresses of target, so packets cross a link as they
// would to a real server. The addresses are documentation prefixes, which
// exist only inside these namespaces. The checker's first addresses are
// its default sources; it has a second address per family (alt4, alt6)
// for checks with a Source option (alt6 is deprecated, so IPv6's source
// selection never prefers it; IPv4 takes the primary address). It also has "unreachable" routes to
// unroutable4/6's prefixes, which fail a send at once with "no route to
// host" (EHOSTUNREACH, the errno a router's ICMP host unreachable gives
// too), "prohibit" routes to prohibited4/6 (EACCES), no route at all to
// noroute4/6 (ENETUNREACH), and does not have
// absent4/6 on any interface (a source address the host lacks). The
// target answers every packet with an ICMP error if its firewall says so:
// its ICMP rate limits are off, so that many checks in a row each get
// theirs.
type probeNet struct {
	checker, target          *probeNetns
	target4, target6         netip.Addr
	alt4, alt6               netip.Addr
	unroutable4, unroutable6 netip.Addr
	noroute4, noroute6       netip.Addr
	prohibited4, prohibited6 netip.Addr
	absent4, absent6         netip.Addr
}

// probeNewNet creates the pair with the given rulesets.
func probeNewNet(t testing.TB, checkerRules, targetRules string) *probeNet {
	t.Helper()
	n := &probeNet{
		checker: probeNewNetns(t, checkerRules),
		target:  probeNewNetns(t, targetRules),
		target4: netip.MustParseAddr("192.0.2.2"),
		target6: netip.MustParseAddr("2001:db8::2"),
		alt4:    netip.MustParseAddr("192.0.2.3"),
		alt6:    netip.MustParseAddr("2001:db8::ff"),

		unroutable4: netip.MustParseAddr("198.51.100.1"),
		unroutable6: netip.MustParseAddr("2001:db8:1::1"),
		noroute4:    netip.MustParseAddr("203.0.113.1"),
		noroute6:    netip.MustParseAddr("2001:db8:2::1"),
		prohibited4: netip.MustParseAddr("198.51.100.129"),
		prohibited6: netip.MustParseAddr("2001:db8:3::1"),
		absent4:     netip.MustParseAddr("192.0.2.77"),
		absent6:     netip.MustParseAddr("2001:db8::77"),
	}
	c, tg := n.checker, n.target
	c.ip("-n", c.name, "link", "add", "c0", "type", "veth", "peer", "name", "t0", "netns", tg.name)
	c.ip("-n", c.name, "addr", "add", "192.0.2.1/24", "dev", "c0")
	c.ip("-n", c.name, "addr", "add", "2001:db8::1/64", "dev", "c0", "nodad")
	c.ip("-n", c.name, "addr", "add", "192.0.2.3/24", "dev", "c0")
	c.ip("-n", c.name, "addr", "add", "2001:db8::ff/64", "dev", "c0", "nodad", "preferred_lft", "0")
	c.ip("-n", c.name, "link", "set", "c0", "up")
	tg.ip("-n", tg.name, "addr", "add", "192.0.2.2/24", "dev", "t0")
	tg.ip("-n", tg.name, "addr", "add", "2001:db8::2/64", "dev", "t0", "nodad")
	tg.ip("-n", tg.name, "link", "set", "t0", "up")
	c.ip("-n", c.name, "route", "add", "unreachable", "198.51.100.0/24")
	c.ip("-n", c.name, "-6", "route", "add", "unreachable", "2001:db8:1::/64")
	c.ip("-n", c.name, "route", "add", "prohibit", "198.51.100.128/25")
	c.ip("-n", c.name, "-6", "route", "add", "prohibit", "2001:db8:3::/64")
	tg.run(func() {
		for _, f := range []string{"/proc/sys/net/ipv4/icmp_ratelimit", "/proc/sys/net/ipv6/icmp/ratelimit"} {
			if err := os.WriteFile(f, []byte("0"), 0o644); err != nil {
				t.Fatalf("turn the ICMP rate limit off in %s: %v", tg.name, err)
			}
		}
	})
	// The kernel turns the carrier on asynchronously (linkwatch, up to a
	// second later); until then both ends drop what they send.
	for _, end := range []struct{ ns, dev string }{{c.name, "c0"}, {tg.name, "t0"}} {
		testutil.Poll(t, 5*time.Second, 10*time.Millisecond, func() error {
			out, err := exec.Command("ip", "-n", end.ns, "-o", "link", "show", end.dev).CombinedOutput()
			if err == nil && strings.Contains(string(out), "state UP") {
				return nil
			}
			return fmt.Errorf("%s in %s is not up: %v: %s", end.dev, end.ns, err, out)
		})
	}
	return n
}

// listenTCP listens on addr:port inside the namespace (port 0: any).
func (n *probeNetns) listenTCP(addr netip.Addr, port uint16) (*net.TCPListener, netip.AddrPort) {
	n.t.Helper()
	var l *net.TCPListener
	var err error
	n.run(func() { l, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, port))) })
	if err != nil {
		n.t.Fatalf("listen on %s:%d in %s: %v", addr, port, n.name, err)
	}
	n.t.Cleanup(func() { l.Close() })
	return l, l.Addr().(*net.TCPAddr).AddrPort()
}

// targets returns the target namespace's addresses.
func (n *probeNet) targets() []netip.Addr { return []netip.Addr{n.target4, n.target6} }

func (n *probeNetns) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// enter moves the calling thread into the namespace.
func (n *probeNetns) enter() error {
	f, err := os.Open("/run/netns/" + n.name)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// run calls f on a thread inside the namespace and waits for it. Sockets f
// creates belong to the namespace; goroutines f starts do not (they run on
// other threads), which is why a check that opens its socket on another
// goroutine has a hook for tests to start that goroutine (see goIn).
func (n *probeNetns) run(f func()) {
	n.t.Helper()
	probeOnThread(n.t, n.enter, f)
}

// goIn starts f on a thread inside the namespace without waiting.
func (n *probeNetns) goIn(f func()) { probeGoThread(n.t, n.enter, f) }

// probeWithoutNetRaw runs f on a thread that has lost CAP_NET_RAW
// (capabilities are per thread on Linux) and waits for it.
func probeWithoutNetRaw(t testing.TB, f func()) { probeOnThread(t, probeDropNetRaw, f) }

// probeOnThread runs f on a new thread that setup changed (its namespace,
// its capabilities) and waits for it. The goroutine exits without
// unlocking its thread, so the Go runtime destroys the thread instead of
// reusing it for other goroutines.
func probeOnThread(t testing.TB, setup func() error, f func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := setup(); err != nil {
			errc <- err
			return
		}
		f()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("prepare a test thread: %v", err)
	}
}

// probeGoThread is probeOnThread without waiting for f.
func probeGoThread(t testing.TB, setup func() error, f func()) {
	go func() {
		runtime.LockOSThread()
		if err := setup(); err != nil {
			t.Errorf("prepare a test thread: %v", err)
			return
		}
		f()
	}()
}

// probeDropNetRaw removes CAP_NET_RAW from the calling thread.
func probeDropNetRaw() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Effective &^= 1 << unix.CAP_NET_RAW
	data[0].Permitted &^= 1 << unix.CAP_NET_RAW
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// probeHere runs f in the test's own namespace.
func probeHere(f func()) { f() }

// probeWant checks a Result's class and that its reason contains want.
func probeWant(t testing.TB, got Result, class Class, reason string) {
	t.Helper()
	if got.Class != class || !strings.Contains(got.Reason, reason) {
		t.Errorf("got %s %q, want %s with reason containing %q", got.Class, got.Reason, class, reason)
	}
}

// probeWantLatency checks that a duration lies in [lo, hi].
func probeWantLatency(t testing.TB, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("took %s, want between %s and %s", got, lo, hi)
	}
}

// synScanner opens a SYN scanner in the namespace, closed when the test
// ends.
func (n *probeNetns) synScanner(t testing.TB) *SYNScanner {
	t.Helper()
	var s *SYNScanner
	var err error
	n.run(func() { s, err = NewSYNScanner() })
	if err != nil {
		t.Fatalf("NewSYNScanner in namespace %s: %v", n.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
