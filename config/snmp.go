package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SNMPCredentials are how the sidecar authenticates to an SNMP peer: the
// agents of the real servers it polls for load (LoadWeight.SNMP) and the
// receivers of its notifications (NotifyTarget.SNMP). Both are written
// with the same keys and checked by the same rules: v2c takes a
// community; v3 is always authPriv, with SHA-2 authentication and AES
// privacy.
type SNMPCredentials struct {
	Version SNMPVersion
	// Community is the SNMPv2c community (v2c only).
	Community Secret
	// User, the protocols and the passphrases are the SNMPv3 USM user
	// (v3 only; authPriv is the only level, so all are set for v3).
	User           string
	AuthProtocol   AuthProtocol
	AuthPassphrase Secret
	PrivProtocol   PrivProtocol
	PrivPassphrase Secret
}

// SNMPVersion is the SNMP version of a peer.
type SNMPVersion uint8

// SNMP versions. SNMPv1 is not offered: every agent and receiver that
// speaks it speaks v2c too.
const (
	SNMPv2c SNMPVersion = iota
	SNMPv3
)

var snmpVersionNames = []string{"v2c", "v3"}

// String returns v2c or v3, the config spelling.
func (v SNMPVersion) String() string { return nameOf(snmpVersionNames, int(v)) }

// AuthProtocol is an SNMPv3 authentication protocol: SHA-2 only (RFC
// 7860). MD5 and SHA-1 are refused (see authRefused).
type AuthProtocol uint8

// Authentication protocols.
const (
	AuthSHA224 AuthProtocol = iota
	AuthSHA256
	AuthSHA384
	AuthSHA512
)

// AuthProtocols lists every authentication protocol.
var AuthProtocols = []AuthProtocol{AuthSHA224, AuthSHA256, AuthSHA384, AuthSHA512}

var authProtocolNames = []string{"SHA224", "SHA256", "SHA384", "SHA512"}

// String returns the canonical config spelling (SHA256), which is also
// gosnmp's name of the protocol; "(n)" for a value that is none.
func (p AuthProtocol) String() string { return nameOf(authProtocolNames, int(p)) }

// PrivProtocol is an SNMPv3 privacy protocol: AES only (RFC 3826). DES is
// refused (see privRefused).
type PrivProtocol uint8

// Privacy protocols: AES is AES-128 (RFC 3826); AES192 and AES256 extend
// keys the Blumenthal way (net-snmp's AES-192/AES-256), AES192C and
// AES256C the Reeder way that Cisco uses.
const (
	PrivAES PrivProtocol = iota
	PrivAES192
	PrivAES256
	PrivAES192C
	PrivAES256C
)

// PrivProtocols lists every privacy protocol.
var PrivProtocols = []PrivProtocol{PrivAES, PrivAES192, PrivAES256, PrivAES192C, PrivAES256C}

var privProtocolNames = []string{"AES", "AES192", "AES256", "AES192C", "AES256C"}

// String returns the canonical config spelling (AES256), which is also
// gosnmp's name of the protocol; "(n)" for a value that is none.
func (p PrivProtocol) String() string { return nameOf(privProtocolNames, int(p)) }

func nameOf(names []string, i int) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return "(" + strconv.Itoa(i) + ")"
}

// minPassphrase is USM's (RFC 3414 11.2) minimum passphrase length,
// which net-snmp enforces too.
const minPassphrase = 8

// maxUser is the longest USM user name (SnmpAdminString (SIZE(1..32)),
// RFC 3414).
const maxUser = 32

var (
	// snmpKeys are the credential keys, the same in a load block and a
	// notification target.
	snmpKeys   = []string{"version", "community", "user", "auth_protocol", "auth_passphrase", "priv_protocol", "priv_passphrase"}
	snmpV3Keys = snmpKeys[2:]
)

// snmpPeer says, for the messages, where the other side keeps its
// credentials.
type snmpPeer struct {
	// conf is the other side's configuration file.
	conf string
	// community is the directive that sets a community there.
	community string
}

var (
	agentPeer    = snmpPeer{conf: "the real server's snmpd.conf", community: "rocommunity"}
	receiverPeer = snmpPeer{conf: "the receiver's snmptrapd.conf", community: "authCommunity"}
)

// authRefused and privRefused are the protocols SNMP agents still offer
// that the sidecar does not accept, by lower-case name, with why; the
// message goes on with what to write instead.
var (
	authRefused = map[string]string{
		"md5":   "MD5 is broken (practical collisions) and not accepted",
		"sha":   "SHA-1 is deprecated (practical collisions) and not accepted",
		"sha1":  "SHA-1 is deprecated (practical collisions) and not accepted",
		"sha-1": "SHA-1 is deprecated (practical collisions) and not accepted",
	}
	privRefused = map[string]string{
		"des": "DES is broken (56-bit keys) and not accepted",
	}
)

// snmpCredentials decodes the credential keys of the mapping m, whose
// node is at, at path. Keys it leaves out keep base's values (a load
// block inherits key by key), except that a version other than base's
// starts from no credentials. It reports a key of the other version, a
// v2c peer without a community and a v3 one without every key of
// authPriv; peer names the other side in the messages. known is false
// when the version is wrong, and nothing else was looked at.
func (d *decoder) snmpCredentials(m map[string]entry, at *yaml.Node, path string, base SNMPCredentials, peer snmpPeer) (c SNMPCredentials, known bool) {
	c = base
	if e, ok := m["version"]; ok {
		v, ok := d.snmpVersion(e.val, join(path, "version"))
		if !ok {
			// The other keys would be judged against a version the
			// file does not say: one problem is enough.
			return base, false
		}
		if v != base.Version {
			c = SNMPCredentials{Version: v}
		}
	}
	secret := func(key string, dst *Secret) {
		e, ok := m[key]
		if !ok {
			return
		}
		p := join(path, key)
		s, ok := d.str(e.val, p)
		if !ok {
			return
		}
		// Messages give the length of a secret, never its value.
		switch {
		case key == "community" && s == "":
			d.errorf(e.val, p, "must not be empty")
		case key != "community" && len(s) < minPassphrase:
			d.errorf(e.val, p, "must be at least %d characters (RFC 3414; net-snmp refuses shorter ones), got %d", minPassphrase, len(s))
		default:
			*dst = Secret(s)
		}
	}
	if c.Version == SNMPv2c {
		for _, k := range snmpV3Keys {
			if e, ok := m[k]; ok {
				d.errorf(e.key, join(path, k), "only for version: v3; version v2c authenticates with community")
			}
		}
		_, given := m["community"]
		secret("community", &c.Community)
		if !given && len(c.Community) == 0 && !d.misspelt(at, "community") {
			d.errorf(at, path, "needs community: version v2c authenticates with a community (%s in %s)", peer.community, peer.conf)
		}
		return c, true
	}
	if e, ok := m["community"]; ok {
		d.errorf(e.key, join(path, "community"), "only for version: v2c; version v3 authenticates with user and passphrases")
	}
	if e, ok := m["user"]; ok {
		if s, ok := d.str(e.val, join(path, "user")); ok {
			if s == "" || len(s) > maxUser {
				d.errorf(e.val, join(path, "user"), "must be 1 to %d bytes, got %d", maxUser, len(s))
			} else {
				c.User = s
			}
		}
	}
	if e, ok := m["auth_protocol"]; ok {
		if i, ok := d.snmpProtocol(e.val, join(path, "auth_protocol"), authProtocolNames, authRefused, peer, "SHA256 (SHA-2, RFC 7860)", "SHA-256"); ok {
			c.AuthProtocol = AuthProtocol(i)
		}
	}
	if e, ok := m["priv_protocol"]; ok {
		if i, ok := d.snmpProtocol(e.val, join(path, "priv_protocol"), privProtocolNames, privRefused, peer, "AES (AES-128, RFC 3826)", "AES"); ok {
			c.PrivProtocol = PrivProtocol(i)
		}
	}
	secret("auth_passphrase", &c.AuthPassphrase)
	secret("priv_passphrase", &c.PrivPassphrase)
	// A v3 base is complete (it was checked at its own level), and its
	// keys carry over; a new v3 user needs every key. A key that is
	// given but wrong is already reported, not missing.
	var missing []string
	if base.Version != SNMPv3 {
		for _, k := range snmpV3Keys {
			if _, given := m[k]; !given && !d.misspelt(at, k) {
				missing = append(missing, k)
			}
		}
	}
	if len(missing) > 0 {
		d.errorf(at, path, "needs %s: version v3 is always authPriv (authenticated and encrypted), which takes user, auth_protocol, auth_passphrase, priv_protocol and priv_passphrase",
			strings.Join(missing, ", "))
	}
	return c, true
}

// snmpVersion decodes a version: v2c or v3, in any case. The net-snmp
// spellings (2c, 3) are refused with the one to write.
func (d *decoder) snmpVersion(n *yaml.Node, path string) (SNMPVersion, bool) {
	s, ok := d.scalar(n, path, "v2c or v3")
	if !ok {
		return 0, false
	}
	v := strings.ToLower(s.Value)
	for i, name := range snmpVersionNames {
		if v == name {
			return SNMPVersion(i), true
		}
	}
	switch v {
	case "2c", "2", "v2":
		d.errorf(s, path, "must be v2c or v3, got %s: use v2c", describe(s))
	case "3":
		d.errorf(s, path, "must be v2c or v3, got %s: use v3", describe(s))
	case "1", "v1":
		d.errorf(s, path, "must be v2c or v3, got %s: SNMPv1 is not supported; use v2c, which agents and receivers that speak v1 speak too, or v3", describe(s))
	default:
		d.errorf(s, path, "must be v2c or v3, got %s", describe(s))
	}
	return 0, false
}

// snmpProtocol decodes a protocol name, matched in any case against names
// (the canonical spellings). A refused one gets why and what to write
// instead: use (in the file) and createUser (in peer's file).
func (d *decoder) snmpProtocol(n *yaml.Node, path string, names []string, refused map[string]string, peer snmpPeer, use, createUser string) (int, bool) {
	list := strings.Join(names, ", ")
	s, ok := d.scalar(n, path, "one of "+list)
	if !ok {
		return 0, false
	}
	lower := make([]string, len(names))
	for i, name := range names {
		if strings.EqualFold(s.Value, name) {
			return i, true
		}
		lower[i] = strings.ToLower(name)
	}
	if why, ok := refused[strings.ToLower(s.Value)]; ok {
		d.errorf(s, path, "must be one of %s, got %s: %s; use %s, and %s in the user's createUser line in %s", list, describe(s), why, use, createUser, peer.conf)
		return 0, false
	}
	if guess := suggest(s.Value, lower); guess != "" {
		d.errorf(s, path, "must be one of %s, got %s (did you mean %q?)", list, describe(s), names[indexOf(lower, guess)])
	} else {
		d.errorf(s, path, "must be one of %s, got %s", list, describe(s))
	}
	return 0, false
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// addCredentials writes c's keys into the mapping n, the protocols in
// their canonical spelling. The secrets are written in clear: this is
// the file.
func addCredentials(n *yaml.Node, c *SNMPCredentials) {
	add(n, "version", strNode(c.Version.String()))
	if c.Version == SNMPv2c {
		add(n, "community", strNode(c.Community.Reveal()))
		return
	}
	add(n, "user", strNode(c.User))
	add(n, "auth_protocol", strNode(c.AuthProtocol.String()))
	add(n, "auth_passphrase", strNode(c.AuthPassphrase.Reveal()))
	add(n, "priv_protocol", strNode(c.PrivProtocol.String()))
	add(n, "priv_passphrase", strNode(c.PrivPassphrase.Reveal()))
}
