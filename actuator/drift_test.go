package actuator

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// TestDriftManaged: `ipvsadm -e` and `ipvsadm -d` on managed real
// servers are restored at the next pass, detected and corrected once
// each, and logged once each.
func TestDriftManaged(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.v.set(web, rs4, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.4:80 w=0 fwd=masq th=0/0")

	r.table.handEdit(webKey, rs1, 9)  // ipvsadm -e -w 9
	r.table.handEdit(webKey, rs4, 5)  // undrained by hand
	r.table.handEdit(webKey, rs2, -1) // ipvsadm -d
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0",
		"create "+web+" 10.0.0.2:80 w=1 fwd=masq th=0/0",
		"update "+web+" 10.0.0.4:80 w=0 fwd=masq th=0/0")
	wantWrites(t, r.pass())
	if c := r.c.counter; c.driftDetected != 3 || c.driftCorrected != 3 {
		t.Errorf("drift detected %d corrected %d, want 3 and 3", c.driftDetected, c.driftCorrected)
	}
	if n := r.logs.count("level=WARN", "real server changed by hand", "then=\"restoring what the controller set\""); n != 3 {
		t.Errorf("%d drift lines, want 3:\n%s", n, r.logs)
	}
	if n := r.logs.count("server=10.0.0.4:80", `table="weight 5, forward masq, thresholds 0/0"`, `controller_set="weight 0, forward masq, thresholds 0/0"`); n != 1 {
		t.Errorf("drift line does not say what changed:\n%s", r.logs)
	}
	for _, s := range []string{rs1, rs2, rs4} {
		if st := r.rsStatus(web, s); st.Drift || st.Pending {
			t.Errorf("%s after the correction: %+v", s, st)
		}
	}
}

// TestDriftObserve: in observe mode a hand-made change is reported (once,
// and in the status) but left as is, pass after pass, until what the
// controller wants for the server changes: then it is written.
func TestDriftObserve(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.c.Update(webConfig(t, "", "controller: {mode: observe}"))
	r.all(health.StateUp)
	r.v.set(web, rs4, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.4:80 w=0 fwd=masq th=0/0") // observe still acts on verdicts

	r.table.handEdit(webKey, rs1, 9)
	for range 3 {
		wantWrites(t, r.pass())
	}
	if w := r.table.weight(webKey, rs1); w != 9 {
		t.Errorf("observe mode changed the hand-set weight to %d", w)
	}
	if st := r.rsStatus(web, rs1); !st.Drift || !st.Pending || st.KernelWeight != 9 || st.DesiredWeight != 2 {
		t.Errorf("drifted server status %+v", st)
	}
	if c := r.c.counter; c.driftDetected != 1 || c.driftCorrected != 0 {
		t.Errorf("drift detected %d corrected %d, want 1 and 0", c.driftDetected, c.driftCorrected)
	}
	if n := r.logs.count("real server changed by hand", "server=10.0.0.1:80", "mode=observe"); n != 1 {
		t.Errorf("%d drift lines, want 1:\n%s", n, r.logs)
	}
	// Only the drifted server has drift and pending series, 1; the
	// others have none (absent means 0).
	want := []string{
		`ipvs_controller_drift{server="10.0.0.1:80",service="` + web + `"} 1`,
		`ipvs_controller_pending{server="10.0.0.1:80",service="` + web + `"} 1`,
	}
	if got := flagLines(t, r.c); !reflect.DeepEqual(got, want) {
		t.Errorf("drift and pending series %q, want %q", got, want)
	}

	r.v.set(web, rs1, health.StateDown) // a new decision is written
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0")
	if st := r.rsStatus(web, rs1); st.Drift || st.Pending {
		t.Errorf("after the new decision: %+v", st)
	}
	if got := flagLines(t, r.c); len(got) != 0 {
		t.Errorf("drift and pending series after the new decision: %q", got)
	}
}

// flagLines returns the samples of ipvs_controller_drift and
// ipvs_controller_pending in c's exposition.
func flagLines(t *testing.T, c *Controller) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(exposition(t, c), "\n") {
		if strings.HasPrefix(l, "ipvs_controller_drift{") || strings.HasPrefix(l, "ipvs_controller_pending{") {
			out = append(out, l)
		}
	}
	return out
}

// TestDryRunWritesNothing: in dry_run the table stays byte-identical
// through verdict changes, maintenance, panic, a missing service and a
// hand edit, while the desired weights are computed, exported and
// logged once each.
func TestDryRunWritesNothing(t *testing.T) {
	cfg := parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
    slow_start: 10s
    panic_threshold: 30%
    real_servers:
      - {address: `+rs1+`, weight: 2, forward: nat}
      - {address: `+rs2+`, weight: 1, forward: nat}
      - {address: `+rs3+`, weight: 3, forward: nat, upper_threshold: 100, lower_threshold: 50}
      - {address: `+rs4+`, weight: 1, forward: nat}
  - name: missing
    address: 192.0.2.99:80
    real_servers:
      - {address: 10.0.9.1:80, forward: nat}
controller: {mode: dry_run}
`)
	tbl := webTable()
	tbl.Scheduler = "rr"
	r := newRig(t, cfg, newFakeTable(tbl))
	before := r.table.table()
	r.v.set("tcp/192.0.2.99:80", "10.0.9.1:80", health.StateUp)
	steps := []func(){
		func() { r.all(health.StateUp) },
		func() { r.v.set(web, rs1, health.StateDown) },
		func() { r.admin.put(web, rs2, true) },
		func() { r.all(health.StateDown) }, // panic
		func() { r.all(health.StateUp); r.admin.put(web, rs2, false) },
		func() { r.table.handEdit(webKey, rs3, 7); before = r.table.table() },
	}
	for _, step := range steps {
		step()
		r.pass()
		r.pass()
		if w := r.table.takeWrites(); len(w) != 0 {
			t.Fatalf("dry run wrote %q", w)
		}
		if got := r.table.table(); !reflect.DeepEqual(got, before) {
			t.Fatalf("dry run changed the table:\n%+v\n%+v", got, before)
		}
	}
	if st := r.rsStatus(web, rs3); !st.Pending || st.DesiredWeight != 3 || st.KernelWeight != 7 {
		t.Errorf("rs3 in dry run: %+v", st)
	}
	if st := r.rsStatus("tcp/192.0.2.99:80", "10.0.9.1:80"); !st.Pending || !st.DesiredInTable || st.InTable {
		t.Errorf("missing service's server in dry run: %+v", st)
	}
	if n := r.logs.count("dry run: would create virtual service", "service=tcp/192.0.2.99:80"); n != 1 {
		t.Errorf("%d dry-run service creation lines, want 1:\n%s", n, r.logs)
	}
	if n := r.logs.count("dry run: would update virtual service", "scheduler=wrr"); n != 1 {
		t.Errorf("%d dry-run service update lines, want 1", n)
	}
	if n := r.logs.count("dry run: would set real server weight", "server=10.0.0.1:80", "new_weight=0"); n != 1 {
		t.Errorf("%d dry-run drain lines for rs1, want 1:\n%s", n, r.logs)
	}
	if total := sum(r.c.counter.actuations); total != 0 {
		t.Errorf("dry run counted %d actuations", total)
	}
}

func sum(m map[[2]string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// TestServiceDrift: a managed service deleted by hand comes back with its
// real servers in managed mode; one whose scheduler was changed by hand
// is only reported in observe mode.
func TestServiceDrift(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	r.table.mu.Lock()
	r.table.services = nil // ipvsadm -D
	r.table.mu.Unlock()
	wantWrites(t, r.pass(),
		"create_service "+web+" wrr flags=0 timeout=0 netmask=0x0",
		"create "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0",
		"create "+web+" 10.0.0.2:80 w=1 fwd=masq th=0/0",
		"create "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50",
		"create "+web+" 10.0.0.4:80 w=1 fwd=masq th=0/0")
	if c := r.c.counter; c.driftDetected != 5 || c.driftCorrected != 5 {
		t.Errorf("drift detected %d corrected %d, want 5 and 5", c.driftDetected, c.driftCorrected)
	}

	r.c.Update(webConfig(t, "", "controller: {mode: observe}"))
	r.table.mu.Lock()
	r.table.services[0].Scheduler = "lc" // ipvsadm -E -s lc
	r.table.mu.Unlock()
	wantWrites(t, r.pass())
	wantWrites(t, r.pass())
	if n := r.logs.count("virtual service changed by hand", "table=\"scheduler lc, not persistent\"", "mode=observe"); n != 1 {
		t.Errorf("%d service drift lines, want 1:\n%s", n, r.logs)
	}
}
