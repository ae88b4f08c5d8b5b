package notify

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// Keepalived 2.2's varbinds of its two checker notifications (after
// sysUpTime.0 and snmpTrapOID.0), for an address service: see
// check_snmp_rs_trap in keepalived's check/check_snmp.c.
var (
	keepalivedRSVarbinds = []string{"realServerAddrType", "realServerAddress", "realServerPort", "realServerStatus",
		"virtualServerType", "virtualServerAddrType", "virtualServerAddress", "virtualServerPort", "virtualServerProtocol",
		"virtualServerRealServersUp", "virtualServerRealServersTotal", "routerId.0"}
	keepalivedQuorumVarbinds = []string{"virtualServerType", "virtualServerAddrType", "virtualServerAddress", "virtualServerPort",
		"virtualServerProtocol", "virtualServerQuorumStatus", "virtualServerQuorum", "virtualServerRealServersUp",
		"virtualServerRealServersTotal", "routerId.0"}
)

func withModule(names []string) []string {
	out := []string{"SNMPv2-MIB::sysUpTime.0", "SNMPv2-MIB::snmpTrapOID.0"}
	for _, n := range names {
		out = append(out, "KEEPALIVED-MIB::"+n)
	}
	return out
}

// TestSnmptrapdKeepalivedMode: a keepalived-mode target sends a real
// server's fall and rise as KEEPALIVED-MIB::realServerStateChange and
// panic as virtualServerQuorumStateChange, which snmptrapd decodes with
// Debian's KEEPALIVED-MIB.txt, varbinds in keepalived's order; a first
// verdict of up and everything keepalived has no notification for are
// not sent.
func TestSnmptrapdKeepalivedMode(t *testing.T) {
	engine := EngineID(&config.NotifyTarget{}, "lb1")
	d := startTrapd(t, trapdConf(engine, "SHA-256", "AES"))
	log, logs := testLogger()
	n := New(testConfig(t, `    - {name: k, address: `+d.Addr+`, version: v3, user: trapuser, auth_protocol: SHA256, auth_passphrase: `+authPass+
		`, priv_protocol: AES, priv_passphrase: `+privPass+`, mode: keepalived}`), Options{Logger: log, Hostname: hostname})
	now := time.Now()
	ev := func(server string, from, to health.State) {
		n.HealthEvent(health.Event{Time: now, Service: "tcp/192.0.2.10:80", Server: server, Old: from, New: to, Check: "tcp-80"})
	}
	ev("10.0.0.1:80", health.StateUnknown, health.StateUp) // not sent: keepalived starts servers alive
	ev("10.0.0.2:80", health.StateUnknown, health.StateUp)
	ev("10.0.0.1:80", health.StateUp, health.StateDown)
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionUpdateWeight, Service: "tcp/192.0.2.10:80", Server: "10.0.0.1:80", OldWeight: 2})
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionPanicEnter, Service: "tcp/192.0.2.10:80", CapacityUp: 1, CapacityJudged: 3,
		CapacityPercent: 33.3, PanicThreshold: 50})
	ev("10.0.0.1:80", health.StateDown, health.StateUp)
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionPanicLeave, Service: "tcp/192.0.2.10:80", CapacityUp: 3, CapacityJudged: 3,
		CapacityPercent: 100, PanicThreshold: 50})
	n.Started("1.2.3")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)

	k := "KEEPALIVED-MIB::"
	vs := []string{k + "virtualServerType = INTEGER: ip(2)", k + "virtualServerAddrType = INTEGER: ipv4(1)",
		k + "virtualServerAddress = Hex-STRING: C0 00 02 0A", k + "virtualServerPort = Gauge32: 80",
		k + "virtualServerProtocol = INTEGER: tcp(1)", k + "virtualServerRealServersTotal = Gauge32: 2", k + `routerId.0 = STRING: lb1`}
	rs := append([]string{"SNMPv2-MIB::snmpTrapOID.0 = OID: KEEPALIVED-MIB::realServerStateChange",
		k + "realServerAddrType = INTEGER: ipv4(1)", k + "realServerAddress = Hex-STRING: 0A 00 00 01", k + "realServerPort = Gauge32: 80"}, vs...)
	fall := d.wait(t, append(slices.Clone(rs), k+"realServerStatus = INTEGER: dead(2)", k+"virtualServerRealServersUp = Gauge32: 1")...)
	rise := d.wait(t, append(slices.Clone(rs), k+"realServerStatus = INTEGER: alive(1)", k+"virtualServerRealServersUp = Gauge32: 2")...)
	q := append([]string{"SNMPv2-MIB::snmpTrapOID.0 = OID: KEEPALIVED-MIB::virtualServerQuorumStateChange"}, vs...)
	lost := d.wait(t, append(slices.Clone(q), k+"virtualServerQuorumStatus = INTEGER: notMet(2)", k+"virtualServerQuorum = Gauge32: 2",
		k+"virtualServerRealServersUp = Gauge32: 1")...)
	met := d.wait(t, append(slices.Clone(q), k+"virtualServerQuorumStatus = INTEGER: met(1)", k+"virtualServerRealServersUp = Gauge32: 2")...)
	for _, tr := range []string{fall, rise} {
		if got := varbindNames(tr); !slices.Equal(got, withModule(keepalivedRSVarbinds)) {
			t.Errorf("realServerStateChange varbinds\n got %v\nwant %v", got, withModule(keepalivedRSVarbinds))
		}
	}
	for _, tr := range []string{lost, met} {
		if got := varbindNames(tr); !slices.Equal(got, withModule(keepalivedQuorumVarbinds)) {
			t.Errorf("virtualServerQuorumStateChange varbinds\n got %v\nwant %v", got, withModule(keepalivedQuorumVarbinds))
		}
	}
	if got := len(d.traps()); got != 4 {
		t.Errorf("snmptrapd printed %d notifications, want the 4 keepalived has:\n%s", got, strings.Join(d.traps(), "\n"))
	}
	if s, _ := n.Stats("k"); s.Sent != 4 || s.Failed != 0 {
		t.Errorf("stats %+v, want 4 sent\n%s", s, logs)
	}
}
