//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestControllerRestartMidDrain drains a dead real server, stops
// lvs-sidecar with SIGTERM and starts a new one while the server is still
// down, both with the --state.file the shipped unit sets. SIGTERM leaves
// the table byte-identical (`ipvsadm -S -n` before and after the stop).
// While it is stopped an operator drains rs3 by hand (`ipvsadm -e -w 0`).
// The new sidecar starts with no verdicts and never gives either server a
// weight: sampled every 100 ms from its start until two controller
// periods after its own verdict on rs2 says down, both stay at 0 and rs1
// keeps its weight, and it writes nothing at all. rs3 is held in
// maintenance (the state file has no record of the controller draining
// it). Then rs2 answers again: the controller's own drain is undone
// (declared weight), while rs3 stays at 0.
func TestControllerRestartMidDrain(t *testing.T) {
	requireLab(t)
	svc := ctlService{name: "ctl-restart", port: 8092, onFailure: "drain", panic: "50%",
		servers: []ctlServer{{n: 1, weight: 3}, {n: 2, weight: 2}, {n: 3, weight: 1}}}
	svc.prepare(t)
	ls := map[int]*rsListener{}
	for _, s := range svc.servers {
		ls[s.n] = listenInRS(t, rsNS(s.n), svc.port)
	}
	cfg := svc.config(t, "managed")
	state := "--state.file=" + t.TempDir() + "/state.json"
	first := startSidecar(t, "--config.file="+cfg, state)
	k := directorKernel(t)
	key, rs2 := svc.key(t), svc.server(2)
	declared := svc.declaredWeights()
	drained := with(declared, rs2, 0)
	k.awaitWeights(t, key, declared, 15*time.Second)
	ls[2].close(t)
	k.awaitWeights(t, key, drained, 2*ctlDrainBound)

	before := saveTable(t)
	first.terminate(t)
	if after := saveTable(t); after != before {
		t.Errorf("SIGTERM changed the table:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if !strings.Contains(first.log(), "the IPVS table is left as it is") {
		t.Errorf("the stopped sidecar did not say it left the table alone:\n%s", first.log())
	}

	rs3 := svc.server(3)
	inNS(t, "director", "ipvsadm", "-e", "-t", svc.vip(t), "-r", rs3, "-m", "-w", "0")
	drained = with(drained, rs3, 0)

	started := time.Now()
	second := startSidecar(t, "--config.file="+cfg, state)
	var verdict time.Time // when the new sidecar's verdict on rs2 was first seen
	samples := 0
	for {
		if w := k.mustWeights(t, key); !weightsMatch(w, drained) {
			t.Fatalf("%v after the restart the kernel has %v, want %v: the drained server flapped",
				time.Since(started).Round(time.Millisecond), w, drained)
		}
		samples++
		if verdict.IsZero() {
			if v, ok := metric(second.scrape(t), "ipvs_real_server_health_state", "service", key, "server", rs2, "state", "down"); ok && v == 1 {
				verdict = time.Now()
			}
		} else if time.Since(verdict) > 2*ctlPeriod {
			break
		}
		if time.Since(started) > 15*time.Second {
			t.Fatalf("the new sidecar did not judge rs2 down within 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after the restart: rs2's verdict down after %v; %d samples, rs2 at weight 0 in all",
		verdict.Sub(started).Round(time.Millisecond), samples)
	s := second.scrape(t)
	if v, ok := metric(s, "ipvs_real_server_desired_weight", "service", key, "server", rs2); !ok || v != 0 {
		t.Errorf("ipvs_real_server_desired_weight of rs2 = %v (found: %v), want 0", v, ok)
	}
	if n := sum(s, "ipvs_controller_actuations_total"); n != 0 {
		t.Errorf("the new sidecar made %v writes to a table that was already as it wants, want 0:\n%s", n, second.log())
	}
	if passes, _ := metric(s, "ipvs_controller_reconciles_total"); passes < 3 {
		t.Errorf("the new sidecar made %v passes, want at least 3 (start, verdicts, period)", passes)
	}
	if v, _ := metric(s, "ipvs_real_server_maintenance", "service", key, "server", rs3); v != 1 {
		t.Errorf("rs3, drained by hand while the sidecar was stopped: ipvs_real_server_maintenance = %v, want 1:\n%s", v, second.log())
	}
	if !strings.Contains(second.log(), "at start by someone else") {
		t.Errorf("no log of the hand-drained rs3:\n%s", second.log())
	}

	ls[2].open(t)
	k.awaitWeights(t, key, with(declared, rs3, 0), 2*ctlDrainBound)
}
