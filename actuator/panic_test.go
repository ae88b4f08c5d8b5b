package actuator

import (
	"fmt"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestPanicFailsOpen: with a 50% threshold on weighted capacity
// (declared weights 2, 1, 3, 1: 7 in all), losing rs3 leaves 4/7 and
// drains it; losing rs1 too leaves 2/7, below the threshold: the service
// enters panic, rs3 gets its declared weight back and nothing more is
// drained, logged once. Leaving panic takes threshold + hysteresis (60%):
// rs1 and rs3 back up make 6/7 and the down ones are drained again.
func TestPanicFailsOpen(t *testing.T) {
	r := newRig(t, webConfig(t, "panic_threshold: 50%", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.v.set(web, rs3, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=0 fwd=masq th=100/50")
	if st := r.svcStatus(web); st.Panic || st.CapacityUp != 4 || st.CapacityJudged != 7 {
		t.Fatalf("status %+v, want no panic at 4/7 of the capacity", st)
	}

	r.v.set(web, rs1, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50")
	st := r.svcStatus(web)
	if !st.Panic || st.Up != 2 || st.Judged != 4 || st.CapacityUp != 2 || st.CapacityJudged != 7 {
		t.Fatalf("service status %+v, want panic with 2/7 of the capacity up", st)
	}
	r.v.set(web, rs4, health.StateDown)
	wantWrites(t, r.pass())
	r.all(health.StateDown) // all down: still no drain
	wantWrites(t, r.pass())
	if n := r.logs.count("level=WARN", "service in panic", "service="+web, "capacity_up=2", "capacity_judged=7"); n != 1 {
		t.Errorf("%d panic log lines, want 1:\n%s", n, r.logs)
	}

	r.v.set(web, rs1, health.StateUp)
	r.v.set(web, rs3, health.StateUp)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0",
		"update "+web+" 10.0.0.4:80 w=0 fwd=masq th=0/0")
	if r.svcStatus(web).Panic {
		t.Error("still in panic with 6/7 of the capacity up")
	}
	wantWrites(t, r.pass())
	if n := r.logs.count("level=INFO", "service out of panic", "service="+web); n != 1 {
		t.Errorf("%d panic-over log lines, want 1", n)
	}
	if c := r.c.counter.panics; c[[2]string{web, "panic"}] != 1 || c[[2]string{web, "normal"}] != 1 {
		t.Errorf("panic transitions %v", c)
	}
}

// TestPanicWithRemove: in panic removed servers come back; after it they
// are removed again (no hysteresis here: panic ends at the threshold).
func TestPanicWithRemove(t *testing.T) {
	r := newRig(t, webConfig(t, "panic_threshold: 50%\npanic_hysteresis: 0%\non_failure: remove", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.v.set(web, rs1, health.StateDown) // 5/7 up
	wantWrites(t, r.pass(), "delete "+web+" 10.0.0.1:80")
	r.v.set(web, rs2, health.StateDown)
	r.v.set(web, rs3, health.StateDown) // 1/7 up: panic
	wantWrites(t, r.pass(), "create "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0")
	r.v.set(web, rs3, health.StateUp) // 4/7 up
	wantWrites(t, r.pass(), "delete "+web+" 10.0.0.1:80", "delete "+web+" 10.0.0.2:80")
}

// TestAllDownKeepsDeclaredWeights: with the defaults (no panic
// threshold) real servers are drained one by one, but when the last
// weighted one goes down the service does not get total weight 0: every
// down server gets its declared weight back (fail open), logged once and
// shown in the status, until one is up again.
func TestAllDownKeepsDeclaredWeights(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.v.set(web, rs1, health.StateDown)
	r.v.set(web, rs2, health.StateDown)
	r.v.set(web, rs3, health.StateDown)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0",
		"update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0",
		"update "+web+" 10.0.0.3:80 w=0 fwd=masq th=100/50")
	r.v.set(web, rs4, health.StateDown)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0",
		"update "+web+" 10.0.0.2:80 w=1 fwd=masq th=0/0",
		"update "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50")
	wantWrites(t, r.pass())
	st := r.svcStatus(web)
	if !st.FailOpen || st.Panic {
		t.Fatalf("status %+v, want fail open without panic", st)
	}
	if rs := r.rsStatus(web, rs4); rs.DesiredWeight != 1 || rs.ReasonCode != ReasonFailOpen {
		t.Errorf("rs4 %+v", rs)
	}
	if n := r.logs.count("level=WARN", "failing open", "service="+web); n != 1 {
		t.Errorf("%d fail-open log lines, want 1:\n%s", n, r.logs)
	}
	if w := r.table.totalWeight(webKey); w != 7 {
		t.Errorf("total weight %d with every server down, want the declared 7", w)
	}

	r.v.set(web, rs2, health.StateUp)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0",
		"update "+web+" 10.0.0.3:80 w=0 fwd=masq th=100/50",
		"update "+web+" 10.0.0.4:80 w=0 fwd=masq th=0/0")
	if st := r.svcStatus(web); st.FailOpen {
		t.Errorf("still failing open with rs2 up: %+v", st)
	}
	if n := r.logs.count("level=INFO", "drained again", "service="+web); n != 1 {
		t.Errorf("%d fail-open-over log lines, want 1", n)
	}
}

// TestAllDownFailOpenCases: removed servers are restored when the last
// one fails; servers in maintenance stay drained (the operator's choice)
// while the others fail open; up standbys (weight 0) carry no traffic,
// so they do not stop the fail open; all in maintenance is allowed to
// empty the service.
func TestAllDownFailOpenCases(t *testing.T) {
	t.Run("remove", func(t *testing.T) {
		r := newRig(t, webConfig(t, "on_failure: remove", ""), newFakeTable(webTable()))
		r.all(health.StateUp)
		r.pass()
		r.v.set(web, rs1, health.StateDown)
		wantWrites(t, r.pass(), "delete "+web+" 10.0.0.1:80")
		r.all(health.StateDown)
		wantWrites(t, r.pass(), "create "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0")
	})
	t.Run("maintenance", func(t *testing.T) {
		r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
		r.admin.put(web, rs1, true)
		r.all(health.StateDown)
		wantWrites(t, r.pass(), "update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0")
		if st := r.svcStatus(web); !st.FailOpen {
			t.Errorf("no fail open with the others down: %+v", st)
		}
		r.admin.put(web, rs2, true)
		r.admin.put(web, rs3, true)
		r.admin.put(web, rs4, true)
		wantWrites(t, r.pass(),
			"update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0",
			"update "+web+" 10.0.0.3:80 w=0 fwd=masq th=100/50",
			"update "+web+" 10.0.0.4:80 w=0 fwd=masq th=0/0")
	})
	t.Run("standbys", func(t *testing.T) {
		cfg := parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
    real_servers:
      - {address: `+rs1+`, weight: 2, forward: nat}
      - {address: `+rs2+`, weight: 0, forward: nat}
`)
		tbl := ipvs.Service{ServiceKey: webKey, Scheduler: "wrr", Destinations: []ipvs.Destination{dest(rs1, 2), dest(rs2, 0)}}
		r := newRig(t, cfg, newFakeTable(tbl))
		r.v.set(web, rs1, health.StateDown)
		r.v.set(web, rs2, health.StateUp)
		wantWrites(t, r.pass())
		if st := r.svcStatus(web); !st.FailOpen || st.CapacityUp != 0 {
			t.Errorf("an up standby stopped the fail open: %+v", st)
		}
	})
}

// TestStandbysDoNotHidePanic: two weighted servers (3 and 1) and two
// standbys (weight 0) with a 50% threshold. Counting servers, 3 of 4 up
// would be no panic while three quarters of the capacity is gone;
// counting weight, the service is in panic and keeps rs1's weight.
func TestStandbysDoNotHidePanic(t *testing.T) {
	cfg := parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
    panic_threshold: 50%
    real_servers:
      - {address: `+rs1+`, weight: 3, forward: nat}
      - {address: `+rs2+`, weight: 1, forward: nat}
      - {address: `+rs3+`, weight: 0, forward: nat}
      - {address: `+rs4+`, weight: 0, forward: nat}
`)
	tbl := ipvs.Service{ServiceKey: webKey, Scheduler: "wrr", Destinations: []ipvs.Destination{dest(rs1, 3), dest(rs2, 1), dest(rs3, 0), dest(rs4, 0)}}
	r := newRig(t, cfg, newFakeTable(tbl))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	r.v.set(web, rs1, health.StateDown)
	wantWrites(t, r.pass())
	st := r.svcStatus(web)
	if !st.Panic || st.Up != 3 || st.CapacityUp != 1 || st.CapacityJudged != 4 {
		t.Fatalf("status %+v, want panic at 1/4 of the capacity with 3 of 4 servers up", st)
	}
	if w := r.table.weight(webKey, rs1); w != 3 {
		t.Errorf("rs1 at weight %d in panic, want 3", w)
	}
}

// TestPanicHysteresisFlapping: ten servers of weight 1, threshold 50%,
// hysteresis 10 points. With five down the service is at the threshold
// (not in panic); a sixth going down enters panic. That sixth server
// then flaps up and down: at 50% it is at the threshold but below 60%,
// so the service stays in panic and nothing is written, whatever the
// flapping; a transition is counted once. A seventh server up (60%)
// ends the panic.
func TestPanicHysteresisFlapping(t *testing.T) {
	yml := "services:\n  - name: web\n    address: " + webVIP + "\n    scheduler: rr\n    panic_threshold: 50%\n    panic_hysteresis: 10%\n    real_servers:\n"
	tbl := ipvs.Service{ServiceKey: webKey, Scheduler: "rr"}
	servers := make([]string, 10)
	for i := range servers {
		servers[i] = fmt.Sprintf("10.0.1.%d:80", i+1)
		yml += "      - {address: " + servers[i] + ", forward: nat}\n"
		tbl.Destinations = append(tbl.Destinations, dest(servers[i], 1))
	}
	r := newRig(t, parseConfig(t, yml), newFakeTable(tbl))
	for _, s := range servers {
		r.v.set(web, s, health.StateUp)
	}
	wantWrites(t, r.pass())
	for _, s := range servers[:5] {
		r.v.set(web, s, health.StateDown)
	}
	if w := r.pass(); len(w) != 5 {
		t.Fatalf("five down at 50%%: writes %q, want 5 drains", w)
	}
	r.v.set(web, servers[5], health.StateDown)
	if w := r.pass(); len(w) != 5 || !r.svcStatus(web).Panic {
		t.Fatalf("six down: writes %q (want the 5 drained restored), panic %v", w, r.svcStatus(web).Panic)
	}
	for i := range 20 {
		state := health.StateUp
		if i%2 == 1 {
			state = health.StateDown
		}
		r.v.set(web, servers[5], state)
		wantWrites(t, r.pass())
		if !r.svcStatus(web).Panic {
			t.Fatalf("flap %d (%v): the service left panic at 50%% of its capacity", i, state)
		}
	}
	if c := r.c.counter.panics; c[[2]string{web, "panic"}] != 1 || c[[2]string{web, "normal"}] != 0 {
		t.Errorf("panic transitions while flapping: %v", c)
	}
	r.v.set(web, servers[5], health.StateUp)
	r.v.set(web, servers[4], health.StateUp)
	if w := r.pass(); len(w) != 4 || r.svcStatus(web).Panic {
		t.Errorf("seven up: writes %q (want 4 drains), panic %v", w, r.svcStatus(web).Panic)
	}
}

// TestPanicIgnoresMaintenanceAndUnknown: servers in maintenance and
// servers without a verdict do not count, and maintenance still wins in
// panic.
func TestPanicIgnoresMaintenanceAndUnknown(t *testing.T) {
	r := newRig(t, webConfig(t, "panic_threshold: 50%", ""), newFakeTable(webTable()))
	r.admin.put(web, rs1, true)
	r.admin.put(web, rs2, true)
	r.v.set(web, rs3, health.StateUp)
	r.v.set(web, rs4, health.StateDown) // 1 of 2 judged up: 50%, no panic
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0",
		"update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0",
		"update "+web+" 10.0.0.4:80 w=0 fwd=masq th=0/0")
	if st := r.svcStatus(web); st.Panic || st.Judged != 2 {
		t.Fatalf("status %+v", st)
	}
	r.v.set(web, rs3, health.StateDown) // 0 of 2: panic, maintenance still drained
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.4:80 w=1 fwd=masq th=0/0")
	if !r.svcStatus(web).Panic {
		t.Error("no panic with every judged server down")
	}
}
