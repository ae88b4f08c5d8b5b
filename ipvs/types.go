// Package ipvs is the only package that talks to the kernel's IP Virtual
// Server. It reads the table (services, destinations, 64-bit statistics)
// and writes it (every service and destination attribute, tunnel settings
// included) over one generic-netlink stack, in one network namespace
// handle (NetNS) that the health checks share. A missing module, a missing
// capability or a lost reply is a clear error, never a silent success or a
// hang, and an ip_vs reload is followed without a restart.
package ipvs

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Address families as the kernel numbers them.
const (
	FamilyIPv4 uint16 = 2  // AF_INET
	FamilyIPv6 uint16 = 10 // AF_INET6
)

// Protocol is an IP protocol number as carried in IPVS_SVC_ATTR_PROTOCOL.
type Protocol uint16

// Protocols IPVS can balance.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

// String returns the lower-case protocol name used in labels and config
// ("tcp", "udp", "sctp"), or "proto-N" for a number IPVS does not know.
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	}
	return "proto-" + strconv.Itoa(int(p))
}

// ForwardMethod is how IPVS sends packets to a real server: the low three
// bits (IP_VS_CONN_F_FWD_MASK) of a destination's connection flags.
type ForwardMethod uint32

// Forwarding methods (IP_VS_CONN_F_*).
const (
	ForwardMasq   ForwardMethod = 0 // NAT
	ForwardLocal  ForwardMethod = 1 // the director itself
	ForwardTunnel ForwardMethod = 2 // IP-in-IP / GUE / GRE
	ForwardRoute  ForwardMethod = 3 // direct routing (DR)
	ForwardBypass ForwardMethod = 4
)

// ForwardMask selects the forwarding method from connection flags.
const ForwardMask = 0x7

// String returns the ipvsadm-style name: masq, local, tunnel, route, bypass.
func (m ForwardMethod) String() string {
	switch m {
	case ForwardMasq:
		return "masq"
	case ForwardLocal:
		return "local"
	case ForwardTunnel:
		return "tunnel"
	case ForwardRoute:
		return "route"
	case ForwardBypass:
		return "bypass"
	}
	return "fwd-" + strconv.FormatUint(uint64(m), 10)
}

// Service flags (IP_VS_SVC_F_*).
const (
	FlagPersistent uint32 = 0x0001
	FlagHashed     uint32 = 0x0002
	FlagOnePacket  uint32 = 0x0004
	FlagSched1     uint32 = 0x0008
	FlagSched2     uint32 = 0x0010
	FlagSched3     uint32 = 0x0020
)

// Stats are the cumulative counters of a service, destination or the whole
// table. All are 64-bit, decoded from the *_ATTR_STATS64 attributes, so they
// never wrap in practice. The kernel's estimator refreshes them every 2 s.
type Stats struct {
	Connections uint64
	PacketsIn   uint64
	PacketsOut  uint64
	BytesIn     uint64
	BytesOut    uint64
}

// ServiceKey identifies a virtual service the way the kernel does: by
// (family, protocol, address, port) or, for firewall-mark services, by
// (family, fwmark). It is comparable and usable as a map key.
type ServiceKey struct {
	Family   uint16
	Protocol Protocol
	Address  netip.Addr
	Port     uint16
	FWMark   uint32
}

// String returns the canonical, unique name of the service used as the
// "service" label: "tcp/192.0.2.1:80", "udp/[2001:db8::1]:53",
// "fwmark/42/ipv4", "fwmark/42/ipv6".
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		return "fwmark/" + strconv.FormatUint(uint64(k.FWMark), 10) + "/" + FamilyName(k.Family)
	}
	return k.Protocol.String() + "/" + netip.AddrPortFrom(k.Address, k.Port).String()
}

// FamilyName returns "ipv4", "ipv6" or "af-N".
func FamilyName(f uint16) string {
	switch f {
	case FamilyIPv4:
		return "ipv4"
	case FamilyIPv6:
		return "ipv6"
	}
	return "af-" + strconv.Itoa(int(f))
}

// Service is one virtual service with its destinations, as read from the
// kernel.
type Service struct {
	ServiceKey
	Scheduler string // "rr", "wlc", ...
	Flags     uint32 // IP_VS_SVC_F_*
	// Timeout is the persistence timeout in seconds (meaningful when
	// Flags&FlagPersistent is set).
	Timeout uint32
	// Netmask is the persistence granularity: a dotted IPv4 mask in network
	// order for IPv4 services, a prefix length for IPv6 services.
	Netmask      uint32
	PEName       string // persistence engine, e.g. "sip"; usually empty
	Stats        Stats
	Destinations []Destination
}

// Persistent reports whether the service has persistence (ipvsadm -p).
func (s *Service) Persistent() bool { return s.Flags&FlagPersistent != 0 }

// Destination is one real server of a service.
type Destination struct {
	Family         uint16 // may differ from the service's for tunnels
	Address        netip.Addr
	Port           uint16
	Forward        ForwardMethod
	Weight         int32
	UpperThreshold uint32
	LowerThreshold uint32
	// TunnelType, TunnelPort and TunnelFlags are the encapsulation of a
	// ForwardTunnel destination (kernel 5.2 and later; zero, i.e. ipip,
	// on older kernels and for the other methods). TunnelPort is the UDP
	// port of a GUE tunnel.
	TunnelType    TunnelType
	TunnelPort    uint16
	TunnelFlags   TunnelFlags
	ActiveConns   uint32
	InactiveConns uint32
	PersistConns  uint32
	Stats         Stats
}

// Server returns the destination as "addr:port" ("[addr]:port" for IPv6),
// the "server" label.
func (d *Destination) Server() string {
	return netip.AddrPortFrom(d.Address, d.Port).String()
}

// AppendServer appends Server() to b.
func (d *Destination) AppendServer(b []byte) []byte {
	return netip.AddrPortFrom(d.Address, d.Port).AppendTo(b)
}

// Info is the kernel's IPVS version and connection table size.
type Info struct {
	Version       uint32 // encoded as (major<<16 | minor<<8 | patch)
	ConnTableSize uint32
}

// VersionString renders the version as ipvsadm does: "1.2.1".
func (i Info) VersionString() string {
	return fmt.Sprintf("%d.%d.%d", i.Version>>16&0xff, i.Version>>8&0xff, i.Version&0xff)
}

// Timeouts are the global connection timeouts (ipvsadm --set), in seconds.
type Timeouts struct {
	TCP    uint32
	TCPFin uint32
	UDP    uint32
}

// Snapshot is one read of the whole table, taken per scrape. Services is
// always complete when Snapshot is returned without error; the optional
// parts are nil when they could not be read, and Partial says why.
type Snapshot struct {
	Services []Service
	Info     *Info     // IPVS_CMD_GET_INFO
	Timeouts *Timeouts // IPVS_CMD_GET_TIMEOUT
	Totals   *Stats    // host-wide counters (/proc/net/ip_vs_stats)
	// Partial is non-nil when an optional part could not be read.
	Partial error

	// netns is the namespace the snapshot was read from (zero without a
	// namespace handle), for PinNetNS.
	netns nsID
}

// Destinations counts destinations over all services.
func (s *Snapshot) Destinations() int {
	n := 0
	for i := range s.Services {
		n += len(s.Services[i].Destinations)
	}
	return n
}
