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

// TestControllerPersistentDrain runs a persistent service (persistence
// 300 s, rr) whose checks probe a port of their own on each real server,
// so a real server can fail its check while it still serves: the drain
// is then the only thing between a sticky client and that server. A
// client sends a request every 100 ms, a new connection each; with
// persistence all of them go to one server, S.
//
//   - net.ipv4.vs.expire_quiescent_template=0 (the kernel's default): the
//     sidecar warns once that drains keep persistent clients and
//     ipvs_controller_drain_keeps_persistent_clients is 1. S's check
//     fails, S is drained (weight 0), and the client keeps being served
//     by S: its persistence template still points there.
//   - then set to 1: the gauge goes to 0 at the next pass, and from then
//     on the client is sent to another server (the kernel expires the
//     template of a quiescent server at its next use), none to S.
func TestControllerPersistentDrain(t *testing.T) {
	requireLab(t)
	const checkPort = 9094
	svc := ctlService{name: "ctl-persist", port: 8094,
		servers: []ctlServer{{n: 1, weight: 1}, {n: 2, weight: 1}, {n: 3, weight: 1}}}
	svc.prepare(t)
	setEQT := func(v int) {
		t.Helper()
		inNS(t, "director", "sh", "-c", fmt.Sprintf("echo %d > /proc/sys/net/ipv4/vs/expire_quiescent_template", v))
	}
	setEQT(0)
	t.Cleanup(func() { setEQT(0) })
	checks := map[int]*rsListener{}
	for _, s := range svc.servers {
		serveHTTPInRS(t, s.n, svc.port)
		checks[s.n] = listenInRS(t, rsNS(s.n), checkPort)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `services:
  - name: %s
    address: %s
    scheduler: rr
    persistence: 300s
    real_servers:
`, svc.name, svc.vip(t))
	for _, s := range svc.servers {
		fmt.Fprintf(&b, "      - {address: %s, weight: %d, forward: nat}\n", svc.server(s.n), s.weight)
	}
	fmt.Fprintf(&b, `    checks:
      - {type: tcp, port: %d, schedule: "@every %v", timeout: %v, rise: %d, fall: %d, fast_interval: 0s, down_interval: 0s, jitter: 0s}
controller:
  period: %v
`, checkPort, ctlInterval, ctlTimeout, ctlRise, ctlFall, ctlPeriod)
	cfg := filepath.Join(t.TempDir(), "persist.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	sc := startSidecar(t, "--config.file="+cfg)
	k := directorKernel(t)
	key := svc.key(t)
	declared := svc.declaredWeights()
	k.awaitWeights(t, key, declared, 15*time.Second)
	awaitMetric(t, sc, 5*time.Second, 1, "ipvs_controller_drain_keeps_persistent_clients", "service", key)
	awaitMetric(t, sc, 5*time.Second, 0, "ipvs_sysctl", "name", "expire_quiescent_template")

	tr := startTraffic(t, "http://"+svc.vip(t)+"/", 100*time.Millisecond)
	defer tr.halt()
	tr.awaitRequests(t, time.Time{}, 5, 10*time.Second)
	sticky := ""
	for _, q := range tr.requests() {
		if q.err != nil {
			t.Fatalf("request before any drain failed: %v", q.err)
		}
		if sticky == "" {
			sticky = q.server
		} else if q.server != sticky {
			t.Fatalf("persistence did not hold: answered by %s and %s", sticky, q.server)
		}
	}
	n := 0
	fmt.Sscanf(sticky, "rs%d", &n)
	if checks[n] == nil {
		t.Fatalf("answered by %q, not a real server of the test", sticky)
	}
	t.Logf("the client sticks to %s", sticky)

	// expire_quiescent_template 0: drained, and still serving its client.
	checks[n].close(t)
	drained := k.awaitWeights(t, key, with(declared, svc.server(n), 0), 2*ctlDrainBound)
	tr.awaitRequests(t, drained, 10, 10*time.Second)
	toSticky, total := 0, 0
	for _, q := range tr.requests() {
		if q.start.Before(drained) {
			continue
		}
		total++
		if q.err == nil && q.server == sticky {
			toSticky++
		}
	}
	t.Logf("expire_quiescent_template=0: %d of %d requests after the drain went to the drained %s", toSticky, total, sticky)
	if toSticky != total {
		t.Errorf("with expire_quiescent_template=0 only %d of %d requests after the drain reached the drained sticky server; the kernel's documented behaviour is all", toSticky, total)
	}
	if c := strings.Count(sc.log(), "expire_quiescent_template is 0"); c != 1 {
		t.Errorf("the warning was logged %d times, want once:\n%s", c, sc.log())
	}

	// expire_quiescent_template 1: the sticky client moves.
	setEQT(1)
	set := time.Now()
	awaitMetric(t, sc, 5*time.Second, 0, "ipvs_controller_drain_keeps_persistent_clients", "service", key)
	tr.awaitRequests(t, set, 10, 10*time.Second)
	moved, stayed := 0, 0
	for _, q := range tr.requests() {
		if q.start.Before(set) {
			continue
		}
		switch {
		case q.err != nil:
			t.Errorf("request at %s failed: %v", q.start.Format("15:04:05.000"), q.err)
		case q.server == sticky:
			stayed++
		default:
			moved++
		}
	}
	t.Logf("expire_quiescent_template=1: %d requests went to other servers, %d to the drained %s", moved, stayed, sticky)
	if stayed != 0 || moved < 10 {
		t.Errorf("with expire_quiescent_template=1: %d requests still reached the drained server, %d moved; want 0 and at least 10", stayed, moved)
	}
}
