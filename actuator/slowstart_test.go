package actuator

import (
	"context"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestSlowStartRamp: after a down→up transition the weight ramps from 1
// to the declared weight over slow_start, one write per step, passes come
// often enough to step (sooner than the period), and the sampled weights
// never fall.
func TestSlowStartRamp(t *testing.T) {
	const ss = 20 * time.Second
	cfg := parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    slow_start: 20s
    real_servers:
      - {address: `+rs1+`, weight: 10, forward: nat}
      - {address: `+rs2+`, weight: 10, forward: nat}
controller: {period: 30s}
`)
	r := newRig(t, cfg, newFakeTable())
	r.v.set(web, rs1, health.StateUp)
	r.v.set(web, rs2, health.StateUp)
	r.pass() // creates both, ramping (new servers)
	r.clock.Advance(ss)
	r.pass()
	r.table.takeWrites()
	if w := r.table.weight(webKey, rs1); w != 10 {
		t.Fatalf("weight after the first ramp %d, want 10", w)
	}

	r.v.set(web, rs1, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0")
	r.v.set(web, rs1, health.StateUp)
	start := r.clock.Now()
	var samples []int32
	writes := 0
	for r.clock.Now().Sub(start) <= ss+time.Second {
		next := r.c.pass(context.Background())
		writes += len(r.table.takeWrites())
		samples = append(samples, r.table.weight(webKey, rs1))
		if r.c.Status().Services[0].RealServers[0].SlowStart != nil && next >= 30*time.Second {
			t.Fatalf("next pass in %v while ramping, want sooner than the period", next)
		}
		r.clock.Advance(next)
	}
	if samples[0] != 1 {
		t.Errorf("first weight after recovery %d, want 1", samples[0])
	}
	for i := 1; i < len(samples); i++ {
		if samples[i] < samples[i-1] {
			t.Fatalf("weight fell from %d to %d: %v", samples[i-1], samples[i], samples)
		}
	}
	if last := samples[len(samples)-1]; last != 10 {
		t.Errorf("weight at the end %d, want 10: %v", last, samples)
	}
	distinct := map[int32]bool{}
	for _, w := range samples {
		distinct[w] = true
	}
	if len(distinct) < 8 || writes != len(distinct) {
		t.Errorf("%d writes for %d distinct weights %v: want one write per step, at least 8 steps", writes, len(distinct), samples)
	}
	if st := r.rsStatus(web, rs1); st.SlowStart != nil || st.DesiredWeight != 10 {
		t.Errorf("after the ramp: %+v", st)
	}
	if n := r.logs.count("level=DEBUG", "slow start: real server weight raised"); n < 6 {
		t.Errorf("%d debug lines for the steps", n)
	}
}

// TestSlowStartNotAtStartupForServing: servers the table already has at
// their declared weight do not ramp when their first verdict is up;
// ones the controller drained before the restart and missing ones do.
func TestSlowStartNotAtStartupForServing(t *testing.T) {
	cfg := parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    slow_start: 1m
    real_servers:
      - {address: `+rs1+`, weight: 10, forward: nat}
      - {address: `+rs2+`, weight: 10, forward: nat}
      - {address: `+rs3+`, weight: 10, forward: nat}
`)
	tbl := ipvs.Service{ServiceKey: webKey, Scheduler: "wlc", Destinations: []ipvs.Destination{dest(rs1, 10), dest(rs2, 0)}}
	r := newRig(t, cfg, newFakeTable(tbl))
	r.applied(drainedByUs(web, rs2))
	r.v.set(web, rs1, health.StateUp)
	r.v.set(web, rs2, health.StateUp)
	r.v.set(web, rs3, health.StateUp)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.2:80 w=1 fwd=masq th=0/0",
		"create "+web+" 10.0.0.3:80 w=1 fwd=masq th=0/0")
	if st := r.rsStatus(web, rs1); st.SlowStart != nil {
		t.Errorf("rs1 serving at full weight ramps: %+v", st.SlowStart)
	}
	r.clock.Advance(30 * time.Second)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.2:80 w=5 fwd=masq th=0/0",
		"update "+web+" 10.0.0.3:80 w=5 fwd=masq th=0/0")
}

// TestSlowStartAfterMaintenance: lifting maintenance from an up server
// ramps its weight, as a recovery does.
func TestSlowStartAfterMaintenance(t *testing.T) {
	r := newRig(t, webConfig(t, "slow_start: 30s", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.admin.put(web, rs3, true)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=0 fwd=masq th=100/50")
	r.admin.put(web, rs3, false)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=1 fwd=masq th=100/50")
	r.clock.Advance(15 * time.Second)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=2 fwd=masq th=100/50")
	r.clock.Advance(15 * time.Second)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50")
	wantWrites(t, r.pass())
}
