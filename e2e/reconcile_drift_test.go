//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// ctlDriftSlack is the time a correction may take beyond the controller's
// period: the pass itself and the 50 ms sampling, under TCG.
const ctlDriftSlack = 500 * time.Millisecond

// TestControllerDrift changes managed real servers by hand with ipvsadm,
// in each controller mode:
//   - managed: a weight set with `ipvsadm -e` and a real server deleted
//     with `ipvsadm -d` are restored within one controller period, and
//     counted as drift detected and corrected;
//   - observe: the weight set by hand stays (sampled for 2.5 periods) and
//     is reported (ipvs_controller_drift 1, pending 1, logged once, never
//     corrected) until what the controller wants for that server changes:
//     when it goes down, it is drained;
//   - dry_run: over a table built by hand that differs from the
//     configuration, while a server goes down and comes back, `ipvsadm
//     -S -n` and `ipvsadm -Ln` stay byte-identical, no write is counted,
//     and ipvs_real_server_desired_weight shows what would have been
//     written.
func TestControllerDrift(t *testing.T) {
	requireLab(t)
	svc := ctlService{name: "ctl-drift", port: 8089, onFailure: "drain", panic: "50%",
		servers: []ctlServer{{n: 1, weight: 3}, {n: 2, weight: 2}, {n: 3, weight: 1}}}
	ls := map[int]*rsListener{}
	for _, s := range svc.servers {
		ls[s.n] = listenInRS(t, rsNS(s.n), svc.port)
	}
	k := directorKernel(t)
	key, vip := svc.key(t), svc.vip(t)
	declared := svc.declaredWeights()
	rs2, rs3 := svc.server(2), svc.server(3)
	counts := func(d *daemon) (detected, corrected float64) {
		s := d.scrape(t)
		detected, _ = metric(s, "ipvs_controller_drift_detected_total")
		corrected, _ = metric(s, "ipvs_controller_drift_corrected_total")
		return detected, corrected
	}

	t.Run("managed", func(t *testing.T) {
		svc.prepare(t)
		sc := startSidecar(t, "--config.file="+svc.config(t, "managed"))
		k.awaitWeights(t, key, declared, 15*time.Second)

		for i, edit := range [][]string{
			{"ipvsadm", "-e", "-t", vip, "-r", rs2, "-m", "-w", "7"},
			{"ipvsadm", "-d", "-t", vip, "-r", rs3},
		} {
			d0, c0 := counts(sc)
			inNS(t, "director", edit...)
			changed := time.Now()
			fixed := k.awaitWeights(t, key, declared, ctlPeriod+5*time.Second)
			d := fixed.Sub(changed)
			t.Logf("%s: restored after %v (period %v)", strings.Join(edit, " "), d.Round(time.Millisecond), ctlPeriod)
			if d > ctlPeriod+ctlDriftSlack {
				t.Errorf("%s: restored after %v, more than one period %v + %v", strings.Join(edit, " "), d, ctlPeriod, ctlDriftSlack)
			}
			poll(t, 5*time.Second, func() error {
				if d1, c1 := counts(sc); d1 != d0+1 || c1 != c0+1 {
					return fmt.Errorf("drift detected %v → %v, corrected %v → %v; want +1 each", d0, d1, c0, c1)
				}
				return nil
			})
			if n := strings.Count(sc.log(), `msg="real server changed by hand"`); n != i+1 {
				t.Errorf("after %d changes by hand the sidecar logged %d:\n%s", i+1, n, sc.log())
			}
		}
	})

	t.Run("observe", func(t *testing.T) {
		svc.prepare(t)
		// The file says managed: the flag wins.
		sc := startSidecar(t, "--config.file="+svc.config(t, "managed"), "--controller.mode=observe")
		awaitMetric(t, sc, 5*time.Second, 1, "ipvs_controller_mode", "mode", "observe")
		// The first decisions are written in observe mode too.
		k.awaitWeights(t, key, declared, 15*time.Second)

		inNS(t, "director", "ipvsadm", "-e", "-t", vip, "-r", rs2, "-m", "-w", "7")
		handSet := with(declared, rs2, 7)
		awaitMetric(t, sc, ctlPeriod+5*time.Second, 1, "ipvs_controller_drift", "service", key, "server", rs2)
		for end := time.Now().Add(ctlPeriod * 5 / 2); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if w := k.mustWeights(t, key); !weightsMatch(w, handSet) {
				t.Fatalf("observe mode changed the table: %v, want %v as set by hand", w, handSet)
			}
		}
		s := sc.scrape(t)
		if v, _ := metric(s, "ipvs_controller_pending", "service", key, "server", rs2); v != 1 {
			t.Errorf("ipvs_controller_pending of rs2 = %v, want 1", v)
		}
		if d, c := counts(sc); d != 1 || c != 0 {
			t.Errorf("drift detected %v, corrected %v in observe mode, want 1 and 0", d, c)
		}
		if n := strings.Count(sc.log(), `msg="real server changed by hand"`); n != 1 {
			t.Errorf("the sidecar logged the change by hand %d times, want once:\n%s", n, sc.log())
		}

		// What the controller wants changes: that is written.
		ls[2].close(t)
		defer ls[2].open(t)
		k.awaitWeights(t, key, with(declared, rs2, 0), 2*ctlDrainBound)
	})

	t.Run("dry_run", func(t *testing.T) {
		svc.prepare(t)
		// By hand, rs3 at weight 5 where the file says 1.
		svc.servers[2].weight = 5
		svc.createByHand(t)
		svc.servers[2].weight = 1
		sc := startSidecar(t, "--config.file="+svc.config(t, "dry_run"))
		for _, s := range svc.servers {
			awaitMetric(t, sc, 15*time.Second, float64(s.weight), "ipvs_real_server_desired_weight", "service", key, "server", svc.server(s.n))
		}
		saved, listed := saveTable(t), inNS(t, "director", "ipvsadm", "-Ln")
		awaitMetric(t, sc, 5*time.Second, 1, "ipvs_controller_pending", "service", key, "server", rs3)

		ls[2].close(t)
		awaitMetric(t, sc, 2*ctlDrainBound, 0, "ipvs_real_server_desired_weight", "service", key, "server", rs2)
		awaitMetric(t, sc, 5*time.Second, 1, "ipvs_controller_pending", "service", key, "server", rs2)
		if w := k.mustWeights(t, key); w[rs2] != 2 {
			t.Errorf("dry run: rs2 down has weight %d in the kernel, want 2 as before", w[rs2])
		}
		ls[2].open(t)
		awaitMetric(t, sc, 10*time.Second, 2, "ipvs_real_server_desired_weight", "service", key, "server", rs2)

		if got := saveTable(t); got != saved {
			t.Errorf("dry run changed ipvsadm -S -n:\nbefore:\n%s\nafter:\n%s", saved, got)
		}
		if got := inNS(t, "director", "ipvsadm", "-Ln"); got != listed {
			t.Errorf("dry run changed ipvsadm -Ln:\nbefore:\n%s\nafter:\n%s", listed, got)
		}
		if n := sum(sc.scrape(t), "ipvs_controller_actuations_total"); n != 0 {
			t.Errorf("dry run counted %v writes, want 0", n)
		}
		for _, want := range []string{`msg="dry run: would set real server weight"`, "server=" + rs2, "server=" + rs3} {
			if !strings.Contains(sc.log(), want) {
				t.Errorf("the dry run's log does not say %q:\n%s", want, sc.log())
			}
		}
	})
}
