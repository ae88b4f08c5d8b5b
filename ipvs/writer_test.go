package ipvs

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	mobyipvs "github.com/moby/ipvs"
)

// fakeHandle records what the Writer asks moby/ipvs to do.
type fakeHandle struct {
	id  int
	err error // returned by every operation
	// block, if non-nil, makes operations from the blockFrom-th on (0:
	// all) wait on it: a lost reply. They do not return on Close either,
	// the worst case for the watchdog.
	block     chan struct{}
	blockFrom int

	mu       sync.Mutex
	calls    []string
	services []mobyipvs.Service
	dests    []mobyipvs.Destination
	closed   int

	inflight, maxInflight *atomic.Int32
}

func (h *fakeHandle) record(call string, s *mobyipvs.Service, d *mobyipvs.Destination) error {
	if h.inflight != nil {
		n := h.inflight.Add(1)
		defer h.inflight.Add(-1)
		for {
			m := h.maxInflight.Load()
			if n <= m || h.maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		// Stay inside long enough for an unserialized caller to overlap.
		time.Sleep(100 * time.Microsecond)
	}
	h.mu.Lock()
	n := len(h.calls)
	h.calls = append(h.calls, call)
	if s != nil {
		h.services = append(h.services, *s)
	}
	if d != nil {
		h.dests = append(h.dests, *d)
	}
	h.mu.Unlock()
	if h.block != nil && n >= h.blockFrom {
		<-h.block
	}
	return h.err
}

func (h *fakeHandle) NewService(s *mobyipvs.Service) error { return h.record("NewService", s, nil) }
func (h *fakeHandle) UpdateService(s *mobyipvs.Service) error {
	return h.record("UpdateService", s, nil)
}
func (h *fakeHandle) DelService(s *mobyipvs.Service) error { return h.record("DelService", s, nil) }
func (h *fakeHandle) NewDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	return h.record("NewDestination", s, d)
}
func (h *fakeHandle) UpdateDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	return h.record("UpdateDestination", s, d)
}
func (h *fakeHandle) DelDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	return h.record("DelDestination", s, d)
}
func (h *fakeHandle) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed++
}

func (h *fakeHandle) snapshot() (calls []string, services []mobyipvs.Service, dests []mobyipvs.Destination, closed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...), append([]mobyipvs.Service(nil), h.services...), append([]mobyipvs.Destination(nil), h.dests...), h.closed
}

// handleFactory hands out fake handles and counts them.
type handleFactory struct {
	mu      sync.Mutex
	handles []*fakeHandle
	next    func(id int) *fakeHandle
	// openBlock, if non-nil, delays opening the first handle until closed.
	openBlock chan struct{}
}

func (f *handleFactory) open(uint16) (mobyHandle, error) {
	f.mu.Lock()
	block := f.openBlock
	f.openBlock = nil
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := &fakeHandle{id: len(f.handles)}
	if f.next != nil {
		h = f.next(len(f.handles))
	}
	f.handles = append(f.handles, h)
	return h, nil
}

func (f *handleFactory) opened() []*fakeHandle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fakeHandle(nil), f.handles...)
}

// testWriter is a Writer whose family probe runs the real resolution code
// against k, and whose moby handles come from f.
func testWriter(t *testing.T, k *fakeKernel, f *handleFactory, timeout time.Duration) *Writer {
	t.Helper()
	p := &familyProbe{dial: k.dial}
	w := newWriter(timeout, p.probe, f.open, func() uint16 { return 0 })
	w.closers = append(w.closers, p.close)
	t.Cleanup(func() { _ = w.Close() })
	return w
}

var (
	webKey  = ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80}
	webDest = Destination{Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Forward: ForwardRoute, Weight: 3, UpperThreshold: 100, LowerThreshold: 10}
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

func TestWriterModuleNotLoaded(t *testing.T) {
	k := newFakeKernel(nil)
	k.loaded = false
	f := &handleFactory{}
	w := testWriter(t, k, f, time.Second)
	for name, err := range allWrites(context.Background(), w) {
		if !errors.Is(err, ErrModuleNotLoaded) {
			t.Errorf("%s: err = %v, want ErrModuleNotLoaded", name, err)
		} else if !strings.Contains(err.Error(), "192.0.2.1:80") || !strings.Contains(err.Error(), "modprobe ip_vs") {
			t.Errorf("%s: error %q does not name the service and the fix", name, err)
		}
	}
	if n := len(f.opened()); n != 0 {
		t.Fatalf("%d moby handles opened without ip_vs, want none", n)
	}
	if k.lookupsByName != 0 {
		t.Errorf("%d family look-ups by name; on a real kernel each would load ip_vs", k.lookupsByName)
	}

	// The module appears: the same Writer now writes.
	k.set(func(k *fakeKernel) { k.loaded = true })
	if err := w.CreateService(context.Background(), &Service{ServiceKey: webKey, Scheduler: "rr"}); err != nil {
		t.Fatalf("CreateService after loading ip_vs: %v", err)
	}
	if hs := f.opened(); len(hs) != 1 {
		t.Fatalf("%d handles opened, want 1", len(hs))
	}
}

func TestWriterPermissionOnProbe(t *testing.T) {
	k := newFakeKernel(nil)
	k.getFamilyErr = int(syscall.EPERM)
	w := testWriter(t, k, &handleFactory{}, time.Second)
	if err := w.DeleteService(context.Background(), webKey); !errors.Is(err, ErrPermission) {
		t.Fatalf("err = %v, want ErrPermission", err)
	}
}

func TestWriterModuleReloaded(t *testing.T) {
	k := newFakeKernel(nil)
	f := &handleFactory{}
	p := &familyProbe{dial: k.dial}
	// moby resolved the family before the reload: 0x2a; the kernel now says 0x2b.
	w := newWriter(time.Second, p.probe, f.open, func() uint16 { return 0x2a })
	defer w.Close()
	k.set(func(k *fakeKernel) { k.familyID = 0x2b })
	err := w.DeleteService(context.Background(), webKey)
	if err == nil || !strings.Contains(err.Error(), "restart lvs-sidecar") {
		t.Fatalf("err = %v, want the reload explained", err)
	}
	if len(f.opened()) != 0 {
		t.Fatal("a moby handle was used with a stale family ID")
	}
}

func TestWriterTimeoutReplacesHandle(t *testing.T) {
	lost := make(chan struct{})
	defer close(lost)
	f := &handleFactory{next: func(id int) *fakeHandle {
		if id == 0 {
			// Answers once, then loses the reply of the second call.
			return &fakeHandle{id: id, block: lost, blockFrom: 1}
		}
		return &fakeHandle{id: id}
	}}
	w := testWriter(t, newFakeKernel(nil), f, time.Hour)
	if err := w.DeleteService(context.Background(), webKey); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.UpdateDestination(ctx, webKey, &webDest)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed > time.Second {
		t.Errorf("returned after %v; the deadline was 100ms", elapsed)
	}
	hs := f.opened()
	if len(hs) != 1 {
		t.Fatalf("%d handles, want 1", len(hs))
	}
	if _, _, _, closed := hs[0].snapshot(); closed != 1 {
		t.Errorf("the handle of the timed-out call was closed %d times, want 1", closed)
	}

	if err := w.UpdateDestination(context.Background(), webKey, &webDest); err != nil {
		t.Fatalf("next call: %v", err)
	}
	hs = f.opened()
	if len(hs) != 2 {
		t.Fatalf("%d handles after the next call, want a fresh second one", len(hs))
	}
	if calls, _, _, _ := hs[1].snapshot(); len(calls) != 1 || calls[0] != "UpdateDestination" {
		t.Errorf("fresh handle got calls %v", calls)
	}
}

// moby's New can block too (its first call resolves the family on a
// socket of its own): the deadline bounds it, and the handle it opens late
// is closed, not leaked.
func TestWriterTimeoutWhileOpening(t *testing.T) {
	opening := make(chan struct{})
	f := &handleFactory{openBlock: opening}
	w := testWriter(t, newFakeKernel(nil), f, 50*time.Millisecond)
	start := time.Now()
	if err := w.DeleteService(context.Background(), webKey); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("returned after %v; Timeout was 50ms", elapsed)
	}
	close(opening)
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		if hs := f.opened(); len(hs) == 1 {
			calls, _, _, closed := hs[0].snapshot()
			if len(calls) != 0 {
				t.Fatalf("the abandoned call still ran: %v", calls)
			}
			if closed == 1 {
				return nil
			}
		}
		return errors.New("the late handle was not closed")
	})
}

func TestWriterDefaultTimeout(t *testing.T) {
	lost := make(chan struct{})
	defer close(lost)
	f := &handleFactory{next: func(id int) *fakeHandle { return &fakeHandle{id: id, block: lost} }}
	w := testWriter(t, newFakeKernel(nil), f, 50*time.Millisecond)
	start := time.Now()
	if err := w.DeleteService(context.Background(), webKey); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("returned after %v; Timeout was 50ms", elapsed)
	}
	// The handle opened for this very call is closed too.
	if _, _, _, closed := f.opened()[0].snapshot(); closed != 1 {
		t.Errorf("handle closed %d times, want 1", closed)
	}
}

func TestWriterCancel(t *testing.T) {
	lost := make(chan struct{})
	defer close(lost)
	f := &handleFactory{next: func(id int) *fakeHandle { return &fakeHandle{id: id, block: lost} }}
	w := testWriter(t, newFakeKernel(nil), f, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.DeleteService(ctx, webKey) }()
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		if hs := f.opened(); len(hs) == 1 {
			if calls, _, _, _ := hs[0].snapshot(); len(calls) == 1 {
				return nil
			}
		}
		return errors.New("the call did not reach the handle")
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

func TestWriterSerializesCalls(t *testing.T) {
	var inflight, maxInflight atomic.Int32
	f := &handleFactory{next: func(id int) *fakeHandle {
		return &fakeHandle{id: id, inflight: &inflight, maxInflight: &maxInflight}
	}}
	w := testWriter(t, newFakeKernel(nil), f, 10*time.Second)
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
	if m := maxInflight.Load(); m != 1 {
		t.Errorf("%d calls ran on the handle at once, want 1", m)
	}
	hs := f.opened()
	if len(hs) != 1 {
		t.Fatalf("%d handles, want 1 shared", len(hs))
	}
	if calls, _, _, _ := hs[0].snapshot(); len(calls) != workers*each {
		t.Errorf("%d calls reached the handle, want %d", len(calls), workers*each)
	}
}

func TestWriterKernelErrors(t *testing.T) {
	tests := []struct {
		name    string
		errno   syscall.Errno
		call    func(w *Writer) error
		want    error
		wantMsg string
	}{
		{"update missing real server", syscall.ENOENT,
			func(w *Writer) error { return w.UpdateDestination(context.Background(), webKey, &webDest) },
			ErrNotFound, "update real server 10.0.0.1:80 of tcp/192.0.2.1:80: no such IPVS service or destination"},
		{"real server of missing service", syscall.ESRCH,
			func(w *Writer) error { return w.CreateDestination(context.Background(), webKey, &webDest) },
			ErrNotFound, "add real server 10.0.0.1:80 to tcp/192.0.2.1:80: no such IPVS service or destination"},
		{"delete missing service", syscall.ESRCH,
			func(w *Writer) error {
				return w.DeleteService(context.Background(), ServiceKey{Family: FamilyIPv6, FWMark: 7})
			},
			ErrNotFound, "delete service fwmark/7/ipv6: no such IPVS service"},
		{"service exists", syscall.EEXIST,
			func(w *Writer) error {
				return w.CreateService(context.Background(), &Service{ServiceKey: webKey, Scheduler: "wlc"})
			},
			ErrExists, "create service tcp/192.0.2.1:80: the IPVS service or destination already exists"},
		{"real server exists", syscall.EEXIST,
			func(w *Writer) error { return w.CreateDestination(context.Background(), webKey, &webDest) },
			ErrExists, "already exists"},
		{"no capability", syscall.EPERM,
			func(w *Writer) error { return w.DeleteService(context.Background(), webKey) },
			ErrPermission, "CAP_NET_ADMIN"},
		{"missing scheduler", syscall.ENOENT,
			func(w *Writer) error {
				return w.CreateService(context.Background(), &Service{ServiceKey: webKey, Scheduler: "mh"})
			},
			syscall.ENOENT, `no IPVS scheduler "mh" (load it: modprobe ip_vs_mh)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &handleFactory{next: func(id int) *fakeHandle { return &fakeHandle{id: id, err: tt.errno} }}
			w := testWriter(t, newFakeKernel(nil), f, time.Second)
			err := tt.call(w)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.want, tt.wantMsg)
			}
			if tt.want == ErrNotFound && errors.Is(err, ErrExists) {
				t.Errorf("not-found error also matches ErrExists")
			}
			// A kernel answer leaves the handle usable.
			_ = tt.call(w)
			if n := len(f.opened()); n != 1 {
				t.Errorf("%d handles after kernel errors, want 1", n)
			}
		})
	}
}

func TestWriterNonKernelErrorReplacesHandle(t *testing.T) {
	f := &handleFactory{next: func(id int) *fakeHandle {
		return &fakeHandle{id: id, err: errors.New("Socket got closed on receive")}
	}}
	w := testWriter(t, newFakeKernel(nil), f, time.Second)
	for range 2 {
		if err := w.DeleteService(context.Background(), webKey); err == nil {
			t.Fatal("error swallowed")
		}
	}
	hs := f.opened()
	if len(hs) != 2 {
		t.Fatalf("%d handles, want a new one after a broken exchange", len(hs))
	}
	if _, _, _, closed := hs[0].snapshot(); closed != 1 {
		t.Errorf("broken handle closed %d times, want 1", closed)
	}
}

func TestWriterConvertsForMoby(t *testing.T) {
	f := &handleFactory{}
	w := testWriter(t, newFakeKernel(nil), f, time.Second)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.CreateService(ctx, &Service{ServiceKey: webKey, Scheduler: "wlc", Flags: FlagPersistent | FlagHashed, Timeout: 300, Netmask: 0x00ffffff,
		Destinations: []Destination{webDest}}))
	must(w.CreateService(ctx, &Service{ServiceKey: ServiceKey{Family: FamilyIPv6, FWMark: 42}, Scheduler: "sh", Flags: FlagPersistent, Timeout: 60}))
	must(w.UpdateService(ctx, &Service{ServiceKey: ServiceKey{Family: FamilyIPv6, Protocol: UDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53}, Scheduler: "rr", PEName: "sip"}))
	must(w.UpdateDestination(ctx, ServiceKey{Family: FamilyIPv4, FWMark: 42}, &Destination{Address: netip.MustParseAddr("::ffff:10.0.0.9"), Forward: ForwardTunnel, Weight: 0}))
	must(w.DeleteDestination(ctx, webKey, netip.MustParseAddrPort("10.0.0.1:8080")))

	calls, svcs, dests, _ := f.opened()[0].snapshot()
	wantCalls := []string{"NewService", "NewService", "UpdateService", "UpdateDestination", "DelDestination"}
	if strings.Join(calls, ",") != strings.Join(wantCalls, ",") {
		t.Fatalf("calls %v, want %v", calls, wantCalls)
	}
	web := svcs[0]
	if len(web.Address) != 4 || !web.Address.Equal(net.IPv4(192, 0, 2, 1)) || web.Port != 80 || web.Protocol != 6 || web.AddressFamily != FamilyIPv4 {
		t.Errorf("service identity %+v", web)
	}
	if web.SchedName != "wlc" || web.Flags != FlagPersistent || web.Timeout != 300 || web.Netmask != 0x00ffffff {
		t.Errorf("service options %+v (HASHED must be stripped)", web)
	}
	mark := svcs[1]
	if mark.FWMark != 42 || mark.AddressFamily != FamilyIPv6 || mark.Address != nil || mark.Protocol != 0 || mark.Netmask != 128 {
		t.Errorf("fwmark service %+v; want family+mark only, default IPv6 netmask 128", mark)
	}
	dns := svcs[2]
	if len(dns.Address) != 16 || dns.PEName != "sip" || dns.Protocol != uint16(UDP) || dns.Port != 53 {
		t.Errorf("IPv6 service %+v", dns)
	}
	if dns.Netmask != 128 {
		t.Errorf("IPv6 default netmask %d, want 128", dns.Netmask)
	}
	tun := dests[0]
	if len(tun.Address) != 4 || tun.ConnectionFlags != uint32(ForwardTunnel) || tun.Weight != 0 || tun.AddressFamily != FamilyIPv4 {
		t.Errorf("4-in-6 real server not sent as plain IPv4: %+v", tun)
	}
	if svcs[3].FWMark != 42 || svcs[3].AddressFamily != FamilyIPv4 {
		t.Errorf("destination's service %+v", svcs[3])
	}
	del := dests[1]
	if !del.Address.Equal(net.IPv4(10, 0, 0, 1)) || del.Port != 8080 {
		t.Errorf("deleted real server %+v", del)
	}
}

func TestWriterRejectsBeforeCallingKernel(t *testing.T) {
	f := &handleFactory{}
	w := testWriter(t, newFakeKernel(nil), f, time.Second)
	ctx := context.Background()
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
		{"mixed family", w.CreateDestination(ctx, webKey, &Destination{Address: netip.MustParseAddr("2001:db8::1")}), "mixed families"},
		{"negative weight", w.UpdateDestination(ctx, webKey, &Destination{Address: netip.MustParseAddr("10.0.0.1"), Weight: -1}), "negative weight"},
		{"bad forwarding", w.UpdateDestination(ctx, webKey, &Destination{Address: netip.MustParseAddr("10.0.0.1"), Forward: 7}), "forwarding method 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want one containing %q", tt.err, tt.wantMsg)
			}
		})
	}
	if len(f.opened()) != 0 {
		t.Error("invalid writes reached moby")
	}
}

func TestWriterClosed(t *testing.T) {
	f := &handleFactory{}
	w := testWriter(t, newFakeKernel(nil), f, time.Second)
	if err := w.DeleteService(context.Background(), webKey); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, closed := f.opened()[0].snapshot(); closed != 1 {
		t.Errorf("handle closed %d times by Close, want 1", closed)
	}
	if err := w.DeleteService(context.Background(), webKey); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("after Close: err = %v", err)
	}
}

// On this IPVS-less kernel the real Writer must refuse every write, and
// must not even start moby/ipvs (which would run modprobe and then report
// success for writes that went nowhere).
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
	if mobyFamily() != 0 {
		t.Error("moby/ipvs was started although ip_vs is not loaded")
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
