package main

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// TestNotifications runs the program with a v2c trap target at Debian's
// snmptrapd: it announces its start, a real server's fall and rise, a
// failed reload (after which the target still works), and its stop; the
// community never shows in the log or the metrics.
func TestNotifications(t *testing.T) {
	const community = "c0mmunity-xyz"
	d := testutil.StartSnmptrapd(t, "authCommunity log "+community+"\n", "../../mib")
	dir := t.TempDir()
	rs := newListener(t, "127.0.0.1:0")
	notifications := fmt.Sprintf("notifications:\n  director: lb-test\n  targets:\n    - {name: nms, address: %s, community: %s}\n", d.Addr, community)
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs.addr)+notifications)
	s := start(t, "--config.file="+cfg)
	m := "LVS-SIDECAR-MIB::"
	d.Wait(t, "SNMPv2-MIB::snmpTrapOID.0 = OID: "+m+"lsSidecarStart", m+"lsNotifyDirector = STRING: lb-test")
	state := func(old, new string) {
		t.Helper()
		d.Wait(t, "SNMPv2-MIB::snmpTrapOID.0 = OID: "+m+"lsRealServerStateChange", m+"lsNotifyServer = STRING: "+rs.addr,
			m+"lsNotifyServiceName = STRING: web", m+"lsNotifyOldState = INTEGER: "+old, m+"lsNotifyNewState = INTEGER: "+new)
	}
	state("unknown(1)", "up(2)")
	rs.close()
	state("up(2)", "down(3)")

	// An invalid file (line 5: the weight) is reported and changes nothing.
	invalid := strings.Replace(healthConfig(rs.addr), "forward: nat}", "forward: nat, weight: -3}", 1) + notifications
	writeFile(t, dir, "lvs.yml", invalid)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.Wait(t, "SNMPv2-MIB::snmpTrapOID.0 = OID: "+m+"lsConfigReloadFailed",
		m+"lsNotifyMessage = STRING: "+cfg+":5: services[0].real_servers[0].weight: must be between 0 and 65535, got -3 (1 problem in all; the previous configuration stays in use)")
	rs.open(t)
	state("down(3)", "up(2)")

	// The status page names the director as the notifications do.
	if _, status := get(t, &http.Client{}, "http://"+s.addr+"/api/v1/status", "", ""); !strings.Contains(status, `"director":"lb-test"`) {
		t.Errorf("/api/v1/status does not name the director lb-test: %.300s", status)
	}
	_, body := get(t, &http.Client{}, "http://"+s.addr+"/metrics", "", "")
	if v, ok := metric(body, `ipvs_notify_sent_total{target="nms"}`); !ok || v < 5 {
		t.Errorf("ipvs_notify_sent_total{target=\"nms\"} = %v (present %v), want at least the 5 notifications so far", v, ok)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.Wait(t, "SNMPv2-MIB::snmpTrapOID.0 = OID: "+m+"lsSidecarStop", m+"lsNotifyDirector = STRING: lb-test")
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("lvs-sidecar did not stop")
	}
	if strings.Contains(s.logs(), community) || strings.Contains(body, community) {
		t.Errorf("the community is in the log or the metrics:\n%s", s.logs())
	}
}
