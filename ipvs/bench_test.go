package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// benchTable makes services of 10 destinations each, n destinations in all.
func benchTable(n int) []Service {
	const perService = 10
	services := make([]Service, 0, (n+perService-1)/perService)
	for i := 0; len(services)*perService < n; i++ {
		s := Service{
			ServiceKey: ServiceKey{Family: FamilyIPv4, Protocol: TCP,
				Address: netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)}), Port: 80},
			Scheduler: "wlc",
			Flags:     FlagHashed,
			Stats:     Stats{Connections: big, PacketsIn: big, PacketsOut: big, BytesIn: big, BytesOut: big},
		}
		for j := 0; j < perService && len(services)*perService+j < n; j++ {
			s.Destinations = append(s.Destinations, Destination{
				Family: FamilyIPv4, Address: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(j)}), Port: 8080,
				Forward: ForwardRoute, Weight: 1, ActiveConns: 5, InactiveConns: 50,
				Stats: Stats{Connections: big, PacketsIn: big, PacketsOut: big, BytesIn: big, BytesOut: big},
			})
		}
		services = append(services, s)
	}
	return services
}

// preEncode makes the fake answer dumps from replies encoded once, so that
// the benchmark measures the reader and the netlink package, not the fake.
func preEncode(k *fakeKernel) {
	k.raw = map[string][]netlink.Message{}
	dump := func(cmd uint8, payload []byte, replies []genetlink.Message) {
		req, err := (genetlink.Message{Header: genetlink.Header{Command: cmd, Version: genlVersion}, Data: payload}).MarshalBinary()
		if err != nil {
			panic(err)
		}
		var msgs []netlink.Message
		for _, r := range replies {
			b, err := r.MarshalBinary()
			if err != nil {
				panic(err)
			}
			msgs = append(msgs, netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(k.familyID), Flags: netlink.Multi}, Data: b})
		}
		msgs = append(msgs, netlink.Message{Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi}, Data: []byte{0, 0, 0, 0}})
		k.raw[string(req)] = msgs
	}
	var services []genetlink.Message
	for i := range k.services {
		s := &k.services[i]
		services = append(services, genetlink.Message{
			Header: genetlink.Header{Command: cmdNewService, Version: genlVersion},
			Data:   encodeService(s, true),
		})
		var dests []genetlink.Message
		for j := range s.Destinations {
			dests = append(dests, genetlink.Message{
				Header: genetlink.Header{Command: cmdNewDest, Version: genlVersion},
				Data:   encodeDest(&s.Destinations[j], true),
			})
		}
		dump(cmdGetDest, appendServiceIdentity(nil, &s.ServiceKey), dests)
	}
	dump(cmdGetService, nil, services)
}

func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("dests=%d", n), func(b *testing.B) {
			k := newFakeKernel(benchTable(n))
			preEncode(k)
			r, err := NewReader(ReaderOptions{Dial: k.dial, ProcNet: "testdata/procnet"})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			ctx := context.Background()
			snap, err := r.Snapshot(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if snap.Destinations() != n || !reflect.DeepEqual(snap.Services, k.services) {
				b.Fatalf("the pre-encoded table does not decode to the table (%d destinations, want %d)", snap.Destinations(), n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.Snapshot(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeDest measures the decoder alone, on one kernel-encoded
// destination reply.
func BenchmarkDecodeDest(b *testing.B) {
	d := benchTable(1)[0].Destinations[0]
	msg := encodeDest(&d, true)
	var got Destination
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeDestMsg(msg, FamilyIPv4, &got); err != nil {
			b.Fatal(err)
		}
	}
	if got != d {
		b.Fatalf("decoded %+v, want %+v", got, d)
	}
}
