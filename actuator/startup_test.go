package actuator

import (
	"time"

	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestStartupChangesNothingBeforeVerdicts: before their first verdict,
// real servers keep whatever the table has, even where it differs from
// the file (a drained one, a missing one, a different weight); each is
// acted on once it has a verdict.
func TestStartupChangesNothingBeforeVerdicts(t *testing.T) {
	tbl := webTable()
	tbl.Destinations[0].Weight = 0          // rs1 drained
	tbl.Destinations[1].Weight = 7          // rs2 not the file's weight
	tbl.Destinations = tbl.Destinations[:3] // rs4 missing
	r := newRig(t, webConfig(t, "", ""), newFakeTable(tbl))
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
