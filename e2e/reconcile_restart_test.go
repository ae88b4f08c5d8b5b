//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestControllerRestartMidDrain drains a dead real server, stops
// lvs-sidecar with SIGTERM and starts a new one while the server is still
// down. SIGTERM leaves the table byte-identical (`ipvsadm -S -n` before
// and after the stop); the new sidecar, which knows nothing of the drain
// and starts with no verdicts, never gives the dead server a weight:
// sampled every 100 ms from its start until two controller periods after
// its own verdict says down, its weight stays 0 and the others keep
// theirs, and it writes nothing at all.
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
	first := startSidecar(t, "--config.file="+cfg)
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

	started := time.Now()
	second := startSidecar(t, "--config.file="+cfg)
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
}
