package notify

import (
	"fmt"
	"net/netip"
	"slices"
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

// TestDropEpisodes: a full queue logs once per burst of drops; drops
// after a quiet second are a new episode, logged again, even when no
// delivery ended the first one.
func TestDropEpisodes(t *testing.T) {
	log, logs := testLogger()
	tg := newTarget(testConfig(t, `    - {name: q, address: 127.0.0.1:9, community: public, queue_size: 1}`).Notifications.Targets[0],
		"lb1", time.Now(), health.RealClock{}, log)
	for range 100 {
		tg.enqueue(&Notification{Event: EventStart})
	}
	if got := logs.count("notification queue full"); got != 1 || tg.dropped.Load() != 99 {
		t.Fatalf("%d log lines, %d dropped; want 1 and 99", got, tg.dropped.Load())
	}
	tg.lastDrop.Store(int64(health.RealClock{}.Monotonic() - 2*episodeQuiet))
	tg.enqueue(&Notification{Event: EventStart})
	if got := logs.count("notification queue full"); got != 2 {
		t.Errorf("%d log lines after a quiet spell, want 2", got)
	}
}
