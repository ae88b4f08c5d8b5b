//go:build e2e

package ipvs

// Real-kernel tests of the reader and the writer, for the lab VM (a kernel
// with IPVS, run as root). Each works in a network namespace of its own. Run:
//
//	CGO_ENABLED=0 go test -c -tags e2e -o /tmp/ipvs.test ./ipvs
//	lab/run -f /tmp/ipvs.test ipvs/testdata/lab.sh
//
// They load ip_vs themselves: tests may run modprobe, production code never.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"golang.org/x/sys/unix"
)

func loadIPVS(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("modprobe", "ip_vs").CombinedOutput(); err != nil {
		t.Fatalf("modprobe ip_vs: %v: %s", err, out)
	}
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Fatalf("ip_vs loaded but %v", err)
	}
}

// Unloading ip_vs and loading it again gives the family a new ID. The
// reader and the writer follow without a restart: the kernel answers
// ENOENT to the old ID, and the writer resolves the family again and sends
// the write again. Run it in a process of its own (testdata/lab.sh does):
// it unloads ip_vs.
func TestLabModuleReload(t *testing.T) {
	loadIPVS(t)
	ctx := context.Background()
	r, err := NewReader(ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	absent := ServiceKey{Family: FamilyIPv4, FWMark: 4242}
	if err := w.DeleteService(ctx, absent); !errors.Is(err, ErrNotFound) {
		t.Fatalf("write before the reload: err = %v, want ErrNotFound", err)
	}

	// Every scheduler module holds ip_vs; they go first.
	mods := []string{"ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_sed", "ip_vs_nq", "ip_vs_dh", "ip_vs_lblc", "ip_vs_lblcr", "ip_vs_mh", "ip_vs_fo", "ip_vs_ovf", "ip_vs_ftp", "ip_vs"}
	for _, m := range mods {
		_ = exec.Command("rmmod", m).Run()
	}
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("cannot unload ip_vs here (services still hold it)")
	}
	if _, err := r.Snapshot(ctx); !errors.Is(err, ErrModuleNotLoaded) {
		t.Fatalf("read after rmmod: err = %v, want ErrModuleNotLoaded", err)
	}
	if err := w.DeleteService(ctx, absent); !errors.Is(err, ErrModuleNotLoaded) {
		t.Fatalf("write after rmmod: err = %v, want ErrModuleNotLoaded", err)
	}

	loadIPVS(t)
	if _, err := r.Snapshot(ctx); err != nil {
		t.Fatalf("read after modprobe, same reader: %v", err)
	}
	if err := w.DeleteService(ctx, absent); !errors.Is(err, ErrNotFound) {
		t.Fatalf("write after the reload, same writer: err = %v, want ErrNotFound (the kernel's answer)", err)
	}
	// And once more with the ID cached before a second reload.
	for _, m := range mods {
		_ = exec.Command("rmmod", m).Run()
	}
	loadIPVS(t)
	svc := Service{ServiceKey: ServiceKey{Family: FamilyIPv4, FWMark: 4242}, Scheduler: "rr"}
	if err := w.CreateService(ctx, &svc); err != nil {
		t.Fatalf("create after a second reload the writer had not seen: %v", err)
	}
	defer w.DeleteService(ctx, svc.ServiceKey)
	snap, err := r.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Services) != 1 || snap.Services[0].FWMark != 4242 {
		t.Fatalf("after the write: %+v", snap.Services)
	}
}

// labTable is what TestLabWriteThenRead writes; kernel-owned fields
// (HASHED, counters) are left out.
func labTable() []Service {
	return []Service{
		{
			ServiceKey: ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80},
			Scheduler:  "wlc",
			Netmask:    0xffffffff,
			Destinations: []Destination{
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.10"), Port: 8080, Forward: ForwardMasq, Weight: 3, UpperThreshold: 1000, LowerThreshold: 10},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.11"), Port: 80, Forward: ForwardRoute, Weight: 0},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.12"), Port: 80, Forward: ForwardTunnel, Weight: 1,
					TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelChecksum},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.13"), Port: 80, Forward: ForwardTunnel, Weight: 1,
					TunnelType: TunnelGRE, TunnelFlags: TunnelChecksum},
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.14"), Port: 80, Forward: ForwardTunnel, Weight: 1,
					TunnelType: TunnelGUE, TunnelPort: 5555, TunnelFlags: TunnelRemoteChecksum},
				// A cross-family tunnel: IPv6 real server of an IPv4 service.
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8:5::1"), Port: 80, Forward: ForwardTunnel, Weight: 4},
			},
		},
		{
			ServiceKey: ServiceKey{Family: FamilyIPv6, Protocol: UDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53},
			Scheduler:  "rr",
			Flags:      FlagOnePacket,
			Netmask:    128,
			Destinations: []Destination{
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::53"), Port: 5353, Forward: ForwardMasq, Weight: 100},
			},
		},
		{
			ServiceKey: ServiceKey{Family: FamilyIPv4, Protocol: SCTP, Address: netip.MustParseAddr("192.0.2.2"), Port: 3868},
			Scheduler:  "sh",
			Netmask:    0xffffffff,
			Destinations: []Destination{
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.20"), Port: 3868, Forward: ForwardRoute, Weight: 1},
			},
		},
		{
			ServiceKey: ServiceKey{Family: FamilyIPv4, FWMark: 42},
			Scheduler:  "wrr",
			Flags:      FlagPersistent,
			Timeout:    300,
			Netmask:    0x00ffffff, // 255.255.255.0
			Destinations: []Destination{
				{Family: FamilyIPv4, Address: netip.MustParseAddr("198.51.100.30"), Forward: ForwardRoute, Weight: 5},
			},
		},
		{
			ServiceKey: ServiceKey{Family: FamilyIPv6, FWMark: 42},
			Scheduler:  "lc",
			Flags:      FlagPersistent,
			Timeout:    60,
			Netmask:    64,
			Destinations: []Destination{
				{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::30"), Forward: ForwardRoute, Weight: 5},
			},
		},
	}
}

// normalize drops what the kernel owns, and orders services and
// destinations by name, so that tables compare.
func normalize(services []Service) map[string]Service {
	m := map[string]Service{}
	for _, s := range services {
		s.Flags &^= FlagHashed
		s.Stats = Stats{}
		dests := append([]Destination(nil), s.Destinations...)
		for i := range dests {
			dests[i].Stats = Stats{}
			dests[i].ActiveConns, dests[i].InactiveConns, dests[i].PersistConns = 0, 0, 0
		}
		sortDests(dests)
		s.Destinations = dests
		m[s.String()] = s
	}
	return m
}

func sortDests(d []Destination) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j].Server() < d[j-1].Server(); j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// routedNetNS makes a namespace in which the lab table's real servers are
// routable: the kernel refuses a real server whose address is not unicast
// there ("address not unicast"), and a fresh namespace has no routes.
func routedNetNS(t *testing.T) string {
	t.Helper()
	ns := newNetNS(t)
	path := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd())
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "route", "add", "198.51.100.0/24", "dev", "lo"},
		{"ip", "-6", "route", "add", "2001:db8:5::/64", "dev", "lo"},
	} {
		cmd := exec.Command("nsenter", append([]string{"--net=" + path}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", cmd.Args, err, out)
		}
	}
	return nsPath(ns)
}

func TestLabWriteThenRead(t *testing.T) {
	loadIPVS(t)
	path := routedNetNS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := NewWriter(WriterOptions{NetNS: path})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := NewReader(ReaderOptions{NetNS: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	empty, err := r.Snapshot(ctx)
	if err != nil {
		t.Fatalf("Snapshot of the new namespace: %v", err)
	}
	if len(empty.Services) != 0 {
		t.Fatalf("new namespace has %d services", len(empty.Services))
	}
	if empty.Partial != nil || empty.Info == nil || empty.Timeouts == nil || empty.Totals == nil {
		t.Errorf("optional parts missing on a real kernel: info=%v timeouts=%v totals=%v partial=%v", empty.Info, empty.Timeouts, empty.Totals, empty.Partial)
	} else {
		t.Logf("IPVS %s, connection table %d, timeouts %+v, totals %+v", empty.Info.VersionString(), empty.Info.ConnTableSize, *empty.Timeouts, *empty.Totals)
	}

	table := labTable()
	for i := range table {
		s := &table[i]
		if err := w.CreateService(ctx, s); err != nil {
			t.Fatalf("CreateService %s: %v", s, err)
		}
		for j := range s.Destinations {
			if err := w.CreateDestination(ctx, s.ServiceKey, &s.Destinations[j]); err != nil {
				t.Fatalf("CreateDestination: %v", err)
			}
		}
	}
	snap, err := r.Snapshot(ctx)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	got, want := normalize(snap.Services), normalize(table)
	for name, ws := range want {
		if gs, ok := got[name]; !ok {
			t.Errorf("service %s not read back", name)
		} else if !reflect.DeepEqual(gs, ws) {
			t.Errorf("service %s read back as\n %+v\nwritten\n %+v", name, gs, ws)
		}
	}
	if len(got) != len(want) {
		t.Errorf("read %d services, wrote %d", len(got), len(want))
	}

	// Drain, then delete, a real server.
	web := table[0].ServiceKey
	drained := table[0].Destinations[0]
	drained.Weight = 0
	if err := w.UpdateDestination(ctx, web, &drained); err != nil {
		t.Fatalf("UpdateDestination: %v", err)
	}
	// Drain the GUE and the GRE destination: their tunnels stay.
	for _, i := range []int{2, 3} {
		d := table[0].Destinations[i]
		d.Weight = 0
		if err := w.UpdateDestination(ctx, web, &d); err != nil {
			t.Fatalf("UpdateDestination %s: %v", d.Server(), err)
		}
	}
	if err := w.DeleteDestination(ctx, web, netip.AddrPortFrom(table[0].Destinations[1].Address, table[0].Destinations[1].Port)); err != nil {
		t.Fatalf("DeleteDestination: %v", err)
	}
	if err := w.DeleteService(ctx, table[4].ServiceKey); err != nil {
		t.Fatalf("DeleteService: %v", err)
	}
	snap, err = r.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got = normalize(snap.Services)
	if _, ok := got[table[4].String()]; ok {
		t.Errorf("deleted service %s still there", table[4].String())
	}
	webGot := got[web.String()]
	if n := len(table[0].Destinations) - 1; len(webGot.Destinations) != n {
		t.Fatalf("web has %d real servers after one delete, want %d: %+v", len(webGot.Destinations), n, webGot.Destinations)
	}
	for _, d := range webGot.Destinations {
		if d.Address == drained.Address && d.Weight != 0 {
			t.Errorf("drained real server has weight %d", d.Weight)
		}
		for _, i := range []int{2, 3} {
			want := table[0].Destinations[i]
			want.Weight = 0
			if d.Address == want.Address && !reflect.DeepEqual(d, want) {
				t.Errorf("drained tunnel real server read back as\n %+v\nwant\n %+v", d, want)
			}
		}
	}
	if out, err := exec.Command("nsenter", "--net="+strings.Replace(path, "/proc/self/", fmt.Sprintf("/proc/%d/", os.Getpid()), 1), "ipvsadm", "-S", "-n").CombinedOutput(); err == nil {
		t.Logf("ipvsadm -S -n after the drains:\n%s", out)
	}
	if _, ok := got["fwmark/42/ipv4"]; !ok {
		t.Error("deleting fwmark/42/ipv6 took fwmark/42/ipv4 with it")
	}

	// Errors the kernel gives, as the writer names them.
	missing := Destination{Address: netip.MustParseAddr("198.51.100.99"), Port: 80}
	if err := w.UpdateDestination(ctx, web, &missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing real server: err = %v, want ErrNotFound", err)
	} else {
		t.Log(err)
	}
	gone := ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.99"), Port: 80}
	if err := w.CreateDestination(ctx, gone, &missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("real server of a missing service: err = %v, want ErrNotFound", err)
	}
	if err := w.DeleteService(ctx, gone); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete of a missing service: err = %v, want ErrNotFound", err)
	}
	if err := w.CreateService(ctx, &table[0]); !errors.Is(err, ErrExists) {
		t.Errorf("second create: err = %v, want ErrExists", err)
	}
	bad := Service{ServiceKey: gone, Scheduler: "nosuch"}
	if err := w.CreateService(ctx, &bad); !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "modprobe ip_vs_nosuch") {
		t.Errorf("unknown scheduler: err = %v", err)
	} else {
		t.Log(err)
	}

	// The namespace's table is its own: the root namespace saw nothing.
	root, err := NewReader(ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rs, err := root.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rs.Services {
		if _, ok := want[s.String()]; ok {
			t.Errorf("service %s leaked into the root namespace", s)
		}
	}
}

// runInNS runs fn on a goroutine locked to a thread inside namespace ns.
// Sockets fn opens stay in that namespace.
func runInNS(t *testing.T, ns *os.File, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		fn()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("setns: %v", err)
	}
}

// Counters through real traffic, compared with ipvsadm's exact 64-bit
// output. (A counter past 2^32 needs 4 G packets; the fake kernel tests
// cover that. This shows the real STATS64 layout is read.)
func TestLabStatsMatchIpvsadm(t *testing.T) {
	loadIPVS(t)
	if _, err := exec.LookPath("ipvsadm"); err != nil {
		t.Skip("no ipvsadm in the VM")
	}
	ns := newNetNS(t)
	path := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd())
	if out, err := exec.Command("nsenter", "--net="+path, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	// 127.0.0.2:8080 balanced to this namespace's own listener: IPVS
	// schedules locally originated connections too.
	vip := ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("127.0.0.2"), Port: 8080}
	ctx := context.Background()
	w, err := NewWriter(WriterOptions{NetNS: path})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.CreateService(ctx, &Service{ServiceKey: vip, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	if err := w.CreateDestination(ctx, vip, &Destination{Address: netip.MustParseAddr("127.0.0.1"), Port: 8080, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	runInNS(t, ns, func() { ln, err = net.Listen("tcp4", "0.0.0.0:8080") })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello from the real server\n"))
			_ = c.Close()
		}
	}()
	const conns = 5
	runInNS(t, ns, func() {
		for range conns {
			c, derr := net.DialTimeout("tcp4", "127.0.0.2:8080", 5*time.Second)
			if derr != nil {
				err = derr
				return
			}
			_, _ = io.ReadAll(c)
			_ = c.Close()
		}
	})
	if err != nil {
		t.Fatalf("connect through the virtual service: %v", err)
	}

	r, err := NewReader(ReaderOptions{NetNS: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ipvsadm := func() string {
		out, err := exec.Command("nsenter", "--net="+path, "ipvsadm", "-Ln", "--stats", "--exact", "-t", "127.0.0.2:8080").CombinedOutput()
		if err != nil {
			t.Fatalf("ipvsadm: %v: %s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 7 && f[0] == "TCP" {
				return strings.Join(f[2:], " ")
			}
		}
		t.Fatalf("no service line in ipvsadm output:\n%s", out)
		return ""
	}
	// The estimator publishes counters every 2 s: wait until they show the
	// connections, then compare while they hold still.
	testutil.Poll(t, 20*time.Second, 200*time.Millisecond, func() error {
		before := ipvsadm()
		snap, err := r.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		after := ipvsadm()
		var st Stats
		for _, s := range snap.Services {
			if s.ServiceKey == vip {
				st = s.Stats
			}
		}
		ours := fmt.Sprintf("%d %d %d %d %d", st.Connections, st.PacketsIn, st.PacketsOut, st.BytesIn, st.BytesOut)
		if before == after && st.Connections == conns {
			if ours != after {
				t.Fatalf("reader says conns/inpkts/outpkts/inbytes/outbytes %q, ipvsadm --exact %q", ours, after)
			}
			t.Logf("reader and ipvsadm agree: %s; totals %+v", ours, snap.Totals)
			if snap.Totals == nil || snap.Totals.Connections != conns {
				t.Errorf("namespace totals %+v, want %d connections", snap.Totals, conns)
			}
			return nil
		}
		return fmt.Errorf("counters never settled at %d connections: reader %q, ipvsadm %q then %q", conns, ours, before, after)
	})
}
