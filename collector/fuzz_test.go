package collector

import (
	"net/netip"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// fuzzTable makes a small table from data: every byte choice comes from a
// few values each, so that services and real servers collide, repeat and
// share addresses across families, protocols, forwards and flags, which
// is where the orders of the two paths can part.
func fuzzTable(data []byte) *ipvs.Snapshot {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.10"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:192.0.2.1"),
	}
	names := []string{"", "rr", "wlc", `w"rr`, "sip\\\n", "\xff"}
	snap := &ipvs.Snapshot{}
	if next()&1 == 1 {
		snap.Info = &ipvs.Info{Version: 0x010201, ConnTableSize: 4096}
	}
	for range next() % 6 {
		b := next()
		s := ipvs.Service{
			ServiceKey: ipvs.ServiceKey{
				Family:   []uint16{ipvs.FamilyIPv4, ipvs.FamilyIPv6, 99}[int(b)%3],
				Protocol: []ipvs.Protocol{ipvs.TCP, ipvs.UDP, ipvs.SCTP, 99}[int(b>>2)%4],
				Address:  addrs[int(b>>4)%len(addrs)],
				Port:     80 + uint16(b>>6),
			},
			Scheduler: names[int(next())%len(names)],
			PEName:    names[int(next())%len(names)],
			Flags:     uint32(next() & 0x1f),
			Timeout:   uint32(next()),
		}
		if b&0x80 != 0 {
			s.FWMark = uint32(b & 3)
		}
		s.Stats.Connections = uint64(next()) << 40
		for range next() % 5 {
			d := next()
			s.Destinations = append(s.Destinations, ipvs.Destination{
				Address: addrs[int(d)%len(addrs)],
				Port:    8080 + uint16(d>>5&3),
				Forward: ipvs.ForwardMethod(d >> 2 & 7),
				Weight:  int32(next()) - 10,
			})
		}
		snap.Services = append(snap.Services, s)
	}
	return snap
}

// FuzzTextMatchesRegistry is TestTextMatchesRegistry over tables made up
// by the fuzzer.
func FuzzTextMatchesRegistry(f *testing.F) {
	f.Add([]byte{1, 3, 0x11, 1, 2, 0, 5, 7, 2, 0x2c, 3, 0x05, 1, 0x91, 3, 4, 1, 0, 9, 3, 0xff, 7, 0x40, 2})
	f.Add([]byte{0, 2, 0x00, 0, 0, 0, 0, 0, 0, 0x01, 1, 0, 0, 0, 0, 0, 0, 2, 0x0c, 0, 0x04, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		textMatchesRegistry(t, step{snap: fuzzTable(data)})
	})
}
