package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Encoders for the payloads of the writes (IPVS_CMD_NEW/SET/DEL_SERVICE and
// _DEST), as ip_vs_genl_parse_service and ip_vs_genl_parse_dest in
// net/netfilter/ipvs/ip_vs_ctl.c read them. Every attribute the kernel
// keeps is sent on every create and update: an attribute left out is not
// "unchanged" to the kernel but zero (a GUE tunnel written without its
// IPVS_DEST_ATTR_TUN_* becomes ipip, an update without a persistence
// engine drops it).

// checkServiceKey validates the identity of a service before anything is
// sent, so that a wrong key is a clear error rather than the kernel's
// EINVAL, and returns it with an IPv4-mapped address unmapped.
func checkServiceKey(k ServiceKey) (ServiceKey, error) {
	if k.FWMark != 0 {
		if k.Family != FamilyIPv4 && k.Family != FamilyIPv6 {
			return k, fmt.Errorf("fwmark service needs family ipv4 or ipv6, got %s", FamilyName(k.Family))
		}
		// The kernel keys fwmark services by (family, mark) only.
		return ServiceKey{Family: k.Family, FWMark: k.FWMark}, nil
	}
	addr := k.Address.Unmap()
	if !addr.IsValid() {
		return k, errors.New("service has neither an address nor a fwmark")
	}
	family := familyOf(addr)
	if k.Family != 0 && k.Family != family {
		return k, fmt.Errorf("service family %s does not match its address %s", FamilyName(k.Family), addr)
	}
	switch k.Protocol {
	case TCP, UDP, SCTP:
	default:
		return k, fmt.Errorf("IPVS cannot balance protocol %s", k.Protocol)
	}
	return ServiceKey{Family: family, Protocol: k.Protocol, Address: addr, Port: k.Port}, nil
}

// appendService appends the IPVS_CMD_ATTR_SERVICE of a create or update:
// the identity, then scheduler, persistence engine, flags, timeout and
// netmask. A zero Netmask means one client address (255.255.255.255 for
// IPv4, 128 for IPv6), as with ipvsadm.
func appendService(b []byte, s *Service) ([]byte, error) {
	k, err := checkServiceKey(s.ServiceKey)
	if err != nil {
		return b, err
	}
	if s.Scheduler == "" {
		return b, errors.New("no scheduler given (rr, wrr, wlc, ...)")
	}
	b, off := beginNest(b, cmdAttrService)
	b = appendIdentityAttrs(b, &k)
	b = appendAttrCString(b, svcAttrSchedName, s.Scheduler)
	if s.PEName != "" {
		b = appendAttrCString(b, svcAttrPEName, s.PEName)
	}
	// struct ip_vs_flags { flags; mask }: the mask says which bits the
	// kernel takes from flags; all of them, as ipvsadm sends. The kernel
	// sets IP_VS_SVC_F_HASHED itself, and a service created with it set is
	// never hashed, i.e. never matches a packet.
	var flags [8]byte
	putU32(flags[0:4], s.Flags&^FlagHashed)
	putU32(flags[4:8], ^uint32(0))
	b = appendAttr(b, svcAttrFlags, flags[:]...)
	b = appendAttrU32(b, svcAttrTimeout, s.Timeout)
	netmask := s.Netmask
	if netmask == 0 {
		netmask = 0xffffffff
		if k.Family == FamilyIPv6 {
			netmask = 128
		}
	}
	// The kernel reads the __be32 field's raw bytes (nla_get_be32), as the
	// reader decodes them: the same value goes back.
	b = appendAttrU32(b, svcAttrNetmask, netmask)
	return endNest(b, off), nil
}

// appendServiceKey appends the IPVS_CMD_ATTR_SERVICE that names a service
// for a delete or a destination write.
func appendServiceKey(b []byte, k ServiceKey) ([]byte, error) {
	k, err := checkServiceKey(k)
	if err != nil {
		return b, err
	}
	return appendServiceIdentity(b, &k), nil
}

// appendDest appends the IPVS_CMD_ATTR_DEST of a create or update: every
// attribute ip_vs_genl_parse_dest reads for a full entry. svc is the
// (checked) service the destination belongs to.
func appendDest(b []byte, svc ServiceKey, d *Destination) ([]byte, error) {
	addr, family, err := checkDest(d.Address)
	if err != nil {
		return b, err
	}
	if d.Forward > ForwardBypass {
		return b, fmt.Errorf("unknown forwarding method %d", uint32(d.Forward))
	}
	if family != svc.Family && d.Forward != ForwardTunnel {
		// The kernel forwards to another family only through a tunnel
		// (EINVAL otherwise).
		return b, fmt.Errorf("real server %s is %s but the service is %s: only a tunnel (forward: tun) can cross address families",
			addr, FamilyName(family), FamilyName(svc.Family))
	}
	if d.Weight < 0 {
		return b, fmt.Errorf("negative weight %d", d.Weight)
	}
	if d.Forward == ForwardTunnel {
		switch d.TunnelType {
		case TunnelIPIP, TunnelGUE, TunnelGRE:
		default:
			return b, fmt.Errorf("unknown tunnel type %s", d.TunnelType)
		}
		if d.TunnelType == TunnelGUE && d.TunnelPort == 0 {
			// The kernel refuses it too, with EINVAL and only a log line.
			return b, errors.New("a gue tunnel needs a port")
		}
	}
	b, off := beginNest(b, cmdAttrDest)
	b = appendDestIdentityAttrs(b, addr, family, d.Port)
	b = appendAttrU32(b, destAttrFwdMethod, uint32(d.Forward))
	b = appendAttrU32(b, destAttrWeight, uint32(d.Weight))
	b = appendAttrU32(b, destAttrUThresh, d.UpperThreshold)
	b = appendAttrU32(b, destAttrLThresh, d.LowerThreshold)
	// Kernels before 5.2 ignore attributes beyond their IPVS_DEST_ATTR_MAX.
	b = appendAttrU8(b, destAttrTunType, uint8(d.TunnelType))
	b = appendAttrBE16(b, destAttrTunPort, d.TunnelPort)
	b = appendAttrU16(b, destAttrTunFlags, uint16(d.TunnelFlags))
	return endNest(b, off), nil
}

// appendDestKey appends the IPVS_CMD_ATTR_DEST that names a destination
// for a delete. The address family goes too: without it the kernel looks
// for an address of the service's family, and a tunnel destination of the
// other family could not be deleted.
func appendDestKey(b []byte, server netip.AddrPort) ([]byte, error) {
	addr, family, err := checkDest(server.Addr())
	if err != nil {
		return b, err
	}
	b, off := beginNest(b, cmdAttrDest)
	b = appendDestIdentityAttrs(b, addr, family, server.Port())
	return endNest(b, off), nil
}

func checkDest(a netip.Addr) (netip.Addr, uint16, error) {
	addr := a.Unmap()
	if !addr.IsValid() {
		return addr, 0, errors.New("real server has no address")
	}
	return addr, familyOf(addr), nil
}

func appendDestIdentityAttrs(b []byte, addr netip.Addr, family, port uint16) []byte {
	u := inetAddr(addr)
	b = appendAttr(b, destAttrAddr, u[:]...)
	b = appendAttrBE16(b, destAttrPort, port)
	return appendAttrU16(b, destAttrAddrFamily, family)
}

func putU32(b []byte, v uint32) { binary.NativeEndian.PutUint32(b, v) }

func familyOf(a netip.Addr) uint16 {
	if a.Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}
