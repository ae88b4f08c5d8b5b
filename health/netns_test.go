package health

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// netnsTargets starts, in the target namespace of n, an HTTP server on
// TCP (for the tcp, syn and http checks) and a UDP echo server, and
// returns Build's targets for them: one check of every type.
func netnsTargets(t *testing.T, n *probeNet, deps BuildDeps) []Target {
	t.Helper()
	l, tcp := n.target.listenTCP(n.target4, 0)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
			}()
		}
	}()
	var pc *net.UDPConn
	var err error
	n.target.run(func() { pc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(n.target4, 0))) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			k, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteToUDPAddrPort(buf[:k], from)
		}
	}()
	udp := pc.LocalAddr().(*net.UDPAddr).AddrPort()

	cfg, err := config.Parse(fmt.Appendf(nil, `
services:
  - name: web
    address: 203.0.113.1:%[1]d
    protocol: tcp
    real_servers: [{address: "%[2]s", forward: nat}]
    checks: [{type: tcp}, {type: syn}, {type: http, path: /}, {type: icmp}]
  - name: echo
    address: 203.0.113.1:%[3]d
    protocol: udp
    real_servers: [{address: "%[4]s", forward: nat}]
    checks: [{type: udp, payload: "ping", expect: "ping"}]
`, tcp.Port(), tcp, udp.Port(), udp), "netns.yml")
	if err != nil {
		t.Fatal(err)
	}
	targets, err := Build(cfg, nil, deps)
	if err != nil {
		t.Fatal(err)
	}
	return targets
}

// runAll runs every check of targets once and returns the results by
// check type. It calls them from a thread in a namespace of its own with
// only lo, so that a check that did not use its NetNS could reach nothing
// (and send nothing off the machine).
func runAll(t *testing.T, targets []Target) map[string]Result {
	t.Helper()
	out := map[string]Result{}
	isolated := probeNewNetns(t, "")
	isolated.run(func() {
		for _, tg := range targets {
			for _, c := range tg.Checks {
				ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
				out[c.Type] = c.Checker.Check(ctx)
				cancel()
			}
		}
	})
	return out
}

// The real servers are reachable only from the checker namespace. With
// BuildDeps.NetNS naming it, every kind of check reaches them, although
// they are called from another namespace; naming yet another namespace,
// none does.
func TestChecksRunInNetNS(t *testing.T) {
	n := probeNewNet(t, "", "")
	elsewhere := probeNewNetns(t, "")
	for _, tc := range []struct {
		ns   *probeNetns
		open bool
	}{{n.checker, true}, {elsewhere, false}} {
		t.Run(tc.ns.name, func(t *testing.T) {
			ns, err := ipvs.OpenNetNS("/run/netns/"+tc.ns.name, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ns.Close()
			targets := netnsTargets(t, n, BuildDeps{NetNS: NewNetNS(ns.Do, ns.Generation)})
			results := runAll(t, targets)
			if len(results) != 5 {
				t.Fatalf("%d check types ran, want 5: %v", len(results), results)
			}
			for typ, r := range results {
				t.Logf("%s: %s %q", typ, r.Class, r.Reason)
				if r.Pass() != tc.open {
					t.Errorf("%s check from %s: %s %q, want open=%v", typ, tc.ns.name, r.Class, r.Reason, tc.open)
				}
			}
		})
	}
}

// When the namespace's path is recreated and re-opened, the checks follow
// it, the SYN checks' raw sockets included.
func TestChecksFollowReopenedNetNS(t *testing.T) {
	n := probeNewNet(t, "", "")
	elsewhere := probeNewNetns(t, "")
	path := filepath.Join(t.TempDir(), "ns")
	point := func(name string) {
		tmp := path + ".new"
		if err := os.Symlink("/run/netns/"+name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	point(elsewhere.name)
	ns, err := ipvs.OpenNetNS(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	targets := netnsTargets(t, n, BuildDeps{NetNS: NewNetNS(ns.Do, ns.Generation)})
	for typ, r := range runAll(t, targets) {
		if r.Pass() {
			t.Errorf("%s check passed from a namespace without the real servers: %q", typ, r.Reason)
		}
	}
	point(n.checker.name)
	ns.Refresh()
	if ns.Generation() != 2 {
		t.Fatalf("generation %d after the re-open, want 2", ns.Generation())
	}
	for typ, r := range runAll(t, targets) {
		if !r.Pass() {
			t.Errorf("%s check after the re-open: %s %q, want open", typ, r.Class, r.Reason)
		}
	}
}

// A check that cannot enter its namespace says why at once, as a local
// error: the director's trouble, not the real server's.
func TestChecksNetNSUnusable(t *testing.T) {
	probeNeedRoot(t, "a network namespace")
	n := probeNewNet(t, "", "")
	ns, err := ipvs.OpenNetNS("/run/netns/"+n.checker.name, nil)
	if err != nil {
		t.Fatal(err)
	}
	targets := netnsTargets(t, n, BuildDeps{NetNS: NewNetNS(ns.Do, ns.Generation)})
	_ = ns.Close()
	start := time.Now()
	for typ, r := range runAll(t, targets) {
		if r.Class != ClassLocalError || !strings.Contains(r.Reason, "closed") {
			t.Errorf("%s check with a closed namespace handle: %s %q, want a local error saying so", typ, r.Class, r.Reason)
		}
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("failing checks took %s: they waited for their timeouts", elapsed)
	}
}
