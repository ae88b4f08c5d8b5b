package config

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

var (
	serviceKeys = []string{"name", "address", "protocol", "fwmark", "family", "scheduler",
		"persistence", "persistence_netmask", "panic_threshold", "panic_hysteresis", "on_failure", "slow_start",
		"combine", "load", "real_servers", "checks"}
	realServerKeys = []string{"address", "weight", "forward", "upper_threshold", "lower_threshold", "tunnel", "checks", "load"}
	tunnelKeys     = []string{"type", "port", "checksum"}
	tunnelNames    = []string{"ipip", "gue", "gre"}
	tunnelTypes    = []ipvs.TunnelType{ipvs.TunnelIPIP, ipvs.TunnelGUE, ipvs.TunnelGRE}
	checksumNames  = []string{"none", "csum", "remcsum"}
	checksumFlags  = []ipvs.TunnelFlags{0, ipvs.TunnelChecksum, ipvs.TunnelRemoteChecksum}

	protocolNames = []string{"tcp", "udp", "sctp"}
	protocols     = []ipvs.Protocol{ipvs.TCP, ipvs.UDP, ipvs.SCTP}
	familyNames   = []string{"ipv4", "ipv6"}
	families      = []uint16{ipvs.FamilyIPv4, ipvs.FamilyIPv6}
	combineNames  = []string{"all", "any"}
	// forwardNames are the config spellings; forwardAliases are ipvsadm's
	// names for the same methods, accepted too.
	forwardNames   = []string{"nat", "dr", "tun"}
	forwardAliases = []string{"masq", "route", "tunnel"}
	forwards       = []ipvs.ForwardMethod{ipvs.ForwardMasq, ipvs.ForwardRoute, ipvs.ForwardTunnel}
)

// Limits of the kernel and ipvsadm.
const (
	maxWeight = 65535
	// maxThreshold is the kernel's limit for connection thresholds
	// (ip_vs_add_dest refuses an upper threshold above INT_MAX).
	maxThreshold  = math.MaxInt32
	maxNameLen    = 128
	maxFWMark     = math.MaxUint32
	maxPersist    = math.MaxUint32 * time.Second
	defaultWeight = 1
)

// seen remembers where a name or key was first declared.
type seen struct {
	index int
	line  int
	name  string
}

// services decodes the services list and reports duplicate names and keys.
func (d *decoder) services(n *yaml.Node, def *Defaults) []Service {
	items, _ := d.sequence(n, "services")
	names := map[string]seen{}
	keys := map[ipvs.ServiceKey]seen{}
	out := make([]Service, 0, len(items))
	for i, item := range items {
		path := index("services", i)
		s, nameNode, keyNode, ok := d.service(item, path, def)
		if nameNode != nil {
			if prev, dup := names[s.Name]; dup {
				d.errorf(nameNode, join(path, "name"), "%q is already the name of services[%d] (line %d)", s.Name, prev.index, prev.line)
			} else {
				names[s.Name] = seen{i, nameNode.Line, s.Name}
			}
		}
		if keyNode != nil {
			field := "address"
			if s.Key.FWMark != 0 {
				field = "fwmark"
			}
			if prev, dup := keys[s.Key]; dup {
				d.errorf(keyNode, join(path, field), "%s is already declared by services[%d] %q (line %d)", s.Key, prev.index, prev.name, prev.line)
			} else {
				keys[s.Key] = seen{i, keyNode.Line, s.Name}
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil // "services: []" is no services, like no key
	}
	return out
}

// service decodes one service. It returns the nodes of the name and the
// identity (address or fwmark) when they are valid, for the duplicate
// checks, and ok when the whole service is.
func (d *decoder) service(n *yaml.Node, path string, def *Defaults) (s Service, nameNode, keyNode *yaml.Node, ok bool) {
	errs := len(d.errs)
	m, isMap := d.mapping(n, path, serviceKeys)
	if !isMap {
		return s, nil, nil, false
	}
	at := d.resolve(n)
	s = Service{
		Scheduler:       DefaultScheduler,
		PanicThreshold:  def.PanicThreshold,
		PanicHysteresis: def.PanicHysteresis,
		OnFailure:       def.OnFailure,
		SlowStart:       def.SlowStart,
		Load:            def.Load,
	}
	if e, ok := m["name"]; ok {
		if name, ok := d.str(e.val, join(path, "name")); ok {
			if msg := checkName(name); msg != "" {
				d.errorf(e.val, join(path, "name"), "%s", msg)
			} else {
				s.Name, nameNode = name, e.val
			}
		}
	} else if !d.misspelt(at, "name") {
		d.errorf(at, path, "needs a name")
	}
	keyNode, identity := d.serviceKey(m, at, path, &s)
	if e, ok := m["scheduler"]; ok {
		if i, ok := d.oneOf(e.val, join(path, "scheduler"), Schedulers); ok {
			s.Scheduler = Schedulers[i]
		}
	}
	d.persistence(m, path, &s, identity)
	if e, ok := m["panic_threshold"]; ok {
		s.PanicThreshold, _ = d.percent(e.val, join(path, "panic_threshold"))
	}
	if e, ok := m["panic_hysteresis"]; ok {
		s.PanicHysteresis, _ = d.percent(e.val, join(path, "panic_hysteresis"))
	}
	if e, ok := m["on_failure"]; ok {
		if i, ok := d.oneOf(e.val, join(path, "on_failure"), onFailureNames); ok {
			s.OnFailure = OnFailure(i)
		}
	}
	if e, ok := m["slow_start"]; ok {
		s.SlowStart, _ = d.duration(e.val, join(path, "slow_start"))
	}
	if e, ok := m["combine"]; ok {
		if i, ok := d.oneOf(e.val, join(path, "combine"), combineNames); ok {
			s.Combine = Combine(i)
		}
	}
	if e, ok := m["load"]; ok {
		s.Load, _ = d.load(e.val, join(path, "load"), def.Load)
	}
	if e, ok := m["checks"]; ok {
		s.Checks = d.checkList(e.val, join(path, "checks"), def, d.identity(&s, identity))
	} else {
		s.Checks = []Check{defaultCheckFor(def.Check, s.Key)}
	}
	var rsNodes []*yaml.Node
	if e, ok := m["real_servers"]; ok {
		s.RealServers, rsNodes = d.realServers(e.val, join(path, "real_servers"), &s, identity, def)
	}
	if len(d.errs) == errs {
		_, explicit := m["checks"]
		d.checkPorts(&s, rsNodes, path, explicit)
		d.checkSources(&s, m, path)
	}
	return s, nameNode, keyNode, len(d.errs) == errs
}

// identity returns the key of s for the checks' protocol rule, nil when
// the service's identity has errors (reported already).
func (d *decoder) identity(s *Service, ok bool) *ipvs.ServiceKey {
	if !ok {
		return nil
	}
	return &s.Key
}

// checkName returns why a service name is not acceptable, or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("must be at most %d characters long, got %d", maxNameLen, len(name))
	case strings.TrimSpace(name) != name:
		return fmt.Sprintf("must not start or end with spaces, got %q", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Sprintf("must be printable text, got %q", name)
		}
	}
	return ""
}

// serviceKey decodes address+protocol or fwmark+family into s.Key. It
// returns the node that identifies the service and whether the identity is
// valid.
func (d *decoder) serviceKey(m map[string]entry, at *yaml.Node, path string, s *Service) (*yaml.Node, bool) {
	addr, hasAddr := m["address"]
	mark, hasMark := m["fwmark"]
	ok := true
	if e, has := m["protocol"]; has && !hasAddr && hasMark {
		d.errorf(e.key, join(path, "protocol"), "not used by fwmark services: a firewall mark matches packets of any protocol")
		ok = false
	}
	if e, has := m["family"]; has && hasAddr {
		d.errorf(e.key, join(path, "family"), "only for fwmark services: an address service's family is its address's")
		ok = false
	}
	switch {
	case hasAddr && hasMark:
		d.errorf(mark.key, join(path, "fwmark"), "set either address (with protocol) or fwmark (with family), not both")
		return nil, false
	case !hasAddr && !hasMark:
		if !d.misspelt(at, "address", "fwmark") {
			d.errorf(at, path, "needs address: VIP:PORT (with protocol) or fwmark: N (with family)")
		}
		return nil, false
	case hasMark:
		v, good := d.integer(mark.val, join(path, "fwmark"), 1, maxFWMark)
		s.Key = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: uint32(v)}
		ok = ok && good
		if e, has := m["family"]; has {
			i, good := d.oneOf(e.val, join(path, "family"), familyNames)
			s.Key.Family = families[i]
			ok = ok && good
		}
		return d.resolve(mark.val), ok
	}
	s.Key.Protocol = ipvs.TCP
	if e, has := m["protocol"]; has {
		i, good := d.oneOf(e.val, join(path, "protocol"), protocolNames)
		s.Key.Protocol = protocols[i]
		ok = ok && good
	}
	text, good := d.str(addr.val, join(path, "address"))
	if !good {
		return nil, false
	}
	ap, err := netip.ParseAddrPort(text)
	if err != nil {
		d.errorf(addr.val, join(path, "address"), "must be VIP:PORT like 192.0.2.1:80 or [2001:db8::1]:80, got %q", text)
		return nil, false
	}
	if msg := checkAddr(ap.Addr()); msg != "" {
		d.errorf(addr.val, join(path, "address"), "%s", msg)
		return nil, false
	}
	s.Key.Family = familyOf(ap.Addr())
	s.Key.Address, s.Key.Port = ap.Addr(), ap.Port()
	return d.resolve(addr.val), ok
}

// checkAddr returns why an address cannot be a VIP or real server, or "".
func checkAddr(a netip.Addr) string {
	switch {
	case a.Zone() != "":
		return fmt.Sprintf("%s: IPVS addresses have no zone (%%%s)", a, a.Zone())
	case a.Is4In6():
		return fmt.Sprintf("%s is an IPv4-mapped IPv6 address: write %s", a, a.Unmap())
	case a.IsUnspecified():
		return fmt.Sprintf("%s is the unspecified address", a)
	case a.IsMulticast():
		return fmt.Sprintf("%s is a multicast address", a)
	}
	return ""
}

func familyOf(a netip.Addr) uint16 {
	if a.Is4() {
		return ipvs.FamilyIPv4
	}
	return ipvs.FamilyIPv6
}

// persistence decodes persistence and persistence_netmask.
func (d *decoder) persistence(m map[string]entry, path string, s *Service, identity bool) {
	p := join(path, "persistence")
	if e, ok := m["persistence"]; ok {
		if v, ok := d.duration(e.val, p); ok {
			switch {
			case v%time.Second != 0:
				d.errorf(e.val, p, "must be whole seconds (IPVS counts persistence in seconds), got %s", v)
			case v > maxPersist:
				d.errorf(e.val, p, "must be at most %s, got %s", maxPersist, v)
			default:
				s.Persistence = v
			}
		}
	}
	bits := 32
	if s.Key.Family == ipvs.FamilyIPv6 {
		bits = 128
	}
	mask, hasMask := m["persistence_netmask"]
	if hasMask && identity {
		np := join(path, "persistence_netmask")
		if s.Persistence == 0 {
			d.errorf(mask.key, np, "only for persistent services: set persistence too")
		} else if v, ok := d.netmask(mask.val, np, bits); ok {
			bits = v
		}
	}
	if s.Persistence > 0 {
		s.PersistenceNetmask = bits
	}
	if identity && s.Key.FWMark == 0 && s.Key.Port == 0 && s.Persistence == 0 {
		d.errorf(d.resolve(m["address"].val), join(path, "address"), "port 0 (all ports) needs persistence, as in ipvsadm")
	}
}

// netmask decodes a prefix length, or for IPv4 also a dotted mask.
func (d *decoder) netmask(n *yaml.Node, path string, maxBits int) (int, bool) {
	s, ok := d.scalar(n, path, "a netmask")
	if !ok {
		return 0, false
	}
	if s.Tag == "!!int" && s.Value == "0" {
		d.errorf(s, path, "%s", netmaskZero)
		return 0, false
	}
	if s.Tag == "!!int" {
		v, ok := d.integer(s, path, 1, int64(maxBits))
		return int(v), ok
	}
	if maxBits == 32 {
		if a, err := netip.ParseAddr(s.Value); err == nil && a.Is4() {
			if bits, ok := maskBits(a); ok && bits > 0 {
				return bits, true
			} else if ok {
				d.errorf(s, path, "%s", netmaskZero)
				return 0, false
			}
		}
		d.errorf(s, path, "must be a prefix length (1-32) or a netmask like 255.255.255.0, got %s", describe(s))
		return 0, false
	}
	d.errorf(s, path, "must be a prefix length between 1 and 128, got %s", describe(s))
	return 0, false
}

// netmaskZero says why a /0 persistence netmask is refused: it is never
// what an operator means, and the kernel and ipvsadm do not agree on it
// (ipvsadm and the netlink writers treat a zero netmask as "not given"
// and store the full mask, so the table would never match the file).
const netmaskZero = "must not be 0 (0.0.0.0): a /0 mask would make every client one persistence entry, sending all of them to the same real server, and ipvsadm stores a zero netmask as the full mask; use 32 (255.255.255.255) for per-client persistence or a shorter prefix like 24"

// maskBits returns the prefix length of a contiguous IPv4 netmask.
func maskBits(a netip.Addr) (int, bool) {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&(1<<31) != 0 {
		ones++
		v <<= 1
	}
	return ones, v == 0
}

// maskString renders a prefix length as a dotted IPv4 netmask.
func maskString(bits int) string {
	v := uint32(0)
	if bits > 0 {
		v = math.MaxUint32 << (32 - bits)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// realServers decodes the real servers of s and reports duplicates. It
// returns the address node of each (for later messages).
func (d *decoder) realServers(n *yaml.Node, path string, s *Service, identity bool, def *Defaults) ([]RealServer, []*yaml.Node) {
	items, _ := d.sequence(n, path)
	byAddr := map[netip.AddrPort]seen{}
	var out []RealServer
	var nodes []*yaml.Node
	if len(items) > 0 {
		// Sized once: the configuration keeps the slice for as long as
		// it is in use, and append's doubling would leave part of it
		// empty (6 of 16 slots at 10 real servers a service).
		out = make([]RealServer, 0, len(items))
		nodes = make([]*yaml.Node, 0, len(items))
	}
	for i, item := range items {
		p := index(path, i)
		rs, addrNode, ok := d.realServer(item, p, s, identity, def)
		if addrNode != nil {
			if prev, dup := byAddr[rs.Address]; dup {
				d.errorf(addrNode, join(p, "address"), "%s is already real_servers[%d] (line %d)", rs.Address, prev.index, prev.line)
				ok = false
			} else {
				byAddr[rs.Address] = seen{index: i, line: addrNode.Line}
			}
		}
		if ok {
			out = append(out, rs)
			nodes = append(nodes, addrNode)
		}
	}
	return out, nodes
}

// realServer decodes one real server of s.
func (d *decoder) realServer(n *yaml.Node, path string, s *Service, identity bool, def *Defaults) (rs RealServer, addrNode *yaml.Node, ok bool) {
	errs := len(d.errs)
	m, isMap := d.mapping(n, path, realServerKeys)
	if !isMap {
		return rs, nil, false
	}
	rs = RealServer{Weight: defaultWeight, Forward: ipvs.ForwardRoute, Load: s.Load}
	forwardOK := true
	if e, ok := m["forward"]; ok {
		var f ipvs.ForwardMethod
		if f, forwardOK = d.forward(e.val, join(path, "forward")); forwardOK {
			rs.Forward = f
		}
	}
	if e, ok := m["weight"]; ok {
		v, _ := d.integer(e.val, join(path, "weight"), 0, maxWeight)
		rs.Weight = int(v)
	}
	var upper, lower int64
	if e, ok := m["upper_threshold"]; ok {
		upper, _ = d.integer(e.val, join(path, "upper_threshold"), 0, maxThreshold)
	}
	if e, ok := m["lower_threshold"]; ok {
		lower, _ = d.integer(e.val, join(path, "lower_threshold"), 0, maxThreshold)
		if lower > upper {
			d.errorf(e.val, join(path, "lower_threshold"), "%d must not be above upper_threshold (%d): the kernel refuses it", lower, upper)
		}
	}
	rs.UpperThreshold, rs.LowerThreshold = uint32(upper), uint32(lower)
	if e, ok := m["tunnel"]; ok {
		switch {
		case !forwardOK:
		case rs.Forward != ipvs.ForwardTunnel:
			d.errorf(e.key, join(path, "tunnel"), "only for tun real servers (forward: tun); %s forwarding does not encapsulate", forwardName(rs.Forward))
		default:
			rs.Tunnel = d.tunnel(e.val, join(path, "tunnel"))
		}
	}
	if e, ok := m["checks"]; ok {
		rs.Checks = d.checkList(e.val, join(path, "checks"), def, d.identity(s, identity))
	}
	if e, ok := m["load"]; ok {
		rs.Load, _ = d.load(e.val, join(path, "load"), s.Load)
	}
	if e, ok := m["address"]; ok {
		if addr, ok := d.realServerAddress(e.val, join(path, "address"), s, rs.Forward, identity); ok {
			rs.Address, addrNode = addr, d.resolve(e.val)
		}
	} else if !d.misspelt(n, "address") {
		d.errorf(d.resolveQuiet(n), path, "needs an address")
	}
	return rs, addrNode, len(d.errs) == errs
}

// tunnel decodes the encapsulation of a tun real server and applies the
// kernel's rules: gue needs its UDP port, only gue has a port, ipip has
// no checksum option and only gue has remote checksum offload (the
// kernel would accept the others and ignore them).
func (d *decoder) tunnel(n *yaml.Node, path string) Tunnel {
	m, ok := d.mapping(n, path, tunnelKeys)
	if !ok {
		return Tunnel{}
	}
	var t Tunnel
	if e, ok := m["type"]; ok {
		i, ok := d.oneOf(e.val, join(path, "type"), tunnelNames)
		if !ok {
			return Tunnel{}
		}
		t.Type = tunnelTypes[i]
	}
	port, hasPort := m["port"]
	switch {
	case hasPort && t.Type != ipvs.TunnelGUE:
		d.errorf(port.key, join(path, "port"), "only for gue tunnels (%s %s tunnel has no port)", article(t.Type.String()), t.Type)
	case hasPort:
		if v, ok := d.integer(port.val, join(path, "port"), 1, 65535); ok {
			t.Port = uint16(v)
		}
	case t.Type == ipvs.TunnelGUE:
		d.errorf(d.resolve(n), join(path, "port"), "a gue tunnel needs the UDP port the real server decapsulates on (the kernel refuses port 0)")
	}
	if e, ok := m["checksum"]; ok {
		if i, ok := d.oneOf(e.val, join(path, "checksum"), checksumNames); ok {
			t.Flags = checksumFlags[i]
			switch {
			case t.Flags != 0 && t.Type == ipvs.TunnelIPIP:
				d.errorf(e.val, join(path, "checksum"), "ipip tunnels have no checksum option; use type gue or gre, or leave checksum out")
			case t.Flags == ipvs.TunnelRemoteChecksum && t.Type != ipvs.TunnelGUE:
				d.errorf(e.val, join(path, "checksum"), "remcsum (remote checksum offload) is only for gue tunnels; gre takes none or csum")
			}
		}
	}
	return t
}

// checksumName is the config spelling of tunnel checksum flags.
func checksumName(f ipvs.TunnelFlags) string {
	for i, x := range checksumFlags {
		if x == f {
			return checksumNames[i]
		}
	}
	return f.String()
}

func (d *decoder) forward(n *yaml.Node, path string) (ipvs.ForwardMethod, bool) {
	s, ok := d.scalar(n, path, "a forwarding method")
	if !ok {
		return 0, false
	}
	for i := range forwardNames {
		if s.Value == forwardNames[i] || s.Value == forwardAliases[i] {
			return forwards[i], true
		}
	}
	d.errorf(s, path, "must be one of nat, dr, tun (or masq, route, tunnel), got %s", describe(s))
	return 0, false
}

// realServerAddress decodes ADDR:PORT (or ADDR where the port may be left
// out) and applies the rules that tie it to the service and forwarding
// method.
func (d *decoder) realServerAddress(n *yaml.Node, path string, s *Service, fwd ipvs.ForwardMethod, identity bool) (netip.AddrPort, bool) {
	text, ok := d.str(n, path)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(text)
	hasPort := err == nil
	if err != nil {
		bare := text
		if strings.HasPrefix(bare, "[") && strings.HasSuffix(bare, "]") {
			bare = bare[1 : len(bare)-1]
		}
		a, err := netip.ParseAddr(bare)
		if err != nil {
			d.errorf(n, path, "must be ADDR:PORT like 10.0.0.1:80 or [2001:db8::10]:80, got %q", text)
			return netip.AddrPort{}, false
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	if msg := checkAddr(ap.Addr()); msg != "" {
		d.errorf(n, path, "%s", msg)
		return netip.AddrPort{}, false
	}
	if !identity {
		return ap, true
	}
	if fam := familyOf(ap.Addr()); fam != s.Key.Family && fwd != ipvs.ForwardTunnel {
		d.errorf(n, path, "%s is %s but the service is %s; only tun real servers may differ", ap.Addr(), familyLabel(fam), familyLabel(s.Key.Family))
		return netip.AddrPort{}, false
	}
	if s.Key.FWMark != 0 {
		return ap, true // port 0 keeps the packet's destination port
	}
	vport := s.Key.Port
	switch {
	case fwd == ipvs.ForwardMasq:
		if vport != 0 && ap.Port() == 0 {
			d.errorf(n, path, "nat real servers need a port (nat rewrites the destination port): write %s", netip.AddrPortFrom(ap.Addr(), vport))
			return netip.AddrPort{}, false
		}
	case !hasPort:
		ap = netip.AddrPortFrom(ap.Addr(), vport)
	case ap.Port() != vport:
		d.errorf(n, path, "port %d differs from the service's port %d, but %s forwarding does not change ports: use port %d, leave the port out, or set forward: nat", ap.Port(), vport, forwardName(fwd), vport)
		return netip.AddrPort{}, false
	}
	return ap, true
}

func familyLabel(f uint16) string {
	if f == ipvs.FamilyIPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// forwardName is the config spelling of a forwarding method.
func forwardName(f ipvs.ForwardMethod) string {
	for i, x := range forwards {
		if x == f {
			return forwardNames[i]
		}
	}
	return f.String()
}

// checkPorts reports checks that need a port where a real server (of a
// fwmark service) has none.
func (d *decoder) checkPorts(s *Service, nodes []*yaml.Node, path string, explicit bool) {
	for i := range s.RealServers {
		rs := &s.RealServers[i]
		if rs.Address.Port() != 0 {
			continue
		}
		checks, where := s.Checks, join(path, "checks")
		if rs.Checks != nil {
			checks, where = rs.Checks, index(join(path, "real_servers"), i)+".checks"
		}
		for j, c := range checks {
			if c.Type == CheckICMP || c.Port != 0 {
				continue
			}
			fix := "set port on " + index(where, j)
			if rs.Checks == nil && !explicit {
				fix = "add checks with a port to the service"
			}
			d.errorf(nodes[i], index(join(path, "real_servers"), i)+".address",
				"%s has no port, so its %s check needs one: %s, or use an icmp check", rs.Address.Addr(), c.Type, fix)
			break
		}
	}
}
