package ipvs

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var updateAddrs = flag.Bool("update-addrs", false, "re-capture testdata/rtm_getaddr.dump from a network namespace the test makes (root, ip)")

const addrDump = "testdata/rtm_getaddr.dump"

// ip runs ip(8) with args and fails the test on error.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// namedNetNS makes a named network namespace (ip netns add) that the
// test deletes at its end, and opens it.
func namedNetNS(t *testing.T) (string, *NetNS) {
	t.Helper()
	skipUnlessRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	name := fmt.Sprintf("lvs-vip-test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ns, err := OpenNetNS("/run/netns/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	return name, ns
}

// vethInNS gives the namespace an interface vip0 that is up with a
// carrier (the peer end, vip1, is up too): IPv6 runs duplicate address
// detection on it, unlike on lo. (This kernel has no dummy module.)
func vethInNS(t *testing.T, name string) {
	t.Helper()
	ip(t, "-n", name, "link", "add", "vip0", "type", "veth", "peer", "name", "vip1")
	ip(t, "-n", name, "link", "set", "vip0", "up")
	ip(t, "-n", name, "link", "set", "vip1", "up")
}

// splitDump cuts a byte stream of netlink messages, as the kernel sends
// them, into messages.
func splitDump(t *testing.T, b []byte) []netlink.Message {
	t.Helper()
	var msgs []netlink.Message
	for len(b) > 0 {
		if len(b) < 16 {
			t.Fatalf("%d bytes left, less than a header", len(b))
		}
		n := int(binary.NativeEndian.Uint32(b))
		if n < 16 || n > len(b) {
			t.Fatalf("message length %d, %d bytes left", n, len(b))
		}
		var m netlink.Message
		if err := m.UnmarshalBinary(b[:n]); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
		b = b[(n+3)&^3:]
	}
	return msgs
}

// captureAddrDump writes what the kernel answers to RTM_GETADDR in a
// namespace set up with every case the parser must tell apart.
func captureAddrDump(t *testing.T) {
	name, ns := namedNetNS(t)
	ip(t, "-n", name, "link", "set", "lo", "up")
	vethInNS(t, name)
	ip(t, "-n", name, "addr", "add", "192.0.2.10/32", "dev", "vip0")
	// Point to point: IFA_LOCAL is ours, IFA_ADDRESS the peer's.
	ip(t, "-n", name, "addr", "add", "192.0.2.20", "peer", "192.0.2.21", "dev", "vip0")
	ip(t, "-n", name, "addr", "add", "2001:db8::10/128", "dev", "vip0", "nodad")
	// Tentative: duplicate address detection runs for a second or so.
	ip(t, "-n", name, "addr", "add", "2001:db8::20/64", "dev", "vip0")
	var c *netlink.Conn
	if err := ns.Do(func() error {
		var err error
		c, err = netlink.Dial(unix.NETLINK_ROUTE, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETADDR, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfAddrmsg),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, m := range msgs {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	if err := os.WriteFile(addrDump, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sortedAddrs(l LocalAddrs) []string {
	var out []string
	for a := range l {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out
}

// TestParseAddrDump parses a dump the kernel sent (captured with
// -update-addrs): lo's, a /32, a point-to-point address (ours, not the
// peer's), an IPv6 /128 and a tentative IPv6 address, which is not held.
func TestParseAddrDump(t *testing.T) {
	if *updateAddrs {
		captureAddrDump(t)
	}
	b, err := os.ReadFile(addrDump)
	if err != nil {
		t.Fatal(err)
	}
	msgs := splitDump(t, b)
	got, err := parseAddrMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1", "192.0.2.10", "192.0.2.20", "2001:db8::10", "::1"}
	if g := sortedAddrs(got); !slices.Equal(g, want) {
		t.Fatalf("held %v, want %v", g, want)
	}

	// The tentative address and the peer's are in the dump, not held.
	inDump := map[string]bool{}
	for _, m := range msgs {
		if a, _, err := parseAddrMessage(m.Data); err == nil {
			inDump[a.String()] = true
		}
	}
	if !inDump["2001:db8::20"] {
		t.Error("fixture changed: no tentative 2001:db8::20 in the dump")
	}

	// The same dump with 2001:db8::10 marked dadfailed (IFA_FLAGS): not
	// held. The kernel cannot be made to fail DAD without a second host.
	target := netip.MustParseAddr("2001:db8::10").AsSlice()
	marked := false
	for i := range msgs {
		d := msgs[i].Data
		if !strings.Contains(string(d), string(target)) {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(d[unix.SizeofIfAddrmsg:])
		if err != nil {
			t.Fatal(err)
		}
		off := unix.SizeofIfAddrmsg
		for ad.Next() {
			n := len(ad.Bytes())
			if ad.Type() == unix.IFA_FLAGS {
				v := binary.NativeEndian.Uint32(d[off+4:])
				binary.NativeEndian.PutUint32(d[off+4:], v|unix.IFA_F_DADFAILED)
				marked = true
			}
			off += (4 + n + 3) &^ 3
		}
	}
	if !marked {
		t.Fatal("fixture changed: no IFA_FLAGS on 2001:db8::10")
	}
	got, err = parseAddrMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Has(netip.MustParseAddr("2001:db8::10")) {
		t.Error("a dadfailed address counts as held")
	}
	if !got.Has(netip.MustParseAddr("192.0.2.10")) {
		t.Error("marking one address lost another")
	}
}

func TestParseAddrMessageErrors(t *testing.T) {
	if _, _, err := parseAddrMessage(make([]byte, 4)); err == nil || !strings.Contains(err.Error(), "ifaddrmsg of 4 bytes") {
		t.Errorf("short ifaddrmsg: %v", err)
	}
	// An ifaddrmsg with an IFA_ADDRESS of 3 bytes.
	b := []byte{unix.AF_INET, 32, 0, 0, 1, 0, 0, 0}
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.IFA_ADDRESS, []byte{1, 2, 3})
	attrs, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := parseAddrMessage(append(b, attrs...)); err == nil || !strings.Contains(err.Error(), "address of 3 bytes") {
		t.Errorf("3-byte address: %v", err)
	}
	// IPv4-mapped IPv6 is unmapped; a zone is ignored by Has.
	l := LocalAddrs{netip.MustParseAddr("192.0.2.1"): {}, netip.MustParseAddr("fe80::1"): {}}
	if !l.Has(netip.MustParseAddr("::ffff:192.0.2.1")) || !l.Has(netip.MustParseAddr("fe80::1%eth0")) {
		t.Error("Has does not unmap or drop zones")
	}
}

// TestAddrReaderKernel reads a namespace's addresses from the real kernel:
// an address added shows up, removed it is gone, and a reader of the
// test's own namespace never sees it.
func TestAddrReaderKernel(t *testing.T) {
	name, ns := namedNetNS(t)
	vethInNS(t, name)
	inNS := &AddrReader{NetNS: ns}
	here := &AddrReader{}
	// Addresses from the documentation ranges, which this host has no
	// business holding; if it does, the test cannot tell.
	v4, v6 := netip.MustParseAddr("198.51.100.77"), netip.MustParseAddr("2001:db8:77::1")
	before, err := here.LocalAddrs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if before.Has(v4) || before.Has(v6) {
		t.Skip("this host holds the test's addresses itself")
	}
	check := func(r *AddrReader, a netip.Addr, want bool) {
		t.Helper()
		got, err := r.LocalAddrs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got.Has(a) != want {
			t.Errorf("%s held = %v, want %v (reader in %q)", a, got.Has(a), want, r.NetNS.Path())
		}
	}
	check(inNS, v4, false)
	ip(t, "-n", name, "addr", "add", v4.String()+"/32", "dev", "vip0")
	ip(t, "-n", name, "addr", "add", v6.String()+"/128", "dev", "vip0", "nodad")
	check(inNS, v4, true)
	check(inNS, v6, true)
	check(here, v4, false)
	check(here, v6, false)
	ip(t, "-n", name, "addr", "del", v4.String()+"/32", "dev", "vip0")
	check(inNS, v4, false)
	check(inNS, v6, true)
}

func TestAddrReaderDeadline(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := (&AddrReader{}).LocalAddrs(ctx)
	if err == nil {
		t.Fatal("a dump with a deadline in the past succeeded")
	}
}

// BenchmarkAddrReader is the cost the address read adds to a scrape: one
// socket and one RTM_GETADDR dump, in the process's own namespace and in
// another (through NetNS.Do).
func BenchmarkAddrReader(b *testing.B) {
	b.Run("own", func(b *testing.B) {
		r := &AddrReader{}
		for b.Loop() {
			if _, err := r.LocalAddrs(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	if os.Geteuid() != 0 {
		return
	}
	f, err := os.Open("/proc/self/ns/net")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ns, err := OpenNetNS(nsPath(f), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	b.Run("netns", func(b *testing.B) {
		r := &AddrReader{NetNS: ns}
		for b.Loop() {
			if _, err := r.LocalAddrs(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
