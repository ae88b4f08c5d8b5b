//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestControllerSlowStart drains a real server of declared weight 100,
// then lets it answer again with slow_start 4s: sampled every 100 ms from
// /proc/net/ip_vs, its weight in the kernel goes from 0 to a small value,
// then rises monotonically, through several steps, to 100, over about
// the slow-start period; the others keep their weights throughout. The
// panic threshold is off: the weight-100 server is 97% of the service's
// capacity, so losing it would rightly put a 50% threshold in panic.
func TestControllerSlowStart(t *testing.T) {
	requireLab(t)
	const slowStart = 4 * time.Second
	svc := ctlService{name: "ctl-slowstart", port: 8087, onFailure: "drain", slowStart: slowStart, panic: "0%",
		servers: []ctlServer{{n: 1, weight: 100}, {n: 2, weight: 2}, {n: 3, weight: 1}}}
	svc.prepare(t)
	ls := map[int]*rsListener{}
	for _, s := range svc.servers {
		ls[s.n] = listenInRS(t, rsNS(s.n), svc.port)
	}
	sc := startSidecar(t, "--config.file="+svc.config(t, "managed"))
	k := directorKernel(t)
	key, server := svc.key(t), svc.server(1)
	declared := svc.declaredWeights()
	// At the first verdicts the table has nothing: the servers are
	// created, ramping too.
	k.awaitWeights(t, key, declared, 15*time.Second)

	ls[1].close(t)
	k.awaitWeights(t, key, with(declared, server, 0), 2*ctlDrainBound)
	ls[1].open(t)
	reopened := time.Now()

	type sample struct {
		at     time.Duration // since the reopen
		weight int64
	}
	var samples []sample
	var first, full time.Duration // first non-zero sample, first at 100
	progress := -1.0
	for deadline := reopened.Add(slowStart + 5*time.Second); ; {
		w := k.mustWeights(t, key)
		at := time.Since(reopened)
		samples = append(samples, sample{at, w[server]})
		for n, want := range declared {
			if n != server && w[n] != want {
				t.Errorf("%v after the reopen: %s has weight %d, want %d", at, n, w[n], want)
			}
		}
		if w[server] > 0 && first == 0 {
			first = at
			// Mid-ramp, the controller says so.
			if v, ok := metric(sc.scrape(t), "ipvs_controller_slow_start_progress_ratio", "service", key, "server", server); ok {
				progress = v
			}
		}
		if w[server] == 100 {
			full = at
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rs1 not back at weight 100 within %v of the reopen: %v", slowStart+5*time.Second, samples)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A few samples more: it stays at the declared weight.
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		w := k.mustWeights(t, key)
		samples = append(samples, sample{time.Since(reopened), w[server]})
	}

	var trace []string
	steps := map[int64]bool{}
	var prev int64
	for _, s := range samples {
		trace = append(trace, fmt.Sprintf("%v:%d", s.at.Round(10*time.Millisecond), s.weight))
		if s.weight < prev {
			t.Errorf("the weight fell from %d to %d at %v", prev, s.weight, s.at)
		}
		prev = s.weight
		if s.weight > 0 && s.weight < 100 {
			steps[s.weight] = true
		}
	}
	t.Logf("rs1's weight after it answers again: %v", trace)
	ramp := full - first
	t.Logf("first non-zero weight %v after the reopen, 100 after %v more (slow_start %v); %d intermediate weights; progress ratio at the start %v",
		first.Round(time.Millisecond), ramp.Round(time.Millisecond), slowStart, len(steps), progress)
	var start int64
	for _, s := range samples {
		if s.weight > 0 {
			start = s.weight
			break
		}
	}
	if start > 25 {
		t.Errorf("the ramp started at weight %d, want a small value (at most a quarter of 100)", start)
	}
	if len(steps) < 5 {
		t.Errorf("%d intermediate weights between 0 and 100, want at least 5 for a ramp", len(steps))
	}
	// The first sample may come up to a sample interval late, and the
	// last step lands on the controller's next pass (every slow_start/20).
	if ramp < slowStart-time.Second || ramp > slowStart+time.Second {
		t.Errorf("the ramp took %v, want about slow_start = %v (± 1 s)", ramp, slowStart)
	}
	if progress < 0 || progress >= 0.5 {
		t.Errorf("ipvs_controller_slow_start_progress_ratio at the start of the ramp = %v, want in [0, 0.5)", progress)
	}
}
