package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

const (
	authPass = "auth-pass-1234"
	privPass = "priv-pass-1234"
)

// testConfig is one service with two real servers and the given targets
// (YAML list items, indented by six spaces).
func testConfig(t testing.TB, targets ...string) *config.Config {
	t.Helper()
	yml := `services:
  - name: web
    address: 192.0.2.10:80
    panic_threshold: 50%
    real_servers:
      - {address: 10.0.0.1:80, weight: 2}
      - {address: 10.0.0.2:80, weight: 1}
notifications:
  director: lb1
  targets:
` + strings.Join(targets, "\n")
	c, err := config.Parse([]byte(yml), "test.yml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	return c
}

// hostname fails, so tests notice a director taken from the host.
func hostname() (string, error) { return "", errors.New("no host name in tests") }

// everyKind publishes one notification of each event (the stop comes
// with Close) and returns what snmptrapd must print for each: the
// notification's name and its varbinds' names and values.
func everyKind(n *Notifier) map[string][]string {
	now := time.Now()
	n.HealthEvent(health.Event{Time: now, Service: "tcp/192.0.2.10:80", Server: "10.0.0.1:80", Old: health.StateUp, New: health.StateDown,
		Check: "tcp-80", Result: health.Result{Class: health.ClassClosed, Reason: "connection refused (RST)"}})
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionUpdateWeight, Service: "tcp/192.0.2.10:80", Name: "web", Server: "10.0.0.1:80",
		OldWeight: 2, NewWeight: 0, DeclaredWeight: 2, Reason: actuator.ReasonDrain})
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionRemove, Service: "tcp/192.0.2.10:80", Name: "web", Server: "10.0.0.2:80",
		OldWeight: 1, NewWeight: actuator.NoWeight, Reason: actuator.ReasonRemove, Drift: true})
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionCreateService, Service: "tcp/192.0.2.10:80", Name: "web"})
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionPanicEnter, Service: "tcp/192.0.2.10:80", Name: "web",
		CapacityUp: 1, CapacityJudged: 3, CapacityPercent: 33.3, PanicThreshold: 50})
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionPanicLeave, Service: "tcp/192.0.2.10:80", Name: "web",
		CapacityUp: 3, CapacityJudged: 3, CapacityPercent: 100, PanicThreshold: 50})
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionFailOpenEnter, Service: "tcp/192.0.2.10:80", Name: "web", CapacityJudged: 3})
	n.Action(actuator.Action{Time: now, Kind: actuator.ActionFailOpenLeave, Service: "tcp/192.0.2.10:80", Name: "web", CapacityUp: 2, CapacityJudged: 3, CapacityPercent: 66.7})
	n.ReloadFailed(errors.New(`lvs.yml:4: services[0].scheduler: must be one of rr, wrr`))
	n.Started("1.2.3")
	m := "LVS-SIDECAR-MIB::"
	dir := m + `lsNotifyDirector = STRING: lb1`
	svc := []string{dir, m + `lsNotifyServiceKey = STRING: tcp/192.0.2.10:80`, m + `lsNotifyServiceName = STRING: web`}
	with := func(base []string, more ...string) []string { return append(slices.Clone(base), more...) }
	return map[string][]string{
		"lsRealServerStateChange": with(svc, m+`lsNotifyServer = STRING: 10.0.0.1:80`, m+"lsNotifyOldState = INTEGER: up(2)",
			m+"lsNotifyNewState = INTEGER: down(3)", m+`lsNotifyCheck = STRING: tcp-80`, m+`lsNotifyCheckResult = STRING: closed`,
			m+`lsNotifyReason = STRING: connection refused (RST)`),
		"lsRealServerAction": with(svc, m+`lsNotifyServer = STRING: 10.0.0.1:80`, m+"lsNotifyAction = INTEGER: updateWeight(6)",
			m+"lsNotifyOldWeight = INTEGER: 2", m+"lsNotifyNewWeight = INTEGER: 0", m+`lsNotifyReason = STRING: drain`,
			m+"lsNotifyDrift = INTEGER: false(2)"),
		"lsRealServerAction.remove": with(svc, m+`lsNotifyServer = STRING: 10.0.0.2:80`, m+"lsNotifyAction = INTEGER: remove(5)",
			m+"lsNotifyOldWeight = INTEGER: 1", m+"lsNotifyNewWeight = INTEGER: -1", m+`lsNotifyReason = STRING: remove`,
			m+"lsNotifyDrift = INTEGER: true(1)"),
		"lsServiceAction": with(svc, m+"lsNotifyAction = INTEGER: createService(1)", m+"lsNotifyDrift = INTEGER: false(2)"),
		"lsServicePanic": with(svc, m+"lsNotifyCapacityUp = Gauge32: 1", m+"lsNotifyCapacityJudged = Gauge32: 3",
			m+"lsNotifyCapacityPercent = Gauge32: 33 percent", m+"lsNotifyPanicThreshold = Gauge32: 50 percent"),
		"lsServicePanicCleared":    with(svc, m+"lsNotifyCapacityUp = Gauge32: 3", m+"lsNotifyCapacityPercent = Gauge32: 100 percent"),
		"lsServiceFailOpen":        with(svc, m+"lsNotifyCapacityUp = Gauge32: 0", m+"lsNotifyCapacityJudged = Gauge32: 3", m+"lsNotifyCapacityPercent = Gauge32: 0 percent"),
		"lsServiceFailOpenCleared": with(svc, m+"lsNotifyCapacityUp = Gauge32: 2", m+"lsNotifyCapacityPercent = Gauge32: 66 percent"),
		"lsConfigReloadFailed":     {dir, m + `lsNotifyMessage = STRING: lvs.yml:4: services[0].scheduler: must be one of rr, wrr`},
		"lsSidecarStart":           {dir, m + `lsNotifyMessage = STRING: 1.2.3`},
		"lsSidecarStop":            {dir},
	}
}

// checkEveryKind waits for every notification of everyKind in
// snmptrapd's output, each with exactly its varbinds' names in the MIB's
// order and the expected values.
func checkEveryKind(t *testing.T, d trapd, want map[string][]string) {
	t.Helper()
	for key, parts := range want {
		name, _, _ := strings.Cut(key, ".")
		trap := d.wait(t, append([]string{"SNMPv2-MIB::snmpTrapOID.0 = OID: LVS-SIDECAR-MIB::" + name}, parts...)...)
		names := varbindNames(trap)
		if len(names) < 2 || names[0] != "SNMPv2-MIB::sysUpTime.0" || names[1] != "SNMPv2-MIB::snmpTrapOID.0" {
			t.Errorf("%s: varbinds %v do not start with sysUpTime.0, snmpTrapOID.0", key, names)
		}
		if strings.Contains(trap, "SNMPv2-SMI::") || strings.Contains(trap, "iso.3.6") {
			t.Errorf("%s: not every varbind decoded by name: %s", key, trap)
		}
	}
	if got := len(d.traps()); got != len(want) {
		t.Errorf("snmptrapd printed %d notifications, want %d:\n%s", got, len(want), strings.Join(d.traps(), "\n"))
	}
}

// trapdConf is an snmptrapd.conf accepting community public and the v3
// users trapuser (with the engine ID of director lb1's traps) and
// informuser, both authPriv.
func trapdConf(engineID []byte, auth, priv string) string {
	return fmt.Sprintf(`authCommunity log public
createUser -e 0x%x trapuser %s %s %s %s
createUser informuser %s %s %s %s
authUser log trapuser priv
authUser log informuser priv
`, engineID, auth, authPass, priv, privPass, auth, authPass, priv, privPass)
}

// TestSnmptrapdDecodesEveryNotification sends every notification as a
// v2c trap, a v3 authPriv trap and a v3 authPriv inform to Debian's
// snmptrapd, which must decode each by name with LVS-SIDECAR-MIB.
func TestSnmptrapdDecodesEveryNotification(t *testing.T) {
	cases := []struct {
		name, target, auth, priv string
		inform                   bool
	}{
		{"v2c-trap", `    - {name: t, address: ADDR, community: public}`, "SHA-256", "AES", false},
		{"v3-trap-sha256-aes", `    - {name: t, address: ADDR, version: v3, user: trapuser, auth_protocol: SHA256, auth_passphrase: ` + authPass +
			`, priv_protocol: AES, priv_passphrase: ` + privPass + `}`, "SHA-256", "AES", false},
		{"v3-inform-sha512-aes256", `    - {name: t, address: ADDR, version: v3, type: inform, user: informuser, auth_protocol: SHA512, auth_passphrase: ` + authPass +
			`, priv_protocol: AES256, priv_passphrase: ` + privPass + `, timeout: 2s}`, "SHA-512", "AES-256", true},
		{"v3-trap-sha384-aes192", `    - {name: t, address: ADDR, version: v3, user: trapuser, auth_protocol: SHA384, auth_passphrase: ` + authPass +
			`, priv_protocol: AES192, priv_passphrase: ` + privPass + `}`, "SHA-384", "AES-192", false},
		// SHA-224's 28-byte keys need extending to AES-256's 32: the
		// Blumenthal (AES256) and Reeder (AES256C) ways differ, and
		// snmptrapd must agree with each.
		{"v3-inform-sha224-aes256c", `    - {name: t, address: ADDR, version: v3, type: inform, user: informuser, auth_protocol: SHA224, auth_passphrase: ` + authPass +
			`, priv_protocol: AES256C, priv_passphrase: ` + privPass + `, timeout: 2s}`, "SHA-224", "AES-256-C", true},
		{"v3-trap-sha224-aes256", `    - {name: t, address: ADDR, version: v3, user: trapuser, auth_protocol: SHA224, auth_passphrase: ` + authPass +
			`, priv_protocol: AES256, priv_passphrase: ` + privPass + `}`, "SHA-224", "AES-256", false},
		{"v3-inform-sha256-aes192c", `    - {name: t, address: ADDR, version: v3, type: inform, user: informuser, auth_protocol: SHA256, auth_passphrase: ` + authPass +
			`, priv_protocol: AES192C, priv_passphrase: ` + privPass + `, timeout: 2s}`, "SHA-256", "AES-192-C", true},
		{"v3-inform-sha224-aes", `    - {name: t, address: ADDR, version: v3, type: inform, user: informuser, auth_protocol: SHA224, auth_passphrase: ` + authPass +
			`, priv_protocol: AES, priv_passphrase: ` + privPass + `, timeout: 2s}`, "SHA-224", "AES", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			engine := EngineID(&config.NotifyTarget{}, "lb1")
			d := startTrapd(t, trapdConf(engine, tc.auth, tc.priv))
			log, logs := testLogger()
			n := New(testConfig(t, strings.ReplaceAll(tc.target, "ADDR", d.Addr)), Options{Logger: log, Hostname: hostname})
			want := everyKind(n)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stats, _ := n.Stats("t")
			n.Close(ctx)
			checkEveryKind(t, d, want)
			stats = n.finalStats(t, "t")
			if stats.Sent != uint64(len(want)) || stats.Failed != 0 || stats.Dropped != 0 {
				t.Errorf("stats %+v, want %d sent and no failure\n%s", stats, len(want), logs)
			}
			if tc.inform && stats.Acked != uint64(len(want)) {
				t.Errorf("stats %+v, want every inform acknowledged", stats)
			}
			if !tc.inform && stats.Acked != 0 {
				t.Errorf("stats %+v: traps counted as acknowledged", stats)
			}
		})
	}
}

// TestEngineIDStable: the derived engine ID is the RFC 3411 text form
// of the director's name under enterprise 32473, the same every time, and
// a configured one wins.
func TestEngineIDStable(t *testing.T) {
	if got := fmt.Sprintf("%x", EngineID(&config.NotifyTarget{}, "lb1")); got != "80007ed9046c6231" {
		t.Errorf("engine ID of lb1 = %s", got)
	}
	long := strings.Repeat("director-", 5)
	a, b := EngineID(&config.NotifyTarget{}, long), EngineID(&config.NotifyTarget{}, long)
	if len(a) != 32 || fmt.Sprintf("%x", a) != fmt.Sprintf("%x", b) || a[4] != 5 {
		t.Errorf("long name: %x and %x, want the same 32 bytes, format 5", a, b)
	}
	if got := EngineID(&config.NotifyTarget{EngineID: []byte{1, 2, 3, 4, 5}}, "lb1"); fmt.Sprintf("%x", got) != "0102030405" {
		t.Errorf("configured engine ID not used: %x", got)
	}
	if bootCount(time.Now()) <= bootCount(time.Now().Add(-time.Hour)) {
		t.Error("boot count does not grow with the start time")
	}
}

// finalStats returns a closed notifier's target counters (Close keeps
// the targets for Stats).
func (n *Notifier) finalStats(t *testing.T, name string) TargetStats {
	t.Helper()
	s, ok := n.Stats(name)
	if !ok {
		t.Fatalf("no target %q", name)
	}
	return s
}

var _ = testutil.Poll
