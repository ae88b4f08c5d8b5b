package config

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// Marshal writes c as a configuration file in the format Parse reads:
// defaults spelled out, services and checks with only what differs from the
// defaults, real servers and checks one per line. Parse(Marshal(c)) gives a
// Config equal to c for every c that Parse or ImportIpvsadm returned.
func Marshal(c *Config) ([]byte, error) {
	root := mapNode()
	add(root, "defaults", defaultsNode(&c.Defaults))
	services := seqNode()
	for i := range c.Services {
		services.Content = append(services.Content, serviceNode(&c.Services[i], &c.Defaults))
	}
	add(root, "services", services)
	if c.Discovery.Enabled || len(c.Discovery.Checks) > 0 {
		disc := mapNode()
		add(disc, "enabled", boolNode(c.Discovery.Enabled))
		if !c.Discovery.Enabled || !sameChecks(c.Discovery.Checks, []Check{c.Defaults.Check}) {
			add(disc, "checks", checksNode(c.Discovery.Checks, &c.Defaults.Check))
		}
		add(root, "discovery", disc)
	}
	if c.Controller != builtinController() {
		ctl := mapNode()
		add(ctl, "mode", strNode(c.Controller.Mode.String()))
		period := c.Controller.Period
		if period == 0 {
			period = DefaultControllerPeriod
		}
		add(ctl, "period", durationNode(period))
		add(root, "controller", ctl)
	}
	if c.Notifications.Director != "" || len(c.Notifications.Targets) > 0 {
		add(root, "notifications", notificationsNode(&c.Notifications))
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

func defaultsNode(def *Defaults) *yaml.Node {
	n := mapNode()
	check := mapNode()
	c := &def.Check
	add(check, "type", strNode(c.Type.String()))
	add(check, "schedule", strNode(c.Schedule.Spec))
	add(check, "timeout", durationNode(c.Timeout))
	add(check, "rise", intNode(int64(c.Rise)))
	add(check, "fall", intNode(int64(c.Fall)))
	if c.FastInterval != 0 {
		add(check, "fast_interval", durationNode(c.FastInterval))
	}
	if c.DownInterval != 0 {
		add(check, "down_interval", durationNode(c.DownInterval))
	}
	if c.Jitter != (Jitter{}) {
		add(check, "jitter", jitterNode(c.Jitter))
	}
	if c.Source.IsValid() {
		add(check, "source_address", strNode(c.Source.String()))
	}
	add(n, "check", check)
	add(n, "on_failure", strNode(def.OnFailure.String()))
	if def.SlowStart != 0 {
		add(n, "slow_start", durationNode(def.SlowStart))
	}
	if def.PanicThreshold != 0 {
		add(n, "panic_threshold", percentNode(def.PanicThreshold))
	}
	if def.PanicHysteresis != DefaultPanicHysteresis {
		add(n, "panic_hysteresis", percentNode(def.PanicHysteresis))
	}
	if def.Load != nil {
		add(n, "load", loadNode(def.Load))
	}
	return n
}

func serviceNode(s *Service, def *Defaults) *yaml.Node {
	n := mapNode()
	add(n, "name", strNode(s.Name))
	if s.Key.FWMark != 0 {
		add(n, "fwmark", intNode(int64(s.Key.FWMark)))
		add(n, "family", strNode(ipvs.FamilyName(s.Key.Family)))
	} else {
		add(n, "address", strNode(netip.AddrPortFrom(s.Key.Address, s.Key.Port).String()))
		add(n, "protocol", strNode(s.Key.Protocol.String()))
	}
	add(n, "scheduler", strNode(s.Scheduler))
	if s.Persistence != 0 {
		// Seconds, as ipvsadm -p counts them.
		add(n, "persistence", strNode(strconv.FormatInt(int64(s.Persistence/time.Second), 10)+"s"))
		switch {
		case s.Key.Family == ipvs.FamilyIPv6 && s.PersistenceNetmask != 128:
			add(n, "persistence_netmask", intNode(int64(s.PersistenceNetmask)))
		case s.Key.Family != ipvs.FamilyIPv6 && s.PersistenceNetmask != 32:
			add(n, "persistence_netmask", strNode(maskString(s.PersistenceNetmask)))
		}
	}
	if s.PanicThreshold != def.PanicThreshold {
		add(n, "panic_threshold", percentNode(s.PanicThreshold))
	}
	if s.PanicHysteresis != def.PanicHysteresis {
		add(n, "panic_hysteresis", percentNode(s.PanicHysteresis))
	}
	if s.OnFailure != def.OnFailure {
		add(n, "on_failure", strNode(s.OnFailure.String()))
	}
	if s.SlowStart != def.SlowStart {
		add(n, "slow_start", durationNode(s.SlowStart))
	}
	if s.Combine != CombineAll {
		add(n, "combine", strNode(s.Combine.String()))
	}
	if !reflect.DeepEqual(s.Load, def.Load) {
		add(n, "load", loadNode(s.Load))
	}
	servers := seqNode()
	for i := range s.RealServers {
		servers.Content = append(servers.Content, realServerNode(&s.RealServers[i], &def.Check, s.Load))
	}
	add(n, "real_servers", servers)
	if !sameChecks(s.Checks, []Check{def.Check}) {
		add(n, "checks", checksNode(s.Checks, &def.Check))
	}
	return n
}

func realServerNode(rs *RealServer, base *Check, load *LoadWeight) *yaml.Node {
	n := mapNode()
	if rs.Address.Port() == 0 {
		add(n, "address", strNode(rs.Address.Addr().String()))
	} else {
		add(n, "address", strNode(rs.Address.String()))
	}
	if rs.Weight != defaultWeight {
		add(n, "weight", intNode(int64(rs.Weight)))
	}
	add(n, "forward", strNode(forwardName(rs.Forward)))
	if rs.UpperThreshold != 0 {
		add(n, "upper_threshold", intNode(int64(rs.UpperThreshold)))
	}
	if rs.LowerThreshold != 0 {
		add(n, "lower_threshold", intNode(int64(rs.LowerThreshold)))
	}
	if rs.Tunnel != (Tunnel{}) {
		t := mapNode()
		t.Style = yaml.FlowStyle
		add(t, "type", strNode(rs.Tunnel.Type.String()))
		if rs.Tunnel.Port != 0 {
			add(t, "port", intNode(int64(rs.Tunnel.Port)))
		}
		if rs.Tunnel.Flags != 0 {
			add(t, "checksum", strNode(checksumName(rs.Tunnel.Flags)))
		}
		add(n, "tunnel", t)
	}
	if !reflect.DeepEqual(rs.Load, load) {
		add(n, "load", loadNode(rs.Load))
	}
	if rs.Checks != nil {
		add(n, "checks", checksNode(rs.Checks, base))
	} else {
		n.Style = yaml.FlowStyle
	}
	return n
}

// loadNode writes a load block with every key, so that it means the same
// whatever the level around it has; nil is `enabled: false`. Secrets are
// written in clear: this is the file.
func loadNode(l *LoadWeight) *yaml.Node {
	n := mapNode()
	n.Style = yaml.FlowStyle
	if l == nil {
		add(n, "enabled", boolNode(false))
		return n
	}
	add(n, "source", strNode(l.Source.String()))
	if l.Source != LoadHRProcessor {
		add(n, "oid", strNode(l.OID))
	}
	if l.Source == LoadOID {
		add(n, "scale", floatNode(l.Scale))
	}
	add(n, "port", intNode(int64(l.Port)))
	add(n, "interval", durationNode(l.Interval))
	add(n, "timeout", durationNode(l.Timeout))
	add(n, "stale_after", intNode(int64(l.StaleAfter)))
	addCredentials(n, &l.SNMP)
	add(n, "start", floatNode(l.Start))
	add(n, "full", floatNode(l.Full))
	add(n, "floor", percentNode(l.Floor))
	add(n, "hysteresis", floatNode(l.Hysteresis))
	add(n, "max_step", percentNode(l.MaxStep))
	return n
}

// floatNode writes a number exactly, as an integer when it is one.
func floatNode(v float64) *yaml.Node {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return intNode(int64(v))
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v, 'g', -1, 64)}
}

func checksNode(checks []Check, base *Check) *yaml.Node {
	n := seqNode()
	for i := range checks {
		n.Content = append(n.Content, checkNode(&checks[i], base))
	}
	return n
}

// checkNode writes the type and whatever differs from base (the defaults)
// and from the type's own defaults, in flow style: one check per line.
func checkNode(c *Check, base *Check) *yaml.Node {
	n := mapNode()
	n.Style = yaml.FlowStyle
	add(n, "type", strNode(c.Type.String()))
	if c.Port != 0 {
		add(n, "port", intNode(int64(c.Port)))
	}
	if c.Schedule.Spec != base.Schedule.Spec {
		add(n, "schedule", strNode(c.Schedule.Spec))
	}
	if c.Timeout != base.Timeout {
		add(n, "timeout", durationNode(c.Timeout))
	}
	if c.Rise != base.Rise {
		add(n, "rise", intNode(int64(c.Rise)))
	}
	if c.Fall != base.Fall {
		add(n, "fall", intNode(int64(c.Fall)))
	}
	if c.FastInterval != base.FastInterval {
		add(n, "fast_interval", durationNode(c.FastInterval))
	}
	if c.DownInterval != base.DownInterval {
		add(n, "down_interval", durationNode(c.DownInterval))
	}
	if c.Jitter != base.Jitter {
		add(n, "jitter", jitterNode(c.Jitter))
	}
	if c.Source != base.Source && c.Source.IsValid() {
		// Without one here, the check would inherit the defaults'.
		add(n, "source_address", strNode(c.Source.String()))
	}
	if u := c.UDP; u != nil {
		addBytes(n, "payload", u.Payload)
		addBytes(n, "expect", u.Expect)
	}
	if p := c.ICMP; p != nil {
		if p.Count != defaultICMPCount {
			add(n, "count", intNode(int64(p.Count)))
		}
		if p.Interval != defaultICMPInterval {
			add(n, "interval", durationNode(p.Interval))
		}
		if p.MaxLoss != 0 {
			add(n, "max_loss", percentNode(p.MaxLoss))
		}
	}
	if h := c.HTTP; h != nil {
		if h.Method != "GET" {
			add(n, "method", strNode(h.Method))
		}
		if h.Path != "/" {
			add(n, "path", strNode(h.Path))
		}
		if h.Host != "" {
			add(n, "host", strNode(h.Host))
		}
		if len(h.ExpectStatus) != 1 || h.ExpectStatus[0] != (StatusRange{200, 200}) {
			st := seqNode()
			st.Style = yaml.FlowStyle
			for _, r := range h.ExpectStatus {
				if r.Min == r.Max {
					st.Content = append(st.Content, intNode(int64(r.Min)))
				} else {
					st.Content = append(st.Content, strNode(strconv.Itoa(r.Min)+"-"+strconv.Itoa(r.Max)))
				}
			}
			add(n, "expect_status", st)
		}
		if h.ExpectBody != nil {
			add(n, "expect_body", strNode(h.ExpectBody.String()))
		}
		if h.TLSSkipVerify {
			add(n, "tls_skip_verify", boolNode(true))
		}
		if h.CAFile != "" {
			add(n, "ca_file", strNode(h.CAFile))
		}
		if h.CertFile != "" {
			add(n, "cert_file", strNode(h.CertFile))
			add(n, "key_file", strNode(h.KeyFile))
		}
	}
	return n
}

// addBytes writes data as text when it is printable UTF-8, else as hex.
func addBytes(n *yaml.Node, key string, data []byte) {
	if len(data) == 0 {
		return
	}
	if printable(data) {
		add(n, key, strNode(string(data)))
		return
	}
	add(n, key+"_hex", strNode(fmt.Sprintf("%x", data)))
}

func printable(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if !unicode.IsPrint(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

// sameChecks reports whether two check lists configure the same checks.
func sameChecks(a, b []Check) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameCheck(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

func sameCheck(a, b *Check) bool {
	if a.Type != b.Type || a.Port != b.Port || a.Schedule.Spec != b.Schedule.Spec ||
		a.Timeout != b.Timeout || a.Rise != b.Rise || a.Fall != b.Fall ||
		a.FastInterval != b.FastInterval || a.DownInterval != b.DownInterval || a.Jitter != b.Jitter || a.Source != b.Source {
		return false
	}
	switch {
	case (a.UDP == nil) != (b.UDP == nil), (a.ICMP == nil) != (b.ICMP == nil), (a.HTTP == nil) != (b.HTTP == nil):
		return false
	case a.UDP != nil && (!bytes.Equal(a.UDP.Payload, b.UDP.Payload) || !bytes.Equal(a.UDP.Expect, b.UDP.Expect)):
		return false
	case a.ICMP != nil && *a.ICMP != *b.ICMP:
		return false
	}
	if h, g := a.HTTP, b.HTTP; h != nil {
		if h.Method != g.Method || h.Path != g.Path || h.Host != g.Host || h.TLSSkipVerify != g.TLSSkipVerify ||
			h.CAFile != g.CAFile || h.CertFile != g.CertFile || h.KeyFile != g.KeyFile ||
			len(h.ExpectStatus) != len(g.ExpectStatus) || (h.ExpectBody == nil) != (g.ExpectBody == nil) ||
			(h.ExpectBody != nil && h.ExpectBody.String() != g.ExpectBody.String()) {
			return false
		}
		for i := range h.ExpectStatus {
			if h.ExpectStatus[i] != g.ExpectStatus[i] {
				return false
			}
		}
	}
	return true
}

func mapNode() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }
func seqNode() *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"} }

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, strNode(key), v)
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

func boolNode(v bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
}

func percentNode(v float64) *yaml.Node {
	return strNode(strconv.FormatFloat(v, 'f', -1, 64) + "%")
}

func jitterNode(j Jitter) *yaml.Node {
	if j.Percent != 0 {
		return percentNode(j.Percent)
	}
	return durationNode(j.Max)
}

// durationNode writes a duration exactly, in its largest whole unit: 2s,
// 500ms, 90s, 1h.
func durationNode(d time.Duration) *yaml.Node {
	return strNode(formatDuration(d))
}

func formatDuration(d time.Duration) string {
	units := []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}}
	if d == 0 {
		return "0s"
	}
	for _, u := range units {
		if d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}
