package simtable

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// seedTable is a web service with two real servers and an empty UDP one.
func seedTable() []ipvs.Service {
	return []ipvs.Service{
		{ServiceKey: webKey, Scheduler: "wrr", Destinations: []ipvs.Destination{
			destAt(rs1, ipvs.ForwardMasq, 1), destAt(rs2, ipvs.ForwardRoute, 2),
		}},
		{ServiceKey: dnsKey, Scheduler: "rr"},
	}
}

// write is one write of the tests, with what the kernel answers to it
// (0: the write succeeds, or ipvs.Writer refuses it before sending).
type write struct {
	name  string
	errno syscall.Errno
	do    func(ctx context.Context, w actuatorWriter) error
	// want is the sentinel or errno the error matches (nil: success),
	// msg its exact text.
	want error
	msg  string
}

// actuatorWriter is what the controller writes through
// (actuator.TableWriter), and DeleteService.
type actuatorWriter interface {
	CreateService(ctx context.Context, s *ipvs.Service) error
	UpdateService(ctx context.Context, s *ipvs.Service) error
	DeleteService(ctx context.Context, k ipvs.ServiceKey) error
	CreateDestination(ctx context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error
	UpdateDestination(ctx context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error
	DeleteDestination(ctx context.Context, k ipvs.ServiceKey, server netip.AddrPort) error
}

// writes are the writes refused on seedTable, each as the kernel (and so
// ipvs.Writer) refuses it.
func writes() []write {
	missing := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.9"), Port: 443}
	v6 := ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Address: netip.MustParseAddr("2001:db8::1"), Port: 80}
	d1 := destAt(rs1, ipvs.ForwardMasq, 5)
	d3 := destAt(rs3, ipvs.ForwardMasq, 1)
	return []write{
		{"create existing service", syscall.EEXIST,
			func(ctx context.Context, w actuatorWriter) error {
				return w.CreateService(ctx, &ipvs.Service{ServiceKey: webKey, Scheduler: "rr"})
			},
			ipvs.ErrExists, "create service tcp/192.0.2.1:80: the IPVS service or destination already exists"},
		{"update missing service", syscall.ESRCH,
			func(ctx context.Context, w actuatorWriter) error {
				return w.UpdateService(ctx, &ipvs.Service{ServiceKey: missing, Scheduler: "rr"})
			},
			ipvs.ErrNotFound, "update service tcp/192.0.2.9:443: no such IPVS service or destination"},
		{"delete missing service", syscall.ESRCH,
			func(ctx context.Context, w actuatorWriter) error { return w.DeleteService(ctx, missing) },
			ipvs.ErrNotFound, "delete service tcp/192.0.2.9:443: no such IPVS service or destination"},
		{"unknown scheduler", syscall.ENOENT,
			func(ctx context.Context, w actuatorWriter) error {
				return w.CreateService(ctx, &ipvs.Service{ServiceKey: missing, Scheduler: "fastest"})
			},
			syscall.ENOENT, `create service tcp/192.0.2.9:443: the kernel has no IPVS scheduler "fastest" (load it: modprobe ip_vs_fastest): no such file or directory`},
		{"unknown persistence engine", syscall.ENOENT,
			func(ctx context.Context, w actuatorWriter) error {
				return w.UpdateService(ctx, &ipvs.Service{ServiceKey: webKey, Scheduler: "rr", PEName: "rtsp"})
			},
			syscall.ENOENT, `update service tcp/192.0.2.1:80: the kernel has no IPVS scheduler "rr" or persistence engine "rtsp" (load them: modprobe ip_vs_rr ip_vs_pe_rtsp): no such file or directory`},
		{"IPv6 netmask", syscall.EINVAL,
			func(ctx context.Context, w actuatorWriter) error {
				return w.CreateService(ctx, &ipvs.Service{ServiceKey: v6, Scheduler: "rr", Flags: ipvs.FlagPersistent, Netmask: 129})
			},
			syscall.EINVAL, "create service tcp/[2001:db8::1]:80: the kernel rejected the parameters as invalid: invalid argument"},
		{"real server of missing service", syscall.ESRCH,
			func(ctx context.Context, w actuatorWriter) error { return w.CreateDestination(ctx, missing, &d3) },
			ipvs.ErrNotFound, "add real server 10.0.0.3:80 to tcp/192.0.2.9:443: no such IPVS service or destination"},
		{"create existing real server", syscall.EEXIST,
			func(ctx context.Context, w actuatorWriter) error { return w.CreateDestination(ctx, webKey, &d1) },
			ipvs.ErrExists, "add real server 10.0.0.1:80 to tcp/192.0.2.1:80: the IPVS service or destination already exists"},
		{"update missing real server", syscall.ENOENT,
			func(ctx context.Context, w actuatorWriter) error { return w.UpdateDestination(ctx, webKey, &d3) },
			ipvs.ErrNotFound, "update real server 10.0.0.3:80 of tcp/192.0.2.1:80: no such IPVS service or destination"},
		{"update real server of missing service", syscall.ESRCH,
			func(ctx context.Context, w actuatorWriter) error { return w.UpdateDestination(ctx, missing, &d1) },
			ipvs.ErrNotFound, "update real server 10.0.0.1:80 of tcp/192.0.2.9:443: no such IPVS service or destination"},
		{"delete missing real server", syscall.ENOENT,
			func(ctx context.Context, w actuatorWriter) error { return w.DeleteDestination(ctx, webKey, rs3) },
			ipvs.ErrNotFound, "delete real server 10.0.0.3:80 from tcp/192.0.2.1:80: no such IPVS service or destination"},
		{"lower threshold above upper", syscall.ERANGE,
			func(ctx context.Context, w actuatorWriter) error {
				d := d1
				d.UpperThreshold, d.LowerThreshold = 10, 20
				return w.UpdateDestination(ctx, webKey, &d)
			},
			syscall.ERANGE, "update real server 10.0.0.1:80 of tcp/192.0.2.1:80: a weight or threshold is out of range: numerical result out of range"},
		// Refused before anything is sent.
		{"no scheduler", 0,
			func(ctx context.Context, w actuatorWriter) error {
				return w.CreateService(ctx, &ipvs.Service{ServiceKey: missing})
			},
			nil, "create service tcp/192.0.2.9:443: no scheduler given (rr, wrr, wlc, ...)"},
		{"service without address", 0,
			func(ctx context.Context, w actuatorWriter) error {
				return w.DeleteService(ctx, ipvs.ServiceKey{Protocol: ipvs.TCP, Port: 80})
			},
			nil, "delete service tcp/invalid AddrPort: service has neither an address nor a fwmark"},
		{"negative weight", 0,
			func(ctx context.Context, w actuatorWriter) error {
				d := d1
				d.Weight = -1
				return w.UpdateDestination(ctx, webKey, &d)
			},
			nil, "update real server 10.0.0.1:80 of tcp/192.0.2.1:80: negative weight -1"},
		{"mixed family without tunnel", 0,
			func(ctx context.Context, w actuatorWriter) error {
				d := destAt(netip.MustParseAddrPort("[2001:db8::5]:80"), ipvs.ForwardRoute, 1)
				return w.CreateDestination(ctx, webKey, &d)
			},
			nil, "add real server [2001:db8::5]:80 to tcp/192.0.2.1:80: real server 2001:db8::5 is ipv6 but the service is ipv4: only a tunnel (forward: tun) can cross address families"},
		{"gue without port", 0,
			func(ctx context.Context, w actuatorWriter) error {
				d := destAt(rs3, ipvs.ForwardTunnel, 1)
				d.TunnelType = ipvs.TunnelGUE
				return w.CreateDestination(ctx, webKey, &d)
			},
			nil, "add real server 10.0.0.3:80 to tcp/192.0.2.1:80: a gue tunnel needs a port"},
		{"real server without address", 0,
			func(ctx context.Context, w actuatorWriter) error {
				return w.DeleteDestination(ctx, webKey, netip.AddrPort{})
			},
			nil, "delete real server invalid AddrPort from tcp/192.0.2.1:80: real server has no address"},
	}
}

// TestWritesRefused: each refused write fails with the kernel's error,
// the sentinel callers branch on included, and changes nothing.
func TestWritesRefused(t *testing.T) {
	for _, w := range writes() {
		t.Run(w.name, func(t *testing.T) {
			tab := newTable(t, seedTable(), 0, nil)
			before := snapshot(t, tab)
			err := w.do(context.Background(), tab)
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != w.msg {
				t.Errorf("error\n got: %s\nwant: %s", err, w.msg)
			}
			if w.want != nil && !errors.Is(err, w.want) {
				t.Errorf("%v does not match %v", err, w.want)
			}
			for _, other := range []error{ipvs.ErrExists, ipvs.ErrNotFound} {
				if other != w.want && errors.Is(err, other) {
					t.Errorf("%v matches %v too", err, other)
				}
			}
			if after := snapshot(t, tab); !reflect.DeepEqual(before, after) {
				t.Errorf("a refused write changed the table:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// TestWritesAsWriter: ipvs.Writer, its kernel answering as the kernel
// does to each write, fails with the table's error, word for word but for
// the "netlink receive" of the socket the table does not have; the writes
// the writer refuses before sending never reach its kernel.
func TestWritesAsWriter(t *testing.T) {
	for _, w := range writes() {
		t.Run(w.name, func(t *testing.T) {
			tab := newTable(t, seedTable(), 0, nil)
			kw, calls := kernelWriter(t, w.errno)
			got, want := w.do(context.Background(), tab), w.do(context.Background(), kw)
			if got == nil || want == nil || got.Error() != strings.Replace(want.Error(), "netlink receive: ", "", 1) {
				t.Errorf("the table says\n  %v\nipvs.Writer says\n  %v", got, want)
			}
			if w.errno == 0 && *calls != 0 {
				t.Errorf("ipvs.Writer sent a write it should refuse itself")
			}
		})
	}
}

// TestWritesApplied: each write does to the table what it does to the
// kernel's.
func TestWritesApplied(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	tab := newTable(t, seedTable(), 100, c)
	c.add(10 * time.Second)
	_, old := find(snapshot(t, tab), webKey, rs1)

	// An update keeps the counters, and changes every attribute.
	d := destAt(rs1, ipvs.ForwardTunnel, 0)
	d.TunnelType, d.TunnelPort, d.TunnelFlags, d.UpperThreshold, d.LowerThreshold = ipvs.TunnelGUE, 6080, ipvs.TunnelChecksum, 100, 10
	if err := tab.UpdateDestination(ctx, webKey, &d); err != nil {
		t.Fatal(err)
	}
	svc := &ipvs.Service{ServiceKey: webKey, Scheduler: "sh", Flags: ipvs.FlagPersistent | ipvs.FlagSched1, Timeout: 60, PEName: "sip"}
	if err := tab.UpdateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	s, got := find(snapshot(t, tab), webKey, rs1)
	if got.Stats != old.Stats || got.ActiveConns != old.ActiveConns || got.Weight != 0 || got.Forward != ipvs.ForwardTunnel ||
		got.TunnelType != ipvs.TunnelGUE || got.TunnelPort != 6080 || got.TunnelFlags != ipvs.TunnelChecksum ||
		got.UpperThreshold != 100 || got.LowerThreshold != 10 || got.Family != ipvs.FamilyIPv4 {
		t.Errorf("after the update: %+v (before %+v)", got, old)
	}
	if s.Scheduler != "sh" || s.Flags != ipvs.FlagHashed|ipvs.FlagPersistent|ipvs.FlagSched1 || s.Timeout != 60 || s.PEName != "sip" ||
		s.Netmask != 0xffffffff || len(s.Destinations) != 2 || s.Stats.Connections == 0 {
		t.Errorf("after the service update: %+v", s)
	}

	// Delete and re-add: the real server starts over, its service keeps
	// what it counted.
	if err := tab.DeleteDestination(ctx, webKey, rs1); err != nil {
		t.Fatal(err)
	}
	s, gone := find(snapshot(t, tab), webKey, rs1)
	if gone != nil || len(s.Destinations) != 1 {
		t.Fatalf("deleted real server still there: %+v", s)
	}
	if err := tab.CreateDestination(ctx, webKey, &d); err != nil {
		t.Fatal(err)
	}
	s2, back := find(snapshot(t, tab), webKey, rs1)
	if back == nil || back.Stats != (ipvs.Stats{}) || back.ActiveConns != 0 || s2.Stats.Connections < s.Stats.Connections {
		t.Errorf("re-added real server: %+v; service %+v, before %+v", back, s2.Stats, s.Stats)
	}

	// A new fwmark service of IPv6, keyed as the kernel keys it.
	mark := ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 7, Protocol: ipvs.TCP, Port: 99}
	if err := tab.CreateService(ctx, &ipvs.Service{ServiceKey: mark, Scheduler: "wlc"}); err != nil {
		t.Fatal(err)
	}
	s, _ = find(snapshot(t, tab), ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 7}, netip.AddrPort{})
	if s == nil || s.Netmask != 128 || s.Flags != ipvs.FlagHashed {
		t.Errorf("fwmark service: %+v", s)
	}
	if err := tab.DeleteService(ctx, mark); err != nil {
		t.Fatal(err)
	}
	if n := len(snapshot(t, tab).Services); n != 2 {
		t.Errorf("%d services after the delete, want 2", n)
	}
}

// TestContextEnded: a write or read with an ended context fails, and the
// write changes nothing.
func TestContextEnded(t *testing.T) {
	tab := newTable(t, seedTable(), 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := destAt(rs1, ipvs.ForwardMasq, 0)
	if err := tab.UpdateDestination(ctx, webKey, &d); !errors.Is(err, context.Canceled) {
		t.Errorf("write: %v, want context.Canceled", err)
	}
	if _, err := tab.Snapshot(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("read: %v, want context.Canceled", err)
	}
	if _, got := find(snapshot(t, tab), webKey, rs1); got.Weight != 1 {
		t.Errorf("a canceled write changed the weight to %d", got.Weight)
	}
}

// TestSnapshotDeepCopy: what a caller does to a snapshot changes neither
// the table nor another snapshot.
func TestSnapshotDeepCopy(t *testing.T) {
	tab := newTable(t, seedTable(), 0, nil)
	a, b := snapshot(t, tab), snapshot(t, tab)
	want := snapshot(t, tab)
	a.Services[0].Destinations[0].Weight = 99
	a.Services[0].Destinations = append(a.Services[0].Destinations[:0], ipvs.Destination{})
	a.Services[1].Scheduler = "changed"
	a.Services = a.Services[:1]
	a.Totals.Connections, a.Info.Version, a.Timeouts.TCP = 1, 1, 1
	if c := snapshot(t, tab); !reflect.DeepEqual(c, want) {
		t.Errorf("changing a snapshot changed the table:\n%+v\nwant %+v", c, want)
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("changing a snapshot changed another:\n%+v\nwant %+v", b, want)
	}
}

// TestConcurrent: reads and writes from many goroutines at once (run
// with -race), the counters staying consistent.
func TestConcurrent(t *testing.T) {
	tab := newTable(t, seedTable(), 1000, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				switch (g + i) % 4 {
				case 0:
					d := destAt(rs1, ipvs.ForwardMasq, int32(i%3))
					if err := tab.UpdateDestination(ctx, webKey, &d); err != nil {
						t.Error(err)
						return
					}
				case 1:
					d := destAt(rs3, ipvs.ForwardMasq, 1)
					err := tab.CreateDestination(ctx, webKey, &d)
					if err == nil {
						err = tab.DeleteDestination(ctx, webKey, rs3)
					}
					if err != nil && !errors.Is(err, ipvs.ErrExists) && !errors.Is(err, ipvs.ErrNotFound) {
						t.Error(err)
						return
					}
				default:
					snap, err := tab.Snapshot(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					// The caller owns what it got.
					snap.Services[0].Destinations[0].Weight = -5
				}
			}
		}()
	}
	wg.Wait()
	snap := snapshot(t, tab)
	var sum uint64
	for _, s := range snap.Services {
		sum += s.Stats.Connections
	}
	if snap.Totals.Connections != sum {
		t.Errorf("host-wide connections %d, services' sum %d", snap.Totals.Connections, sum)
	}
	if _, d := find(snap, webKey, rs1); d.Weight < 0 {
		t.Errorf("a caller's change reached the table: weight %d", d.Weight)
	}
}

// TestSeed: a seed's services and real servers are in the table as
// created, with the seed's counters; a seed the kernel would refuse is an
// error naming the write.
func TestSeed(t *testing.T) {
	seed := seedTable()
	seed[0].Stats = ipvs.Stats{Connections: 500, BytesIn: 1 << 40}
	seed[0].Destinations[0].Stats = ipvs.Stats{Connections: 300}
	seed[0].Destinations[0].ActiveConns, seed[0].Destinations[0].InactiveConns = 7, 70
	seed[0].Flags = ipvs.FlagHashed // as a snapshot has it: not an error
	snap := snapshot(t, newTable(t, seed, 0, nil))
	if len(snap.Services) != 2 || len(snap.Services[0].Destinations) != 2 || len(snap.Services[1].Destinations) != 0 {
		t.Fatalf("seeded table: %+v", snap.Services)
	}
	s, d := find(snap, webKey, rs1)
	if s.Stats != seed[0].Stats || d.Stats.Connections != 300 || d.ActiveConns != 7 || d.InactiveConns != 70 || d.Family != ipvs.FamilyIPv4 {
		t.Errorf("seeded counters: service %+v, real server %+v", s.Stats, d)
	}
	if *snap.Totals != seed[0].Stats {
		t.Errorf("host-wide counters %+v, want the seed's %+v", *snap.Totals, seed[0].Stats)
	}

	for _, tc := range []struct {
		name string
		seed []ipvs.Service
		want string
	}{
		{"service twice", append(seedTable(), ipvs.Service{ServiceKey: webKey, Scheduler: "rr"}),
			"seed: create service tcp/192.0.2.1:80: the IPVS service or destination already exists"},
		{"real server twice", []ipvs.Service{{ServiceKey: webKey, Scheduler: "rr", Destinations: []ipvs.Destination{destAt(rs1, ipvs.ForwardMasq, 1), destAt(rs1, ipvs.ForwardRoute, 2)}}},
			"seed: add real server 10.0.0.1:80 to tcp/192.0.2.1:80: the IPVS service or destination already exists"},
		{"no scheduler", []ipvs.Service{{ServiceKey: webKey}}, "seed: create service tcp/192.0.2.1:80: no scheduler given (rr, wrr, wlc, ...)"},
	} {
		if _, err := New(tc.seed, Options{}); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if _, err := New(nil, Options{Rate: -1}); err == nil {
		t.Error("a negative rate is accepted")
	}
}

// TestSeedFromIpvsadm: every dump config.ParseIpvsadm reads seeds a table
// that holds it as the kernel would after ipvsadm-restore.
func TestSeedFromIpvsadm(t *testing.T) {
	f, err := os.Open("../../config/testdata/ipvsadm/save.rules")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seed, err := config.ParseIpvsadm(f, "save.rules")
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, newTable(t, seed, 0, nil))
	if len(snap.Services) != len(seed) || len(seed) == 0 {
		t.Fatalf("%d services, the dump has %d", len(snap.Services), len(seed))
	}
	for i, s := range snap.Services {
		want := seed[i]
		if s.ServiceKey != want.ServiceKey || s.Scheduler != want.Scheduler || s.Flags != want.Flags|ipvs.FlagHashed || s.Timeout != want.Timeout {
			t.Errorf("service %d: %+v, want %+v", i, s, want)
		}
		if want.Persistent() && s.Netmask != want.Netmask {
			t.Errorf("%s: netmask %#x, want %#x", s.ServiceKey, s.Netmask, want.Netmask)
		}
		if !reflect.DeepEqual(s.Destinations, want.Destinations) {
			t.Errorf("%s real servers:\n%+v\nwant %+v", s.ServiceKey, s.Destinations, want.Destinations)
		}
	}
}
