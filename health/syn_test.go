package health

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// probeSYNScanner opens a scanner in the calling thread's namespace for
// the test.
func probeSYNScanner(t *testing.T) *SYNScanner {
	t.Helper()
	probeNeedRoot(t, "the SYN check (raw sockets)")
	s, err := NewSYNScanner()
	if err != nil {
		t.Fatalf("NewSYNScanner: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSYNLoopback(t *testing.T) {
	s := probeSYNScanner(t)
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			t.Run("open, and no connection reaches the server", func(t *testing.T) {
				l, target := probeListenTCP(t, addr)
				r, _ := probeTimed(NewSYN(target, SYNOptions{Scanner: s}), 2*time.Second)
				probeWant(t, r, ClassOpen, "SYN-ACK")
				if r.Latency <= 0 {
					t.Errorf("latency %s, want > 0", r.Latency)
				}
				// The kernel reset the half-open connection: the server
				// has nothing to accept.
				_ = l.SetDeadline(time.Now().Add(300 * time.Millisecond))
				if conn, err := l.Accept(); err == nil {
					conn.Close()
					t.Fatalf("the server accepted a connection from %s after a SYN check", conn.RemoteAddr())
				} else if !errors.Is(err, unix.ETIMEDOUT) && !strings.Contains(err.Error(), "timeout") {
					t.Fatalf("accept: %v", err)
				}
				// The control: the connect check's connection does arrive.
				probeWant(t, probeCheck(NewTCP(target, TCPOptions{}), 2*time.Second), ClassOpen, "")
				_ = l.SetDeadline(time.Now().Add(2 * time.Second))
				conn, err := l.Accept()
				if err != nil {
					t.Fatalf("accept after a connect check: %v", err)
				}
				conn.Close()
			})
			t.Run("closed", func(t *testing.T) {
				target := probeClosedPort(t, addr, unix.SOCK_STREAM)
				r, _ := probeTimed(NewSYN(target, SYNOptions{Scanner: s}), 2*time.Second)
				probeWant(t, r, ClassClosed, "RST (port closed)")
			})
			t.Run("source of the other family", func(t *testing.T) {
				_, target := probeListenTCP(t, addr)
				other := netip.MustParseAddr("::1")
				if addr.Is6() {
					other = netip.MustParseAddr("127.0.0.1")
				}
				r, _ := probeTimed(NewSYN(target, SYNOptions{Scanner: s, Source: other}), 2*time.Second)
				probeWant(t, r, ClassError, "different address families")
			})
		})
	}
}

// TestSYNConcurrent runs many checks at once through one scanner, half to
// open ports and half to closed ones, several per port: each must get its
// own answer.
func TestSYNConcurrent(t *testing.T) {
	s := probeSYNScanner(t)
	var targets []synTarget
	for _, addr := range probeLoopbacks {
		for range 10 {
			_, open := probeListenTCP(t, addr)
			targets = append(targets, synTarget{open, ClassOpen}, synTarget{probeClosedPort(t, addr, unix.SOCK_STREAM), ClassClosed})
		}
	}
	synCheckAtOnce(t, s, targets, 10)
}

// synTarget is a SYN check's target and the class it must get.
type synTarget struct {
	ap   netip.AddrPort
	want Class
}

// synCheckAtOnce runs perTarget SYN checks of every target at once
// through s and reports each that got another class than its target's.
func synCheckAtOnce(t *testing.T, s *SYNScanner, targets []synTarget, perTarget int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, len(targets)*perTarget)
	for _, tg := range targets {
		for range perTarget {
			wg.Go(func() {
				r, _ := probeTimed(NewSYN(tg.ap, SYNOptions{Scanner: s}), 3*time.Second)
				if r.Class != tg.want {
					errs <- fmt.Sprintf("%s: got %s %q, want %s", tg.ap, r.Class, r.Reason, tg.want)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestSYNNamespace gives the SYN check the connect check's targets: both
// must reach the same verdict.
func TestSYNNamespace(t *testing.T) {
	n := probeNewNet(t, probeCheckerFirewall, probeTargetFirewall)
	s := n.checker.synScanner(t)
	const timeout = 300 * time.Millisecond
	for _, addr := range n.targets() {
		_, open := n.target.listenTCP(addr, 0)
		for _, tc := range probeNetTargets(n, addr, open.Port()) {
			t.Run(probeFamily(addr)+"/"+tc.name, func(t *testing.T) {
				syn := tc
				// The raw ICMP socket sees every error at once.
				syn.mayWait = false
				switch tc.name {
				case "open":
					syn.reason = "SYN-ACK"
				case "closed":
					syn.reason = "RST (port closed)"
				case "unreachable route", "no route", "prohibit route":
					syn.reason = "route to the target: " + tc.reason
				case "dropped on the way out":
					// A raw send gets the firewall's verdict at once, and
					// no packet left: the director's trouble, where the
					// connect check's SYN retransmits into silence.
					syn.class, syn.untilDeadline = ClassLocalError, false
					syn.reason = "send the SYN: operation not permitted (EPERM): this director's firewall refused the packet"
				}
				r := probeCheckNet(t, n, NewSYN(tc.target, SYNOptions{Scanner: s}), syn, timeout)
				if tc.name == "dropped on the way out" {
					return
				}
				var connect Result
				n.checker.run(func() { connect, _ = probeTimed(NewTCP(tc.target, TCPOptions{}), timeout) })
				if connect.Class != r.Class {
					t.Errorf("syn says %s (%s), connect says %s (%s)", r.Class, r.Reason, connect.Class, connect.Reason)
				}
			})
		}
	}
	for _, fam := range []struct{ target, alt, absent netip.Addr }{{n.target4, n.alt4, n.absent4}, {n.target6, n.alt6, n.absent6}} {
		_, l := n.target.listenTCP(fam.target, probePortAltOnly)
		t.Run(probeFamily(fam.target)+"/source", func(t *testing.T) {
			probeCheckNet(t, n, NewSYN(l, SYNOptions{Scanner: s}), probeNetCase{class: ClassFiltered, untilDeadline: true}, timeout)
			probeCheckNet(t, n, NewSYN(l, SYNOptions{Scanner: s, Source: fam.alt}), probeNetCase{class: ClassOpen}, timeout)
			probeCheckNet(t, n, NewSYN(l, SYNOptions{Scanner: s, Source: fam.absent}), probeNetCase{class: ClassLocalError,
				reason: "send the SYN from " + fam.absent.String() + ": the address is not on this director"}, timeout)
		})
	}
}

func TestSYNWithoutNetRaw(t *testing.T) {
	probeNeedRoot(t, "dropping CAP_NET_RAW")
	_, target := probeListenTCP(t, probeLoopbacks[0])
	var err error
	var r Result
	probeWithoutNetRaw(t, func() {
		_, err = NewSYNScanner()
		c := NewSYN(target, SYNOptions{})
		c.shared = &synLazy{open: NewSYNScanner} // not the process's scanner, which may be open already
		r, _ = probeTimed(c, time.Second)
	})
	if !errors.Is(err, ErrNoNetRaw) {
		t.Errorf("NewSYNScanner without CAP_NET_RAW: %v, want ErrNoNetRaw", err)
	}
	probeWant(t, r, ClassLocalError, "CAP_NET_RAW")
	t.Logf("reason: %s", r.Reason)
}

// TestSYNChecksum recomputes the checksums of SYNs the kernel sent (taken
// with tcpdump -xx on a veth without checksum offload).
func TestSYNChecksum(t *testing.T) {
	for _, tc := range []struct {
		name, src, dst, seg string
		want                uint16
	}{
		{"v4", "192.0.2.1", "192.0.2.2", "e7560050b3a5e6b900000000a002faf0f3d50000020405b40402080a290e2a1e000000000103030a", 0xf3d5},
		{"v6", "2001:db8::1", "2001:db8::2", "dd760050b228607400000000a002fd20481c0000020405a00402080a325184aa000000000103030a", 0x481c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seg, err := hex.DecodeString(strings.ReplaceAll(tc.seg, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			seg[16], seg[17] = 0, 0
			if got := synChecksum(netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst), seg); got != tc.want {
				t.Errorf("checksum %#04x, want %#04x", got, tc.want)
			}
		})
	}
}

func TestSYNParseUnreachable(t *testing.T) {
	// An ICMP host unreachable quoting a SYN 192.0.2.1:40000 > 192.0.2.2:80
	// with sequence 0x01020304, and the same with a non-TCP quote.
	quote := func(proto byte) []byte {
		ip := []byte{0x45, 0, 0, 44, 0, 0, 0, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
		tcp := []byte{0x9c, 0x40, 0, 80, 1, 2, 3, 4}
		return append(append([]byte{3, 1, 0, 0, 0, 0, 0, 0}, ip...), tcp...)
	}
	k, seq, code, ok := synParseUnreachable(quote(unix.IPPROTO_TCP), false)
	want := synKey{remote: netip.MustParseAddrPort("192.0.2.2:80"), local: 40000}
	if !ok || k != want || seq != 0x01020304 || code != 1 {
		t.Errorf("got %v %#x code %d %v, want %v 0x1020304 code 1 true", k, seq, code, ok, want)
	}
	if _, _, _, ok := synParseUnreachable(quote(unix.IPPROTO_UDP), false); ok {
		t.Error("an unreachable quoting UDP was taken for a SYN's")
	}
	if _, _, _, ok := synParseUnreachable(quote(unix.IPPROTO_TCP)[:30], false); ok {
		t.Error("a truncated unreachable was parsed")
	}
}
