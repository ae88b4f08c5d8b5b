package actuator

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestStartupChangesNothingBeforeVerdicts: before their first verdict,
// real servers keep whatever the table has, even where it differs from
// the file (one the last run drained, a missing one, a different weight);
// each is acted on once it has a verdict.
func TestStartupChangesNothingBeforeVerdicts(t *testing.T) {
	tbl := webTable()
	tbl.Destinations[0].Weight = 0          // rs1 drained by the last run
	tbl.Destinations[1].Weight = 7          // rs2 not the file's weight
	tbl.Destinations = tbl.Destinations[:3] // rs4 missing
	r := newRig(t, webConfig(t, "", ""), newFakeTable(tbl))
	r.applied(drainedByUs(web, rs1))
	for range 3 {
		wantWrites(t, r.pass())
	}
	for _, s := range []string{rs1, rs2, rs3, rs4} {
		if st := r.rsStatus(web, s); st.Decided || st.Pending || st.Drift {
			t.Errorf("%s before its verdict: %+v", s, st)
		}
	}
	r.v.set(web, rs1, health.StateDown)
	wantWrites(t, r.pass()) // already drained: nothing to do
	r.v.set(web, rs2, health.StateUp)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.2:80 w=1 fwd=masq th=0/0")
	r.v.set(web, rs4, health.StateUp)
	wantWrites(t, r.pass(), "create "+web+" 10.0.0.4:80 w=1 fwd=masq th=0/0")
	wantWrites(t, r.pass())
}

// TestRestartDuringDrainStaysDrained: a controller restarted while a
// real server is drained finds weight 0 in the table, writes nothing
// before the server's verdict, and nothing when the verdict is down
// again: no restore-then-drain flap.
func TestRestartDuringDrainStaysDrained(t *testing.T) {
	r := newRig(t, webConfig(t, "slow_start: 10s", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.v.set(web, rs2, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0")

	// The restart: a new controller and a new health scheduler (every
	// verdict unknown) on the same table.
	r.v = newFakeVerdicts()
	r.c = r.newController(webConfig(t, "slow_start: 10s", ""))
	for range 3 {
		wantWrites(t, r.pass())
		if w := r.table.weight(webKey, rs2); w != 0 {
			t.Fatalf("drained server at weight %d before its verdict", w)
		}
	}
	r.all(health.StateUp)
	r.v.set(web, rs2, health.StateDown)
	wantWrites(t, r.pass())
	for _, s := range []string{rs1, rs3, rs4} {
		if st := r.rsStatus(web, s); st.SlowStart != nil {
			t.Errorf("%s at full weight ramps after the restart: %+v", s, st.SlowStart)
		}
	}
}

// TestRestartMidRampResumes: a restart during a slow start resumes the
// ramp from the weight the table has instead of dropping it to 1.
func TestRestartMidRampResumes(t *testing.T) {
	cfg := webConfig(t, "slow_start: 100s", "")
	tbl := webTable()
	tbl.Destinations[2].Weight = 2 // rs3 (declared 3) part way
	r := newRig(t, cfg, newFakeTable(tbl))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	st := r.rsStatus(web, rs3)
	if st.SlowStart == nil || st.DesiredWeight != 2 {
		t.Fatalf("rs3 after the restart: %+v", st)
	}
	r.clock.Advance(40 * time.Second)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50")
}

// TestMissingServerWaitsForVerdict: a declared real server the table
// lacks is not added before its first verdict, then added at once with
// what the verdict asks for (drained when down, while another is up).
func TestMissingServerWaitsForVerdict(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(ipvs.Service{ServiceKey: webKey, Scheduler: "wrr"}))
	wantWrites(t, r.pass())
	r.v.set(web, rs1, health.StateUp)
	wantWrites(t, r.pass(), "create "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0")
	r.v.set(web, rs2, health.StateDown)
	wantWrites(t, r.pass(), "create "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0")
	wantWrites(t, r.pass())
}

// TestRestartKeepsHandDrain: the controller drains dead rs2 and records
// it; while it is stopped someone drains rs3 and removes rs4 by hand.
// After the restart, with everything up, rs2 (its own drain) is
// restored, while rs3 and rs4 are put into maintenance (by the
// controller, with a reason, saved in the state file, logged once each)
// and left as they are, across a second restart too, until an operator
// lifts the maintenance.
func TestRestartKeepsHandDrain(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.v.set(web, rs2, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0")

	r.table.handEdit(webKey, rs3, 0)
	r.table.handEdit(webKey, rs4, -1)
	r.v = newFakeVerdicts()
	r.c = r.newController(webConfig(t, "", ""))
	r.all(health.StateUp)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.2:80 w=1 fwd=masq th=0/0")
	wantWrites(t, r.pass())
	for _, s := range []string{rs3, rs4} {
		e, ok := r.admin.Get(web, s)
		if !ok || e.By != ByController || !strings.Contains(e.Reason, "not by lvs-sidecar") {
			t.Errorf("%s after the restart: maintenance %v %+v", s, ok, e)
		}
		if n := r.logs.count("level=WARN", "at start by someone else", "server="+s); n != 1 {
			t.Errorf("%s: %d log lines, want 1:\n%s", s, n, r.logs)
		}
	}
	if w := r.table.weight(webKey, rs4); w != -1 {
		t.Errorf("rs4 removed by hand is back at weight %d", w)
	}

	r.v = newFakeVerdicts()
	r.c = r.newController(webConfig(t, "", ""))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	if !r.admin.InMaintenance(web, rs3) || !r.admin.InMaintenance(web, rs4) {
		t.Fatal("the second restart lost the maintenance")
	}
	r.admin.put(web, rs3, false)
	r.admin.put(web, rs4, false)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50", "create "+web+" 10.0.0.4:80 w=1 fwd=masq th=0/0")
}

// TestObserveHandDrainSurvivesRestart: in observe mode an operator
// drains rs1 by hand; the controller leaves it. Restarted in managed
// mode, it does not restore rs1 (which would undo the operator's drain):
// rs1 is held in maintenance.
func TestObserveHandDrainSurvivesRestart(t *testing.T) {
	r := newRig(t, webConfig(t, "", "controller: {mode: observe}"), newFakeTable(webTable()))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	r.table.handEdit(webKey, rs1, 0)
	wantWrites(t, r.pass())

	r.v = newFakeVerdicts()
	r.c = r.newController(webConfig(t, "", ""))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	if w := r.table.weight(webKey, rs1); w != 0 || !r.admin.InMaintenance(web, rs1) {
		t.Errorf("rs1 drained by hand in observe mode: weight %d after the restart, maintenance %v", w, r.admin.InMaintenance(web, rs1))
	}
}

// TestStartWithoutRecords: with no record of a last run (a first start,
// or no --state.file), a real server the table has drained is taken as
// drained by hand: held in maintenance, never restored by the first pass.
// One at its declared weight is acted on as usual.
func TestStartWithoutRecords(t *testing.T) {
	tbl := webTable()
	tbl.Destinations[0].Weight = 0
	r := newRig(t, webConfig(t, "", ""), newFakeTable(tbl))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	e, ok := r.admin.Get(web, rs1)
	if !ok || !strings.Contains(e.Reason, "no record says lvs-sidecar did it") {
		t.Errorf("rs1 drained at start: maintenance %v %+v", ok, e)
	}
	r.v.set(web, rs2, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0")
}

// TestRestartSeesWeightDrift: a weight changed by hand while the
// controller was stopped (neither drained nor removed) is drift against
// the record: managed mode restores it and counts it.
func TestRestartSeesWeightDrift(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	r.table.handEdit(webKey, rs3, 9)
	r.v = newFakeVerdicts()
	r.c = r.newController(webConfig(t, "", ""))
	r.all(health.StateUp)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50")
	if r.c.counter.driftDetected != 1 || r.c.counter.driftCorrected != 1 {
		t.Errorf("drift detected %d, corrected %d; want 1 and 1", r.c.counter.driftDetected, r.c.counter.driftCorrected)
	}
	if r.admin.InMaintenance(web, rs3) {
		t.Error("a weight drift was taken for a hand drain")
	}
}

// TestAppliedSavedOnlyOnChange: the records reach the state file when
// what the controller applied changes, not on every pass.
func TestAppliedSavedOnlyOnChange(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	st1, err := os.Stat(r.admin.Path())
	if err != nil {
		t.Fatal(err)
	}
	data1, _ := os.ReadFile(r.admin.Path())
	for range 5 {
		r.pass()
	}
	// A save renames a new file into place: the same file means none.
	if st2, _ := os.Stat(r.admin.Path()); !os.SameFile(st1, st2) || !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("the state file was rewritten by passes that changed nothing")
	}
	r.v.set(web, rs2, health.StateDown)
	r.pass()
	data2, _ := os.ReadFile(r.admin.Path())
	if string(data1) == string(data2) || !strings.Contains(string(data2), `"server": "10.0.0.2:80",
      "present": true,
      "weight": 0`) {
		t.Errorf("state file after a drain:\n%s", data2)
	}
}
