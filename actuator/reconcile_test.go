package actuator

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestDrainAndRestore: a server that goes down is drained with one write
// that keeps its forwarding method and thresholds, a converged table gets
// no write, and recovery restores the declared weight.
func TestDrainAndRestore(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	r.v.set(web, rs3, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=0 fwd=masq th=100/50")
	wantWrites(t, r.pass())
	r.v.set(web, rs3, health.StateUp)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50")
	wantWrites(t, r.pass())
	if n := r.logs.count("level=WARN", `msg="set real server weight"`, "server=10.0.0.3:80", "old_weight=3", "new_weight=0", "check=tcp:80", "result=closed"); n != 1 {
		t.Errorf("%d drain log lines, want 1:\n%s", n, r.logs)
	}
}

// TestRemoveAndRestore: with on_failure remove, a down server leaves the
// table and comes back, on recovery, with its declared weight,
// forwarding method and thresholds; the actions are counted.
func TestRemoveAndRestore(t *testing.T) {
	r := newRig(t, webConfig(t, "on_failure: remove", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	r.v.set(web, rs3, health.StateDown)
	wantWrites(t, r.pass(), "delete "+web+" 10.0.0.3:80")
	wantWrites(t, r.pass())
	if w := r.table.weight(webKey, rs3); w != -1 {
		t.Fatalf("removed server still in the table with weight %d", w)
	}
	r.v.set(web, rs3, health.StateUp)
	wantWrites(t, r.pass(), "create "+web+" 10.0.0.3:80 w=3 fwd=masq th=100/50")
	wantWrites(t, r.pass())
	c := r.c.counter
	if c.actuations[[2]string{actionRemove, "ok"}] != 1 || c.actuations[[2]string{actionRestore, "ok"}] != 1 || c.actuations[[2]string{actionCreate, "ok"}] != 0 {
		t.Errorf("actuations %v", c.actuations)
	}
	if n := r.logs.count(`msg="remove real server"`, "level=WARN", "reason=\"down, remove\""); n != 1 {
		t.Errorf("%d remove log lines, want 1:\n%s", n, r.logs)
	}
	if n := r.logs.count(`msg="restore removed real server"`, "forward=masq", "upper_threshold=100", "lower_threshold=50", "new_weight=3"); n != 1 {
		t.Errorf("%d restore log lines, want 1:\n%s", n, r.logs)
	}
}

// TestDrainKeepsForwardAndThresholds: a drain of a dr server with
// thresholds writes exactly its declared forwarding method and
// thresholds, and a table whose forwarding method or thresholds differ
// from the file gets an update.
func TestDrainKeepsForwardAndThresholds(t *testing.T) {
	cfg := parseConfig(t, `
services:
  - name: dr
    address: 192.0.2.20:443
    real_servers:
      - {address: 10.0.1.1, forward: dr, upper_threshold: 500, lower_threshold: 400, weight: 5}
      - {address: 10.0.1.2, forward: tun, weight: 5}
`)
	key := cfg.Services[0].Key
	d1, d2 := dest("10.0.1.1:443", 5), dest("10.0.1.2:443", 5)
	d1.Forward, d1.UpperThreshold, d1.LowerThreshold = ipvs.ForwardRoute, 500, 400
	d2.Forward = ipvs.ForwardRoute // the file says tun
	r := newRig(t, cfg, newFakeTable(ipvs.Service{ServiceKey: key, Scheduler: "wlc", Destinations: []ipvs.Destination{d1, d2}}))
	r.v.set(key.String(), "10.0.1.1:443", health.StateDown)
	r.v.set(key.String(), "10.0.1.2:443", health.StateUp)
	wantWrites(t, r.pass(),
		"update tcp/192.0.2.20:443 10.0.1.1:443 w=0 fwd=route th=500/400",
		"update tcp/192.0.2.20:443 10.0.1.2:443 w=5 fwd=tunnel th=0/0")
	wantWrites(t, r.pass())
	if c := r.c.counter.actuations; c[[2]string{actionUpdateWeight, "ok"}] != 1 || c[[2]string{actionUpdate, "ok"}] != 1 {
		t.Errorf("actuations %v", c)
	}
}

// TestLocalForwardIsNoDifference: the kernel reports a real server on
// the director itself as "local" whatever was written; that is not
// corrected over and over.
func TestLocalForwardIsNoDifference(t *testing.T) {
	tbl := webTable()
	tbl.Destinations[0].Forward = ipvs.ForwardLocal
	r := newRig(t, webConfig(t, "", ""), newFakeTable(tbl))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	if st := r.rsStatus(web, rs1); st.Drift || st.Pending {
		t.Errorf("local forwarding seen as a difference: %+v", st)
	}
}

// TestFailingWriteDoesNotBlockOthers: one destination's write fails
// every pass; the others are written, the error is counted every time
// and logged once, and the write succeeds once the kernel accepts it.
func TestFailingWriteDoesNotBlockOthers(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.table.setFail("10.0.0.2:80", errors.New("update real server 10.0.0.2:80: the kernel did not answer the IPVS request in time"))
	r.all(health.StateDown)
	r.v.set(web, rs4, health.StateUp) // one weighted server up: the others are drained
	wantWrites(t, r.pass(),
		"update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0",
		"update "+web+" 10.0.0.3:80 w=0 fwd=masq th=100/50")
	wantWrites(t, r.pass())
	if got := r.c.counter.actuations[[2]string{actionUpdateWeight, "error"}]; got != 2 {
		t.Errorf("%d failed writes counted, want 2", got)
	}
	if got := r.c.counter.passErrors; got != 2 {
		t.Errorf("%d failed passes, want 2", got)
	}
	st := r.c.Status()
	if !strings.Contains(st.LastError, "did not answer") || !st.LastSuccess.IsZero() && st.LastSuccess.After(st.LastPass) {
		t.Errorf("status after failures: %+v", st)
	}
	if rs := r.rsStatus(web, rs2); !rs.Pending || rs.KernelWeight != 1 {
		t.Errorf("failed server status %+v, want pending with weight 1", rs)
	}
	if n := r.logs.count("level=ERROR", "server=10.0.0.2:80", "did not answer"); n != 1 {
		t.Errorf("%d error log lines, want 1:\n%s", n, r.logs)
	}
	r.table.setFail("10.0.0.2:80", nil)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0")
	if st := r.c.Status(); st.LastError != "" || st.LastSuccess != st.LastPass {
		t.Errorf("status after recovery: %+v", st)
	}
}

// TestReadErrorWritesNothing: without a table read the controller writes
// nothing, logs the error once and counts every failed pass.
func TestReadErrorWritesNothing(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateDown)
	r.v.set(web, rs4, health.StateUp)
	r.table.setReadErr(fmt.Errorf("read IPVS table: %w", ipvs.ErrModuleNotLoaded))
	wantWrites(t, r.pass())
	wantWrites(t, r.pass())
	if r.c.counter.passErrors != 2 {
		t.Errorf("%d failed passes, want 2", r.c.counter.passErrors)
	}
	if n := r.logs.count("level=ERROR", "cannot read the IPVS table", "modprobe ip_vs"); n != 1 {
		t.Errorf("%d read error lines, want 1:\n%s", n, r.logs)
	}
	r.table.setReadErr(nil)
	if w := r.pass(); len(w) != 3 {
		t.Errorf("after the table is readable again: writes %q, want 3 drains", w)
	}
	if n := r.logs.count("reads the IPVS table again"); n != 1 {
		t.Errorf("%d recovery lines, want 1", n)
	}
}

// TestUndeclaredUntouched: services the file does not declare and
// destinations of a declared service that it does not list are never
// written, even when everything declared changes; the latter are
// reported once.
func TestUndeclaredUntouched(t *testing.T) {
	other := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: netip.MustParseAddr("192.0.2.53"), Port: 53},
		Scheduler: "rr", Destinations: []ipvs.Destination{dest("10.9.9.9:53", 1)}}
	fw := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 7}, Scheduler: "sh", Destinations: []ipvs.Destination{dest("10.9.9.8:0", 0)}}
	tbl := webTable()
	tbl.Destinations = append(tbl.Destinations, dest("10.0.0.99:80", 5))
	r := newRig(t, webConfig(t, "on_failure: remove", ""), newFakeTable(other, tbl, fw))
	r.v.set("udp/192.0.2.53:53", "10.9.9.9:53", health.StateDown) // discovered, down: still untouched
	for _, state := range []health.State{health.StateUp, health.StateDown, health.StateUp} {
		r.all(state)
		for _, w := range r.pass() {
			if !strings.Contains(w, web) || strings.Contains(w, "10.0.0.99") {
				t.Errorf("write outside the declared real servers: %s", w)
			}
		}
	}
	tb := r.table.table()
	if !reflect.DeepEqual(tb[0], other) || !reflect.DeepEqual(tb[2], fw) {
		t.Errorf("undeclared services changed:\n%+v\n%+v", tb[0], tb[2])
	}
	if w := r.table.weight(webKey, "10.0.0.99:80"); w != 5 {
		t.Errorf("undeclared real server weight %d, want 5", w)
	}
	if st := r.svcStatus(web); len(st.Undeclared) != 1 || st.Undeclared[0] != "10.0.0.99:80" {
		t.Errorf("undeclared real servers %v", st.Undeclared)
	}
	if n := r.logs.count("not in the configuration", "server=10.0.0.99:80"); n != 1 {
		t.Errorf("%d undeclared log lines, want 1", n)
	}
}

// TestCreateMissingService: a declared service missing from the table is
// created with its scheduler and persistence (timeout, netmask) once a
// real server is to be added, and its real servers with it; nothing is
// created before a first verdict. The only real server of the second
// service is down: it is added at its declared weight (fail open), since
// a service with total weight 0 serves nobody.
func TestCreateMissingService(t *testing.T) {
	cfg := parseConfig(t, `
services:
  - name: web
    address: 192.0.2.10:80
    scheduler: sh
    persistence: 300s
    persistence_netmask: 255.255.255.0
    real_servers:
      - {address: 10.0.0.1:8080, forward: nat, weight: 3}
      - {address: 10.0.0.2:8080, forward: nat}
  - name: v6
    address: "[2001:db8::10]:443"
    persistence: 60s
    persistence_netmask: 64
    real_servers:
      - {address: "[2001:db8:1::1]", forward: dr}
`)
	r := newRig(t, cfg, newFakeTable())
	wantWrites(t, r.pass())
	r.v.set(web, "10.0.0.1:8080", health.StateUp)
	r.v.set("tcp/[2001:db8::10]:443", "[2001:db8:1::1]:443", health.StateDown)
	wantWrites(t, r.pass(),
		"create_service "+web+" sh flags=1 timeout=300 netmask=0xffffff",
		"create "+web+" 10.0.0.1:8080 w=3 fwd=masq th=0/0",
		"create_service tcp/[2001:db8::10]:443 wlc flags=1 timeout=60 netmask=0x40",
		"create tcp/[2001:db8::10]:443 [2001:db8:1::1]:443 w=1 fwd=route th=0/0")
	wantWrites(t, r.pass())
	r.v.set(web, "10.0.0.2:8080", health.StateUp)
	wantWrites(t, r.pass(), "create "+web+" 10.0.0.2:8080 w=1 fwd=masq th=0/0")
	wantWrites(t, r.pass())
	if c := r.c.counter.actuations; c[[2]string{actionCreateService, "ok"}] != 2 || c[[2]string{actionCreate, "ok"}] != 3 {
		t.Errorf("actuations %v", c)
	}
}

// TestUpdateService: a service whose scheduler or persistence differ
// from the file is updated in place, keeping the flags the file does not
// set.
func TestUpdateService(t *testing.T) {
	tbl := webTable()
	tbl.Scheduler = "rr"
	tbl.Flags = ipvs.FlagHashed | ipvs.FlagSched1
	r := newRig(t, webConfig(t, "persistence: 30s", ""), newFakeTable(tbl))
	wantWrites(t, r.pass(), "update_service "+web+" wrr flags=9 timeout=30 netmask=0xffffffff")
	wantWrites(t, r.pass())
}

// TestReloadAddsAndForgets: a reload adds a new real server as its
// verdict allows and leaves one the file no longer lists in the table,
// untouched.
func TestReloadAddsAndForgets(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	r.c.Update(parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
    real_servers:
      - {address: `+rs1+`, weight: 2, forward: nat}
      - {address: `+rs2+`, weight: 1, forward: nat}
      - {address: 10.0.0.5:80, weight: 4, forward: nat}
`))
	r.v.set(web, "10.0.0.5:80", health.StateUp)
	r.v.set(web, rs3, health.StateDown) // no longer declared: not drained
	wantWrites(t, r.pass(), "create "+web+" 10.0.0.5:80 w=4 fwd=masq th=0/0")
	wantWrites(t, r.pass())
	if st := r.svcStatus(web); !reflect.DeepEqual(st.Undeclared, []string{rs3, rs4}) {
		t.Errorf("undeclared after reload: %v", st.Undeclared)
	}
	if _, ok := r.c.dests[destKey{web, rs3}]; ok {
		t.Errorf("memory of a real server no longer declared kept")
	}
}

// TestStoppedPassWritesNoMore: once the pass's context ends (SIGTERM, or
// the pass deadline), the writes still planned are not attempted: the
// table is left as it is, and the pass counts as failed.
func TestStoppedPassWritesNoMore(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	ctx, cancel := context.WithCancel(context.Background())
	r.table.mu.Lock()
	r.table.onWrite = func(string) { cancel() }
	r.table.mu.Unlock()
	r.all(health.StateDown)
	r.v.set(web, rs4, health.StateUp)
	r.c.pass(ctx)
	wantWrites(t, r.table.takeWrites(), "update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0")
	if st := r.c.Status(); !strings.Contains(st.LastError, "not attempted") || r.c.counter.passErrors != 1 {
		t.Errorf("status after a stopped pass: %q, %d failed passes", st.LastError, r.c.counter.passErrors)
	}
	if n := r.logs.count("level=WARN", "reconcile pass stopped", "left=2"); n != 1 || r.logs.count("level=ERROR") != 0 {
		t.Errorf("a stopped pass logs one line, not an error per write:\n%s", r.logs)
	}
	if n := r.c.counter.actuations[[2]string{actionUpdateWeight, "ok"}]; n != 1 {
		t.Errorf("%d writes counted, want the 1 made", n)
	}
	r.table.mu.Lock()
	r.table.onWrite = nil
	r.table.mu.Unlock()
	if w := r.pass(); len(w) != 2 {
		t.Errorf("the next pass made %q, want the 2 drains left", w)
	}
}

// TestPassReadsVerdicts: a pass reads every real server's verdict
// without its checks (Verdicts) from a source that has them, not Status's
// copy of every check, and still names a drained server's failing check
// in its log, which it asks for that one server.
func TestPassReadsVerdicts(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	statuses, verdicts := r.v.statusCount(), r.v.verdictCount()
	r.pass()
	r.v.set(web, rs2, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" "+rs2+" w=0 fwd=masq th=0/0")
	if got := r.v.statusCount() - statuses; got != 0 {
		t.Errorf("Status called %d times by two passes, want 0", got)
	}
	if got := r.v.verdictCount() - verdicts; got != 2 {
		t.Errorf("Verdicts called %d times by two passes, want 2", got)
	}
	if n := r.logs.count(`msg="set real server weight"`, "server="+rs2, "check=tcp:80", "result=closed"); n != 1 {
		t.Errorf("%d drain log lines naming the failing check, want 1:\n%s", n, r.logs)
	}
}
