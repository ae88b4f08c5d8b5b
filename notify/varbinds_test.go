package notify

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
	"github.com/lvs-sidecar/lvs-sidecar/mib"
)

// TestSidecarVarbindsFollowTheMIB: every event's varbinds are sysUpTime,
// snmpTrapOID with its notification, then exactly the OBJECTS of that
// notification in mib.NotificationObjects, in order.
func TestSidecarVarbindsFollowTheMIB(t *testing.T) {
	for ev, oid := range eventOID {
		n := Notification{Event: ev, Action: actuator.ActionUpdateWeight}
		pdus, err := sidecarVarbinds(&n, "lb1", 42)
		if err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
		if pdus[0].Name != "."+mib.SysUpTime || pdus[0].Value != uint32(42) || pdus[1].Name != "."+mib.SnmpTrapOID || pdus[1].Value != "."+oid {
			t.Errorf("%s: header %v", ev, pdus[:2])
		}
		var names []string
		for _, p := range pdus[2:] {
			names = append(names, p.Name[1:])
		}
		if !slices.Equal(names, mib.NotificationObjects[oid]) {
			t.Errorf("%s: varbinds %v, want %v", ev, names, mib.NotificationObjects[oid])
		}
	}
	if _, err := sidecarVarbinds(&Notification{Event: EventRealServerWrite, Action: actuator.ActionPanicEnter}, "lb1", 0); err == nil {
		t.Error("a state change as a write's action was accepted")
	}
}

// TestKeepalivedFwmarkAndIPv6: a fwmark service gives virtualServerType
// fwmark with its mark and protocol none; an IPv6 real server a 16-octet
// address of type ipv6; undeclared services and first verdicts of up
// give nothing.
func TestKeepalivedFwmarkAndIPv6(t *testing.T) {
	n := Notification{Event: EventStateChange, Server: "[2001:db8::5]:443", OldState: health.StateUp, NewState: health.StateDown,
		serviceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 42}, declared: true, ServersUp: 3, ServersTotal: 4}
	pdus, err := keepalivedVarbinds(&n, "lb1", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	var order []string
	for _, p := range pdus {
		got[p.Name[1:]] = p.Value
		order = append(order, mib.KeepalivedNames[p.Name[1:]])
	}
	want := map[string]any{mib.KeepalivedRSAddrType: mib.InetAddressIPv6, mib.KeepalivedRSPort: uint(443), mib.KeepalivedRSStatus: mib.KeepalivedDead,
		mib.KeepalivedVSType: mib.KeepalivedTypeFwmark, mib.KeepalivedVSFwMark: uint(42), mib.KeepalivedVSProtocol: 4,
		mib.KeepalivedVSRSUp: uint(3), mib.KeepalivedVSRSTotal: uint(4)}
	for oid, v := range want {
		if fmt.Sprint(got[oid]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", mib.KeepalivedNames[oid], got[oid], v)
		}
	}
	if a := got[mib.KeepalivedRSAddress].([]byte); netip.AddrFrom16([16]byte(a)) != netip.MustParseAddr("2001:db8::5") {
		t.Errorf("realServerAddress %x", a)
	}
	wantOrder := []string{"", "", "realServerAddrType", "realServerAddress", "realServerPort", "realServerStatus", "virtualServerType",
		"virtualServerFwMark", "virtualServerProtocol", "virtualServerRealServersUp", "virtualServerRealServersTotal", "routerId.0"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("order %v\nwant %v", order, wantOrder)
	}
	for _, skip := range []Notification{
		{Event: EventStateChange, Server: "10.0.0.1:80", NewState: health.StateUp, serviceKey: n.serviceKey, declared: true},
		{Event: EventStateChange, Server: "10.0.0.1:80", OldState: health.StateUp, NewState: health.StateDown},
		{Event: EventRealServerWrite, serviceKey: n.serviceKey, declared: true},
		{Event: EventStart, serviceKey: n.serviceKey, declared: true},
	} {
		if pdus, _ := keepalivedVarbinds(&skip, "lb1", 0); pdus != nil {
			t.Errorf("%+v sent in keepalived mode: %v", skip, pdus)
		}
	}
}

// TestDropEpisodes: a full queue logs once per episode of drops, which
// lasts while the queue stays full however far apart the drops are (a
// receiver that is down), and ends once a delivery left the queue empty
// and a quiet second passed without a drop, at that delivery or at the
// next drop (a fast-failing target that drained its queue in between).
func TestDropEpisodes(t *testing.T) {
	log, logs := testLogger()
	clock := health.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	tg := newTarget(testConfig(t, `    - {name: q, address: 127.0.0.1:9, community: public, queue_size: 1}`).Notifications.Targets[0],
		"lb1", time.Now(), clock, log)
	lines := func(want int, when string) {
		t.Helper()
		if got := logs.count("notification queue full"); got != want {
			t.Fatalf("%s: %d queue-full lines, want %d:\n%s", when, got, want, logs)
		}
	}
	for range 100 {
		tg.enqueue(&Notification{Event: EventStart})
	}
	lines(1, "a burst")
	if tg.dropped.Load() != 99 {
		t.Fatalf("%d dropped, want 99", tg.dropped.Load())
	}
	for range 5 {
		clock.Advance(2 * episodeQuiet)
		tg.enqueue(&Notification{Event: EventStart})
	}
	lines(1, "drops seconds apart, the queue full all along")

	// Drained at once after a drop: not quiet yet, the episode goes on.
	<-tg.queue
	tg.delivered()
	tg.enqueue(&Notification{Event: EventStart})
	tg.enqueue(&Notification{Event: EventStart})
	lines(1, "a drop right after the queue drained")
	if logs.count("notification queue has room again") != 0 {
		t.Fatalf("episode ended without a quiet second:\n%s", logs)
	}

	// Drained a quiet second after the last drop: the delivery ends it.
	clock.Advance(episodeQuiet)
	<-tg.queue
	tg.delivered()
	if got := logs.count("notification queue has room again", "dropped=105"); got != 1 {
		t.Fatalf("no end of the episode with its 105 drops:\n%s", logs)
	}
	tg.enqueue(&Notification{Event: EventStart})
	tg.enqueue(&Notification{Event: EventStart})
	lines(2, "a drop after the episode ended")

	// Drained right after a drop, then a drop a quiet second later: that
	// drop ends the episode and starts the next.
	<-tg.queue
	tg.delivered()
	clock.Advance(episodeQuiet)
	tg.enqueue(&Notification{Event: EventStart})
	tg.enqueue(&Notification{Event: EventStart})
	lines(3, "a drop a quiet second after the queue drained")
	if !strings.HasSuffix(strings.TrimSpace(logs.String()), "event=start") || logs.count("notification queue has room again") != 2 ||
		!strings.Contains(logs.String(), "dropped=1\n") {
		t.Fatalf("the second episode's end is not logged with its one drop, before the third's start:\n%s", logs)
	}
}
