package ipvs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"
)

// TestPersistenceNetmask: the netmask of a persistence prefix is what the
// kernel reports for it (the mask's bytes in network order read as a
// native number for IPv4; the prefix for IPv6).
func TestPersistenceNetmask(t *testing.T) {
	for _, tc := range []struct {
		family uint16
		bits   int
		bytes  [4]byte
	}{
		{FamilyIPv4, 32, [4]byte{255, 255, 255, 255}},
		{FamilyIPv4, 24, [4]byte{255, 255, 255, 0}},
		{FamilyIPv4, 17, [4]byte{255, 255, 128, 0}},
		{FamilyIPv4, 1, [4]byte{128, 0, 0, 0}},
		{FamilyIPv4, 0, [4]byte{}},
	} {
		if got, want := PersistenceNetmask(tc.family, tc.bits), binary.NativeEndian.Uint32(tc.bytes[:]); got != want {
			t.Errorf("/%d: %#x, want %#x", tc.bits, got, want)
		}
	}
	if got := PersistenceNetmask(FamilyIPv6, 64); got != 64 {
		t.Errorf("IPv6 /64: %d, want 64", got)
	}
}

// TestCheckNormalizes: the checks return what the kernel keeps and
// reports: family from the address, mapped addresses unmapped, fwmark
// services keyed by family and mark, default netmasks, no hashed flag.
func TestCheckNormalizes(t *testing.T) {
	mapped := netip.MustParseAddr("::ffff:192.0.2.1")
	s, err := CheckService(&Service{ServiceKey: ServiceKey{Protocol: TCP, Address: mapped, Port: 80}, Scheduler: "rr",
		Flags: FlagHashed | FlagPersistent, Timeout: 300, Stats: Stats{Connections: 5},
		Destinations: []Destination{{Address: netip.MustParseAddr("10.0.0.1")}}})
	if err != nil {
		t.Fatal(err)
	}
	want := Service{ServiceKey: ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80},
		Scheduler: "rr", Flags: FlagPersistent, Timeout: 300, Netmask: 0xffffffff}
	if s.ServiceKey != want.ServiceKey || s.Scheduler != want.Scheduler || s.Flags != want.Flags || s.Timeout != want.Timeout ||
		s.Netmask != want.Netmask || s.Stats != (Stats{}) || s.Destinations != nil {
		t.Errorf("CheckService = %+v, want %+v", s, want)
	}
	s6, err := CheckService(&Service{ServiceKey: ServiceKey{Family: FamilyIPv6, FWMark: 7, Protocol: TCP, Port: 9}, Scheduler: "wlc"})
	if err != nil || s6.ServiceKey != (ServiceKey{Family: FamilyIPv6, FWMark: 7}) || s6.Netmask != 128 {
		t.Errorf("CheckService(fwmark ipv6) = %+v, %v", s6, err)
	}

	k, d, err := CheckDestination(want.ServiceKey, &Destination{Address: netip.MustParseAddr("::ffff:10.0.0.1"), Port: 8080,
		Forward: ForwardMasq, Weight: 3, ActiveConns: 9, Stats: Stats{Connections: 1}})
	if err != nil || k != want.ServiceKey || d != (Destination{Family: FamilyIPv4, Address: netip.MustParseAddr("10.0.0.1"), Port: 8080, Forward: ForwardMasq, Weight: 3}) {
		t.Errorf("CheckDestination = %v %+v %v", k, d, err)
	}
	_, d, err = CheckServer(want.ServiceKey, netip.MustParseAddrPort("[2001:db8::1]:80"))
	if err != nil || d != (Destination{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::1"), Port: 80}) {
		t.Errorf("CheckServer = %+v %v", d, err)
	}
}

// TestKernelWriteError: an errno becomes the error the Writer gives for
// it, with the sentinel.
func TestKernelWriteError(t *testing.T) {
	err := KernelWriteError("create service tcp/192.0.2.1:80", nil, syscall.EEXIST)
	if !errors.Is(err, ErrExists) || err.Error() != "create service tcp/192.0.2.1:80: the IPVS service or destination already exists" {
		t.Errorf("EEXIST: %v", err)
	}
	err = KernelWriteError("update real server 10.0.0.1:80 of tcp/192.0.2.1:80", nil, syscall.ENOENT)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("ENOENT of a destination write: %v", err)
	}
	err = KernelWriteError("create service tcp/192.0.2.1:80", &Service{Scheduler: "mh"}, syscall.ENOENT)
	if errors.Is(err, ErrNotFound) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("ENOENT of a service write is a missing scheduler, not a missing entry: %v", err)
	}
}
