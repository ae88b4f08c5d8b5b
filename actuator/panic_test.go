package actuator

import (
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// TestPanicFailsOpen: with a 50% threshold, a third server down of four
// puts the service in panic: the drained ones get their declared weight
// back and none is drained, logged once; one server back up lifts panic
// and the down ones are drained again, logged once.
func TestPanicFailsOpen(t *testing.T) {
	r := newRig(t, webConfig(t, "panic_threshold: 50%", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.v.set(web, rs1, health.StateDown)
	r.v.set(web, rs2, health.StateDown)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0",
		"update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0")
	if r.svcStatus(web).Panic {
		t.Fatal("panic at exactly the threshold (2 of 4 up)")
	}

	r.v.set(web, rs3, health.StateDown)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0",
		"update "+web+" 10.0.0.2:80 w=1 fwd=masq th=0/0")
	st := r.svcStatus(web)
	if !st.Panic || st.Up != 1 || st.Judged != 4 {
		t.Fatalf("service status %+v, want panic with 1 of 4 up", st)
	}
	r.v.set(web, rs4, health.StateDown) // all down: still no drain
	wantWrites(t, r.pass())
	wantWrites(t, r.pass())
	if n := r.logs.count("level=WARN", "service in panic", "service="+web); n != 1 {
		t.Errorf("%d panic log lines, want 1:\n%s", n, r.logs)
	}

	r.v.set(web, rs1, health.StateUp)
	r.v.set(web, rs2, health.StateUp)
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.3:80 w=0 fwd=masq th=100/50",
		"update "+web+" 10.0.0.4:80 w=0 fwd=masq th=0/0")
	if r.svcStatus(web).Panic {
		t.Error("still in panic with 2 of 4 up")
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
// are removed again.
func TestPanicWithRemove(t *testing.T) {
	r := newRig(t, webConfig(t, "panic_threshold: 50%\non_failure: remove", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.v.set(web, rs1, health.StateDown)
	wantWrites(t, r.pass(), "delete "+web+" 10.0.0.1:80")
	r.v.set(web, rs2, health.StateDown)
	r.v.set(web, rs3, health.StateDown)
	wantWrites(t, r.pass(), "create "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0")
	r.v.set(web, rs4, health.StateUp)
	r.v.set(web, rs3, health.StateUp)
	wantWrites(t, r.pass(), "delete "+web+" 10.0.0.1:80", "delete "+web+" 10.0.0.2:80")
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
