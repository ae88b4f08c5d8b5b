package ipvs

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The fake kernel's write side, after ip_vs_genl_set_cmd,
// ip_vs_genl_parse_service and ip_vs_genl_parse_dest (kernel 6.1): what a
// full entry must carry (EINVAL without it), which errno each refusal is,
// and that an attribute left out of an update is zero, not "unchanged".

// fakeWrite is one write request as the fake received it.
type fakeWrite struct {
	cmd  uint8
	data []byte // after the generic-netlink header
}

// parsedAttrs maps the attribute types of one nested level to payloads.
type parsedAttrs map[uint16][]byte

func (a parsedAttrs) has(t uint16) bool { _, ok := a[t]; return ok }
func (a parsedAttrs) u16(t uint16) uint16 {
	if len(a[t]) != 2 {
		return 0
	}
	return binary.NativeEndian.Uint16(a[t])
}
func (a parsedAttrs) be16(t uint16) uint16 {
	if len(a[t]) != 2 {
		return 0
	}
	return binary.BigEndian.Uint16(a[t])
}
func (a parsedAttrs) u32(t uint16) uint32 {
	if len(a[t]) != 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(a[t])
}

// cstring reads an NLA_NUL_STRING; ok is false without the NUL, which the
// kernel's policy refuses.
func (a parsedAttrs) cstring(t uint16) (string, bool) {
	b := a[t]
	if len(b) == 0 || b[len(b)-1] != 0 {
		return "", false
	}
	return string(b[:len(b)-1]), true
}

// parseRequest splits a write's payload into its service and destination
// attributes (nil when absent).
func parseRequest(data []byte) (svc, dest parsedAttrs, err error) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return nil, nil, err
	}
	for ad.Next() {
		typ := ad.Type()
		m := parsedAttrs{}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				m[nad.Type()] = append([]byte(nil), nad.Bytes()...)
			}
			return nil
		})
		switch typ {
		case cmdAttrService:
			svc = m
		case cmdAttrDest:
			dest = m
		}
	}
	return svc, dest, ad.Err()
}

// fakeSchedulers are the scheduler modules the fake kernel has.
var fakeSchedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

func (k *fakeKernel) applyWrite(cmd uint8, data []byte) error {
	sa, da, err := parseRequest(data)
	if err != nil || sa == nil || !sa.has(svcAttrAF) {
		return unix.EINVAL
	}
	key := ServiceKey{Family: sa.u16(svcAttrAF)}
	if key.Family != FamilyIPv4 && key.Family != FamilyIPv6 {
		return unix.EAFNOSUPPORT
	}
	if sa.has(svcAttrFWMark) {
		key.FWMark = sa.u32(svcAttrFWMark)
	} else {
		if !sa.has(svcAttrProtocol) || !sa.has(svcAttrAddr) || !sa.has(svcAttrPort) || len(sa[svcAttrAddr]) < 16 {
			return unix.EINVAL
		}
		key.Protocol = Protocol(sa.u16(svcAttrProtocol))
		key.Port = sa.be16(svcAttrPort)
		if key.Family == FamilyIPv4 {
			key.Address = netip.AddrFrom4([4]byte(sa[svcAttrAddr][:4]))
		} else {
			key.Address = netip.AddrFrom16([16]byte(sa[svcAttrAddr][:16]))
		}
	}
	idx := slices.IndexFunc(k.services, func(s Service) bool { return s.ServiceKey == key })
	switch cmd {
	case cmdNewService, cmdSetService:
		sched, ok := sa.cstring(svcAttrSchedName)
		if !ok || !sa.has(svcAttrFlags) || !sa.has(svcAttrTimeout) || !sa.has(svcAttrNetmask) || len(sa[svcAttrFlags]) != 8 {
			return unix.EINVAL
		}
		var pe string
		if sa.has(svcAttrPEName) {
			if pe, ok = sa.cstring(svcAttrPEName); !ok {
				return unix.EINVAL
			}
		}
		if cmd == cmdNewService && idx >= 0 {
			return unix.EEXIST
		}
		if cmd == cmdSetService && idx < 0 {
			return unix.ESRCH
		}
		if !slices.Contains(fakeSchedulers, sched) || (pe != "" && pe != "sip") {
			return unix.ENOENT
		}
		flags := binary.NativeEndian.Uint32(sa[svcAttrFlags][0:4])
		mask := binary.NativeEndian.Uint32(sa[svcAttrFlags][4:8])
		var old uint32
		if idx >= 0 {
			old = k.services[idx].Flags
		}
		s := Service{ServiceKey: key, Scheduler: sched, PEName: pe,
			Flags: (old &^ mask) | (flags & mask), Timeout: sa.u32(svcAttrTimeout), Netmask: sa.u32(svcAttrNetmask)}
		if key.Family == FamilyIPv6 && (s.Netmask < 1 || s.Netmask > 128) {
			return unix.EINVAL
		}
		if cmd == cmdNewService {
			if s.Flags&FlagHashed == 0 {
				s.Flags |= FlagHashed
			} else {
				s.Flags &^= FlagHashed // ip_vs_svc_hash refuses: never hashed
			}
			k.services = append(k.services, s)
		} else {
			s.Flags |= FlagHashed
			s.Destinations = k.services[idx].Destinations
			s.Stats = k.services[idx].Stats
			k.services[idx] = s
		}
		return nil
	case cmdDelService:
		if idx < 0 {
			return unix.ESRCH
		}
		k.services = slices.Delete(k.services, idx, idx+1)
		return nil
	}

	// Destinations.
	if idx < 0 {
		return unix.ESRCH
	}
	svc := &k.services[idx]
	if da == nil || !da.has(destAttrAddr) || !da.has(destAttrPort) || len(da[destAttrAddr]) < 16 {
		return unix.EINVAL
	}
	full := cmd != cmdDelDest
	if full && (!da.has(destAttrFwdMethod) || !da.has(destAttrWeight) || !da.has(destAttrUThresh) || !da.has(destAttrLThresh)) {
		return unix.EINVAL
	}
	d := Destination{Family: da.u16(destAttrAddrFamily), Port: da.be16(destAttrPort)}
	if d.Family == 0 {
		d.Family = svc.Family
	}
	switch d.Family {
	case FamilyIPv4:
		d.Address = netip.AddrFrom4([4]byte(da[destAttrAddr][:4]))
	case FamilyIPv6:
		d.Address = netip.AddrFrom16([16]byte(da[destAttrAddr][:16]))
	default:
		return unix.EAFNOSUPPORT
	}
	if full {
		d.Forward = ForwardMethod(da.u32(destAttrFwdMethod) & ForwardMask)
		d.Weight = int32(da.u32(destAttrWeight))
		d.UpperThreshold = da.u32(destAttrUThresh)
		d.LowerThreshold = da.u32(destAttrLThresh)
		if len(da[destAttrTunType]) == 1 {
			d.TunnelType = TunnelType(da[destAttrTunType][0])
		}
		d.TunnelPort = da.be16(destAttrTunPort)
		d.TunnelFlags = TunnelFlags(da.u16(destAttrTunFlags))
		if d.Family != svc.Family && d.Forward != ForwardTunnel {
			return unix.EINVAL
		}
		if d.Weight < 0 {
			return unix.ERANGE
		}
		if d.Forward == ForwardTunnel && d.TunnelType == TunnelGUE && d.TunnelPort == 0 {
			return unix.EINVAL
		}
	}
	di := slices.IndexFunc(svc.Destinations, func(x Destination) bool {
		return x.Family == d.Family && x.Address == d.Address && x.Port == d.Port
	})
	switch cmd {
	case cmdNewDest:
		if di >= 0 {
			return unix.EEXIST
		}
		svc.Destinations = append(svc.Destinations, d)
	case cmdSetDest:
		if di < 0 {
			return unix.ENOENT
		}
		d.Stats = svc.Destinations[di].Stats
		svc.Destinations[di] = d
	case cmdDelDest:
		if di < 0 {
			return unix.ENOENT
		}
		svc.Destinations = slices.Delete(svc.Destinations, di, di+1)
	}
	return nil
}
