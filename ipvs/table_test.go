package ipvs

import "net/netip"

// big is a counter past 2^32: a 32-bit decoder would read 7.
const big = 1<<40 + 7

// testTable is a table covering every kind of service and destination the
// reader must tell apart.
func testTable() []Service {
	return []Service{
		{
			ServiceKey: ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80},
			Scheduler:  "wlc",
			Flags:      FlagHashed,
			Stats:      Stats{Connections: big, PacketsIn: big + 1, PacketsOut: big + 2, BytesIn: big + 3, BytesOut: 1<<63 + 5},
			Destinations: []Destination{
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.10"), Port: 8080, Forward: ForwardMasq, Weight: 3,
					UpperThreshold: 1000, LowerThreshold: 10, ActiveConns: 17, InactiveConns: 230, PersistConns: 0,
					Stats: Stats{Connections: big, PacketsIn: 5, PacketsOut: big, BytesIn: 1 << 50, BytesOut: 9}},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.11"), Port: 80, Forward: ForwardRoute, Weight: 0},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("127.0.0.1"), Port: 80, Forward: ForwardLocal, Weight: 1},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.12"), Port: 80, Forward: ForwardBypass, Weight: 1},
				// A mixed-family tunnel destination: IPv6 real server of an
				// IPv4 service.
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::10"), Port: 80, Forward: ForwardTunnel, Weight: 2,
					TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelRemoteChecksum},
			},
		},
		{
			ServiceKey: ServiceKey{Family: FamilyIPv6, Protocol: UDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53},
			Scheduler:  "rr",
			Flags:      FlagHashed | FlagOnePacket,
			Stats:      Stats{Connections: 1, PacketsIn: 2, PacketsOut: 3, BytesIn: 4, BytesOut: 5},
			Destinations: []Destination{
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::53"), Port: 5353, Forward: ForwardTunnel, Weight: 100,
					TunnelType: TunnelGRE, TunnelFlags: TunnelChecksum},
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::54"), Port: 53, Forward: ForwardMasq, Weight: -1 << 31},
			},
		},
		{
			ServiceKey: ServiceKey{Family: FamilyIPv4, Protocol: SCTP, Address: netip.MustParseAddr("192.0.2.2"), Port: 3868},
			Scheduler:  "sh",
			Flags:      FlagHashed | FlagSched1 | FlagSched2,
			Destinations: []Destination{
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.20"), Port: 3868, Forward: ForwardRoute, Weight: 1},
			},
		},
		{
			// Same address and port as the first service, other protocol.
			ServiceKey: ServiceKey{Family: FamilyIPv4, Protocol: UDP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80},
			Scheduler:  "custom-scheduler",
			PEName:     "sip",
			Flags:      FlagHashed | FlagPersistent,
			Timeout:    360,
			Netmask:    0xffffffff,
		},
		{
			// Persistence with a /24 granularity: ipvsadm -M 255.255.255.0.
			ServiceKey: ServiceKey{Family: FamilyIPv4, FWMark: 42},
			Scheduler:  "wrr",
			Flags:      FlagHashed | FlagPersistent,
			Timeout:    300,
			Netmask:    0x00ffffff,
			Stats:      Stats{Connections: big},
			Destinations: []Destination{
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.30"), Port: 0, Forward: ForwardRoute, Weight: 5, PersistConns: 9},
			},
		},
		{
			// Same mark, other family: a distinct service.
			ServiceKey: ServiceKey{Family: FamilyIPv6, FWMark: 42},
			Scheduler:  "lc",
			Flags:      FlagHashed | FlagPersistent,
			Timeout:    60,
			Netmask:    64,
			Destinations: []Destination{
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::30"), Port: 0, Forward: ForwardRoute, Weight: 5},
			},
		},
	}
}
