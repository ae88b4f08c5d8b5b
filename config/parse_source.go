package config

import (
	"fmt"
	"net/netip"

	"go.yaml.in/yaml/v3"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// sourceAddress decodes a check's source_address: an IP address (an
// IPv4-mapped IPv6 address is taken as IPv4). Whether the director has it
// is known only where the check runs: a source it lacks fails the check
// as a local error, which freezes the verdict.
func (d *decoder) sourceAddress(n *yaml.Node, path string) (netip.Addr, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.IsUnspecified() || a.IsMulticast() {
		d.errorf(d.resolveQuiet(n), path, "must be an IP address of this director like 192.0.2.10 or 2001:db8::10, got %q", s)
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// addrFamily names an address's family.
func addrFamily(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// checkSources reports checks whose source_address is not of the family
// of a real server they check: the kernel cannot send from it. m is the
// service's mapping, path its path; real servers have their own checks or
// the service's. A check that inherits the source from defaults.check is
// reported there, naming the check.
func (d *decoder) checkSources(s *Service, m map[string]entry, path string) {
	var rsItems []*yaml.Node
	if e, ok := m["real_servers"]; ok {
		if n := d.resolveQuiet(e.val); n != nil && n.Kind == yaml.SequenceNode {
			rsItems = n.Content
		}
	}
	reported := map[string]bool{}
	for i := range s.RealServers {
		rs := &s.RealServers[i]
		checks, where, list := s.Checks, join(path, "checks"), (*yaml.Node)(nil)
		if e, ok := m["checks"]; ok {
			list = d.resolveQuiet(e.val)
		}
		if rs.Checks != nil {
			where = index(join(path, "real_servers"), i) + ".checks"
			list = nil
			if i < len(rsItems) {
				if v := mappingValue(d.resolveQuiet(rsItems[i]), "checks"); v != nil {
					list = d.resolveQuiet(v)
				}
			}
			checks = rs.Checks
		}
		for j := range checks {
			c := &checks[j]
			if !c.Source.IsValid() || c.Source.Is4() == rs.Address.Addr().Is4() {
				continue
			}
			at, key, from := d.defaultSource, index(where, j)+".source_address", " (from defaults.check)"
			if list == nil {
				// The service's default check: no list in the file.
				key = path + ".checks"
			}
			if list != nil && j < len(list.Content) {
				if v := mappingValue(d.resolveQuiet(list.Content[j]), "source_address"); v != nil {
					at, from = v, ""
				}
			}
			if reported[key] {
				continue
			}
			reported[key] = true
			d.errorf(at, key, "%s%s is %s but real server %s (%s) is %s: a check's source address must be of its real server's family%s",
				c.Source, from, addrFamily(c.Source), rs.Address, index(join(path, "real_servers"), i), addrFamily(rs.Address.Addr()),
				sourceFix(s, rs))
		}
	}
}

// sourceFix suggests what to change for a real server whose check's
// source is of the other family.
func sourceFix(s *Service, rs *RealServer) string {
	if rs.Forward == ipvs.ForwardTunnel && (rs.Address.Addr().Is4() != (s.Key.Family == ipvs.FamilyIPv4)) {
		return fmt.Sprintf("; give this %s tun real server checks of its own", addrFamily(rs.Address.Addr()))
	}
	return ""
}
