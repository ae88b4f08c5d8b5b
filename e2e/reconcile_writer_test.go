//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The write path's guarantees under a running sidecar, on the real kernel:
// a drain and a restore keep a tunnel real server's GUE or GRE settings; an
// ip_vs unload and reload is followed without a restart; and with
// --ipvs.netns the checks run from that namespace, not from the sidecar's.

// ipvsadmSaved returns the `ipvsadm -S -n` line of real server server of
// TCP service vip in the director ("-a -t VIP -r RS -i -w 2 --tun-type gue
// --tun-port 6080 --tun-csum"), "" when it is not listed.
func ipvsadmSaved(t *testing.T, vip, server string) string {
	t.Helper()
	for line := range strings.Lines(inNS(t, "director", "ipvsadm", "-S", "-n")) {
		f := strings.Fields(line)
		if len(f) >= 6 && f[0] == "-a" && f[1] == "-t" && f[2] == vip && f[3] == "-r" && f[4] == server {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// TestControllerKeepsTunnelSettings declares a GUE real server (port 6080,
// checksums) and a GRE one (checksums), kills and restarts each one's
// responder, and checks after the drain and after the restore that the
// kernel still has the declared tunnel, as Debian's ipvsadm prints it.
// (The tunnels need not carry traffic for this: the kernel keeps the
// settings of a destination whatever its real server does.)
func TestControllerKeepsTunnelSettings(t *testing.T) {
	requireLab(t)
	const port = 8091
	svc := ctlService{name: "ctl-tunnel", port: port}
	svc.prepare(t)
	vip := svc.vip(t)
	cfg := fmt.Sprintf(`services:
  - name: %s
    address: %s
    protocol: tcp
    scheduler: wrr
    slow_start: 0s
    panic_threshold: 0%%
    real_servers:
      - {address: %s, weight: 2, forward: tun, tunnel: {type: gue, port: 6080, checksum: csum}}
      - {address: %s, weight: 3, forward: tun, tunnel: {type: gre, checksum: csum}}
    checks:
      - {type: tcp, schedule: "@every %v", timeout: %v, rise: %d, fall: %d, fast_interval: 0s, down_interval: 0s, jitter: 0s}
controller:
  mode: managed
  period: %v
`, svc.name, vip, svc.server(1), svc.server(2), ctlInterval, ctlTimeout, ctlRise, ctlFall, ctlPeriod)
	file := filepath.Join(t.TempDir(), "tunnel.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := map[int]*httpRS{1: serveHTTPInRS(t, 1, port), 2: serveHTTPInRS(t, 2, port)}
	sc := startSidecar(t, "--config.file="+file)
	k := directorKernel(t)
	key := "tcp/" + vip
	declared := map[string]int64{svc.server(1): 2, svc.server(2): 3}
	k.awaitWeights(t, key, declared, 15*time.Second)

	tunnels := map[int]string{1: "--tun-type gue --tun-port 6080 --tun-csum", 2: "--tun-type gre --tun-csum"}
	expect := func(when string, n int, weight int64) {
		t.Helper()
		line := ipvsadmSaved(t, vip, svc.server(n))
		want := fmt.Sprintf("-i -w %d %s", weight, tunnels[n])
		if !strings.HasSuffix(line, want) {
			t.Errorf("%s: ipvsadm -S -n lists rs%d as %q, want it to end in %q", when, n, line, want)
		} else {
			t.Logf("%s: %s", when, line)
		}
	}
	expect("declared", 1, 2)
	expect("declared", 2, 3)
	for _, n := range []int{1, 2} {
		rs[n].close(t)
		k.awaitWeights(t, key, with(declared, svc.server(n), 0), 2*ctlDrainBound)
		expect(fmt.Sprintf("rs%d drained", n), n, 0)
		rs[n].open(t)
		k.awaitWeights(t, key, declared, 15*time.Second)
		expect(fmt.Sprintf("rs%d restored", n), n, declared[svc.server(n)])
	}
	t.Logf("ipvsadm -Ln --tun-info:\n%s", inNS(t, "director", "ipvsadm", "-Ln", "--tun-info", "-t", vip))
	if n := strings.Count(sc.log(), `reason="down, drain"`); n != 2 {
		t.Errorf("the sidecar logged %d drains, want 2:\n%s", n, sc.log())
	}
}

// unloadIPVSUnder removes ip_vs while a sidecar's controller keeps
// re-creating its declared service: each try flushes the director's table
// and removes the modules right after.
func unloadIPVSUnder(t *testing.T) {
	t.Helper()
	poll(t, 20*time.Second, func() error {
		_, _ = tryInNS(t, "director", "ipvsadm", "-C")
		for _, m := range lsmodIPVS(t) {
			if m != "ip_vs" {
				_, _ = tryInNS(t, "root", "rmmod", m)
			}
		}
		if _, err := tryInNS(t, "root", "rmmod", "ip_vs"); err != nil {
			return err
		}
		if ipvsLoaded(t) {
			return fmt.Errorf("ip_vs still loaded: %q", lsmodIPVS(t))
		}
		return nil
	})
}

// TestControllerFollowsModuleReload unloads ip_vs under a running sidecar
// and loads it again: the same process re-creates its declared service
// (its writer follows the family's new ID), and a real server killed after
// the reload is drained, without a restart.
func TestControllerFollowsModuleReload(t *testing.T) {
	requireLab(t)
	svc := ctlService{name: "ctl-reload", port: 8092, onFailure: "drain", panic: "0%",
		servers: []ctlServer{{n: 1, weight: 3}, {n: 2, weight: 2}, {n: 3, weight: 1}}}
	svc.prepare(t)
	rs := map[int]*httpRS{}
	for _, s := range svc.servers {
		rs[s.n] = serveHTTPInRS(t, s.n, svc.port)
	}
	sc := startSidecar(t, "--config.file="+svc.config(t, "managed"))
	pid := sc.cmd.Process.Pid
	k := directorKernel(t)
	key := svc.key(t)
	declared := svc.declaredWeights()
	k.awaitWeights(t, key, declared, 15*time.Second)

	unloadIPVSUnder(t)
	t.Log("ip_vs unloaded")
	poll(t, 10*time.Second, func() error {
		if !strings.Contains(sc.log(), "modprobe ip_vs") {
			return fmt.Errorf("the sidecar did not say ip_vs is missing:\n%s", sc.log())
		}
		return nil
	})
	inNS(t, "root", "modprobe", "ip_vs")
	reloaded := time.Now()
	k.awaitWeights(t, key, declared, 15*time.Second)
	t.Logf("service and real servers back %v after modprobe ip_vs", time.Since(reloaded).Round(time.Millisecond))

	victim := svc.server(2)
	killed := time.Now() // when the server starts dying, before close returns
	rs[2].close(t)
	k.awaitWeights(t, key, with(declared, victim, 0), 2*ctlDrainBound)
	t.Logf("rs2 killed after the reload: drained %v later", time.Since(killed).Round(time.Millisecond))
	select {
	case <-sc.exited:
		t.Fatalf("the sidecar exited: %v", sc.err)
	default:
	}
	if sc.cmd.Process.Pid != pid || strings.Count(sc.log(), "starting lvs-sidecar") != 1 {
		t.Errorf("the sidecar was restarted:\n%s", sc.log())
	}
	if strings.Contains(sc.log(), "restart lvs-sidecar") {
		t.Errorf("the sidecar asked for a restart:\n%s", sc.log())
	}
}

// newBareNS makes network namespace name with only lo, up, removed when
// the test ends: a container's own network, from which no real server is
// reachable.
func newBareNS(t *testing.T, name string) {
	t.Helper()
	path := "/run/netns/" + name
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inNS(t, "root", "unshare", "--net="+path, "true")
	t.Cleanup(func() {
		_, _ = tryInNS(t, "root", "umount", path)
		_ = os.Remove(path)
	})
	inNS(t, name, "ip", "link", "set", "lo", "up")
}

// TestChecksFromIPVSNetNS runs the sidecar in a namespace of its own, with
// only lo, and --ipvs.netns naming the director's: its checks reach the
// real servers (reachable only from the director's network), so it builds
// the service there and drains a killed server. The same checks from the
// sidecar's own namespace (a second sidecar without --ipvs.netns, in
// dry_run) cannot run at all: that namespace has no route to the real
// servers, which is the director's trouble, so every check is a
// local_error and no server is judged down.
func TestChecksFromIPVSNetNS(t *testing.T) {
	requireLab(t)
	svc := ctlService{name: "ctl-netns", port: 8093, onFailure: "drain", panic: "0%",
		servers: []ctlServer{{n: 1, weight: 3}, {n: 2, weight: 2}, {n: 3, weight: 1}}}
	svc.prepare(t)
	rs := map[int]*httpRS{}
	for _, s := range svc.servers {
		rs[s.n] = serveHTTPInRS(t, s.n, svc.port)
	}
	const own = "sidecar-own"
	newBareNS(t, own)
	sc := startDaemon(t, own, "/metrics", "lvs-sidecar", "--config.file="+svc.config(t, "managed"), "--ipvs.netns=/run/netns/director")
	k := directorKernel(t)
	key := svc.key(t)
	declared := svc.declaredWeights()
	// Real servers are added once their checks pass: the checks ran in
	// the director's namespace, and the writes went there.
	k.awaitWeights(t, key, declared, 15*time.Second)
	for _, s := range svc.servers {
		awaitMetric(t, sc, 5*time.Second, 1, "ipvs_real_server_health_state", "service", key, "server", svc.server(s.n), "state", "up")
	}
	rs[1].close(t)
	k.awaitWeights(t, key, with(declared, svc.server(1), 0), 2*ctlDrainBound)
	rs[1].open(t)
	k.awaitWeights(t, key, declared, 15*time.Second)

	alone := startDaemon(t, own, "/metrics", "lvs-sidecar", "--config.file="+svc.config(t, "dry_run"))
	awaitMetric(t, alone, 15*time.Second, float64(len(svc.servers)), "ipvs_health_local_error_real_servers")
	for _, s := range svc.servers {
		if v, _ := metric(alone.scrape(t), "ipvs_real_server_health_state", "service", key, "server", svc.server(s.n), "state", "down"); v != 0 {
			t.Errorf("%s judged down from a namespace without a route to it", svc.server(s.n))
		}
	}
	if !strings.Contains(alone.log(), "ENETUNREACH") {
		t.Errorf("the sidecar without --ipvs.netns does not say there is no route:\n%s", alone.log())
	}
	if n := strings.Count(sc.log(), "real server down"); n != 1 {
		t.Errorf("the sidecar with --ipvs.netns logged %d servers down, want 1 (rs1):\n%s", n, sc.log())
	}
}
