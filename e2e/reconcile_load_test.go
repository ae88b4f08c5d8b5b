//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// labSnmpd is Debian's snmpd in a real server's namespace, answering the
// director (203.0.113.1, its address on the real servers' links) with a
// community, and serving laLoadInt.1 from a file through a pass_persist
// script, so that the test sets the real server's load.
type labSnmpd struct {
	ns, dir, val string
	cmd          *exec.Cmd
}

func startSnmpdInRS(t *testing.T, n, load int) *labSnmpd {
	t.Helper()
	s := &labSnmpd{ns: rsNS(n), dir: t.TempDir()}
	s.val = filepath.Join(s.dir, "laLoadInt")
	s.set(t, load)
	script := filepath.Join(s.dir, "laLoadInt.sh")
	if err := os.WriteFile(script, []byte(testutil.LoadPassScript), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("agentaddress udp:%s:161\nrocommunity lab-director 203.0.113.1/32\npass_persist .1.3.6.1.4.1.2021.10.1.5.1 /bin/sh %s %s\n",
		labRS(n), script, s.val)
	if err := os.WriteFile(filepath.Join(s.dir, "snmpd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *labSnmpd) set(t *testing.T, v int) {
	t.Helper()
	tmp := s.val + ".new"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", v)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.val); err != nil {
		t.Fatal(err)
	}
}

func (s *labSnmpd) start(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("snmpd")
	if err != nil {
		t.Fatalf("snmpd is not in the lab's initramfs (lab/mkinitramfs PROGRAMS): %v", err)
	}
	s.cmd = exec.Command("nsenter", "--net=/run/netns/"+s.ns, bin, "-f", "-C", "-c", filepath.Join(s.dir, "snmpd.conf"),
		"-Lf", filepath.Join(s.dir, "snmpd.log"), "-p", filepath.Join(s.dir, "snmpd.pid"))
	s.cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+filepath.Join(s.dir, "persist"), "MIBS=")
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start snmpd in %s: %v", s.ns, err)
	}
}

func (s *labSnmpd) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

func (s *labSnmpd) log() string {
	data, _ := os.ReadFile(filepath.Join(s.dir, "snmpd.log"))
	lines := strings.Split(string(data), "\n")
	var keep []string
	for _, l := range lines {
		// MIB loading noise: the VM has no MIB files, and needs none.
		if !strings.Contains(l, "MIB") && !strings.Contains(l, "adopt OID") && !strings.Contains(l, "Did not find") && l != "" {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestControllerLoadWeights: two real servers of declared weight 100
// behind a wrr NAT service, each with Debian's snmpd. When rs1's
// laLoadInt rises, its weight in the kernel falls in steps of at most
// max_step to declared × f(load), and the share of new connections it
// gets from a client's steady traffic falls with it; at saturation it
// keeps the floor; once its snmpd stops, the declared weight comes back
// and with it its share.
func TestControllerLoadWeights(t *testing.T) {
	requireLab(t)
	svc := ctlService{name: "ctl-load", port: 8089, onFailure: "drain", panic: "0%",
		load:    "{community: lab-director, interval: 500ms, timeout: 300ms, stale_after: 3, start: 1, full: 5, floor: 20%, max_step: 20%, hysteresis: 0.3}",
		servers: []ctlServer{{n: 1, weight: 100}, {n: 2, weight: 100}}}
	svc.prepare(t)
	for _, s := range svc.servers {
		serveHTTPInRS(t, s.n, svc.port)
	}
	snmp1 := startSnmpdInRS(t, 1, 50)
	snmp2 := startSnmpdInRS(t, 2, 50)
	sc := startSidecar(t, "--config.file="+svc.config(t, "managed"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lvs-sidecar log:\n%s\nsnmpd rs1:\n%s\nsnmpd rs2:\n%s", sc.log(), snmp1.log(), snmp2.log())
		}
	})
	k := directorKernel(t)
	key, rs1, rs2 := svc.key(t), svc.server(1), svc.server(2)
	k.awaitWeights(t, key, map[string]int64{rs1: 100, rs2: 100}, 20*time.Second)
	awaitMetric(t, sc, 20*time.Second, 0.5, "ipvs_real_server_load", "service", key, "server", rs1)
	awaitMetric(t, sc, 20*time.Second, 0.5, "ipvs_real_server_load", "service", key, "server", rs2)

	tr := startTraffic(t, "http://"+svc.vip(t)+"/", 20*time.Millisecond)
	share := func(what string, want, tolerance float64) {
		t.Helper()
		since := time.Now()
		tr.awaitRequests(t, since, 200, 60*time.Second)
		got, total := 0, 0
		for _, r := range tr.requests() {
			if r.start.Before(since) || r.err != nil {
				continue
			}
			total++
			if r.server == "rs1" {
				got++
			}
		}
		f := float64(got) / float64(total)
		t.Logf("%s: rs1 answered %d of %d new connections (%.1f%%, weights give %.1f%%)", what, got, total, 100*f, 100*want)
		if f < want-tolerance || f > want+tolerance {
			t.Errorf("%s: rs1's share of new connections %.3f, want %.3f ± %.2f", what, f, want, tolerance)
		}
	}
	share("idle (weights 100:100)", 0.5, 0.05)

	// Load 3.0: factor 0.6, weight 60, in steps of at most 20.
	set := time.Now()
	snmp1.set(t, 300)
	var trace []string
	var prev int64 = 100
	deadline := time.Now().Add(15 * time.Second)
	for {
		w := k.mustWeights(t, key)
		if w[rs1] != prev {
			trace = append(trace, fmt.Sprintf("%v:%d", time.Since(set).Round(10*time.Millisecond), w[rs1]))
			if d := w[rs1] - prev; d < -20 || d > 20 {
				t.Errorf("rs1's weight jumped from %d to %d, more than max_step 20", prev, w[rs1])
			}
			prev = w[rs1]
		}
		if w[rs2] != 100 {
			t.Fatalf("rs2 (idle) has weight %d, want 100", w[rs2])
		}
		if w[rs1] == 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rs1's weight not 60 within 15s of its load rising to 3.0: %v", trace)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("load 0.5 -> 3.0: rs1's weight in the kernel %v", trace)
	if v, ok := metric(sc.scrape(t), "ipvs_real_server_desired_weight", "service", key, "server", rs1, "reason", "load"); !ok || v != 60 {
		t.Errorf("ipvs_real_server_desired_weight{reason=load} of rs1 = %v (%v), want 60", v, ok)
	}
	share("rs1 busy (weights 60:100)", 60.0/160, 0.05)

	// Saturated: the floor, 20.
	snmp1.set(t, 2000)
	k.awaitWeights(t, key, map[string]int64{rs1: 20, rs2: 100}, 15*time.Second)
	share("rs1 saturated (weights 20:100)", 20.0/120, 0.05)

	// Its snmpd stops: after stale_after × interval, the declared weight.
	stopped := time.Now()
	snmp1.stop()
	at := k.awaitWeights(t, key, map[string]int64{rs1: 100, rs2: 100}, 15*time.Second)
	t.Logf("rs1's snmpd stopped: declared weight 100 in the kernel after %v (stale_after 3 × 500ms)", at.Sub(stopped).Round(10*time.Millisecond))
	if at.Sub(stopped) < time.Second {
		t.Errorf("declared weight back %v after the stop: sooner than stale_after allows", at.Sub(stopped))
	}
	if v, ok := metric(sc.scrape(t), "ipvs_real_server_load_stale", "service", key, "server", rs1); !ok || v != 1 {
		t.Errorf("ipvs_real_server_load_stale of rs1 = %v (%v), want 1", v, ok)
	}
	share("rs1's load stale (weights 100:100)", 0.5, 0.05)
	tr.halt()
	if strings.Count(sc.log(), "real server load is stale") != 1 {
		t.Errorf("the stale episode is not logged exactly once:\n%s", sc.log())
	}
	if strings.Contains(sc.log(), "lab-director") {
		t.Errorf("the community is in the sidecar's log")
	}
}
