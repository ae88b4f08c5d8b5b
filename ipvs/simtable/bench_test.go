package simtable

import (
	"context"
	"net/netip"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// BenchmarkSnapshot reads a table of 100 services of 100 real servers
// each (10,000, the size the collector's benchmarks use), its traffic
// advanced on every read: what one scrape of a simulated sidecar costs.
func BenchmarkSnapshot(b *testing.B) {
	var seed []ipvs.Service
	for i := range 100 {
		s := ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Port: 80}, Scheduler: "wrr"}
		for j := range 100 {
			s.Destinations = append(s.Destinations, destAt(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j)}), 80), ipvs.ForwardMasq, int32(j%4)))
		}
		seed = append(seed, s)
	}
	tab, err := New(seed, Options{Rate: DefaultRate})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.Snapshot(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
