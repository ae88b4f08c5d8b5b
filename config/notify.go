package config

import (
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Notifications configures the SNMP notifications (the top-level
// notifications section): who sends them and to which receivers.
type Notifications struct {
	// Director names this director in every notification
	// (lsNotifyDirector, keepalived's routerId) and derives the SNMPv3
	// engine ID of traps that do not set one; "" means the host name.
	Director string
	// Targets are the receivers, in file order; each gets every
	// notification of the kinds it asks for.
	Targets []NotifyTarget
}

// NotifyTarget is one receiver of notifications.
type NotifyTarget struct {
	// Name is unique among the targets; it is the "target" label of the
	// notification metrics. Default: the address.
	Name string
	// Address is host:port of the receiver (port 162 for a standard
	// snmptrapd).
	Address string
	Version SNMPVersion
	// Inform: send informs (acknowledged, retried) instead of traps.
	Inform bool
	// Community is the SNMPv2c community (v2c only).
	Community Secret
	// User, the authentication and privacy protocols and passphrases are
	// the SNMPv3 USM user (v3 only, always authPriv).
	User           string
	AuthProtocol   AuthProtocol
	AuthPassphrase Secret
	PrivProtocol   PrivProtocol
	PrivPassphrase Secret
	// EngineID is the SNMPv3 engine ID v3 traps are sent with (the sender
	// is the authoritative engine of a trap); nil means one derived from
	// the director's name (see the README). Informs discover the
	// receiver's engine ID instead.
	EngineID []byte
	// Timeout is how long an inform waits for its acknowledgement (and a
	// send for the socket).
	Timeout time.Duration
	// Retries is how many times an unacknowledged inform is sent again,
	// with exponential backoff, before it counts as failed.
	Retries int
	// QueueSize bounds the notifications waiting for this target; when it
	// is full new ones are dropped (and counted), never waited for.
	QueueSize int
	Mode      NotifyMode
	// Send lists the kinds of notification the target gets; never empty
	// (every kind when the file does not say).
	Send []NotifyKind
}

// SNMPVersion is a target's SNMP version.
type SNMPVersion uint8

// SNMP versions of notification targets.
const (
	SNMPv2c SNMPVersion = iota
	SNMPv3
)

var snmpVersionNames = []string{"v2c", "v3"}

// String returns v2c or v3.
func (v SNMPVersion) String() string { return nameOf(snmpVersionNames, int(v)) }

// AuthProtocol is an SNMPv3 authentication protocol: SHA-2 only (RFC
// 7860); MD5 and SHA-1 are not offered.
type AuthProtocol uint8

// Authentication protocols.
const (
	AuthSHA224 AuthProtocol = iota
	AuthSHA256
	AuthSHA384
	AuthSHA512
)

var authProtocolNames = []string{"SHA224", "SHA256", "SHA384", "SHA512"}

// String returns the config spelling (SHA256).
func (p AuthProtocol) String() string { return nameOf(authProtocolNames, int(p)) }

// PrivProtocol is an SNMPv3 privacy protocol.
type PrivProtocol uint8

// Privacy protocols: AES is AES-128 (RFC 3826); AES192 and AES256 extend
// keys the Blumenthal way (net-snmp's AES192/AES256), AES192C and
// AES256C the Reeder way that Cisco uses.
const (
	PrivAES PrivProtocol = iota
	PrivAES192
	PrivAES256
	PrivAES192C
	PrivAES256C
)

var privProtocolNames = []string{"AES", "AES192", "AES256", "AES192C", "AES256C"}

// String returns the config spelling (AES256).
func (p PrivProtocol) String() string { return nameOf(privProtocolNames, int(p)) }

// NotifyMode says which MIB a target's notifications follow.
type NotifyMode uint8

// Notification modes.
const (
	// ModeLVSSidecar: LVS-SIDECAR-MIB's notifications, every kind.
	ModeLVSSidecar NotifyMode = iota
	// ModeKeepalived: KEEPALIVED-MIB's realServerStateChange and
	// virtualServerQuorumStateChange, with keepalived's identifiers and
	// varbinds, for receivers set up for keepalived.
	ModeKeepalived
)

var notifyModeNames = []string{"lvs-sidecar", "keepalived"}

// String returns lvs-sidecar or keepalived.
func (m NotifyMode) String() string { return nameOf(notifyModeNames, int(m)) }

// NotifyKind is a kind of notification a target may ask for.
type NotifyKind uint8

// Kinds of notification.
const (
	// NotifyState: a real server's health verdict changed.
	NotifyState NotifyKind = iota
	// NotifyAction: the controller wrote to the table.
	NotifyAction
	// NotifyPanic: a service entered or left panic or fail open.
	NotifyPanic
	// NotifyReload: a configuration reload failed.
	NotifyReload
	// NotifyLifecycle: the sidecar started or is stopping.
	NotifyLifecycle
)

// NotifyKinds lists every kind.
var NotifyKinds = []NotifyKind{NotifyState, NotifyAction, NotifyPanic, NotifyReload, NotifyLifecycle}

var notifyKindNames = []string{"state", "action", "panic", "reload", "lifecycle"}

// String returns the config spelling (state, action, ...).
func (k NotifyKind) String() string { return nameOf(notifyKindNames, int(k)) }

// Wants reports whether the target gets notifications of kind k.
func (t *NotifyTarget) Wants(k NotifyKind) bool {
	for _, s := range t.Send {
		if s == k {
			return true
		}
	}
	return false
}

func nameOf(names []string, i int) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return "(" + strconv.Itoa(i) + ")"
}

// Defaults of a notification target.
const (
	DefaultNotifyTimeout   = 5 * time.Second
	DefaultNotifyRetries   = 3
	DefaultNotifyQueueSize = 1000
	maxNotifyQueueSize     = 1_000_000
	maxNotifyRetries       = 10
	// minPassphrase is USM's (RFC 3414 11.2) minimum passphrase length.
	minPassphrase = 8
)

var (
	notificationsKeys = []string{"director", "targets"}
	notifyTargetKeys  = []string{"name", "address", "version", "type", "community", "user", "auth_protocol", "auth_passphrase",
		"priv_protocol", "priv_passphrase", "engine_id", "timeout", "retries", "queue_size", "mode", "send"}
	notifyV3Keys   = []string{"user", "auth_protocol", "auth_passphrase", "priv_protocol", "priv_passphrase", "engine_id"}
	notifyTypeName = []string{"trap", "inform"}
)

// notifications decodes the notifications section.
func (d *decoder) notifications(n *yaml.Node) Notifications {
	var c Notifications
	m, _ := d.mapping(n, "notifications", notificationsKeys)
	if e, ok := m["director"]; ok {
		if s, ok := d.str(e.val, "notifications.director"); ok {
			if len(s) > 255 {
				d.errorf(e.val, "notifications.director", "must be at most 255 bytes, got %d", len(s))
			} else {
				c.Director = s
			}
		}
	}
	e, ok := m["targets"]
	if !ok {
		return c
	}
	items, _ := d.sequence(e.val, "notifications.targets")
	names := map[string]int{}
	lines := map[string]int{}
	for i, item := range items {
		path := "notifications.targets[" + strconv.Itoa(i) + "]"
		t, nameNode, ok := d.notifyTarget(item, path)
		if !ok {
			continue
		}
		if j, dup := names[t.Name]; dup {
			d.errorf(nameNode, path+".name", "%q is already the name of notifications.targets[%d] (line %d): give each target its own name", t.Name, j, lines[t.Name])
			continue
		}
		names[t.Name], lines[t.Name] = i, nameNode.Line
		c.Targets = append(c.Targets, t)
	}
	return c
}

// notifyTarget decodes one target; nameNode is where its name comes from
// (the name, else the address).
func (d *decoder) notifyTarget(n *yaml.Node, path string) (t NotifyTarget, nameNode *yaml.Node, ok bool) {
	t = NotifyTarget{Timeout: DefaultNotifyTimeout, Retries: DefaultNotifyRetries, QueueSize: DefaultNotifyQueueSize,
		Send: append([]NotifyKind(nil), NotifyKinds...)}
	m, ok := d.mapping(n, path, notifyTargetKeys)
	if !ok {
		return t, nil, false
	}
	at := d.resolve(n)
	valid := len(d.errs)
	if e, ok := m["address"]; ok {
		if s, ok := d.str(e.val, path+".address"); ok {
			if d.targetAddress(e.val, path+".address", s) {
				t.Address, nameNode = s, e.val
			}
		}
	} else if !d.misspelt(n, "address") {
		d.errorf(at, path, "needs address: HOST:PORT of the receiver (port 162 for snmptrapd)")
	}
	if e, ok := m["name"]; ok {
		if s, ok := d.str(e.val, path+".name"); ok {
			if s == "" {
				d.errorf(e.val, path+".name", "must not be empty: leave it out to use the address")
			} else {
				t.Name, nameNode = s, e.val
			}
		}
	} else {
		t.Name = t.Address
	}
	if e, ok := m["version"]; ok {
		if i, ok := d.oneOf(e.val, path+".version", snmpVersionNames); ok {
			t.Version = SNMPVersion(i)
		}
	}
	if e, ok := m["type"]; ok {
		if i, ok := d.oneOf(e.val, path+".type", notifyTypeName); ok {
			t.Inform = i == 1
		}
	}
	if e, ok := m["mode"]; ok {
		if i, ok := d.oneOf(e.val, path+".mode", notifyModeNames); ok {
			t.Mode = NotifyMode(i)
		}
	}
	if t.Version == SNMPv2c {
		for _, k := range notifyV3Keys {
			if e, ok := m[k]; ok {
				d.errorf(e.key, path+"."+k, "only for version: v3")
			}
		}
		if e, ok := m["community"]; ok {
			if s, ok := d.str(e.val, path+".community"); ok {
				if s == "" {
					d.errorf(e.val, path+".community", "must not be empty")
				}
				t.Community = Secret(s)
			}
		} else if !d.misspelt(n, "community") {
			d.errorf(at, path, "needs community: the v2c community the receiver accepts (authCommunity in snmptrapd.conf)")
		}
	} else {
		d.notifyV3(m, n, at, path, &t)
	}
	if e, ok := m["timeout"]; ok {
		if v, ok := d.duration(e.val, path+".timeout"); ok {
			if v < 10*time.Millisecond {
				d.errorf(e.val, path+".timeout", "must be at least 10ms, got %s", v)
			} else {
				t.Timeout = v
			}
		}
	}
	if e, ok := m["retries"]; ok {
		if v, ok := d.integer(e.val, path+".retries", 0, maxNotifyRetries); ok {
			t.Retries = int(v)
		}
	}
	if e, ok := m["queue_size"]; ok {
		if v, ok := d.integer(e.val, path+".queue_size", 1, maxNotifyQueueSize); ok {
			t.QueueSize = int(v)
		}
	}
	if e, ok := m["send"]; ok {
		t.Send = d.notifyKinds(e.val, path+".send")
	}
	return t, nameNode, len(d.errs) == valid && nameNode != nil
}

// notifyV3 decodes the USM user of a v3 target: authPriv, always.
func (d *decoder) notifyV3(m map[string]entry, n, at *yaml.Node, path string, t *NotifyTarget) {
	if e, ok := m["community"]; ok {
		d.errorf(e.key, path+".community", "only for version: v2c (v3 uses user, auth_passphrase and priv_passphrase)")
	}
	required := func(key, what string) (entry, bool) {
		e, ok := m[key]
		if !ok && !d.misspelt(n, key) {
			d.errorf(at, path, "needs %s: %s (v3 targets are authPriv)", key, what)
		}
		return e, ok
	}
	if e, ok := required("user", "the USM user name the receiver knows (createUser in snmptrapd.conf)"); ok {
		if s, ok := d.str(e.val, path+".user"); ok {
			if s == "" || len(s) > 32 {
				d.errorf(e.val, path+".user", "must be 1 to 32 bytes, got %d", len(s))
			} else {
				t.User = s
			}
		}
	}
	if e, ok := required("auth_protocol", "one of "+strings.Join(authProtocolNames, ", ")); ok {
		if i, ok := d.oneOf(e.val, path+".auth_protocol", authProtocolNames); ok {
			t.AuthProtocol = AuthProtocol(i)
		}
	}
	if e, ok := required("priv_protocol", "one of "+strings.Join(privProtocolNames, ", ")); ok {
		if i, ok := d.oneOf(e.val, path+".priv_protocol", privProtocolNames); ok {
			t.PrivProtocol = PrivProtocol(i)
		}
	}
	for _, k := range []string{"auth_passphrase", "priv_passphrase"} {
		e, ok := required(k, "at least 8 characters")
		if !ok {
			continue
		}
		// The value is never echoed: only its length.
		if s, ok := d.str(e.val, path+"."+k); ok {
			if len(s) < minPassphrase {
				d.errorf(e.val, path+"."+k, "must be at least %d characters (RFC 3414), got %d", minPassphrase, len(s))
			} else if k == "auth_passphrase" {
				t.AuthPassphrase = Secret(s)
			} else {
				t.PrivPassphrase = Secret(s)
			}
		}
	}
	if e, ok := m["engine_id"]; ok {
		if t.Inform {
			d.errorf(e.key, path+".engine_id", "only for traps: an inform is sent to the receiver's engine ID, which is discovered")
		} else if s, ok := d.str(e.val, path+".engine_id"); ok {
			id, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(s), "0x"))
			if err != nil || len(id) < 5 || len(id) > 32 {
				d.errorf(e.val, path+".engine_id", "must be 5 to 32 bytes in hexadecimal, like 80007ed90461620102 (as createUser -e takes it), got %q", s)
			} else {
				t.EngineID = id
			}
		}
	}
}

// targetAddress checks a receiver's host:port.
func (d *decoder) targetAddress(n *yaml.Node, path, s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		d.errorf(n, path, "must be HOST:PORT like 192.0.2.9:162 or [2001:db8::9]:162, got %q", s)
		return false
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		d.errorf(n, path, "port must be 1 to 65535, got %q", port)
		return false
	}
	return true
}

// notifyKinds decodes a send list.
func (d *decoder) notifyKinds(n *yaml.Node, path string) []NotifyKind {
	items, _ := d.sequence(n, path)
	if len(items) == 0 {
		d.errorf(d.resolve(n), path, "needs at least one of %s; leave the key out to send every kind", strings.Join(notifyKindNames, ", "))
		return append([]NotifyKind(nil), NotifyKinds...)
	}
	var out []NotifyKind
	seen := map[int]bool{}
	for i, item := range items {
		p := path + "[" + strconv.Itoa(i) + "]"
		k, ok := d.oneOf(item, p, notifyKindNames)
		if !ok {
			continue
		}
		if seen[k] {
			d.errorf(item, p, "%s is listed twice", notifyKindNames[k])
			continue
		}
		seen[k] = true
		out = append(out, NotifyKind(k))
	}
	return out
}

// notificationsNode writes the notifications section for Marshal: the
// only place a Secret's value is written, since the output is a
// configuration file.
func notificationsNode(c *Notifications) *yaml.Node {
	n := mapNode()
	if c.Director != "" {
		add(n, "director", strNode(c.Director))
	}
	targets := seqNode()
	for i := range c.Targets {
		t := &c.Targets[i]
		m := mapNode()
		add(m, "name", strNode(t.Name))
		add(m, "address", strNode(t.Address))
		add(m, "version", strNode(t.Version.String()))
		add(m, "type", strNode(notifyTypeName[b2int(t.Inform)]))
		if t.Version == SNMPv2c {
			add(m, "community", strNode(t.Community.Reveal()))
		} else {
			add(m, "user", strNode(t.User))
			add(m, "auth_protocol", strNode(t.AuthProtocol.String()))
			add(m, "auth_passphrase", strNode(t.AuthPassphrase.Reveal()))
			add(m, "priv_protocol", strNode(t.PrivProtocol.String()))
			add(m, "priv_passphrase", strNode(t.PrivPassphrase.Reveal()))
			if t.EngineID != nil {
				add(m, "engine_id", strNode(hex.EncodeToString(t.EngineID)))
			}
		}
		add(m, "timeout", durationNode(t.Timeout))
		add(m, "retries", intNode(int64(t.Retries)))
		add(m, "queue_size", intNode(int64(t.QueueSize)))
		add(m, "mode", strNode(t.Mode.String()))
		kinds := seqNode()
		kinds.Style = yaml.FlowStyle
		for _, k := range t.Send {
			kinds.Content = append(kinds.Content, strNode(k.String()))
		}
		add(m, "send", kinds)
		targets.Content = append(targets.Content, m)
	}
	add(n, "targets", targets)
	return n
}

func b2int(b bool) int {
	if b {
		return 1
	}
	return 0
}
