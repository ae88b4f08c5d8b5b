package config

import (
	"reflect"
	"strings"
	"testing"
)

// The two places SNMP credentials are written: a real server's load
// block and a notification target, each on line 5 of its file.
var credentialPlaces = []struct {
	name, path, peer string
	file             func(creds string) string
	get              func(c *Config) SNMPCredentials
}{
	{
		name: "load", path: "services[0].real_servers[0].load", peer: "the real server's snmpd.conf",
		file: func(creds string) string {
			return "services:\n  - name: web\n    address: 192.0.2.1:80\n    real_servers:\n" +
				"      - {address: 10.0.0.1:80, forward: nat, load: {start: 1, full: 4, " + creds + "}}\n"
		},
		get: func(c *Config) SNMPCredentials { return c.Services[0].RealServers[0].Load.SNMP },
	},
	{
		name: "notification", path: "notifications.targets[0]", peer: "the receiver's snmptrapd.conf",
		file: func(creds string) string {
			return "services:\n  - {name: web, address: 192.0.2.1:80, real_servers: [{address: 192.0.2.11:80}]}\n" +
				"notifications:\n  targets:\n    - {address: 192.0.2.9:162, " + creds + "}\n"
		},
		get: func(c *Config) SNMPCredentials { return c.Notifications.Targets[0].SNMP },
	},
}

// v3 returns the keys of a complete v3 user with these protocols.
func v3(auth, priv string) string {
	return "version: v3, user: lvs, auth_protocol: " + auth + ", auth_passphrase: auth-pass-1234, priv_protocol: " + priv +
		", priv_passphrase: priv-pass-1234"
}

// TestSNMPCredentialsRefused: the same input gives the same message in a
// load block and in a notification target (only the field path and the
// name of the other side's file differ): MD5, SHA-1 and DES are refused
// with why and what to write, net-snmp's version spellings with the one
// to use, and v3 is authPriv or nothing.
func TestSNMPCredentialsRefused(t *testing.T) {
	const sha2 = "must be one of SHA224, SHA256, SHA384, SHA512, got "
	const aes = "must be one of AES, AES192, AES256, AES192C, AES256C, got "
	const useSHA2 = " and not accepted; use SHA256 (SHA-2, RFC 7860), and SHA-256 in the user's createUser line in PEER"
	const useAES = " and not accepted; use AES (AES-128, RFC 3826), and AES in the user's createUser line in PEER"
	const authPriv = ": version v3 is always authPriv (authenticated and encrypted), which takes user, auth_protocol, auth_passphrase, priv_protocol and priv_passphrase"
	for _, tc := range []struct {
		name, creds string
		field, want string // field "" is the block itself
	}{
		{"md5", v3("md5", "AES"), "auth_protocol", sha2 + `"md5": MD5 is broken (practical collisions)` + useSHA2},
		{"MD5", v3("MD5", "AES"), "auth_protocol", sha2 + `"MD5": MD5 is broken (practical collisions)` + useSHA2},
		{"sha", v3("sha", "AES"), "auth_protocol", sha2 + `"sha": SHA-1 is deprecated (practical collisions)` + useSHA2},
		{"SHA", v3("SHA", "AES"), "auth_protocol", sha2 + `"SHA": SHA-1 is deprecated (practical collisions)` + useSHA2},
		{"SHA1", v3("SHA1", "AES"), "auth_protocol", sha2 + `"SHA1": SHA-1 is deprecated (practical collisions)` + useSHA2},
		{"SHA-1", v3("SHA-1", "AES"), "auth_protocol", sha2 + `"SHA-1": SHA-1 is deprecated (practical collisions)` + useSHA2},
		{"des", v3("SHA256", "des"), "priv_protocol", aes + `"des": DES is broken (56-bit keys)` + useAES},
		{"DES", v3("SHA256", "DES"), "priv_protocol", aes + `"DES": DES is broken (56-bit keys)` + useAES},
		{"dashed", v3("SHA-256", "AES"), "auth_protocol", sha2 + `"SHA-256" (did you mean "SHA256"?)`},
		{"unknown", v3("SHA256", "blowfish"), "priv_protocol", aes + `"blowfish"`},
		{"version 2c", "version: 2c, community: c", "version", `must be v2c or v3, got "2c": use v2c`},
		{"version 3", strings.Replace(v3("SHA256", "AES"), "v3", "3", 1), "version", `must be v2c or v3, got 3: use v3`},
		{"version quoted 3", strings.Replace(v3("SHA256", "AES"), "v3", `"3"`, 1), "version", `must be v2c or v3, got "3": use v3`},
		{"version 1", "version: 1, community: c", "version",
			`must be v2c or v3, got 1: SNMPv1 is not supported; use v2c, which agents and receivers that speak v1 speak too, or v3`},
		{"v3 alone", "version: v3", "", "needs user, auth_protocol, auth_passphrase, priv_protocol, priv_passphrase" + authPriv},
		{"v3 authNoPriv", "version: v3, user: lvs, auth_protocol: SHA256, auth_passphrase: auth-pass-1234", "", "needs priv_protocol, priv_passphrase" + authPriv},
		{"v3 with community", v3("SHA256", "AES") + ", community: c", "community", "only for version: v2c; version v3 authenticates with user and passphrases"},
		{"v2c with user", "community: c, user: lvs", "user", "only for version: v3; version v2c authenticates with community"},
		{"v2c without community", "version: v2c", "", "needs community: version v2c authenticates with a community (COMMUNITY in PEER)"},
		{"empty community", `community: ""`, "community", "must not be empty"},
		{"short passphrase", strings.Replace(v3("SHA256", "AES"), "priv-pass-1234", "short", 1), "priv_passphrase",
			"must be at least 8 characters (RFC 3414; net-snmp refuses shorter ones), got 5"},
		{"long user", strings.Replace(v3("SHA256", "AES"), "user: lvs", "user: "+strings.Repeat("u", 33), 1), "user", "must be 1 to 32 bytes, got 33"},
	} {
		for _, place := range credentialPlaces {
			t.Run(tc.name+" in "+place.name, func(t *testing.T) {
				_, err := Parse([]byte(place.file(tc.creds)), "x.yml")
				path := place.path
				if tc.field != "" {
					path += "." + tc.field
				}
				community := "rocommunity"
				if place.name == "notification" {
					community = "authCommunity"
				}
				want := "x.yml:5: " + path + ": " + strings.NewReplacer("PEER", place.peer, "COMMUNITY", community).Replace(tc.want)
				if err == nil || err.Error() != want {
					t.Errorf("error\n got: %v\nwant: %s", err, want)
				}
			})
		}
	}
}

// TestSNMPCredentialsAnyCase: every protocol is accepted in any case, in
// both places, and the version too.
func TestSNMPCredentialsAnyCase(t *testing.T) {
	spellings := func(canonical string) []string {
		return []string{canonical, strings.ToLower(canonical), strings.ToUpper(canonical[:1]) + strings.ToLower(canonical[1:])}
	}
	for _, place := range credentialPlaces {
		for _, p := range AuthProtocols {
			for _, s := range spellings(p.String()) {
				c, err := Parse([]byte(place.file(v3(s, "AES"))), "x.yml")
				if err != nil {
					t.Errorf("%s: auth_protocol %s: %v", place.name, s, err)
				} else if got := place.get(c).AuthProtocol; got != p {
					t.Errorf("%s: auth_protocol %s gave %s", place.name, s, got)
				}
			}
		}
		for _, p := range PrivProtocols {
			for _, s := range spellings(p.String()) {
				c, err := Parse([]byte(place.file(v3("SHA256", s))), "x.yml")
				if err != nil {
					t.Errorf("%s: priv_protocol %s: %v", place.name, s, err)
				} else if got := place.get(c).PrivProtocol; got != p {
					t.Errorf("%s: priv_protocol %s gave %s", place.name, s, got)
				}
			}
		}
		for _, s := range []string{"V3", "v3"} {
			c, err := Parse([]byte(place.file(strings.Replace(v3("SHA256", "AES"), "v3", s, 1))), "x.yml")
			if err != nil || place.get(c).Version != SNMPv3 {
				t.Errorf("%s: version %s: %v", place.name, s, err)
			}
		}
		c, err := Parse([]byte(place.file("version: V2C, community: c")), "x.yml")
		if err != nil || place.get(c).Version != SNMPv2c {
			t.Errorf("%s: version V2C: %v", place.name, err)
		}
	}
}

// TestSNMPCredentialsMarshalCanonical: whatever case the file uses,
// Marshal writes the one spelling (v3, SHA384, AES192C), which parses
// back to the same configuration.
func TestSNMPCredentialsMarshalCanonical(t *testing.T) {
	for _, place := range credentialPlaces {
		for i := range max(len(AuthProtocols), len(PrivProtocols)) {
			auth, priv := AuthProtocols[i%len(AuthProtocols)], PrivProtocols[i%len(PrivProtocols)]
			c, err := Parse([]byte(place.file(strings.Replace(v3(strings.ToLower(auth.String()), strings.ToLower(priv.String())), "v3", "V3", 1))), "x.yml")
			if err != nil {
				t.Fatalf("%s: %v", place.name, err)
			}
			out, err := Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			text := string(out)
			for _, want := range []string{"version: v3", "auth_protocol: " + auth.String(), "priv_protocol: " + priv.String()} {
				if !strings.Contains(text, want) {
					t.Errorf("%s: Marshal wrote no %q:\n%s", place.name, want, text)
				}
			}
			if strings.Contains(text, "auth_protocol: "+strings.ToLower(auth.String())) ||
				strings.Contains(text, "priv_protocol: "+strings.ToLower(priv.String())) || strings.Contains(text, "V3") {
				t.Errorf("%s: Marshal kept the file's spelling:\n%s", place.name, text)
			}
			roundTrip(t, c)
		}
	}
}

// TestLoadCredentialsInherit: a real server's load block inherits the
// service's v3 user key by key; changing the version starts from no
// credentials.
func TestLoadCredentialsInherit(t *testing.T) {
	file := func(rs string) string {
		return "services:\n  - name: web\n    address: 192.0.2.1:80\n    load: {start: 1, full: 4, " + v3("sha512", "aes256") + "}\n" +
			"    real_servers:\n      - {address: 10.0.0.1:80, forward: nat, load: {" + rs + "}}\n"
	}
	c, err := Parse([]byte(file("user: other, priv_protocol: AES")), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Services[0].RealServers[0].Load.SNMP
	if got.Version != SNMPv3 || got.User != "other" || got.AuthProtocol != AuthSHA512 || got.PrivProtocol != PrivAES ||
		got.AuthPassphrase.Reveal() != "auth-pass-1234" || got.PrivPassphrase.Reveal() != "priv-pass-1234" {
		t.Errorf("inherited credentials %+v", got)
	}
	c, err = Parse([]byte(file("version: v3")), "x.yml")
	if err != nil || !reflect.DeepEqual(c.Services[0].RealServers[0].Load.SNMP, c.Services[0].Load.SNMP) {
		t.Errorf("the same version again should keep the service's user: %v", err)
	}
	_, err = Parse([]byte(file("version: v2c")), "x.yml")
	want := "x.yml:6: services[0].real_servers[0].load: needs community: version v2c authenticates with a community (rocommunity in the real server's snmpd.conf)"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
	c, err = Parse([]byte(file("version: v2c, community: c")), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Services[0].RealServers[0].Load.SNMP; got.Version != SNMPv2c || got.Community.Reveal() != "c" || got.User != "" || len(got.AuthPassphrase) != 0 {
		t.Errorf("a v2c block kept v3 credentials: %+v", got)
	}
}
