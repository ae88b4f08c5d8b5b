//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// Ports of the health tests on every real server, beside topology.sh's
// responders (tcp/80, udp/8000, sctp/8000): the test's own listener, a port
// nothing listens on, and one whose packets the real server drops.
const (
	healthOpenPort     = 8081
	healthClosedPort   = 8082
	healthFilteredPort = 8083
)

// rsNS returns real server n's namespace.
func rsNS(n int) string { return fmt.Sprintf("rs%d", n) }

// TestHealthSYNMatchesConnect checks every real server, over IPv4 and
// IPv6, on an open port (busybox httpd, and a listener of the test), a
// closed one (nothing listens: RST) and a filtered one (nftables drops the
// SYN in the real server's namespace), from the director's namespace with
// the SYN half-open checker and with the connect checker: both must give
// the port's class, every time. The SYN checks must never complete a
// handshake: the test's listeners accept nothing from them.
func TestHealthSYNMatchesConnect(t *testing.T) {
	requireLab(t)
	const (
		timeout = 600 * time.Millisecond
		rounds  = 2
	)
	nrs := 3
	listeners := make([]*rsListener, nrs+1)
	for n := 1; n <= nrs; n++ {
		listeners[n] = listenInRS(t, rsNS(n), healthOpenPort)
		dropTCP(t, rsNS(n), healthFilteredPort)
	}
	scanner := synScannerInNS(t, "director")

	type probe struct {
		name   string
		rs     int
		target netip.AddrPort
		want   health.Class
	}
	var probes []probe
	for n := 1; n <= nrs; n++ {
		for _, addr := range []netip.Addr{labRS(n), labRS6(n)} {
			for _, p := range []struct {
				what string
				port uint16
				want health.Class
			}{
				{"httpd", 80, health.ClassOpen},
				{"listener", healthOpenPort, health.ClassOpen},
				{"no listener", healthClosedPort, health.ClassClosed},
				{"dropped", healthFilteredPort, health.ClassFiltered},
			} {
				target := netip.AddrPortFrom(addr, p.port)
				probes = append(probes, probe{name: fmt.Sprintf("%s/%s/%s", rsNS(n), target, p.what), rs: n, target: target, want: p.want})
			}
		}
	}

	// run checks every probe rounds times with the checker mk makes, the
	// probes in parallel and each one's rounds in turn.
	run := func(mk func(netip.AddrPort) health.Checker) [][]health.Result {
		out := make([][]health.Result, len(probes))
		var wg sync.WaitGroup
		for i, p := range probes {
			c := mk(p.target)
			wg.Go(func() {
				for range rounds {
					r, err := checkInNS("director", c, timeout)
					if err != nil {
						t.Errorf("%s: %v", c, err)
						return
					}
					out[i] = append(out[i], r)
				}
			})
		}
		wg.Wait()
		return out
	}

	before := make([]int64, nrs+1)
	for n := 1; n <= nrs; n++ {
		before[n] = listeners[n].accepts.Load()
	}
	start := time.Now()
	syn := run(func(ap netip.AddrPort) health.Checker {
		return health.NewSYN(ap, health.SYNOptions{Scanner: scanner})
	})
	t.Logf("%d SYN checks in %v", len(probes)*rounds, time.Since(start).Round(time.Millisecond))

	// A connection of the test's own, accepted after anything the SYN
	// checks could have queued: once the listener counted it, it counted
	// every connection before it.
	for n := 1; n <= nrs; n++ {
		l, target := listeners[n], netip.AddrPortFrom(labRS(n), healthOpenPort)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := dialInNS(ctx, "director", "tcp", target.String())
		cancel()
		if err != nil {
			t.Fatalf("dial %s after the SYN checks: %v", target, err)
		}
		poll(t, 5*time.Second, func() error {
			if got := l.accepts.Load() - before[n]; got < 1 {
				return fmt.Errorf("the listener on %s has not accepted the test's connection", target)
			}
			return nil
		})
		c.Close()
		if got := l.accepts.Load() - before[n]; got != 1 {
			t.Errorf("the listener on %s accepted %d connections during the SYN checks: the SYN checker completed handshakes", target, got-1)
		}
	}

	start = time.Now()
	conn := run(func(ap netip.AddrPort) health.Checker { return health.NewTCP(ap, health.TCPOptions{}) })
	t.Logf("%d connect checks in %v", len(probes)*rounds, time.Since(start).Round(time.Millisecond))

	for i, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			if len(syn[i]) != rounds || len(conn[i]) != rounds {
				t.Fatalf("%d SYN and %d connect results, want %d each", len(syn[i]), len(conn[i]), rounds)
			}
			for r := range rounds {
				s, c := syn[i][r], conn[i][r]
				if s.Class != p.want || c.Class != p.want {
					t.Errorf("round %d: SYN %s (%s), connect %s (%s); want %s for both", r, s.Class, s.Reason, c.Class, c.Reason, p.want)
					continue
				}
				t.Logf("round %d: %s: SYN %v (%s), connect %v (%s)", r, p.want,
					s.Latency.Round(time.Microsecond), s.Reason, c.Latency.Round(time.Microsecond), c.Reason)
			}
		})
	}
}
