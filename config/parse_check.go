package config

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

var (
	// genericCheckKeys are the keys every check type has; defaults.check
	// allows only these.
	genericCheckKeys = []string{"type", "schedule", "timeout", "rise", "fall", "fast_interval", "down_interval", "jitter", "source_address"}
	// checkKeys are all keys of a check, in the order they are checked.
	checkKeys = []string{"type", "port", "schedule", "timeout", "rise", "fall", "fast_interval", "down_interval", "jitter", "source_address",
		"payload", "payload_hex", "expect", "expect_hex",
		"count", "interval", "max_loss",
		"method", "path", "host", "expect_status", "expect_body", "tls_skip_verify", "ca_file", "cert_file", "key_file"}
	// typeOnly maps each type-specific key to the types that have it.
	typeOnly = map[string][]CheckType{
		"payload": {CheckUDP}, "payload_hex": {CheckUDP}, "expect": {CheckUDP}, "expect_hex": {CheckUDP},
		"count": {CheckICMP}, "interval": {CheckICMP}, "max_loss": {CheckICMP},
		"method": {CheckHTTP, CheckHTTPS}, "path": {CheckHTTP, CheckHTTPS}, "host": {CheckHTTP, CheckHTTPS},
		"expect_status": {CheckHTTP, CheckHTTPS}, "expect_body": {CheckHTTP, CheckHTTPS},
		"tls_skip_verify": {CheckHTTPS}, "ca_file": {CheckHTTPS}, "cert_file": {CheckHTTPS}, "key_file": {CheckHTTPS},
	}
)

// checkFits returns why a check of type t cannot check the service k
// (the rest of "a tcp check cannot check ..."), or "" when it can. A
// firewall-mark service matches packets of any protocol, so every type
// may check it; icmp checks the host and fits every service.
func checkFits(t CheckType, k ipvs.ServiceKey) string {
	if k.FWMark != 0 || t == CheckICMP {
		return ""
	}
	switch k.Protocol {
	case ipvs.TCP:
		if t == CheckUDP {
			return "a tcp service: a TCP server does not answer UDP, so the check would fail against a healthy server; use tcp, syn, http, https or icmp"
		}
	case ipvs.UDP:
		if t != CheckUDP {
			return fmt.Sprintf("a udp service: %s needs a TCP listener, which a UDP server does not have, so the check would fail against a healthy server; use udp (with payload and expect for a real answer) or icmp", t)
		}
	case ipvs.SCTP:
		return "an sctp service: lvs-sidecar has no SCTP check yet, and the other types would fail against a healthy server; use icmp"
	}
	return ""
}

// defaultCheckFor returns the check of a service that lists none:
// defaults.check when its type can check the service, else the
// protocol's own default type with defaults.check's generic settings
// (schedule, timeout, rise, fall, intervals, jitter): tcp for TCP
// services, icmp for UDP and SCTP ones, whose probes need a payload only
// the operator knows.
func defaultCheckFor(base Check, k ipvs.ServiceKey) Check {
	if checkFits(base.Type, k) == "" {
		return base
	}
	c := base
	c.UDP, c.ICMP, c.HTTP = nil, nil, nil
	if k.Protocol == ipvs.TCP {
		c.Type = CheckTCP
		return c
	}
	c.Type, c.Port = CheckICMP, 0
	c.ICMP = &ICMPCheck{Count: defaultICMPCount, Interval: defaultICMPInterval}
	return c
}

// article returns "an" for the type names said with a vowel sound
// (an http check, an icmp check), else "a".
func article(name string) string {
	switch name {
	case "http", "https", "icmp", "ipip", "sctp":
		return "an"
	}
	return "a"
}

// mappingValue returns the value of key in mapping node n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Type-specific defaults.
const (
	defaultICMPCount    = 1
	defaultICMPInterval = 200 * time.Millisecond
	maxUDPPayload       = 65507 // largest UDP payload over IPv4
)

// checkList decodes a list of checks; an empty list is an error (leave the
// key out to get defaults.check).
//
// key is the service the checks are for: a check whose type cannot check
// its protocol is an error. Nil (discovery) skips the rule: discovery
// picks the checks that fit each discovered service.
func (d *decoder) checkList(n *yaml.Node, path string, def *Defaults, key *ipvs.ServiceKey) []Check {
	items, ok := d.sequence(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		at := d.resolve(n)
		d.errorf(at, path, "needs at least one check; leave the key out to use defaults.check")
		return nil
	}
	checks := make([]Check, 0, len(items))
	for i, item := range items {
		c, ok := d.check(item, index(path, i), def.Check, "defaults.check", checkKeys)
		if !ok {
			continue
		}
		if key != nil {
			if msg := checkFits(c.Type, *key); msg != "" {
				at, from := d.resolveQuiet(item), " (the type of defaults.check)"
				if v := mappingValue(at, "type"); v != nil {
					at, from = v, ""
				}
				d.errorf(at, join(index(path, i), "type"), "%s %s check%s cannot check %s", article(c.Type.String()), c.Type, from, msg)
				continue
			}
		}
		checks = append(checks, c)
	}
	if len(checks) != len(items) {
		return nil
	}
	return checks
}

// check decodes one check: base supplies every generic field the check does
// not set (baseFrom names where base comes from, for messages). ok is false
// when the check has errors.
func (d *decoder) check(n *yaml.Node, path string, base Check, baseFrom string, allowed []string) (Check, bool) {
	errs := len(d.errs)
	m, ok := d.mapping(n, path, allowed)
	if !ok {
		return Check{}, false
	}
	c := base
	c.UDP, c.ICMP, c.HTTP = nil, nil, nil
	typeKnown := true
	if e, ok := m["type"]; ok {
		i, ok := d.oneOf(e.val, join(path, "type"), checkTypeNames)
		c.Type, typeKnown = CheckType(i), ok
	}
	if e, ok := m["port"]; ok {
		if c.Type == CheckICMP {
			d.errorf(e.key, join(path, "port"), "not used by icmp checks")
		} else if v, ok := d.integer(e.val, join(path, "port"), 1, 65535); ok {
			c.Port = uint16(v)
		}
	}
	if e, ok := m["schedule"]; ok {
		if s, ok := d.str(e.val, join(path, "schedule")); ok {
			sched, err := parseSchedule(s)
			if err != nil {
				d.errorf(e.val, join(path, "schedule"), "%v", err)
			} else {
				c.Schedule = sched
			}
		}
	}
	if e, ok := m["timeout"]; ok {
		if v, ok := d.duration(e.val, join(path, "timeout")); ok {
			if v == 0 {
				d.errorf(e.val, join(path, "timeout"), "must be longer than 0")
			} else {
				c.Timeout = v
			}
		}
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"rise", &c.Rise}, {"fall", &c.Fall}} {
		if e, ok := m[f.key]; ok {
			if v, ok := d.integer(e.val, join(path, f.key), 1, 100); ok {
				*f.dst = int(v)
			}
		}
	}
	for _, f := range []struct {
		key string
		dst *time.Duration
	}{{"fast_interval", &c.FastInterval}, {"down_interval", &c.DownInterval}} {
		if e, ok := m[f.key]; ok {
			if v, ok := d.duration(e.val, join(path, f.key)); ok {
				if v != 0 && v < minInterval {
					d.errorf(e.val, join(path, f.key), "must be at least %s (or 0 to keep the schedule), got %s", minInterval, v)
				} else {
					*f.dst = v
				}
			}
		}
	}
	if e, ok := m["jitter"]; ok {
		if j, ok := d.jitter(e.val, join(path, "jitter")); ok {
			c.Jitter = j
		}
	}
	if e, ok := m["source_address"]; ok {
		if a, ok := d.sourceAddress(e.val, join(path, "source_address")); ok {
			c.Source = a
			if path == "defaults.check" {
				d.defaultSource = e.val
			}
		}
	}

	if typeKnown {
		for _, key := range checkKeys {
			types, specific := typeOnly[key]
			e, set := m[key]
			if !specific || !set || containsType(types, c.Type) {
				continue
			}
			d.errorf(e.key, join(path, key), "only for %s checks, not %s", typeList(types), c.Type)
		}
		switch c.Type {
		case CheckUDP:
			c.UDP = d.udp(m, path)
		case CheckICMP:
			c.ICMP = d.icmp(m, path)
		case CheckHTTP, CheckHTTPS:
			c.HTTP = d.http(m, path)
		}
	}
	if len(d.errs) > errs {
		return Check{}, false
	}
	d.checkTiming(&c, m, path, baseFrom)
	return c, len(d.errs) == errs
}

// checkTiming checks that the timeout fits in every interval the check can
// run at. A conflict is reported at the field set in this check; when both
// come from the defaults it was reported there.
func (d *decoder) checkTiming(c *Check, m map[string]entry, path, baseFrom string) {
	from := func(key string) string {
		if _, ok := m[key]; ok {
			return ""
		}
		return ", from " + baseFrom
	}
	interval := c.Schedule.Interval
	if c.Timeout >= interval {
		if e, ok := m["timeout"]; ok {
			d.errorf(e.val, join(path, "timeout"), "%s must be shorter than the schedule's interval %s (%q%s)", c.Timeout, interval, c.Schedule.Spec, from("schedule"))
		} else if e, ok := m["schedule"]; ok {
			d.errorf(e.val, join(path, "schedule"), "interval %s (%q) must be longer than the timeout %s%s", interval, c.Schedule.Spec, c.Timeout, paren(from("timeout")))
		}
	}
	for _, f := range []struct {
		key string
		v   time.Duration
	}{{"fast_interval", c.FastInterval}, {"down_interval", c.DownInterval}} {
		if f.v == 0 || c.Timeout < f.v {
			continue
		}
		if e, ok := m[f.key]; ok {
			d.errorf(e.val, join(path, f.key), "%s must be longer than the timeout %s%s", f.v, c.Timeout, paren(from("timeout")))
		} else if e, ok := m["timeout"]; ok {
			d.errorf(e.val, join(path, "timeout"), "%s must be shorter than %s %s%s", c.Timeout, f.key, f.v, paren(from(f.key)))
		}
	}
	if j := c.Jitter.Max; j > interval {
		if e, ok := m["jitter"]; ok {
			d.errorf(e.val, join(path, "jitter"), "%s must not exceed the schedule's interval %s (%q%s)", j, interval, c.Schedule.Spec, from("schedule"))
		} else if e, ok := m["schedule"]; ok {
			d.errorf(e.val, join(path, "schedule"), "interval %s (%q) must not be shorter than the jitter %s%s", interval, c.Schedule.Spec, j, paren(from("jitter")))
		}
	}
	if p := c.ICMP; p != nil {
		if span := time.Duration(p.Count-1) * p.Interval; span >= c.Timeout {
			at, key := m["count"].val, "count"
			if e, ok := m["interval"]; ok {
				at, key = e.val, "interval"
			}
			if at == nil {
				if e, ok := m["timeout"]; ok {
					at, key = e.val, "timeout"
				}
			}
			if at != nil {
				d.errorf(at, join(path, key), "%d pings %s apart take %s, which does not fit in the timeout %s", p.Count, p.Interval, span, c.Timeout)
			}
		}
	}
}

// paren turns ", from X" into " (from X)".
func paren(from string) string {
	if from == "" {
		return ""
	}
	return " (" + strings.TrimPrefix(from, ", ") + ")"
}

// jitter decodes "500ms" or "10%".
func (d *decoder) jitter(n *yaml.Node, path string) (Jitter, bool) {
	s, ok := d.scalar(n, path, "a duration or a percentage")
	if !ok {
		return Jitter{}, false
	}
	if strings.HasSuffix(s.Value, "%") {
		v, ok := d.percent(s, path)
		return Jitter{Percent: v}, ok
	}
	v, ok := d.duration(s, path)
	return Jitter{Max: v}, ok
}

func (d *decoder) udp(m map[string]entry, path string) *UDPCheck {
	u := &UDPCheck{}
	u.Payload = d.bytesField(m, path, "payload")
	u.Expect = d.bytesField(m, path, "expect")
	return u
}

// bytesField decodes key (text) or key_hex (hexadecimal bytes).
func (d *decoder) bytesField(m map[string]entry, path, key string) []byte {
	text, hasText := m[key]
	hx, hasHex := m[key+"_hex"]
	var out []byte
	switch {
	case hasText && hasHex:
		d.errorf(hx.key, join(path, key+"_hex"), "set %s or %s_hex, not both", key, key)
		return nil
	case hasText:
		s, ok := d.str(text.val, join(path, key))
		if !ok {
			return nil
		}
		out = []byte(s)
	case hasHex:
		s, ok := d.str(hx.val, join(path, key+"_hex"))
		if !ok {
			return nil
		}
		clean := strings.TrimPrefix(strings.Join(strings.Fields(s), ""), "0x")
		b, err := hex.DecodeString(clean)
		if err != nil {
			d.errorf(hx.val, join(path, key+"_hex"), "must be hexadecimal bytes like 0a1b2c (spaces allowed), got %q", s)
			return nil
		}
		out = b
	default:
		return nil
	}
	if len(out) == 0 {
		return nil
	}
	if len(out) > maxUDPPayload {
		at := text
		if hasHex {
			at = hx
		}
		d.errorf(at.val, join(path, at.key.Value), "is %d bytes, more than a UDP datagram holds (%d)", len(out), maxUDPPayload)
		return nil
	}
	return out
}

func (d *decoder) icmp(m map[string]entry, path string) *ICMPCheck {
	p := &ICMPCheck{Count: defaultICMPCount, Interval: defaultICMPInterval}
	if e, ok := m["count"]; ok {
		if v, ok := d.integer(e.val, join(path, "count"), 1, 100); ok {
			p.Count = int(v)
		}
	}
	if e, ok := m["interval"]; ok {
		if v, ok := d.duration(e.val, join(path, "interval")); ok {
			if v < minInterval {
				d.errorf(e.val, join(path, "interval"), "must be at least %s, got %s", minInterval, v)
			} else {
				p.Interval = v
			}
		}
	}
	if e, ok := m["max_loss"]; ok {
		if v, ok := d.percent(e.val, join(path, "max_loss")); ok {
			if v >= 100 {
				d.errorf(e.val, join(path, "max_loss"), "must be below 100%%: a check that passes with every echo lost checks nothing")
			} else {
				p.MaxLoss = v
			}
		}
	}
	return p
}

// httpMethod is an HTTP method token as servers expect it.
var httpMethod = regexp.MustCompile(`^[A-Z]+$`)

func (d *decoder) http(m map[string]entry, path string) *HTTPCheck {
	h := &HTTPCheck{Method: "GET", Path: "/", ExpectStatus: []StatusRange{{200, 200}}}
	if e, ok := m["method"]; ok {
		if s, ok := d.str(e.val, join(path, "method")); ok {
			if httpMethod.MatchString(s) {
				h.Method = s
			} else {
				d.errorf(e.val, join(path, "method"), "must be an HTTP method in capitals like GET, HEAD or POST, got %q", s)
			}
		}
	}
	if e, ok := m["path"]; ok {
		if s, ok := d.str(e.val, join(path, "path")); ok {
			if u, err := url.ParseRequestURI(s); err != nil || !strings.HasPrefix(s, "/") || u.Host != "" || strings.ContainsAny(s, " \t\r\n") {
				d.errorf(e.val, join(path, "path"), "must be a URL path starting with /, like /healthz or /status?full=1, got %q", s)
			} else {
				h.Path = s
			}
		}
	}
	if e, ok := m["host"]; ok {
		if s, ok := d.str(e.val, join(path, "host")); ok {
			if s == "" || strings.ContainsAny(s, " \t\r\n/") || !validHostHeader(s) {
				d.errorf(e.val, join(path, "host"), "must be a host name (optionally with :port) for the Host header, got %q", s)
			} else {
				h.Host = s
			}
		}
	}
	if e, ok := m["expect_status"]; ok {
		if r, ok := d.statusList(e.val, join(path, "expect_status")); ok {
			h.ExpectStatus = r
		}
	}
	if e, ok := m["expect_body"]; ok {
		if s, ok := d.str(e.val, join(path, "expect_body")); ok {
			re, err := regexp.Compile(s)
			if err != nil {
				d.errorf(e.val, join(path, "expect_body"), "invalid regular expression: %v", err)
			} else {
				h.ExpectBody = re
			}
		}
	}
	if e, ok := m["tls_skip_verify"]; ok {
		h.TLSSkipVerify, _ = d.boolean(e.val, join(path, "tls_skip_verify"))
	}
	d.tlsFiles(m, path, h)
	return h
}

// validHostHeader accepts what url.URL accepts as a host: name or address,
// optional port, IPv6 in brackets.
func validHostHeader(s string) bool {
	u, err := url.Parse("http://" + s + "/")
	return err == nil && u.Host == s && u.User == nil
}

// statusList decodes expect_status: one code, one range, or a list of both.
func (d *decoder) statusList(n *yaml.Node, path string) ([]StatusRange, bool) {
	n = d.resolve(n)
	if n == nil {
		return nil, false
	}
	items := []*yaml.Node{n}
	paths := []string{path}
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			d.errorf(n, path, "needs at least one status code")
			return nil, false
		}
		items, paths = n.Content, nil
		for i := range items {
			paths = append(paths, index(path, i))
		}
	}
	var out []StatusRange
	ok := true
	for i, item := range items {
		r, good := d.status(item, paths[i])
		ok = ok && good
		out = append(out, r)
	}
	return out, ok
}

func (d *decoder) status(n *yaml.Node, path string) (StatusRange, bool) {
	s, ok := d.scalar(n, path, "a status code or range")
	if !ok {
		return StatusRange{}, false
	}
	bad := func() (StatusRange, bool) {
		d.errorf(s, path, "must be a status code (100-599) or a range like 200-399, got %s", describe(s))
		return StatusRange{}, false
	}
	code := func(t string) (int, bool) {
		v, err := strconv.Atoi(strings.TrimSpace(t))
		return v, err == nil && v >= 100 && v <= 599
	}
	lo, hi, isRange := strings.Cut(s.Value, "-")
	if !isRange {
		v, ok := code(s.Value)
		if !ok || (s.Tag != "!!int" && s.Tag != "!!str") {
			return bad()
		}
		return StatusRange{v, v}, true
	}
	a, okA := code(lo)
	b, okB := code(hi)
	if !okA || !okB || s.Tag != "!!str" {
		return bad()
	}
	if a > b {
		d.errorf(s, path, "range %q is backwards: write the lower code first", s.Value)
		return StatusRange{}, false
	}
	return StatusRange{a, b}, true
}

func containsType(types []CheckType, t CheckType) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// typeList renders "udp", "http and https".
func typeList(types []CheckType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.String()
	}
	if len(names) == 1 {
		return names[0]
	}
	return fmt.Sprintf("%s and %s", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}
