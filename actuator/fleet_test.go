package actuator

import (
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// twoServices is webConfig plus a second service (api, weights 1 and 1)
// with the same checks (the default: every 2 s, timeout 1 s).
func twoServices(t *testing.T) (*rig, string) {
	t.Helper()
	const api = "tcp/192.0.2.11:443"
	cfg := parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
    real_servers:
      - {address: `+rs1+`, weight: 2, forward: nat}
      - {address: `+rs2+`, weight: 1, forward: nat}
      - {address: `+rs3+`, weight: 3, forward: nat, upper_threshold: 100, lower_threshold: 50}
      - {address: `+rs4+`, weight: 1, forward: nat}
  - name: api
    address: 192.0.2.11:443
    real_servers:
      - {address: 10.0.1.1, forward: dr}
      - {address: 10.0.1.2, forward: dr}
`)
	apiKey := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: webKey.Address.Next(), Port: 443}
	apiTbl := ipvs.Service{ServiceKey: apiKey, Scheduler: "wlc", Destinations: []ipvs.Destination{dest("10.0.1.1:443", 1), dest("10.0.1.2:443", 1)}}
	for i := range apiTbl.Destinations {
		apiTbl.Destinations[i].Forward = ipvs.ForwardRoute
	}
	r := newRig(t, cfg, newFakeTable(webTable(), apiTbl))
	return r, api
}

// TestFleetWideFailureIsSuspect: every real server of both services goes
// down within one check interval (2 s + 1 s timeout): that is taken for
// trouble on the director. Nothing is drained, not even the servers that
// went down first and would have been drained alone: each keeps its
// declared weight, logged once, counted, shown in the status and the
// reasons. One server of api up again ends it: api's down server is
// drained, while web, all of whose servers are still down, fails open on
// its own.
func TestFleetWideFailureIsSuspect(t *testing.T) {
	r, api := twoServices(t)
	all := map[string][]string{web: {rs1, rs2, rs3, rs4}, api: {"10.0.1.1:443", "10.0.1.2:443"}}
	at := time.Unix(1000, 0)
	for svc, servers := range all {
		for _, s := range servers {
			r.v.setAt(svc, s, health.StateUp, at)
		}
	}
	wantWrites(t, r.pass())

	// The first goes down: drained, as a single failure is.
	r.v.setAt(web, rs1, health.StateDown, at.Add(10*time.Second))
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0")
	// The rest within 2 s of it: suspect, everything open again.
	i := 1
	for svc, servers := range all {
		for _, s := range servers {
			if s != rs1 {
				r.v.setAt(svc, s, health.StateDown, at.Add(10*time.Second+time.Duration(i)*400*time.Millisecond))
				i++
			}
		}
	}
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0")
	wantWrites(t, r.pass())
	st := r.c.Status()
	if !st.FleetSuspect {
		t.Fatalf("status %+v: no fleet suspect", st)
	}
	if rs := r.rsStatus(api, "10.0.1.1:443"); rs.ReasonCode != ReasonFleetSuspect || rs.DesiredWeight != 1 {
		t.Errorf("api server in a suspect fleet failure: %+v", rs)
	}
	if n := r.logs.count("level=ERROR", "every real server of every service went down at once"); n != 1 || r.c.counter.fleetSuspects != 1 {
		t.Errorf("%d log lines, %d counted; want 1 and 1:\n%s", n, r.c.counter.fleetSuspects, r.logs)
	}

	r.v.set(api, "10.0.1.2:443", health.StateUp)
	wantWrites(t, r.pass(), "update "+api+" 10.0.1.1:443 w=0 fwd=route th=0/0")
	if r.c.Status().FleetSuspect || !r.svcStatus(web).FailOpen {
		t.Errorf("one server back: suspect %v, web fail open %v", r.c.Status().FleetSuspect, r.svcStatus(web).FailOpen)
	}
	if n := r.logs.count("level=INFO", "fleet-wide failure is over"); n != 1 {
		t.Errorf("%d end-of-suspect lines, want 1", n)
	}
}

// TestFleetFailingOneByOneIsNot: the same servers going down far apart
// (minutes: independent failures) are not suspect; each service fails
// open on its own when its last weighted server is down, and nothing is
// reported as a fleet failure.
func TestFleetFailingOneByOneIsNot(t *testing.T) {
	r, api := twoServices(t)
	for _, s := range []string{rs1, rs2, rs3, rs4} {
		r.v.set(web, s, health.StateUp)
	}
	r.v.set(api, "10.0.1.1:443", health.StateUp)
	r.v.set(api, "10.0.1.2:443", health.StateUp)
	wantWrites(t, r.pass())
	r.v.set(api, "10.0.1.1:443", health.StateDown)
	r.v.set(api, "10.0.1.2:443", health.StateDown)
	for _, s := range []string{rs1, rs2, rs3, rs4} {
		r.v.set(web, s, health.StateDown)
	}
	wantWrites(t, r.pass())
	if st := r.c.Status(); st.FleetSuspect || !r.svcStatus(web).FailOpen || !r.svcStatus(api).FailOpen {
		t.Errorf("independent failures: suspect %v, fail open web %v api %v", st.FleetSuspect, r.svcStatus(web).FailOpen, r.svcStatus(api).FailOpen)
	}
	if r.logs.count("went down at once") != 0 {
		t.Errorf("independent failures reported as a fleet failure:\n%s", r.logs)
	}
}

// TestOneServerFleetIsNotSuspect: a fleet of one real server that fails
// is a failure, not director trouble (the service still fails open).
func TestOneServerFleetIsNotSuspect(t *testing.T) {
	cfg := parseConfig(t, "services:\n  - name: web\n    address: "+webVIP+"\n    real_servers:\n      - {address: "+rs1+", forward: nat}\n")
	r := newRig(t, cfg, newFakeTable(ipvs.Service{ServiceKey: webKey, Scheduler: "wlc", Destinations: []ipvs.Destination{dest(rs1, 1)}}))
	r.v.set(web, rs1, health.StateDown)
	wantWrites(t, r.pass())
	if r.c.Status().FleetSuspect || !r.svcStatus(web).FailOpen {
		t.Errorf("one-server fleet: %+v", r.c.Status())
	}
}
