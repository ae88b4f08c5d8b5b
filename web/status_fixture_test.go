package web

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// t0 is the fixture's clock: every time in it is relative to t0.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// xss is put into every text field an operator or a configuration can
// set, to prove the page escapes it.
const xss = "<script>alert(1)</script>"

const fixtureConfig = `services:
  - name: web
    address: 192.0.2.10:80
    scheduler: wrr
    persistence: 300s
    panic_threshold: 50%
    slow_start: 60s
    real_servers:
      - {address: 10.0.0.1:80, weight: 2, forward: nat}
      - {address: 10.0.0.2:80, weight: 1, forward: nat}
      - {address: 10.0.0.3:80, weight: 1, forward: nat}
      - {address: 10.0.0.4:80, weight: 2, forward: nat}
      - {address: 10.0.0.5:80, weight: 1, forward: nat}
      - {address: 10.0.0.6:80, weight: 1, forward: nat}
  - name: "` + xss + `"
    address: 192.0.2.10:53
    protocol: udp
    real_servers:
      - {address: 10.0.1.1:53, weight: 1, forward: dr}
      - {address: 10.0.1.2:53, weight: 1, forward: dr}
`

// fixture is a director at t0+step×10s: service web with a server in
// each state (10.0.0.1 up, .2 drained, .3 maintenance, .4 ramping, .5
// without a verdict, .6 removed, and the table's undeclared .9), and a
// second service, all up, whose name is an XSS attempt. Counters grow
// with step; a step of -1 is step 2 with 10.0.0.1's counters reset (the
// destination was created again).
func fixture(t testing.TB, step int) StatusInput {
	t.Helper()
	reset := step < 0
	if reset {
		step = 2
	}
	cfg, err := config.Parse([]byte(fixtureConfig), "lvs.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Source = config.Source{Path: "/etc/lvs-sidecar/lvs.yml", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	now := t0.Add(time.Duration(step) * 10 * time.Second)
	grow := uint64(step)

	web := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80},
		Scheduler: "wrr", Flags: ipvs.FlagPersistent, Timeout: 300,
		Stats: ipvs.Stats{Connections: 1000 + 50*grow, BytesIn: 1e6 + 1e5*grow, BytesOut: 1e7 + 1e6*grow, PacketsIn: 5000, PacketsOut: 9000}}
	dest := func(addr string, weight int32, conns uint64) ipvs.Destination {
		a := netip.MustParseAddrPort(addr)
		return ipvs.Destination{Family: ipvs.FamilyIPv4, Address: a.Addr(), Port: a.Port(), Forward: ipvs.ForwardMasq, Weight: weight,
			ActiveConns: uint32(conns / 10), InactiveConns: uint32(conns / 5),
			Stats: ipvs.Stats{Connections: conns + 10*grow*uint64(weight), BytesIn: 1000*conns + 1000*grow, BytesOut: 10000*conns + 20000*grow}}
	}
	first := dest("10.0.0.1:80", 2, 500)
	if reset {
		first.Stats = ipvs.Stats{Connections: 3}
	}
	web.Destinations = []ipvs.Destination{first, dest("10.0.0.2:80", 0, 200), dest("10.0.0.3:80", 0, 100), dest("10.0.0.4:80", 1, 50),
		dest("10.0.0.5:80", 1, 40), dest("10.0.0.9:80", 0, 7)}
	dns := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: netip.MustParseAddr("192.0.2.10"), Port: 53},
		Scheduler: "wlc", Stats: ipvs.Stats{Connections: 10 + grow}}
	dns.Destinations = []ipvs.Destination{dest("10.0.1.1:53", 1, 5), dest("10.0.1.2:53", 1, 5)}
	snap := &ipvs.Snapshot{Services: []ipvs.Service{web, dns}}

	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	check := func(name string, class health.Class, reason string, latency time.Duration) []health.CheckStatus {
		return []health.CheckStatus{{Name: name, State: health.StateUp, Last: health.Result{Class: class, Reason: reason, Latency: latency}, LastTime: ago(time.Second)}}
	}
	wk, dk := web.ServiceKey.String(), dns.ServiceKey.String()
	verdicts := []health.ServerStatus{
		{Service: wk, Server: "10.0.0.1:80", State: health.StateUp, Since: ago(time.Hour), Checks: check("tcp", health.ClassOpen, "", 1200*time.Microsecond)},
		{Service: wk, Server: "10.0.0.2:80", State: health.StateDown, Since: ago(5 * time.Minute), Checks: append(check("tcp", health.ClassOpen, "", time.Millisecond),
			health.CheckStatus{Name: "http", State: health.StateDown, Last: health.Result{Class: health.ClassError, Reason: "HTTP 503, want 200 " + xss, Latency: 30 * time.Millisecond}, LastTime: ago(2 * time.Second), Fails: 3})},
		{Service: wk, Server: "10.0.0.3:80", State: health.StateUp, Since: ago(2 * time.Hour), Checks: check("tcp", health.ClassOpen, "", time.Millisecond)},
		{Service: wk, Server: "10.0.0.4:80", State: health.StateUp, Since: ago(20 * time.Second), Checks: check("tcp", health.ClassOpen, "", 900*time.Microsecond)},
		{Service: wk, Server: "10.0.0.5:80", State: health.StateUnknown, Since: ago(3 * time.Second)},
		{Service: wk, Server: "10.0.0.6:80", State: health.StateDown, Since: ago(10 * time.Minute), Checks: check("tcp", health.ClassClosed, "connection refused (RST)", 300*time.Microsecond)},
		{Service: wk, Server: "10.0.0.9:80", State: health.StateUp, Since: ago(time.Hour), Checks: check("tcp", health.ClassOpen, "", time.Millisecond)},
		{Service: dk, Server: "10.0.1.1:53", State: health.StateUp, Since: ago(24 * time.Hour), Checks: check("udp", health.ClassOpen, "", 2*time.Millisecond)},
		{Service: dk, Server: "10.0.1.2:53", State: health.StateUp, Since: ago(24 * time.Hour), Checks: check("udp", health.ClassOpen, "", 3*time.Millisecond)},
	}
	rs := func(server string, verdict health.State, reason actuator.Reason, declared, desired int, inTable bool) actuator.RealServerStatus {
		return actuator.RealServerStatus{Server: server, Verdict: verdict, DeclaredWeight: declared, Decided: reason != actuator.ReasonNoVerdict,
			DesiredInTable: inTable, DesiredWeight: desired, ReasonCode: reason, InTable: inTable, KernelWeight: desired}
	}
	ramp := rs("10.0.0.4:80", health.StateUp, actuator.ReasonSlowStart, 2, 1, true)
	ramp.SlowStart = &actuator.SlowStart{Start: ago(20 * time.Second), End: ago(20 * time.Second).Add(time.Minute), Progress: 1.0 / 3}
	up := rs("10.0.0.1:80", health.StateUp, actuator.ReasonLoad, 2, 2, true)
	up.Load = &actuator.LoadStatus{Load: 3, Fresh: true, Factor: 0.75, Weight: 2, Target: 2}
	maint := rs("10.0.0.3:80", health.StateUp, actuator.ReasonMaintenance, 1, 0, true)
	maint.Maintenance = true
	status := &actuator.Status{Mode: config.ControllerManaged, Period: 5 * time.Second, Passes: 100 + uint64(step), LastPass: ago(time.Second), LastSuccess: ago(time.Second),
		Services: []actuator.ServiceStatus{
			{Name: "web", Service: wk, InTable: true, Up: 3, Judged: 4, CapacityUp: 5, CapacityJudged: 6, PanicThreshold: 50, RealServers: []actuator.RealServerStatus{
				up, rs("10.0.0.2:80", health.StateDown, actuator.ReasonDrain, 1, 0, true), maint, ramp,
				rs("10.0.0.5:80", health.StateUnknown, actuator.ReasonNoVerdict, 1, 0, true),
				rs("10.0.0.6:80", health.StateDown, actuator.ReasonRemove, 1, 0, false),
			}},
			{Name: xss, Service: dk, InTable: true, Up: 2, Judged: 2, CapacityUp: 2, CapacityJudged: 2, RealServers: []actuator.RealServerStatus{
				rs("10.0.1.1:53", health.StateUp, actuator.ReasonUp, 1, 1, true), rs("10.0.1.2:53", health.StateUp, actuator.ReasonUp, 1, 1, true),
			}},
		}}
	return StatusInput{
		Director: "lvs1." + xss,
		ServicesInput: ServicesInput{
			Version: "1.2.3", Config: cfg, Status: status, Verdicts: verdicts, Snapshot: snap,
			Maintenance: []actuator.MaintenanceEntry{{Service: wk, Server: "10.0.0.3:80", Reason: "kernel upgrade " + xss, By: "admin", Since: t0.Add(-30 * time.Minute)}},
		},
	}
}

// fixtureEvents are the recent events of the fixture, newest first.
func fixtureEvents() []EventView {
	r := NewEvents(10)
	r.HealthEvent(health.Event{Time: t0.Add(-5 * time.Minute), Service: "tcp/192.0.2.10:80", Server: "10.0.0.2:80", Old: health.StateUp, New: health.StateDown,
		Check: "http", Result: health.Result{Class: health.ClassError, Reason: "HTTP 503, want 200 " + xss, Latency: 30 * time.Millisecond}})
	r.Action(actuator.Action{Time: t0.Add(-5*time.Minute + time.Second), Kind: actuator.ActionUpdateWeight, Service: "tcp/192.0.2.10:80", Name: "web", Server: "10.0.0.2:80",
		OldWeight: 1, NewWeight: 0, DeclaredWeight: 1, Reason: actuator.ReasonDrain, CapacityUp: 5, CapacityJudged: 6, CapacityPercent: 83.33333, PanicThreshold: 50})
	r.Action(actuator.Action{Time: t0.Add(-20 * time.Second), Kind: actuator.ActionUpdateWeight, Service: "tcp/192.0.2.10:80", Name: "web", Server: "10.0.0.4:80",
		OldWeight: 0, NewWeight: 1, DeclaredWeight: 2, Reason: actuator.ReasonSlowStart})
	return r.List()
}

// fakeGather serves fixture inputs one after the other; after the last,
// the last again.
type fakeGather struct {
	steps []int
	n     int
	fail  error // the table is unreadable
}

func (g *fakeGather) gather(t testing.TB) func(context.Context) StatusInput {
	return func(context.Context) StatusInput {
		step := g.steps[min(g.n, len(g.steps)-1)]
		g.n++
		in := fixture(t, step)
		if g.fail != nil {
			in.Snapshot, in.SnapshotErr = nil, g.fail
		}
		return in
	}
}

// fakeClock advances 10 s per call, in step with fakeGather.
type fakeClock struct{ n int }

func (c *fakeClock) now() time.Time {
	t := t0.Add(time.Duration(c.n) * 10 * time.Second)
	c.n++
	return t
}

var errNoIPVS = errors.New("netlink: the ip_vs module is not loaded: modprobe ip_vs")

// recordedSetter records the maintenance changes it is asked for.
type recordedSetter struct {
	calls []MaintenanceRequest
	err   error
	code  int
}

func (s *recordedSetter) set(r MaintenanceRequest) (bool, int, error) {
	s.calls = append(s.calls, r)
	if s.err != nil {
		return false, s.code, s.err
	}
	return true, 200, nil
}

func (s *recordedSetter) String() string { return fmt.Sprint(s.calls) }
