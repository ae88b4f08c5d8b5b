package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Decoders for the payloads of the kernel's IPVS generic-netlink replies
// (the bytes after the 4-byte generic-netlink header). They follow
// ip_vs_genl_fill_service and ip_vs_genl_fill_dest in
// net/netfilter/ipvs/ip_vs_ctl.c.

// decodeServiceMsg decodes one reply of a IPVS_CMD_GET_SERVICE dump.
func decodeServiceMsg(b []byte, s *Service) error {
	a, err := replyAttr(b, cmdAttrService, "service", "IPVS_CMD_ATTR_SERVICE")
	if err != nil {
		return err
	}
	if err := decodeService(&a, s); err != nil {
		return fmt.Errorf("decode service: %w", err)
	}
	return nil
}

// replyAttr returns the nested attributes of the top-level attribute typ
// (named attrName) in the payload b of one reply: the last one, should the
// kernel ever send several. what names the object in errors. It returns a
// value rather than taking a decoder callback, which would escape and cost
// an allocation per destination.
func replyAttr(b []byte, typ uint16, what, attrName string) (attrs, error) {
	top := newAttrs(b)
	var nested attrs
	found := false
	for top.next() {
		if top.typ == typ {
			nested, found = top.nested(), true
		}
	}
	if top.err != nil {
		return attrs{}, fmt.Errorf("decode %s reply: %w", what, top.err)
	}
	if !found {
		return attrs{}, fmt.Errorf("decode %s reply: no %s attribute", what, attrName)
	}
	return nested, nil
}

func decodeService(a *attrs, s *Service) error {
	var addr, legacy, stats64 []byte
	var haveAddr, haveStats64 bool
	for a.next() {
		switch a.typ {
		case svcAttrAF:
			s.Family = a.u16()
		case svcAttrProtocol:
			s.Protocol = Protocol(a.u16())
		case svcAttrAddr:
			addr, haveAddr = a.data, true
		case svcAttrPort:
			s.Port = a.be16()
		case svcAttrFWMark:
			s.FWMark = a.u32()
		case svcAttrSchedName:
			s.Scheduler = internName(a.cstring())
		case svcAttrFlags:
			// struct ip_vs_flags { __u32 flags; __u32 mask; }
			if len(a.data) != 8 {
				a.badSize(8)
				break
			}
			s.Flags = binary.NativeEndian.Uint32(a.data[:4])
		case svcAttrTimeout:
			s.Timeout = a.u32()
		case svcAttrNetmask:
			// The kernel puts the __be32 field's raw bytes; reading them in
			// native order gives the value ipvsadm and moby/ipvs use.
			s.Netmask = a.u32()
		case svcAttrStats:
			legacy = a.data
		case svcAttrStats64:
			stats64, haveStats64 = a.data, true
		case svcAttrPEName:
			s.PEName = internName(a.cstring())
		}
	}
	if a.err != nil {
		return a.err
	}
	if s.FWMark != 0 {
		// The kernel keys firewall-mark services by (family, mark) only and
		// forces the protocol to TCP internally: none of it is identity.
		s.Protocol, s.Address, s.Port = 0, netip.Addr{}, 0
	} else {
		if !haveAddr {
			return errors.New("no IPVS_SVC_ATTR_ADDR in a service without fwmark")
		}
		ip, err := decodeAddr(addr, s.Family)
		if err != nil {
			return err
		}
		s.Address = ip
	}
	var err error
	if haveStats64 {
		s.Stats, err = decodeStats(stats64)
	} else {
		s.Stats, err = decodeStats(legacy)
	}
	return err
}

// decodeDestMsg decodes one reply of a IPVS_CMD_GET_DEST dump. svcFamily
// is the service's family, the destination's when the kernel is too old to
// send IPVS_DEST_ATTR_ADDR_FAMILY.
func decodeDestMsg(b []byte, svcFamily uint16, d *Destination) error {
	a, err := replyAttr(b, cmdAttrDest, "destination", "IPVS_CMD_ATTR_DEST")
	if err != nil {
		return err
	}
	if err := decodeDest(&a, svcFamily, d); err != nil {
		return fmt.Errorf("decode destination: %w", err)
	}
	return nil
}

func decodeDest(a *attrs, svcFamily uint16, d *Destination) error {
	var addr, legacy, stats64 []byte
	var haveAddr, haveStats64 bool
	d.Family = svcFamily
	for a.next() {
		switch a.typ {
		case destAttrAddr:
			addr, haveAddr = a.data, true
		case destAttrPort:
			d.Port = a.be16()
		case destAttrFwdMethod:
			d.Forward = ForwardMethod(a.u32() & ForwardMask)
		case destAttrWeight:
			d.Weight = int32(a.u32())
		case destAttrUThresh:
			d.UpperThreshold = a.u32()
		case destAttrLThresh:
			d.LowerThreshold = a.u32()
		case destAttrActiveConns:
			d.ActiveConns = a.u32()
		case destAttrInactConns:
			d.InactiveConns = a.u32()
		case destAttrPersistConns:
			d.PersistConns = a.u32()
		case destAttrStats:
			legacy = a.data
		case destAttrStats64:
			stats64, haveStats64 = a.data, true
		case destAttrAddrFamily:
			d.Family = a.u16()
		case destAttrTunType:
			d.TunnelType = TunnelType(a.u8())
		case destAttrTunPort:
			d.TunnelPort = a.be16()
		case destAttrTunFlags:
			d.TunnelFlags = TunnelFlags(a.u16())
		}
	}
	if a.err != nil {
		return a.err
	}
	if !haveAddr {
		return errors.New("no IPVS_DEST_ATTR_ADDR")
	}
	ip, err := decodeAddr(addr, d.Family)
	if err != nil {
		return err
	}
	d.Address = ip
	if haveStats64 {
		d.Stats, err = decodeStats(stats64)
	} else {
		d.Stats, err = decodeStats(legacy)
	}
	return err
}

// decodeAddr reads a union nf_inet_addr: 16 bytes on the wire, of which an
// IPv4 address uses the first 4. IPv4 comes back as a plain 4-byte
// netip.Addr, never 4-in-6.
func decodeAddr(b []byte, family uint16) (netip.Addr, error) {
	switch family {
	case FamilyIPv4:
		if len(b) < 4 {
			return netip.Addr{}, fmt.Errorf("IPv4 address attribute is %d bytes, want at least 4", len(b))
		}
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case FamilyIPv6:
		if len(b) != 16 {
			return netip.Addr{}, fmt.Errorf("IPv6 address attribute is %d bytes, want 16", len(b))
		}
		return netip.AddrFrom16([16]byte(b)), nil
	}
	return netip.Addr{}, fmt.Errorf("unknown address family %d", family)
}

// decodeStats reads a nested stats attribute. It takes each counter's width
// from its length, so it reads both STATS64 (all u64) and the legacy STATS
// (counts u32, bytes u64). A nil b (no stats attribute) gives zero Stats.
func decodeStats(b []byte) (Stats, error) {
	var s Stats
	a := newAttrs(b)
	for a.next() {
		var p *uint64
		switch a.typ {
		case statsAttrConns:
			p = &s.Connections
		case statsAttrInPkts:
			p = &s.PacketsIn
		case statsAttrOutPkts:
			p = &s.PacketsOut
		case statsAttrInBytes:
			p = &s.BytesIn
		case statsAttrOutBytes:
			p = &s.BytesOut
		default:
			// Rate estimates (CPS, PPS, BPS) and padding: rates belong to
			// Prometheus' rate(), not to the exporter.
			continue
		}
		switch len(a.data) {
		case 4:
			*p = uint64(a.u32())
		case 8:
			*p = a.u64()
		default:
			a.badSize(8)
		}
	}
	if a.err != nil {
		return Stats{}, fmt.Errorf("decode stats: %w", a.err)
	}
	return s, nil
}

// decodeInfo decodes the IPVS_CMD_GET_INFO reply.
func decodeInfo(b []byte) (*Info, error) {
	var info Info
	a := newAttrs(b)
	seen := false
	for a.next() {
		switch a.typ {
		case infoAttrVersion:
			info.Version, seen = a.u32(), true
		case infoAttrConnTabSize:
			info.ConnTableSize = a.u32()
		}
	}
	if a.err != nil {
		return nil, fmt.Errorf("decode info: %w", a.err)
	}
	if !seen {
		return nil, errors.New("decode info: no IPVS_INFO_ATTR_VERSION attribute")
	}
	return &info, nil
}

// decodeTimeouts decodes the IPVS_CMD_GET_CONFIG reply.
func decodeTimeouts(b []byte) (*Timeouts, error) {
	var t Timeouts
	a := newAttrs(b)
	for a.next() {
		switch a.typ {
		case cmdAttrTimeoutTCP:
			t.TCP = a.u32()
		case cmdAttrTimeoutTCPFin:
			t.TCPFin = a.u32()
		case cmdAttrTimeoutUDP:
			t.UDP = a.u32()
		}
	}
	if a.err != nil {
		return nil, fmt.Errorf("decode timeouts: %w", a.err)
	}
	return &t, nil
}

// internName returns scheduler and persistence-engine names the kernel
// ships as constants, so that decoding a service does not allocate for them.
func internName(b []byte) string {
	switch string(b) {
	case "rr":
		return "rr"
	case "wrr":
		return "wrr"
	case "lc":
		return "lc"
	case "wlc":
		return "wlc"
	case "lblc":
		return "lblc"
	case "lblcr":
		return "lblcr"
	case "dh":
		return "dh"
	case "sh":
		return "sh"
	case "sed":
		return "sed"
	case "nq":
		return "nq"
	case "fo":
		return "fo"
	case "ovf":
		return "ovf"
	case "mh":
		return "mh"
	case "twos":
		return "twos"
	case "none":
		return "none"
	case "sip":
		return "sip"
	}
	return string(b)
}
