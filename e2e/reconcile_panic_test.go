//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestControllerPanic stops every real server of a service at once, with
// panic_threshold 30% (and the default 10-point hysteresis), weights 3, 2
// and 1: once all are down the service is in panic
// (ipvs_controller_panic 1, logged once) and every real server has its
// declared weight (fail open), sampled for 2 s. Then the weight-3 server
// answers again: 3 of 6 is 50% of the capacity, at least 30% + 10, so the
// panic lifts (gauge 0, logged once) and the two that are still down are
// drained.
//
// Before the panic, the first servers whose verdicts say down are drained
// as any single failure is while the healthy capacity stays at 30% or
// more, until the capacity left falls below it and the service panics and
// puts them back. Those drains are logged, not failed.
func TestControllerPanic(t *testing.T) {
	requireLab(t)
	svc := ctlService{name: "ctl-panic", port: 8088, onFailure: "drain", panic: "30%",
		servers: []ctlServer{{n: 1, weight: 3}, {n: 2, weight: 2}, {n: 3, weight: 1}}}
	svc.prepare(t)
	ls := map[int]*rsListener{}
	for _, s := range svc.servers {
		ls[s.n] = listenInRS(t, rsNS(s.n), svc.port)
	}
	sc := startSidecar(t, "--config.file="+svc.config(t, "managed"))
	k := directorKernel(t)
	key := svc.key(t)
	declared := svc.declaredWeights()
	k.awaitWeights(t, key, declared, 15*time.Second)
	awaitMetric(t, sc, 5*time.Second, 0, "ipvs_controller_panic", "service", key)

	for _, s := range svc.servers {
		ls[s.n].close(t)
	}
	down := time.Now()
	for _, s := range svc.servers {
		awaitMetric(t, sc, 2*ctlDrainBound, 1, "ipvs_real_server_health_state", "service", key, "server", svc.server(s.n), "state", "down")
	}
	awaitMetric(t, sc, 5*time.Second, 1, "ipvs_controller_panic", "service", key)
	k.awaitWeights(t, key, declared, 5*time.Second)
	t.Logf("all down: in panic with the declared weights %v after the kill; drains before the panic: %d",
		time.Since(down).Round(time.Millisecond), strings.Count(sc.log(), `reason="down, drain"`))

	// In panic, nothing is drained: the weights stay as declared.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if w := k.mustWeights(t, key); !weightsMatch(w, declared) {
			t.Fatalf("in panic, the kernel has %v, want the declared %v", w, declared)
		}
	}
	s := sc.scrape(t)
	if v, _ := metric(s, "ipvs_controller_panic", "service", key); v != 1 {
		t.Errorf("ipvs_controller_panic = %v after 2 s of all servers down, want 1", v)
	}
	if v, _ := metric(s, "ipvs_controller_panic_transitions_total", "service", key, "to", "panic"); v != 1 {
		t.Errorf(`ipvs_controller_panic_transitions_total{to="panic"} = %v, want 1`, v)
	}
	if n := strings.Count(sc.log(), `msg="service in panic`); n != 1 {
		t.Errorf("the sidecar logged the panic %d times, want once:\n%s", n, sc.log())
	}

	ls[1].open(t)
	back := time.Now()
	awaitMetric(t, sc, 10*time.Second, 0, "ipvs_controller_panic", "service", key)
	k.awaitWeights(t, key, map[string]int64{svc.server(1): 3, svc.server(2): 0, svc.server(3): 0}, 5*time.Second)
	t.Logf("rs1 answers again: out of panic, rs2 and rs3 drained %v later", time.Since(back).Round(time.Millisecond))
	s = sc.scrape(t)
	if v, _ := metric(s, "ipvs_controller_panic_transitions_total", "service", key, "to", "normal"); v != 1 {
		t.Errorf(`ipvs_controller_panic_transitions_total{to="normal"} = %v, want 1`, v)
	}
	if n := strings.Count(sc.log(), `msg="service out of panic`); n != 1 {
		t.Errorf("the sidecar logged the end of the panic %d times, want once:\n%s", n, sc.log())
	}
}
