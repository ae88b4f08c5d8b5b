package credentials

import (
	"math"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// TestEveryAuthProtocolMaps: every value of config.AuthProtocol that has
// a name maps to the gosnmp protocol of that name, never to NoAuth or to
// one another's; config.AuthProtocols lists exactly those values; a value
// without a name is an error, not a silent NoAuth.
func TestEveryAuthProtocolMaps(t *testing.T) {
	seen := map[gosnmp.SnmpV3AuthProtocol]config.AuthProtocol{}
	var named []config.AuthProtocol
	for i := range math.MaxUint8 + 1 {
		p := config.AuthProtocol(i)
		g, err := AuthProtocol(p)
		if strings.HasPrefix(p.String(), "(") {
			if err == nil {
				t.Errorf("value %d has no name but maps to %s", i, g)
			}
			continue
		}
		named = append(named, p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if g == gosnmp.NoAuth || g == 0 || g == gosnmp.MD5 || g == gosnmp.SHA {
			t.Errorf("%s maps to %s", p, g)
		}
		if g.String() != p.String() {
			t.Errorf("%s maps to gosnmp's %s", p, g)
		}
		if q, dup := seen[g]; dup {
			t.Errorf("%s and %s both map to %s", q, p, g)
		}
		seen[g] = p
	}
	if len(named) != len(config.AuthProtocols) || len(named) == 0 {
		t.Fatalf("named values %v, config.AuthProtocols %v", named, config.AuthProtocols)
	}
	for i := range named {
		if named[i] != config.AuthProtocols[i] {
			t.Errorf("named values %v, config.AuthProtocols %v", named, config.AuthProtocols)
		}
	}
}

// TestEveryPrivProtocolMaps is TestEveryAuthProtocolMaps for privacy:
// never NoPriv, never DES.
func TestEveryPrivProtocolMaps(t *testing.T) {
	seen := map[gosnmp.SnmpV3PrivProtocol]config.PrivProtocol{}
	var named []config.PrivProtocol
	for i := range math.MaxUint8 + 1 {
		p := config.PrivProtocol(i)
		g, err := PrivProtocol(p)
		if strings.HasPrefix(p.String(), "(") {
			if err == nil {
				t.Errorf("value %d has no name but maps to %s", i, g)
			}
			continue
		}
		named = append(named, p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if g == gosnmp.NoPriv || g == 0 || g == gosnmp.DES {
			t.Errorf("%s maps to %s", p, g)
		}
		if g.String() != p.String() {
			t.Errorf("%s maps to gosnmp's %s", p, g)
		}
		if q, dup := seen[g]; dup {
			t.Errorf("%s and %s both map to %s", q, p, g)
		}
		seen[g] = p
	}
	if len(named) != len(config.PrivProtocols) || len(named) == 0 {
		t.Fatalf("named values %v, config.PrivProtocols %v", named, config.PrivProtocols)
	}
	for i := range named {
		if named[i] != config.PrivProtocols[i] {
			t.Errorf("named values %v, config.PrivProtocols %v", named, config.PrivProtocols)
		}
	}
}

// TestApply: v2c sets the community and no USM; v3 sets authPriv with
// the user, protocols and passphrases; an impossible version or protocol
// is an error that leaves the client as it was.
func TestApply(t *testing.T) {
	g := &gosnmp.GoSNMP{}
	usm, err := Apply(g, &config.SNMPCredentials{Version: config.SNMPv2c, Community: config.Secret("c0mmunity")})
	if err != nil || usm != nil || g.Version != gosnmp.Version2c || g.Community != "c0mmunity" || g.SecurityParameters != nil {
		t.Errorf("v2c: %v, %v, %+v", usm, err, g)
	}

	g = &gosnmp.GoSNMP{}
	c := config.SNMPCredentials{Version: config.SNMPv3, User: "lvs", AuthProtocol: config.AuthSHA384, AuthPassphrase: config.Secret("auth-pass-1234"),
		PrivProtocol: config.PrivAES256C, PrivPassphrase: config.Secret("priv-pass-1234")}
	usm, err = Apply(g, &c)
	if err != nil {
		t.Fatal(err)
	}
	if g.Version != gosnmp.Version3 || g.SecurityModel != gosnmp.UserSecurityModel || g.MsgFlags != gosnmp.AuthPriv ||
		g.SecurityParameters != usm || g.Community != "" {
		t.Errorf("v3 client %+v", g)
	}
	if usm.UserName != "lvs" || usm.AuthenticationProtocol != gosnmp.SHA384 || usm.AuthenticationPassphrase != "auth-pass-1234" ||
		usm.PrivacyProtocol != gosnmp.AES256C || usm.PrivacyPassphrase != "priv-pass-1234" {
		t.Errorf("v3 USM %+v", usm)
	}

	for name, bad := range map[string]config.SNMPCredentials{
		"version":       {Version: config.SNMPVersion(2)},
		"auth protocol": {Version: config.SNMPv3, AuthProtocol: config.AuthProtocol(len(config.AuthProtocols))},
		"priv protocol": {Version: config.SNMPv3, PrivProtocol: config.PrivProtocol(len(config.PrivProtocols))},
	} {
		g := &gosnmp.GoSNMP{}
		if _, err := Apply(g, &bad); err == nil || g.Version != 0 || g.SecurityParameters != nil {
			t.Errorf("%s: %v, client %+v", name, err, g)
		}
	}
}
