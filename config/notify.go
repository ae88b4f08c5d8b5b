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
	// SNMP are the version and the credentials, as in a load block.
	SNMP SNMPCredentials
	// Inform: send informs (acknowledged, retried) instead of traps.
	Inform bool
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

// Defaults of a notification target.
const (
	DefaultNotifyTimeout   = 5 * time.Second
	DefaultNotifyRetries   = 3
	DefaultNotifyQueueSize = 1000
	maxNotifyQueueSize     = 1_000_000
	maxNotifyRetries       = 10
)

var (
	notificationsKeys = []string{"director", "targets"}
	notifyTargetKeys  = append(append([]string{"name", "address"}, snmpKeys...),
		"type", "engine_id", "timeout", "retries", "queue_size", "mode", "send")
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
	var known bool
	t.SNMP, known = d.snmpCredentials(m, at, path, SNMPCredentials{}, receiverPeer)
	if e, ok := m["engine_id"]; ok && known {
		d.engineID(e, path+".engine_id", &t)
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

// engineID decodes the engine ID of a v3 trap target.
func (d *decoder) engineID(e entry, path string, t *NotifyTarget) {
	switch {
	case t.SNMP.Version != SNMPv3:
		d.errorf(e.key, path, "only for version: v3; a v2c trap has no engine ID")
	case t.Inform:
		d.errorf(e.key, path, "only for traps: an inform is sent to the receiver's engine ID, which is discovered")
	default:
		s, ok := d.str(e.val, path)
		if !ok {
			return
		}
		id, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(s), "0x"))
		if err != nil || len(id) < 5 || len(id) > 32 {
			d.errorf(e.val, path, "must be 5 to 32 bytes in hexadecimal, like 80007ed90461620102 (as createUser -e takes it), got %q", s)
			return
		}
		t.EngineID = id
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
		addCredentials(m, &t.SNMP)
		add(m, "type", strNode(notifyTypeName[b2int(t.Inform)]))
		if t.EngineID != nil {
			add(m, "engine_id", strNode(hex.EncodeToString(t.EngineID)))
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
