package ipvs

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	mobyipvs "github.com/moby/ipvs"
)

// mobyState records the family ID moby/ipvs works with. moby resolves it
// once per process, in its first New (and runs `modprobe ip_vs` then), and
// never again; openMoby is only called after a successful family probe, so
// the ID the probe saw is the one moby resolved.
var mobyState struct {
	sync.Mutex
	family uint16
}

// openMoby opens a moby/ipvs handle in the namespace at path ("" = current).
func openMoby(path string, family uint16) (mobyHandle, error) {
	mobyState.Lock()
	defer mobyState.Unlock()
	h, err := mobyipvs.New(path)
	if mobyState.family == 0 {
		mobyState.family = family
	}
	if err != nil {
		return nil, err
	}
	return h, nil
}

func mobyFamily() uint16 {
	mobyState.Lock()
	defer mobyState.Unlock()
	return mobyState.family
}

// mobyService converts a service key to the identity moby/ipvs sends:
// family and fwmark, or family, protocol, address and port.
func mobyService(k ServiceKey) (*mobyipvs.Service, error) {
	if k.FWMark != 0 {
		if k.Family != FamilyIPv4 && k.Family != FamilyIPv6 {
			return nil, fmt.Errorf("fwmark service needs family ipv4 or ipv6, got %s", FamilyName(k.Family))
		}
		// The kernel keys fwmark services by (family, mark) and sets the
		// protocol itself; moby/ipvs sends neither protocol nor address.
		return &mobyipvs.Service{AddressFamily: k.Family, FWMark: k.FWMark}, nil
	}
	addr := k.Address.Unmap()
	if !addr.IsValid() {
		return nil, errors.New("service has neither an address nor a fwmark")
	}
	family := familyOf(addr)
	if k.Family != 0 && k.Family != family {
		return nil, fmt.Errorf("service family %s does not match its address %s", FamilyName(k.Family), addr)
	}
	switch k.Protocol {
	case TCP, UDP, SCTP:
	default:
		return nil, fmt.Errorf("IPVS cannot balance protocol %s", k.Protocol)
	}
	return &mobyipvs.Service{
		AddressFamily: family,
		Protocol:      uint16(k.Protocol),
		Address:       ipOf(addr),
		Port:          k.Port,
	}, nil
}

// mobyServiceFull converts a whole service for create and update.
func mobyServiceFull(s *Service) (*mobyipvs.Service, error) {
	ms, err := mobyService(s.ServiceKey)
	if err != nil {
		return nil, err
	}
	if s.Scheduler == "" {
		return nil, errors.New("no scheduler given (rr, wrr, wlc, ...)")
	}
	ms.SchedName = s.Scheduler
	ms.PEName = s.PEName
	// The kernel sets IP_VS_SVC_F_HASHED itself; a service created with it
	// set is never hashed, i.e. never matches a packet.
	ms.Flags = s.Flags &^ FlagHashed
	ms.Timeout = s.Timeout
	ms.Netmask = s.Netmask
	if ms.Netmask == 0 {
		ms.Netmask = 0xffffffff
		if ms.AddressFamily == FamilyIPv6 {
			ms.Netmask = 128
		}
	}
	return ms, nil
}

// mobyServiceDest converts a service key and one of its destinations.
func mobyServiceDest(k ServiceKey, d *Destination) (*mobyipvs.Service, *mobyipvs.Destination, error) {
	ms, err := mobyService(k)
	if err != nil {
		return nil, nil, err
	}
	addr := d.Address.Unmap()
	if !addr.IsValid() {
		return nil, nil, errors.New("real server has no address")
	}
	family := familyOf(addr)
	if family != ms.AddressFamily {
		// moby/ipvs sends no IPVS_DEST_ATTR_ADDR_FAMILY, so the kernel
		// would read the address as the service's family.
		return nil, nil, fmt.Errorf("real server %s is %s but the service is %s: mixed families are not supported through github.com/moby/ipvs",
			addr, FamilyName(family), FamilyName(ms.AddressFamily))
	}
	if d.Forward > ForwardBypass {
		return nil, nil, fmt.Errorf("unknown forwarding method %d", uint32(d.Forward))
	}
	if d.Weight < 0 {
		return nil, nil, fmt.Errorf("negative weight %d", d.Weight)
	}
	return ms, &mobyipvs.Destination{
		AddressFamily:   family,
		Address:         ipOf(addr),
		Port:            d.Port,
		Weight:          int(d.Weight),
		ConnectionFlags: uint32(d.Forward),
		UpperThreshold:  d.UpperThreshold,
		LowerThreshold:  d.LowerThreshold,
	}, nil
}

func familyOf(a netip.Addr) uint16 {
	if a.Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// ipOf returns a 4-byte net.IP for IPv4, 16 bytes for IPv6.
func ipOf(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }
