package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// The checks every write makes before anything is sent, and the form in
// which the kernel then keeps what it was sent. Writer uses them, and so
// do tables that are not the kernel's (ipvs/simtable), so that a write
// one refuses the other refuses with the same error.

// CheckServiceKey validates the identity of a service and returns it as
// the kernel keys and reports it: the family that of the address, an
// IPv4-mapped address unmapped, a fwmark service by family and mark alone.
// Without this check a wrong key would be the kernel's bare EINVAL.
func CheckServiceKey(k ServiceKey) (ServiceKey, error) {
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

// CheckService validates a service as CreateService and UpdateService
// send it, and returns what the kernel keeps of it: the checked key, the
// scheduler, persistence engine, flags (without FlagHashed, which only
// the kernel sets), timeout and netmask, a zero Netmask being one client
// address (255.255.255.255 for IPv4, 128 for IPv6) as with ipvsadm. Stats
// and Destinations are left out.
func CheckService(s *Service) (Service, error) {
	k, err := CheckServiceKey(s.ServiceKey)
	if err != nil {
		return Service{}, err
	}
	if s.Scheduler == "" {
		return Service{}, errors.New("no scheduler given (rr, wrr, wlc, ...)")
	}
	netmask := s.Netmask
	if netmask == 0 {
		netmask = 0xffffffff
		if k.Family == FamilyIPv6 {
			netmask = 128
		}
	}
	return Service{ServiceKey: k, Scheduler: s.Scheduler, PEName: s.PEName, Flags: s.Flags &^ FlagHashed,
		Timeout: s.Timeout, Netmask: netmask}, nil
}

// CheckDestination validates d, a real server of service k, as
// CreateDestination and UpdateDestination send it, and returns the
// checked key and what the kernel keeps of d: family, address (unmapped),
// port, forwarding method, weight, thresholds and tunnel settings;
// connection counts and Stats are left out.
func CheckDestination(k ServiceKey, d *Destination) (ServiceKey, Destination, error) {
	k, err := CheckServiceKey(k)
	if err != nil {
		return k, Destination{}, err
	}
	addr, family, err := checkDest(d.Address)
	if err != nil {
		return k, Destination{}, err
	}
	if d.Forward > ForwardBypass {
		return k, Destination{}, fmt.Errorf("unknown forwarding method %d", uint32(d.Forward))
	}
	if family != k.Family && d.Forward != ForwardTunnel {
		// The kernel forwards to another family only through a tunnel
		// (EINVAL otherwise).
		return k, Destination{}, fmt.Errorf("real server %s is %s but the service is %s: only a tunnel (forward: tun) can cross address families",
			addr, FamilyName(family), FamilyName(k.Family))
	}
	if d.Weight < 0 {
		return k, Destination{}, fmt.Errorf("negative weight %d", d.Weight)
	}
	if d.Forward == ForwardTunnel {
		switch d.TunnelType {
		case TunnelIPIP, TunnelGUE, TunnelGRE:
		default:
			return k, Destination{}, fmt.Errorf("unknown tunnel type %s", d.TunnelType)
		}
		if d.TunnelType == TunnelGUE && d.TunnelPort == 0 {
			// The kernel refuses it too, with EINVAL and only a log line.
			return k, Destination{}, errors.New("a gue tunnel needs a port")
		}
	}
	return k, Destination{Family: family, Address: addr, Port: d.Port, Forward: d.Forward, Weight: d.Weight,
		UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
		TunnelType: d.TunnelType, TunnelPort: d.TunnelPort, TunnelFlags: d.TunnelFlags}, nil
}

// CheckServer validates the real server a DeleteDestination names and
// returns the checked key and the server's identity: family, address
// (unmapped) and port.
func CheckServer(k ServiceKey, server netip.AddrPort) (ServiceKey, Destination, error) {
	k, err := CheckServiceKey(k)
	if err != nil {
		return k, Destination{}, err
	}
	addr, family, err := checkDest(server.Addr())
	if err != nil {
		return k, Destination{}, err
	}
	return k, Destination{Family: family, Address: addr, Port: server.Port()}, nil
}

func checkDest(a netip.Addr) (netip.Addr, uint16, error) {
	addr := a.Unmap()
	if !addr.IsValid() {
		return addr, 0, errors.New("real server has no address")
	}
	return addr, familyOf(addr), nil
}

// KernelWriteError returns the error Writer returns for the write named
// what (the words its errors begin with) when the kernel answers errno;
// svc is the service a create or update sends, nil for the other writes.
// A table that is not the kernel's answers with it, so that its errors
// read, and match the sentinels (errors.Is), as the kernel's do.
func KernelWriteError(what string, svc *Service, errno syscall.Errno) error {
	return writeErr(what, svc, errno)
}

// PersistenceNetmask returns the Netmask of a service of family whose
// persistence groups clients by a prefix of bits, as the kernel keeps and
// reports it: for IPv4 the mask's bytes in network order (read as a
// native-endian number), for IPv6 the prefix length itself.
func PersistenceNetmask(family uint16, bits int) uint32 {
	if family == FamilyIPv6 {
		return uint32(bits)
	}
	var m uint32
	if bits > 0 {
		m = ^uint32(0) << (32 - min(bits, 32))
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], m)
	return binary.NativeEndian.Uint32(b[:])
}
