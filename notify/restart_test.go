package notify

import (
	"context"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// TestV3TrapsAfterRestart: a sidecar that restarts sends its v3 traps
// with the same derived engine ID, so the receiver's createUser -e line
// still matches. (net-snmp's snmptrapd does not check a trap's engine
// boots and time; receivers that do see the boot count grow, see
// TestEngineIDStable.)
func TestV3TrapsAfterRestart(t *testing.T) {
	d := startTrapd(t, trapdConf(EngineID(&config.NotifyTarget{}, "lb1"), "SHA-256", "AES"))
	target := `    - {name: t, address: ` + d.Addr + `, version: v3, user: trapuser, auth_protocol: SHA256, auth_passphrase: ` + authPass +
		`, priv_protocol: AES, priv_passphrase: ` + privPass + `, send: [state]}`
	for _, server := range []string{"10.0.0.1:80", "10.0.0.2:80"} {
		n := New(testConfig(t, target), Options{Hostname: hostname})
		n.HealthEvent(down(server))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n.Close(ctx)
		cancel()
		d.wait(t, "LVS-SIDECAR-MIB::lsNotifyServer = STRING: "+server)
	}
}
