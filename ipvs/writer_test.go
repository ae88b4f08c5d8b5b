package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// testWriter is a Writer talking to the fake kernel k; dials counts the
// sockets it opened.
func testWriter(t *testing.T, k *fakeKernel, timeout time.Duration) (*Writer, *atomic.Int32) {
	t.Helper()
	var dials atomic.Int32
	w, err := NewWriter(WriterOptions{Timeout: timeout, Dial: func() (*genetlink.Conn, error) {
		dials.Add(1)
		return k.dial()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, &dials
}

var (
	webKey  = ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80}
	webDest = Destination{Family: FamilyIPv4, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Forward: ForwardRoute, Weight: 3, UpperThreshold: 100, LowerThreshold: 10}
)

// allWrites runs each Writer method once.
func allWrites(ctx context.Context, w *Writer) map[string]error {
	svc := &Service{ServiceKey: webKey, Scheduler: "wlc"}
	return map[string]error{
		"CreateService":     w.CreateService(ctx, svc),
		"UpdateService":     w.UpdateService(ctx, svc),
		"DeleteService":     w.DeleteService(ctx, webKey),
		"CreateDestination": w.CreateDestination(ctx, webKey, &webDest),
		"UpdateDestination": w.UpdateDestination(ctx, webKey, &webDest),
		"DeleteDestination": w.DeleteDestination(ctx, webKey, netip.AddrPortFrom(webDest.Address, webDest.Port)),
	}
}

// writeTable is what the write-then-read tests write: every attribute
// the kernel keeps, tunnels of every type and a cross-family one.
func writeTable() []Service {
	return []Service{
		{
			ServiceKey: webKey, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300, Netmask: 0x00ffffff,
			Destinations: []Destination{
				{Family: FamilyIPv4, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Forward: ForwardMasq, Weight: 3, UpperThreshold: 1000, LowerThreshold: 10},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Forward: ForwardTunnel, Weight: 2,
					TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelChecksum},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("10.0.0.3"), Port: 80, Forward: ForwardTunnel, Weight: 1,
					TunnelType: TunnelGRE, TunnelFlags: TunnelChecksum},
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::3"), Port: 80, Forward: ForwardTunnel, Weight: 1,
					TunnelType: TunnelGUE, TunnelPort: 5555, TunnelFlags: TunnelRemoteChecksum},
			},
		},
		{
			ServiceKey: ServiceKey{Family: FamilyIPv6, Protocol: UDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 5060},
			Scheduler:  "rr", PEName: "sip", Flags: FlagPersistent | FlagOnePacket, Timeout: 60, Netmask: 64,
			Destinations: []Destination{
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::53"), Port: 5060, Forward: ForwardRoute, Weight: 100},
			},
		},
		{
			ServiceKey: ServiceKey{Family: FamilyIPv4, FWMark: 42}, Scheduler: "sh", Netmask: 0xffffffff,
			Destinations: []Destination{
				{Family: FamilyIPv4, Address: netip.MustParseAddr("10.0.0.9"), Forward: ForwardTunnel, Weight: 5},
			},
		},
	}
}

// writeAll creates table through w.
func writeAll(t *testing.T, w *Writer, table []Service) {
	t.Helper()
	ctx := context.Background()
	for i := range table {
		s := &table[i]
		if err := w.CreateService(ctx, s); err != nil {
			t.Fatalf("CreateService %s: %v", s, err)
		}
		for j := range s.Destinations {
			if err := w.CreateDestination(ctx, s.ServiceKey, &s.Destinations[j]); err != nil {
				t.Fatalf("CreateDestination %s: %v", s.Destinations[j].Server(), err)
			}
		}
	}
}

// readBack reads the fake's table through the Reader, without what the
// kernel owns.
func readBack(t *testing.T, k *fakeKernel) map[string]Service {
	t.Helper()
	snap := snapshot(t, newTestReader(t, k))
	out := map[string]Service{}
	for _, s := range snap.Services {
		s.Flags &^= FlagHashed
		out[s.String()] = s
	}
	return out
}

func TestWriterWriteThenRead(t *testing.T) {
	k := newFakeKernel(nil)
	w, _ := testWriter(t, k, time.Second)
	table := writeTable()
	writeAll(t, w, table)
	got := readBack(t, k)
	if len(got) != len(table) {
		t.Fatalf("read %d services back, wrote %d", len(got), len(table))
	}
	for _, want := range table {
		if g := got[want.String()]; !reflect.DeepEqual(g, want) {
			t.Errorf("service %s read back as\n %+v\nwritten\n %+v", want.String(), g, want)
		}
	}
}

// A drain, a restore and a re-weight keep a tunnel destination's type,
// port and checksum flags: the kernel sets every field of an update from
// the request (an attribute left out is zero: ipip, port 0, nocsum).
func TestWriterUpdateKeepsTunnel(t *testing.T) {
	k := newFakeKernel(nil)
	w, _ := testWriter(t, k, time.Second)
	table := writeTable()
	writeAll(t, w, table)
	ctx := context.Background()
	for _, weight := range []int32{0, 2, 7} {
		for _, d := range table[0].Destinations[1:] {
			d.Weight = weight
			if err := w.UpdateDestination(ctx, webKey, &d); err != nil {
				t.Fatalf("UpdateDestination %s weight %d: %v", d.Server(), weight, err)
			}
		}
		for _, want := range table[0].Destinations[1:] {
			want.Weight = weight
			var got *Destination
			web := readBack(t, k)[webKey.String()]
			for i := range web.Destinations {
				if web.Destinations[i].Address == want.Address {
					got = &web.Destinations[i]
				}
			}
			if got == nil || !reflect.DeepEqual(*got, want) {
				t.Errorf("after setting weight %d: %s read back as %+v, want %+v", weight, want.Server(), got, want)
			}
		}
	}
}

// The request itself carries every destination attribute, in the sizes
// the kernel's policy wants.
func TestWriterDestAttributes(t *testing.T) {
	k := newFakeKernel([]Service{{ServiceKey: webKey, Scheduler: "rr", Flags: FlagHashed}})
	w, _ := testWriter(t, k, time.Second)
	d := Destination{Address: netip.MustParseAddr("2001:db8::7"), Port: 8080, Forward: ForwardTunnel, Weight: 9,
		UpperThreshold: 5, LowerThreshold: 4, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelChecksum}
	if err := w.CreateDestination(context.Background(), webKey, &d); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	last := k.writes[len(k.writes)-1]
	k.mu.Unlock()
	_, da, err := parseRequest(last.data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint16][]byte{
		destAttrAddr:       netip.MustParseAddr("2001:db8::7").AsSlice(),
		destAttrPort:       {0x1f, 0x90},
		destAttrAddrFamily: nativeU16(FamilyIPv6),
		destAttrFwdMethod:  nativeU32(uint32(ForwardTunnel)),
		destAttrWeight:     nativeU32(9),
		destAttrUThresh:    nativeU32(5),
		destAttrLThresh:    nativeU32(4),
		destAttrTunType:    {byte(TunnelGUE)},
		destAttrTunPort:    {0x17, 0xc0}, // 6080, network order
		destAttrTunFlags:   nativeU16(uint16(TunnelChecksum)),
	}
	for typ, payload := range want {
		if got, ok := da[typ]; !ok || string(got) != string(payload) {
			t.Errorf("destination attribute %d = % x (present %v), want % x", typ, got, ok, payload)
		}
	}
	if len(da) != len(want) {
		t.Errorf("%d destination attributes sent, want %d: %v", len(da), len(want), da)
	}
}

func TestWriterServiceAttributes(t *testing.T) {
	k := newFakeKernel(nil)
	w, _ := testWriter(t, k, time.Second)
	s := Service{ServiceKey: ServiceKey{Family: FamilyIPv6, FWMark: 7}, Scheduler: "wrr", PEName: "sip", Flags: FlagPersistent | FlagHashed, Timeout: 30}
	if err := w.CreateService(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	sa, _, err := parseRequest(k.writes[0].data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint16][]byte{
		svcAttrAF:        nativeU16(FamilyIPv6),
		svcAttrFWMark:    nativeU32(7),
		svcAttrSchedName: []byte("wrr\x00"),
		svcAttrPEName:    []byte("sip\x00"),
		// HASHED is the kernel's: stripped; the mask takes every bit.
		svcAttrFlags:   append(nativeU32(FlagPersistent), 0xff, 0xff, 0xff, 0xff),
		svcAttrTimeout: nativeU32(30),
		// The default netmask of an IPv6 service: one address, /128.
		svcAttrNetmask: nativeU32(128),
	}
	for typ, payload := range want {
		if got, ok := sa[typ]; !ok || string(got) != string(payload) {
			t.Errorf("service attribute %d = % x (present %v), want % x", typ, got, ok, payload)
		}
	}
	if len(sa) != len(want) {
		t.Errorf("%d service attributes sent, want %d", len(sa), len(want))
	}
}

func nativeU16(v uint16) []byte { return appendAttrU16(nil, 0, v)[4:6] }
func nativeU32(v uint32) []byte { return appendAttrU32(nil, 0, v)[4:8] }

// A cross-family tunnel destination is deleted by its own family.
func TestWriterDeleteCrossFamilyDest(t *testing.T) {
	k := newFakeKernel(nil)
	w, _ := testWriter(t, k, time.Second)
	table := writeTable()
	writeAll(t, w, table)
	v6 := table[0].Destinations[3]
	if err := w.DeleteDestination(context.Background(), webKey, netip.AddrPortFrom(v6.Address, v6.Port)); err != nil {
		t.Fatalf("DeleteDestination %s: %v", v6.Server(), err)
	}
	for _, d := range readBack(t, k)[webKey.String()].Destinations {
		if d.Address == v6.Address {
			t.Fatalf("%s still there", v6.Server())
		}
	}
}

func TestWriterModuleNotLoaded(t *testing.T) {
	k := newFakeKernel(nil)
	k.loaded = false
	w, _ := testWriter(t, k, time.Second)
	for name, err := range allWrites(context.Background(), w) {
		if !errors.Is(err, ErrModuleNotLoaded) {
			t.Errorf("%s: err = %v, want ErrModuleNotLoaded", name, err)
		} else if !strings.Contains(err.Error(), "192.0.2.1:80") || !strings.Contains(err.Error(), "modprobe ip_vs") {
			t.Errorf("%s: error %q does not name the service and the fix", name, err)
		}
	}
	if k.lookupsByName != 0 {
		t.Errorf("%d family look-ups by name; on a real kernel each would load ip_vs", k.lookupsByName)
	}
	if len(k.writes) != 0 {
		t.Errorf("%d writes reached a kernel without ip_vs", len(k.writes))
	}

	// The module appears: the same Writer now writes.
	k.set(func(k *fakeKernel) { k.loaded = true })
	if err := w.CreateService(context.Background(), &Service{ServiceKey: webKey, Scheduler: "rr"}); err != nil {
		t.Fatalf("CreateService after loading ip_vs: %v", err)
	}
}

// After ip_vs is unloaded and loaded again, its family has a new ID: the
// kernel answers ENOENT to the old one. The writer resolves the family
// again and sends the write again, once, without a restart.
func TestWriterFollowsModuleReload(t *testing.T) {
	k := newFakeKernel(nil)
	w, _ := testWriter(t, k, time.Second)
	ctx := context.Background()
	if err := w.CreateService(ctx, &Service{ServiceKey: webKey, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	families := k.getFamilies

	// Unloaded: a clear error, nothing written.
	k.set(func(k *fakeKernel) { k.loaded, k.services = false, nil })
	if err := w.CreateService(ctx, &Service{ServiceKey: webKey, Scheduler: "rr"}); !errors.Is(err, ErrModuleNotLoaded) {
		t.Fatalf("write with ip_vs unloaded: err = %v, want ErrModuleNotLoaded", err)
	}
	// Loaded again under a new ID.
	k.set(func(k *fakeKernel) { k.loaded, k.familyID = true, 0x3c })
	if err := w.CreateService(ctx, &Service{ServiceKey: webKey, Scheduler: "rr"}); err != nil {
		t.Fatalf("write after the reload: %v", err)
	}
	if got := readBack(t, k); len(got) != 1 {
		t.Fatalf("table after the reload: %v", got)
	}

	// Reloaded between two writes, with the old ID still cached.
	k.set(func(k *fakeKernel) { k.familyID = 0x4d })
	if err := w.DeleteService(ctx, webKey); err != nil {
		t.Fatalf("write after a reload the writer had not seen: %v", err)
	}
	if n := len(readBack(t, k)); n != 0 {
		t.Fatalf("%d services after the delete", n)
	}
	if k.lookupsByName != 0 {
		t.Errorf("%d family look-ups by name", k.lookupsByName)
	}
	t.Logf("family listed %d times for 2 reloads", k.getFamilies-families)
}

// An ENOENT that is the kernel's own answer (no such real server) is
// reported, not sent twice: the family ID did not change.
func TestWriterENOENTNotResent(t *testing.T) {
	k := newFakeKernel([]Service{{ServiceKey: webKey, Scheduler: "rr", Flags: FlagHashed}})
	w, _ := testWriter(t, k, time.Second)
	err := w.UpdateDestination(context.Background(), webKey, &webDest)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if n := len(k.writes); n != 1 {
		t.Errorf("the write reached the kernel %d times, want 1", n)
	}
}

func TestWriterPermissionOnProbe(t *testing.T) {
	k := newFakeKernel(nil)
	k.getFamilyErr = int(syscall.EPERM)
	w, _ := testWriter(t, k, time.Second)
	if err := w.DeleteService(context.Background(), webKey); !errors.Is(err, ErrPermission) {
		t.Fatalf("err = %v, want ErrPermission", err)
	}
}

func TestWriterKernelErrors(t *testing.T) {
	tests := []struct {
		name    string
		cmd     uint8
		errno   syscall.Errno
		call    func(w *Writer) error
		want    error
		wantMsg string
	}{
		{"update missing real server", cmdSetDest, syscall.ENOENT,
			func(w *Writer) error { return w.UpdateDestination(context.Background(), webKey, &webDest) },
			ErrNotFound, "update real server 10.0.0.1:80 of tcp/192.0.2.1:80: no such IPVS service or destination"},
		{"real server of missing service", cmdNewDest, syscall.ESRCH,
			func(w *Writer) error { return w.CreateDestination(context.Background(), webKey, &webDest) },
			ErrNotFound, "add real server 10.0.0.1:80 to tcp/192.0.2.1:80: no such IPVS service or destination"},
		{"delete missing service", cmdDelService, syscall.ESRCH,
			func(w *Writer) error {
				return w.DeleteService(context.Background(), ServiceKey{Family: FamilyIPv6, FWMark: 7})
			},
			ErrNotFound, "delete service fwmark/7/ipv6: no such IPVS service"},
		{"service exists", cmdNewService, syscall.EEXIST,
			func(w *Writer) error {
				return w.CreateService(context.Background(), &Service{ServiceKey: webKey, Scheduler: "wlc"})
			},
			ErrExists, "create service tcp/192.0.2.1:80: the IPVS service or destination already exists"},
		{"real server exists", cmdNewDest, syscall.EEXIST,
			func(w *Writer) error { return w.CreateDestination(context.Background(), webKey, &webDest) },
			ErrExists, "already exists"},
		{"no capability", cmdDelService, syscall.EPERM,
			func(w *Writer) error { return w.DeleteService(context.Background(), webKey) },
			ErrPermission, "CAP_NET_ADMIN"},
		{"missing scheduler", cmdNewService, syscall.ENOENT,
			func(w *Writer) error {
				return w.CreateService(context.Background(), &Service{ServiceKey: webKey, Scheduler: "mh"})
			},
			syscall.ENOENT, `no IPVS scheduler "mh" (load it: modprobe ip_vs_mh)`},
		{"invalid", cmdSetDest, syscall.EINVAL,
			func(w *Writer) error { return w.UpdateDestination(context.Background(), webKey, &webDest) },
			syscall.EINVAL, "rejected the parameters as invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(nil)
			k.errs[tt.cmd] = int(tt.errno)
			w, dials := testWriter(t, k, time.Second)
			err := tt.call(w)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.want, tt.wantMsg)
			}
			if tt.want == ErrNotFound && errors.Is(err, ErrExists) {
				t.Errorf("not-found error also matches ErrExists")
			}
			// A kernel answer leaves the socket usable.
			_ = tt.call(w)
			if n := dials.Load(); n != 1 {
				t.Errorf("%d sockets after kernel errors, want 1", n)
			}
		})
	}
}

func TestWriterRejectsBeforeCallingKernel(t *testing.T) {
	k := newFakeKernel(nil)
	w, _ := testWriter(t, k, time.Second)
	ctx := context.Background()
	v6 := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name    string
		err     error
		wantMsg string
	}{
		{"no scheduler", w.CreateService(ctx, &Service{ServiceKey: webKey}), "no scheduler"},
		{"no address", w.DeleteService(ctx, ServiceKey{Family: FamilyIPv4, Protocol: TCP, Port: 80}), "neither an address nor a fwmark"},
		{"family mismatch", w.DeleteService(ctx, ServiceKey{Family: FamilyIPv6, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1")}), "does not match"},
		{"fwmark without family", w.DeleteService(ctx, ServiceKey{FWMark: 1}), "needs family"},
		{"bad protocol", w.DeleteService(ctx, ServiceKey{Protocol: 1, Address: netip.MustParseAddr("192.0.2.1")}), "protocol proto-1"},
		{"mixed family without tunnel", w.CreateDestination(ctx, webKey, &Destination{Address: v6, Forward: ForwardRoute}), "only a tunnel (forward: tun) can cross address families"},
		{"negative weight", w.UpdateDestination(ctx, webKey, &Destination{Address: netip.MustParseAddr("10.0.0.1"), Weight: -1}), "negative weight"},
		{"bad forwarding", w.UpdateDestination(ctx, webKey, &Destination{Address: netip.MustParseAddr("10.0.0.1"), Forward: 7}), "forwarding method 7"},
		{"gue without port", w.CreateDestination(ctx, webKey, &Destination{Address: netip.MustParseAddr("10.0.0.1"), Forward: ForwardTunnel, TunnelType: TunnelGUE}), "gue tunnel needs a port"},
		{"unknown tunnel", w.CreateDestination(ctx, webKey, &Destination{Address: netip.MustParseAddr("10.0.0.1"), Forward: ForwardTunnel, TunnelType: 9}), "unknown tunnel type tun-9"},
		{"no real server address", w.DeleteDestination(ctx, webKey, netip.AddrPort{}), "real server has no address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want one containing %q", tt.err, tt.wantMsg)
			}
		})
	}
	if len(k.writes) != 0 || k.getFamilies != 0 {
		t.Errorf("invalid writes reached the kernel: %d writes, %d family look-ups", len(k.writes), k.getFamilies)
	}
}

// stallWriter is a Writer whose socket never gets an answer.
func stallWriter(t *testing.T, timeout time.Duration) (*Writer, *atomic.Int32, func() *stallSocket) {
	t.Helper()
	var mu sync.Mutex
	var last *stallSocket
	var dials atomic.Int32
	w, err := NewWriter(WriterOptions{Timeout: timeout, Dial: func() (*genetlink.Conn, error) {
		dials.Add(1)
		s := newStallSocket()
		mu.Lock()
		last = s
		mu.Unlock()
		return genetlink.NewConn(netlink.NewConn(s, 1)), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, &dials, func() *stallSocket { mu.Lock(); defer mu.Unlock(); return last }
}

func TestWriterTimeoutReplacesSocket(t *testing.T) {
	w, dials, sock := stallWriter(t, 50*time.Millisecond)
	for i := range 2 {
		start := time.Now()
		if err := w.DeleteService(context.Background(), webKey); !errors.Is(err, ErrTimeout) {
			t.Fatalf("call %d: err = %v, want ErrTimeout", i, err)
		}
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("call %d returned after %v; Timeout was 50ms", i, elapsed)
		}
		if s := sock(); !s.closed {
			t.Errorf("call %d: the socket of a timed-out call was kept", i)
		}
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d sockets for 2 timed-out calls, want a fresh one each", n)
	}
}

func TestWriterContextDeadline(t *testing.T) {
	w, _, _ := stallWriter(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := w.UpdateDestination(ctx, webKey, &webDest); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("returned after %v; the deadline was 100ms", elapsed)
	}
}

func TestWriterCancel(t *testing.T) {
	w, _, sock := stallWriter(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.DeleteService(ctx, webKey) }()
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		if s := sock(); s == nil || s.sentCount() == 0 {
			return errors.New("no request sent")
		}
		return nil
	})
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still blocked 5s after cancel")
	}
}

// Concurrent calls share one socket, one after the other (run with -race
// to see that nothing they share is touched at once).
func TestWriterSerializesCalls(t *testing.T) {
	k := newFakeKernel([]Service{{ServiceKey: webKey, Scheduler: "rr", Flags: FlagHashed, Destinations: []Destination{webDest}}})
	w, dials := testWriter(t, k, 10*time.Second)
	var wg sync.WaitGroup
	const workers, each = 8, 25
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := w.UpdateDestination(context.Background(), webKey, &webDest); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d sockets, want 1 shared", n)
	}
	if n := len(k.writes); n != workers*each {
		t.Errorf("%d writes reached the kernel, want %d", n, workers*each)
	}
}

// A call waiting for another respects its own deadline.
func TestWriterWaitsWithinDeadline(t *testing.T) {
	w, _, sock := stallWriter(t, time.Hour)
	ctx1, cancel1 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel1()
	go func() { _ = w.DeleteService(ctx1, webKey) }()
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		if s := sock(); s == nil || s.sentCount() == 0 {
			return errors.New("first call did not start")
		}
		return nil
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	start := time.Now()
	if err := w.DeleteService(ctx2, webKey); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > 400*time.Millisecond {
		t.Errorf("waited %v for the other call, past its own 20ms deadline", elapsed)
	}
}

func TestWriterClosed(t *testing.T) {
	k := newFakeKernel(nil)
	w, _ := testWriter(t, k, time.Second)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteService(context.Background(), webKey); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("after Close: err = %v", err)
	}
}

// On this IPVS-less kernel the real Writer must refuse every write with
// ErrModuleNotLoaded, and must not load ip_vs.
func TestRealKernelWriterModuleNotLoaded(t *testing.T) {
	skipIfIPVS(t)
	w, err := NewWriter(WriterOptions{})
	if err != nil {
		t.Fatalf("NewWriter must not fail without ip_vs: %v", err)
	}
	defer w.Close()
	for name, err := range allWrites(context.Background(), w) {
		if !errors.Is(err, ErrModuleNotLoaded) {
			t.Errorf("%s: err = %v, want ErrModuleNotLoaded", name, err)
		}
	}
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Error("the writer loaded ip_vs")
	}
}

func TestNewWriterNetNS(t *testing.T) {
	if _, err := NewWriter(WriterOptions{NetNS: "/nonexistent/netns"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/netns") {
		t.Fatalf("err = %v, want one naming the path", err)
	}
	skipIfIPVS(t)
	skipUnlessRoot(t)
	w, err := NewWriter(WriterOptions{NetNS: nsPath(newNetNS(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.DeleteService(context.Background(), webKey); !errors.Is(err, ErrModuleNotLoaded) {
		t.Fatalf("err = %v, want ErrModuleNotLoaded", err)
	}
}
