package simtable

import (
	"context"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// trafficSeed is a web service of three real servers: weight 1
// (masquerading), 3 (direct routing) and 0.
func trafficSeed() []ipvs.Service {
	return []ipvs.Service{{ServiceKey: webKey, Scheduler: "wrr", Destinations: []ipvs.Destination{
		destAt(rs1, ipvs.ForwardMasq, 1), destAt(rs2, ipvs.ForwardRoute, 3), destAt(rs3, ipvs.ForwardMasq, 0),
	}}}
}

func dests(t *testing.T, tab *Table) (svc ipvs.Service, d1, d2, d3 ipvs.Destination, totals ipvs.Stats) {
	t.Helper()
	snap := snapshot(t, tab)
	s, a := find(snap, webKey, rs1)
	_, b := find(snap, webKey, rs2)
	_, c := find(snap, webKey, rs3)
	return *s, *a, *b, *c, *snap.Totals
}

func near(got uint32, want float64) bool { return math.Abs(float64(got)-want) <= 1 }

// TestTrafficFollowsWeight: a service's connections arrive at the rate,
// shared in proportion to the weights (none for weight 0); each counts
// its packets and bytes, replies only through masquerading; the service
// and the host count the sum; the connection counts settle at rate ×
// life.
func TestTrafficFollowsWeight(t *testing.T) {
	c := newClock()
	tab := newTable(t, trafficSeed(), 100, c)
	c.add(10 * time.Second)
	s, d1, d2, d3, totals := dests(t, tab)
	if s.Stats.Connections != 1000 {
		t.Errorf("service: %d connections in 10s at 100/s", s.Stats.Connections)
	}
	if d1.Stats.Connections != 250 || d2.Stats.Connections != 750 || d3.Stats.Connections != 0 {
		t.Errorf("connections by weight 1, 3, 0: %d, %d, %d; want 250, 750, 0", d1.Stats.Connections, d2.Stats.Connections, d3.Stats.Connections)
	}
	p := streamProfile
	if d1.Stats != (ipvs.Stats{Connections: 250, PacketsIn: uint64(250 * p.packetsIn), BytesIn: uint64(250 * p.bytesIn),
		PacketsOut: uint64(250 * p.packetsOut), BytesOut: uint64(250 * p.bytesOut)}) {
		t.Errorf("masquerading real server: %+v", d1.Stats)
	}
	if d2.Stats.PacketsIn != uint64(750*p.packetsIn) || d2.Stats.PacketsOut != 0 || d2.Stats.BytesOut != 0 {
		t.Errorf("direct-routing real server counts replies: %+v", d2.Stats)
	}
	var sum ipvs.Stats
	add(&sum, d1.Stats)
	add(&sum, d2.Stats)
	add(&sum, d3.Stats)
	if s.Stats != sum || totals != sum {
		t.Errorf("service %+v and host %+v, the real servers' sum %+v", s.Stats, totals, sum)
	}
	if d1.ActiveConns == 0 || !near(d2.ActiveConns, 3*float64(d1.ActiveConns)) || d3.ActiveConns != 0 || d3.InactiveConns != 0 {
		t.Errorf("active connections by weight 1, 3, 0: %d, %d, %d", d1.ActiveConns, d2.ActiveConns, d3.ActiveConns)
	}

	c.add(time.Hour)
	_, d1, d2, _, _ = dests(t, tab)
	life, lingers := activeLife.Seconds(), float64(timeouts.TCPFin)
	if d1.ActiveConns != uint32(25*life) || d2.ActiveConns != uint32(75*life) ||
		d1.InactiveConns != uint32(25*lingers) || d2.InactiveConns != uint32(75*lingers) || d1.PersistConns != 0 {
		t.Errorf("settled connections: %d/%d and %d/%d active/inactive, want rate × %gs / rate × %gs",
			d1.ActiveConns, d1.InactiveConns, d2.ActiveConns, d2.InactiveConns, life, lingers)
	}
}

// TestTrafficDrain: a drained real server gets no new connections, its
// share goes to the others, its active connections end within seconds
// and its inactive ones within minutes; restored, it gets its share
// again.
func TestTrafficDrain(t *testing.T) {
	c := newClock()
	tab := newTable(t, trafficSeed(), 100, c)
	c.add(time.Hour)
	_, d1, d2, _, _ := dests(t, tab)
	ctx := context.Background()
	drained := destAt(rs2, ipvs.ForwardRoute, 0)
	if err := tab.UpdateDestination(ctx, webKey, &drained); err != nil {
		t.Fatal(err)
	}
	c.add(20 * time.Second)
	_, a1, a2, _, _ := dests(t, tab)
	if a2.Stats.Connections != d2.Stats.Connections {
		t.Errorf("drained real server got %d new connections", a2.Stats.Connections-d2.Stats.Connections)
	}
	if a1.Stats.Connections-d1.Stats.Connections != 2000 {
		t.Errorf("the other real server got %d connections in 20s, want all 2000", a1.Stats.Connections-d1.Stats.Connections)
	}
	if a2.ActiveConns != 0 || a2.InactiveConns == 0 || a2.InactiveConns >= d2.InactiveConns {
		t.Errorf("drained real server 20s on: %d active, %d inactive (were %d, %d)", a2.ActiveConns, a2.InactiveConns, d2.ActiveConns, d2.InactiveConns)
	}
	c.add(time.Hour)
	if _, _, a2, _, _ = dests(t, tab); a2.InactiveConns != 0 {
		t.Errorf("drained real server an hour on: %d inactive", a2.InactiveConns)
	}

	restored := destAt(rs2, ipvs.ForwardRoute, 3)
	if err := tab.UpdateDestination(ctx, webKey, &restored); err != nil {
		t.Fatal(err)
	}
	before := a2.Stats.Connections
	c.add(10 * time.Second)
	if _, _, a2, _, _ = dests(t, tab); a2.Stats.Connections-before != 750 {
		t.Errorf("restored real server got %d connections in 10s, want 750", a2.Stats.Connections-before)
	}

	// All drained: the service schedules nothing.
	for _, ap := range []netip.AddrPort{rs1, rs2} {
		d := destAt(ap, ipvs.ForwardMasq, 0)
		if err := tab.UpdateDestination(ctx, webKey, &d); err != nil {
			t.Fatal(err)
		}
	}
	s, _, _, _, _ := dests(t, tab)
	c.add(time.Minute)
	if s2, _, _, _, _ := dests(t, tab); s2.Stats != s.Stats {
		t.Errorf("a service of drained real servers counted %+v, then %+v", s.Stats, s2.Stats)
	}
}

// TestTrafficUDPAndPersistence: UDP connections are all inactive and
// last the UDP timeout, with the datagram profile; a persistent service
// keeps one template per client for its timeout.
func TestTrafficUDPAndPersistence(t *testing.T) {
	c := newClock()
	seed := []ipvs.Service{
		{ServiceKey: dnsKey, Scheduler: "rr", Destinations: []ipvs.Destination{destAt(netip.MustParseAddrPort("10.0.1.1:53"), ipvs.ForwardMasq, 1)}},
		{ServiceKey: webKey, Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 600, Destinations: []ipvs.Destination{destAt(rs1, ipvs.ForwardMasq, 1)}},
	}
	tab := newTable(t, seed, 10, c)
	c.add(3 * time.Hour)
	snap := snapshot(t, tab)
	_, dns := find(snap, dnsKey, netip.MustParseAddrPort("10.0.1.1:53"))
	if dns.ActiveConns != 0 || dns.InactiveConns != uint32(10*timeouts.UDP) || dns.PersistConns != 0 {
		t.Errorf("UDP real server: %d active, %d inactive, %d persistent; want 0, %d, 0", dns.ActiveConns, dns.InactiveConns, dns.PersistConns, 10*timeouts.UDP)
	}
	if n := dns.Stats.Connections; dns.Stats.BytesIn != uint64(float64(n)*datagramProfile.bytesIn) || dns.Stats.PacketsOut != uint64(float64(n)*datagramProfile.packetsOut) {
		t.Errorf("UDP counters: %+v", dns.Stats)
	}
	_, web := find(snap, webKey, rs1)
	if web.PersistConns != uint32(10/connsPerClient*600) || web.ActiveConns != uint32(10*activeLife.Seconds()) {
		t.Errorf("persistent real server: %d templates, %d active; want %d, %d", web.PersistConns, web.ActiveConns, 10/connsPerClient*600, uint32(10*activeLife.Seconds()))
	}
}

// TestTrafficSameForAnyReads: read every 100ms or once, the same clock
// gives the same numbers (to the last unit).
func TestTrafficSameForAnyReads(t *testing.T) {
	ca, cb := newClock(), newClock()
	often, once := newTable(t, trafficSeed(), 37, ca), newTable(t, trafficSeed(), 37, cb)
	for range 600 {
		ca.add(100 * time.Millisecond)
		snapshot(t, often)
	}
	cb.add(time.Minute)
	_, a1, a2, _, _ := dests(t, often)
	_, b1, b2, _, _ := dests(t, once)
	for _, p := range [][2]ipvs.Destination{{a1, b1}, {a2, b2}} {
		a, b := p[0], p[1]
		for _, v := range [][2]uint64{
			{a.Stats.Connections, b.Stats.Connections}, {a.Stats.PacketsIn, b.Stats.PacketsIn}, {a.Stats.BytesIn, b.Stats.BytesIn},
			{a.Stats.PacketsOut, b.Stats.PacketsOut}, {a.Stats.BytesOut, b.Stats.BytesOut},
			{uint64(a.ActiveConns), uint64(b.ActiveConns)}, {uint64(a.InactiveConns), uint64(b.InactiveConns)},
		} {
			if d := int64(v[0]) - int64(v[1]); d < -1 || d > 1 {
				t.Errorf("%s: read 600 times %+v, once %+v", a.Server(), a, b)
				break
			}
		}
	}
	if b1.Stats.Connections == 0 {
		t.Error("no traffic")
	}
}

// TestTrafficStill: at rate 0 nothing moves, and a clock that goes back
// moves nothing either, nor does it undo.
func TestTrafficStill(t *testing.T) {
	c := newClock()
	still := newTable(t, trafficSeed(), 0, c)
	c.add(time.Hour)
	if s, _, _, _, _ := dests(t, still); s.Stats != (ipvs.Stats{}) {
		t.Errorf("rate 0 counted %+v", s.Stats)
	}

	c = newClock()
	tab := newTable(t, trafficSeed(), 100, c)
	c.add(time.Minute)
	s1, _, _, _, _ := dests(t, tab)
	c.add(-30 * time.Second)
	s2, _, _, _, _ := dests(t, tab)
	c.add(30 * time.Second)
	s3, _, _, _, _ := dests(t, tab)
	if s2.Stats != s1.Stats || s3.Stats != s1.Stats {
		t.Errorf("with the clock back and forth to where it was: %+v, %+v, %+v", s1.Stats, s2.Stats, s3.Stats)
	}
	c.add(time.Second)
	if s4, _, _, _, _ := dests(t, tab); s4.Stats.Connections != s1.Stats.Connections+100 {
		t.Errorf("a second after: %d connections, want %d", s4.Stats.Connections, s1.Stats.Connections+100)
	}
}
