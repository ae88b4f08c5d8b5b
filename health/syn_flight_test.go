package health

import (
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"golang.org/x/sys/unix"
)

// synSilentRules drop SYNs to probePortDropped on a namespace's loopback,
// counting them per family.
const synSilentRules = `table inet lvs_test {
	counter syn4 { }
	counter syn6 { }
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr 127.0.0.1 tcp dport 81 tcp flags & (syn | ack) == syn counter name "syn4" drop
		ip6 daddr ::1 tcp dport 81 tcp flags & (syn | ack) == syn counter name "syn6" drop
	}
}
`

// synSilent returns a namespace whose loopback drops SYNs to
// probePortDropped, and a scanner in it.
func synSilent(t *testing.T) (*probeNetns, *SYNScanner) {
	t.Helper()
	n := probeNewNetns(t, synSilentRules)
	s := n.synScanner(t)
	// Ports of single checks come from the namespace too, as NetNS has
	// them.
	s.do = func(fn func() error) (err error) {
		n.run(func() { err = fn() })
		return err
	}
	return n, s
}

// synSilentTarget is the dropped port of addr in a synSilent namespace.
func synSilentTarget(addr string) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(addr), probePortDropped)
}

// synDropped returns how many SYNs towards addr n's firewall dropped.
func synDropped(t *testing.T, n *probeNetns, addr string) int {
	t.Helper()
	name := "syn4"
	if addr == "::1" {
		name = "syn6"
	}
	out, err := exec.Command("ip", "netns", "exec", n.name, "nft", "list", "counter", "inet", "lvs_test", name).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list counter %s: %v: %s", name, err, out)
	}
	m := regexp.MustCompile(`packets (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no packet count in %q", out)
	}
	k, _ := strconv.Atoi(string(m[1]))
	return k
}

// synStartAsync starts c on the scheduler's path and returns its cancel
// and a channel of its results, which has room for more than the one it
// must get. A result startAsync returns at once (an answer that came
// while it sent) goes to the channel too.
func synStartAsync(t *testing.T, c *SYN, timeout time.Duration) (func(), <-chan Result) {
	t.Helper()
	results := make(chan Result, 2)
	cancel, r, started := c.startAsync(timeout, sinkFunc(func(r Result) { results <- r }))
	if !started {
		results <- r
		cancel = func() {}
	}
	return cancel, results
}

// synIdle fails the test unless s has no probe registered or in flight.
func synIdle(t *testing.T, s *SYNScanner) {
	t.Helper()
	s.mu.Lock()
	registered, flying := len(s.probes), len(s.flights)
	s.mu.Unlock()
	if registered != 0 || flying != 0 {
		t.Errorf("%d probes registered and %d in the heap, want none", registered, flying)
	}
}

func TestSYNAsyncAnswers(t *testing.T) {
	s := probeSYNScanner(t)
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			_, open := probeListenTCP(t, addr)
			closed := probeClosedPort(t, addr, unix.SOCK_STREAM)
			for _, tc := range []struct {
				target synTarget
				reason string
			}{{synTarget{open, ClassOpen}, "SYN-ACK"}, {synTarget{closed, ClassClosed}, "RST (port closed)"}} {
				_, results := synStartAsync(t, NewSYN(tc.target.ap, SYNOptions{Scanner: s}), 2*time.Second)
				r := <-results
				probeWant(t, r, tc.target.want, tc.reason)
				if r.Latency <= 0 {
					t.Errorf("latency %s, want > 0", r.Latency)
				}
			}
			synIdle(t, s)
		})
	}
}

// TestSYNAsyncDeadline: with no answer, the scanner's timer completes
// the check at its deadline, filtered, having sent one SYN (no resend is
// due before a second).
func TestSYNAsyncDeadline(t *testing.T) {
	n, s := synSilent(t)
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			target := synSilentTarget(addr)
			_, results := synStartAsync(t, NewSYN(target, SYNOptions{Scanner: s}), 300*time.Millisecond)
			probeWant(t, <-results, ClassFiltered, "no answer to SYN within 300ms")
			synIdle(t, s)
			if got := synDropped(t, n, addr); got != 1 {
				t.Errorf("%d SYNs reached the target, want 1", got)
			}
		})
	}
}

// TestSYNResends: an unanswered SYN goes again after 1s and after 2s
// more, as the kernel's connect sends it, on the scheduler's path (the
// scanner's timer, IPv4 here) and on Check's (IPv6) alike.
func TestSYNResends(t *testing.T) {
	n, s := synSilent(t)
	const timeout = 3800 * time.Millisecond
	_, results := synStartAsync(t, NewSYN(synSilentTarget("127.0.0.1"), SYNOptions{Scanner: s}), timeout)
	r := probeCheck(NewSYN(synSilentTarget("::1"), SYNOptions{Scanner: s}), timeout)
	probeWant(t, r, ClassFiltered, "no answer to SYN within")
	probeWant(t, <-results, ClassFiltered, "no answer to SYN within 3.8s")
	synIdle(t, s)
	for _, addr := range []string{"127.0.0.1", "::1"} {
		if got := synDropped(t, n, addr); got != 3 {
			t.Errorf("%s: %d SYNs reached the target, want 3 (at 0s, 1s and 3s)", addr, got)
		}
	}
}

// TestSYNAsyncCancel: cancel completes an in-flight check as canceled,
// once, and frees its port; a stale cancel (of a probe since reused)
// leaves the new check alone.
func TestSYNAsyncCancel(t *testing.T) {
	_, s := synSilent(t)
	c := NewSYN(synSilentTarget("127.0.0.1"), SYNOptions{Scanner: s})
	cancelA, a := synStartAsync(t, c, 5*time.Second)
	cancelA()
	probeWant(t, <-a, ClassError, probeCanceledReason)
	synIdle(t, s)
	cancelB, b := synStartAsync(t, c, 5*time.Second)
	cancelA()
	cancelB()
	cancelB()
	probeWant(t, <-b, ClassError, probeCanceledReason)
	// The next check's result comes after any stray one of B's: both
	// come from the timer, in order.
	cancelC, cc := synStartAsync(t, c, 5*time.Second)
	cancelC()
	probeWant(t, <-cc, ClassError, probeCanceledReason)
	if len(a)+len(b) != 0 {
		t.Errorf("a canceled check got %d more results", len(a)+len(b))
	}
	synIdle(t, s)
}

// TestSYNAsyncManyInFlight: hundreds of checks towards one silent target
// are in flight at once with no goroutine of their own (more than the
// pool's ports: the rest reserve their own), all resent by the one timer
// and each completed once at its deadline.
func TestSYNAsyncManyInFlight(t *testing.T) {
	n, s := synSilent(t)
	const checks = 300
	target := synSilentTarget("127.0.0.1")
	before := runtime.NumGoroutine()
	results := make(chan Result, 2*checks)
	for range checks {
		c := NewSYN(target, SYNOptions{Scanner: s})
		if _, r, started := c.startAsync(1500*time.Millisecond, sinkFunc(func(r Result) { results <- r })); !started {
			t.Fatalf("did not start: %s %q", r.Class, r.Reason)
		}
	}
	s.mu.Lock()
	registered := len(s.probes)
	s.mu.Unlock()
	if registered+len(results) != checks {
		t.Errorf("%d probes registered and %d done, want %d in all", registered, len(results), checks)
	}
	if now := runtime.NumGoroutine(); now > before+checks/10 {
		t.Errorf("%d goroutines with %d checks in flight, %d before", now, checks, before)
	}
	for i := range checks {
		if r := <-results; r.Class != ClassFiltered {
			t.Fatalf("check %d: %s %q, want filtered", i, r.Class, r.Reason)
		}
	}
	synIdle(t, s)
	if got := synDropped(t, n, "127.0.0.1"); got != 2*checks {
		t.Errorf("%d SYNs reached the target, want %d (each sent and resent once)", got, 2*checks)
	}
	if len(results) != 0 {
		t.Errorf("%d results more than checks", len(results))
	}
	testutil.Poll(t, 10*time.Second, 10*time.Millisecond, func() error {
		if now := runtime.NumGoroutine(); now > before {
			return fmt.Errorf("%d goroutines, %d before", now, before)
		}
		return nil
	})
}
