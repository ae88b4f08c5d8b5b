package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestLoadExample checks how load blocks inherit: defaults.load for a
// service without one, the service's for a real server without one, key
// by key, and enabled: false at either level.
func TestLoadExample(t *testing.T) {
	c := mustLoad(t, "testdata/valid/load.yml")
	def := LoadWeight{Source: LoadUCD, OID: OIDLaLoadInt1, Scale: 0.01, Port: 161, Interval: 5 * time.Second,
		Timeout: time.Second, StaleAfter: 3, SNMP: SNMPCredentials{Version: SNMPv2c, Community: Secret("director-only")},
		Start: 4, Full: 12, Floor: 20, Hysteresis: 0.5, MaxStep: 10}
	small := def
	small.Start, small.Full, small.Port = 2, 6, 1161
	api := LoadWeight{Source: LoadHRProcessor, OID: OIDHRProcessorLoad, Scale: 1, Port: 161, Interval: 2 * time.Second,
		Timeout: 500 * time.Millisecond, StaleAfter: 5,
		SNMP: SNMPCredentials{Version: SNMPv3, User: "lvs-director", AuthProtocol: AuthSHA256, AuthPassphrase: Secret("auth-passphrase-1"),
			PrivProtocol: PrivAES, PrivPassphrase: Secret("priv-passphrase-1")},
		Start: 60, Full: 95, Floor: 20, Hysteresis: 0.5, MaxStep: 10}
	custom := api
	custom.Source, custom.OID, custom.Scale, custom.Start, custom.Full = LoadOID, "1.3.6.1.4.1.2021.11.9.0", 1, 50, 90
	for _, tc := range []struct {
		what string
		got  *LoadWeight
		want *LoadWeight
	}{
		{"defaults", c.Defaults.Load, &def},
		{"web", c.Services[0].Load, &def},
		{"web 10.0.0.1 inherits", c.Services[0].RealServers[0].Load, &def},
		{"web 10.0.0.2 overrides keys", c.Services[0].RealServers[1].Load, &small},
		{"web 10.0.0.3 off", c.Services[0].RealServers[2].Load, nil},
		{"api", c.Services[1].Load, &api},
		{"api 10.0.1.1", c.Services[1].RealServers[0].Load, &api},
		{"api 10.0.1.2 custom oid", c.Services[1].RealServers[1].Load, &custom},
		{"mail off", c.Services[2].Load, nil},
		{"mail real server", c.Services[2].RealServers[0].Load, nil},
	} {
		if (tc.got == nil) != (tc.want == nil) {
			t.Errorf("%s: load %v, want %v", tc.what, tc.got, tc.want)
			continue
		}
		if tc.got != nil && fmt.Sprintf("%#v|%s|%s|%s", *tc.got, tc.got.SNMP.Community.Reveal(), tc.got.SNMP.AuthPassphrase.Reveal(), tc.got.SNMP.PrivPassphrase.Reveal()) !=
			fmt.Sprintf("%#v|%s|%s|%s", *tc.want, tc.want.SNMP.Community.Reveal(), tc.want.SNMP.AuthPassphrase.Reveal(), tc.want.SNMP.PrivPassphrase.Reveal()) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.what, *tc.got, *tc.want)
		}
	}
	roundTrip(t, c)
}

// TestLoadWeightFunction checks the factor, the clamping of the weight
// between the floor and the declared weight, and the step size.
func TestLoadWeightFunction(t *testing.T) {
	l := LoadWeight{Start: 4, Full: 12, Floor: 20, MaxStep: 10}
	for _, tc := range []struct {
		load, factor float64
		weight       int // of declared 100
	}{
		{0, 1, 100}, {4, 1, 100}, {8, 0.6, 60}, {10, 0.4, 40}, {12, 0.2, 20}, {50, 0.2, 20},
	} {
		if f := l.Factor(tc.load); fmt.Sprintf("%.6f", f) != fmt.Sprintf("%.6f", tc.factor) {
			t.Errorf("Factor(%g) = %g, want %g", tc.load, f, tc.factor)
		}
		if w := l.Weight(100, l.Factor(tc.load)); w != tc.weight {
			t.Errorf("Weight(100, f(%g)) = %d, want %d", tc.load, w, tc.weight)
		}
	}
	// Load alone never drains: a weight of 1 stays 1, 3 at 20% is 1.
	if w := l.Weight(1, 0.2); w != 1 {
		t.Errorf("Weight(1, 0.2) = %d, want 1", w)
	}
	if w := l.Weight(3, 0.2); w != 1 {
		t.Errorf("Weight(3, 0.2) = %d, want 1", w)
	}
	if w := l.Weight(0, 1); w != 0 {
		t.Errorf("a standby (weight 0) got %d", w)
	}
	if s := l.Step(100); s != 10 {
		t.Errorf("Step(100) = %d, want 10", s)
	}
	if s := l.Step(3); s != 1 {
		t.Errorf("Step(3) = %d, want 1", s)
	}
}

// TestLoadSecretsNotPrinted: the community and the v3 passphrases never
// print in clear, however the configuration is formatted or marshalled
// for display; Marshal (the file) keeps them.
func TestLoadSecretsNotPrinted(t *testing.T) {
	c := mustLoad(t, "testdata/valid/load.yml")
	secrets := []string{"director-only", "auth-passphrase-1", "priv-passphrase-1"}
	var outs []string
	for _, v := range []any{c.Services[0].Load, c.Services[1].Load, *c.Services[1].Load, c.Services[1].Load.SNMP} {
		for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			outs = append(outs, fmt.Sprintf(format, v))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(j), string(y))
	}
	for _, out := range outs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("a secret prints in clear: %s", out)
			}
		}
	}
	if out := fmt.Sprintf("%+v", c.Services[0].Load.SNMP); !strings.Contains(out, "Community:<secret>") {
		t.Errorf("the community does not show as <secret>: %s", out)
	}
	file, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if !strings.Contains(string(file), s) {
			t.Errorf("Marshal lost the secret %q: the file would not work", s)
		}
	}
}
