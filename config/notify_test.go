package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestNotificationsExample: the example file's targets, with the
// defaults filled in.
func TestNotificationsExample(t *testing.T) {
	c := mustLoad(t, "testdata/valid/notifications.yml")
	n := c.Notifications
	if n.Director != "lb1" || len(n.Targets) != 3 {
		t.Fatalf("notifications %+v", n)
	}
	v2, v3, kad := n.Targets[0], n.Targets[1], n.Targets[2]
	if v2.Name != "nms" || v2.SNMP.Version != SNMPv2c || v2.Inform || v2.SNMP.Community.Reveal() != "public" ||
		v2.Timeout != DefaultNotifyTimeout || v2.Retries != DefaultNotifyRetries || v2.QueueSize != DefaultNotifyQueueSize ||
		len(v2.Send) != len(NotifyKinds) || v2.Mode != ModeLVSSidecar {
		t.Errorf("v2c target %+v", v2)
	}
	if v3.SNMP.Version != SNMPv3 || !v3.Inform || v3.SNMP.User != "lvs" || v3.SNMP.AuthProtocol != AuthSHA256 || v3.SNMP.PrivProtocol != PrivAES ||
		v3.SNMP.AuthPassphrase.Reveal() != "auth-pass-1234" || v3.SNMP.PrivPassphrase.Reveal() != "priv-pass-1234" ||
		v3.Timeout != 2*time.Second || v3.Retries != 4 || v3.QueueSize != 500 || fmt.Sprint(v3.Send) != "[state action panic]" ||
		v3.Wants(NotifyReload) || !v3.Wants(NotifyPanic) {
		t.Errorf("v3 target %+v", v3)
	}
	if kad.Mode != ModeKeepalived || kad.SNMP.PrivProtocol != PrivAES256 || kad.SNMP.AuthProtocol != AuthSHA512 ||
		fmt.Sprintf("%x", kad.EngineID) != "80007ed90461620102" || kad.Address != "nms.example.net:1162" {
		t.Errorf("keepalived target %+v", kad)
	}
}

// TestNotifySecretsNeverPrint: no way of printing, logging or encoding a
// Secret (or a target holding one) shows its value.
func TestNotifySecretsNeverPrint(t *testing.T) {
	c := mustLoad(t, "testdata/valid/notifications.yml")
	target := c.Notifications.Targets[1]
	secrets := []string{"auth-pass-1234", "priv-pass-1234", "public"}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, target), fmt.Sprintf(verb, target.SNMP.AuthPassphrase), fmt.Sprintf(verb, c.Notifications.Targets[0].SNMP.Community))
	}
	j, err := json.Marshal(c.Notifications)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(c.Notifications)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("target", "t", target, "pass", target.SNMP.PrivPassphrase)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("target", "t", target, "pass", target.SNMP.PrivPassphrase)
	outs = append(outs, string(j), string(y), logs.String(), target.SNMP.AuthPassphrase.String())
	for _, out := range outs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("secret %q printed: %s", s, out)
			}
		}
	}
	if !strings.Contains(string(j), `"\u003csecret\u003e"`) || !strings.Contains(logs.String(), "<secret>") {
		t.Errorf("no <secret> placeholder in\n%s\n%s", j, logs.String())
	}
}

// TestNotifyErrorsHideSecrets: an error about a passphrase names the
// field and the length, never the value.
func TestNotifyErrorsHideSecrets(t *testing.T) {
	_, err := Parse([]byte(`services:
  - {name: web, address: 192.0.2.1:80, real_servers: [{address: 192.0.2.11:80}]}
notifications:
  targets:
    - {address: 192.0.2.9:162, version: v3, user: u, auth_protocol: SHA256, auth_passphrase: hunter2, priv_protocol: AES, priv_passphrase: "x"}
`), "s.yml")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "auth_passphrase: must be at least 8 characters (RFC 3414; net-snmp refuses shorter ones), got 7") {
		t.Errorf("error %v", err)
	}
}
