package ipvs

import (
	"encoding/binary"
	"net/netip"
)

// Encoders for the payloads of the writes (IPVS_CMD_NEW/SET/DEL_SERVICE and
// _DEST), as ip_vs_genl_parse_service and ip_vs_genl_parse_dest in
// net/netfilter/ipvs/ip_vs_ctl.c read them. Every attribute the kernel
// keeps is sent on every create and update: an attribute left out is not
// "unchanged" to the kernel but zero (a GUE tunnel written without its
// IPVS_DEST_ATTR_TUN_* becomes ipip, an update without a persistence
// engine drops it).

// appendService appends the IPVS_CMD_ATTR_SERVICE of a create or update:
// the identity, then scheduler, persistence engine, flags, timeout and
// netmask. A zero Netmask means one client address (255.255.255.255 for
// IPv4, 128 for IPv6), as with ipvsadm.
func appendService(b []byte, s *Service) ([]byte, error) {
	svc, err := CheckService(s)
	if err != nil {
		return b, err
	}
	b, off := beginNest(b, cmdAttrService)
	b = appendIdentityAttrs(b, &svc.ServiceKey)
	b = appendAttrCString(b, svcAttrSchedName, svc.Scheduler)
	if svc.PEName != "" {
		b = appendAttrCString(b, svcAttrPEName, svc.PEName)
	}
	// struct ip_vs_flags { flags; mask }: the mask says which bits the
	// kernel takes from flags; all of them, as ipvsadm sends. The kernel
	// sets IP_VS_SVC_F_HASHED itself, and a service created with it set is
	// never hashed, i.e. never matches a packet: CheckService clears it.
	var flags [8]byte
	putU32(flags[0:4], svc.Flags)
	putU32(flags[4:8], ^uint32(0))
	b = appendAttr(b, svcAttrFlags, flags[:]...)
	b = appendAttrU32(b, svcAttrTimeout, svc.Timeout)
	// The kernel reads the __be32 field's raw bytes (nla_get_be32), as the
	// reader decodes them: the same value goes back.
	b = appendAttrU32(b, svcAttrNetmask, svc.Netmask)
	return endNest(b, off), nil
}

// appendServiceKey appends the IPVS_CMD_ATTR_SERVICE that names a service
// for a delete or a destination write.
func appendServiceKey(b []byte, k ServiceKey) ([]byte, error) {
	k, err := CheckServiceKey(k)
	if err != nil {
		return b, err
	}
	return appendServiceIdentity(b, &k), nil
}

// appendServiceDest appends the service's identity and the
// IPVS_CMD_ATTR_DEST of a create or update: every attribute
// ip_vs_genl_parse_dest reads for a full entry.
func appendServiceDest(b []byte, k ServiceKey, d *Destination) ([]byte, error) {
	k, dest, err := CheckDestination(k, d)
	if err != nil {
		return b, err
	}
	b = appendServiceIdentity(b, &k)
	b, off := beginNest(b, cmdAttrDest)
	b = appendDestIdentityAttrs(b, dest.Address, dest.Family, dest.Port)
	b = appendAttrU32(b, destAttrFwdMethod, uint32(dest.Forward))
	b = appendAttrU32(b, destAttrWeight, uint32(dest.Weight))
	b = appendAttrU32(b, destAttrUThresh, dest.UpperThreshold)
	b = appendAttrU32(b, destAttrLThresh, dest.LowerThreshold)
	// Kernels before 5.2 ignore attributes beyond their IPVS_DEST_ATTR_MAX.
	b = appendAttrU8(b, destAttrTunType, uint8(dest.TunnelType))
	b = appendAttrBE16(b, destAttrTunPort, dest.TunnelPort)
	b = appendAttrU16(b, destAttrTunFlags, uint16(dest.TunnelFlags))
	return endNest(b, off), nil
}

// appendServiceServer appends the service's identity and the
// IPVS_CMD_ATTR_DEST that names a destination for a delete. The address
// family goes too: without it the kernel looks for an address of the
// service's family, and a tunnel destination of the other family could
// not be deleted.
func appendServiceServer(b []byte, k ServiceKey, server netip.AddrPort) ([]byte, error) {
	k, dest, err := CheckServer(k, server)
	if err != nil {
		return b, err
	}
	b = appendServiceIdentity(b, &k)
	b, off := beginNest(b, cmdAttrDest)
	b = appendDestIdentityAttrs(b, dest.Address, dest.Family, dest.Port)
	return endNest(b, off), nil
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
