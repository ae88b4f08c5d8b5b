package ipvs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"
)

func openTestNetNS(t *testing.T, path string, logger *slog.Logger) *NetNS {
	t.Helper()
	ns, err := OpenNetNS(path, logger)
	if err != nil {
		t.Fatalf("OpenNetNS(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	return ns
}

func TestNetNSDo(t *testing.T) {
	skipUnlessRoot(t)
	host, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	if ifaces(host) < 2 {
		t.Skip("this namespace has only lo: a fresh namespace would look the same")
	}
	ns := openTestNetNS(t, nsPath(newNetNS(t)), nil)
	inside, err := ns.readProcNet("dev")
	if err != nil {
		t.Fatalf("readProcNet: %v", err)
	}
	if n := ifaces(inside); n != 1 || !strings.Contains(string(inside), "lo:") {
		t.Errorf("/proc/net/dev inside a fresh namespace lists %d interfaces, want only lo:\n%s", n, inside)
	}
	// The calling goroutine's namespace and the process' are untouched.
	after, err := os.ReadFile("/proc/thread-self/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	if ifaces(after) != ifaces(host) {
		t.Errorf("after Do this thread sees %d interfaces, before %d", ifaces(after), ifaces(host))
	}
	if _, err := ns.readProcNet(statsFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ip_vs_stats without IPVS: err = %v, want not-exist", err)
	}
	want := errors.New("from fn")
	if err := ns.Do(func() error { return want }); err != want {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want fn's panic raised in the caller", p)
			}
		}()
		_ = ns.Do(func() error { panic("boom") })
	}()
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ns.Do(func() error { return nil }); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Do after Close: err = %v", err)
	}
}

func TestNetNSNil(t *testing.T) {
	var ns *NetNS
	ran := false
	if err := ns.Do(func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("nil Do: ran %v, err %v", ran, err)
	}
	if ns.Generation() != 0 || ns.refresh() != (nsID{}) || ns.Close() != nil {
		t.Fatal("a nil handle is the process's own namespace, unchanging")
	}
}

// recreatable is a path whose namespace can be swapped, as
// /run/netns/NAME is when the namespace is deleted and added again: a
// symlink to one of the test's namespaces.
type recreatable struct {
	t    *testing.T
	path string
}

func newRecreatable(t *testing.T, target *os.File) *recreatable {
	r := &recreatable{t: t, path: filepath.Join(t.TempDir(), "ns")}
	r.point(target)
	return r
}

func (r *recreatable) point(target *os.File) {
	r.t.Helper()
	tmp := r.path + ".new"
	if err := os.Symlink(nsPath(target), tmp); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		r.t.Fatal(err)
	}
}

func TestNetNSRefreshFollowsRecreatedPath(t *testing.T) {
	skipUnlessRoot(t)
	a, b := newNetNS(t), newNetNS(t)
	var logs bytes.Buffer
	path := newRecreatable(t, a)
	ns := openTestNetNS(t, path.path, slog.New(slog.NewTextHandler(&logs, nil)))
	idA := ns.refresh()
	if ns.Generation() != 1 {
		t.Fatalf("generation %d, want 1", ns.Generation())
	}
	// The same namespace: nothing changes, nothing is logged.
	if ns.refresh() != idA || ns.Generation() != 1 || logs.Len() != 0 {
		t.Fatalf("refresh of an unchanged path changed something: gen %d, log %q", ns.Generation(), logs.String())
	}

	// Gone: keep the one in use, say so once.
	if err := os.Remove(path.path); err != nil {
		t.Fatal(err)
	}
	ns.refresh()
	ns.refresh()
	if ns.refresh() != idA || strings.Count(logs.String(), "still using") != 1 {
		t.Fatalf("a path that is gone: want the namespace kept and one log line, got %q", logs.String())
	}

	// Back, naming another namespace: switch, say so.
	path.point(b)
	idB := ns.refresh()
	if idB == idA || ns.Generation() != 2 {
		t.Fatalf("after the path was recreated: id %v (was %v), generation %d, want a new id and generation 2", idB, idA, ns.Generation())
	}
	if !strings.Contains(logs.String(), "network namespace re-opened") {
		t.Errorf("the switch was not logged: %q", logs.String())
	}
	// Do now enters b: a socket made there is in b.
	var inB bool
	if err := ns.Do(func() error {
		cur, err := os.Stat("/proc/thread-self/ns/net")
		if err != nil {
			return err
		}
		want, err := b.Stat()
		if err != nil {
			return err
		}
		inB = os.SameFile(cur, want)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !inB {
		t.Error("Do after the re-open did not enter the new namespace")
	}
}

// A snapshot read before the namespace was re-opened pins its writes to
// the old namespace: the writer refuses them rather than write into the
// new one what it read from the old one. Unpinned writes go to the new one.
func TestWriterRefusesWritesPinnedToOldNetNS(t *testing.T) {
	skipUnlessRoot(t)
	a, b := newNetNS(t), newNetNS(t)
	path := newRecreatable(t, a)
	ns := openTestNetNS(t, path.path, nil)
	k := newFakeKernel([]Service{{ServiceKey: webKey, Scheduler: "rr", Flags: FlagHashed, Destinations: []Destination{webDest}}})
	r, err := NewReader(ReaderOptions{Namespace: ns, Dial: k.dial, ProcNet: "testdata/procnet"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var dials int
	w, err := NewWriter(WriterOptions{Namespace: ns, Dial: func() (*genetlink.Conn, error) { dials++; return k.dial() }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	snap := snapshot(t, r)
	ctx := PinNetNS(context.Background(), snap)
	drained := webDest
	drained.Weight = 0
	if err := w.UpdateDestination(ctx, webKey, &drained); err != nil {
		t.Fatalf("write pinned to the namespace in use: %v", err)
	}

	path.point(b)
	err = w.UpdateDestination(ctx, webKey, &webDest)
	if !errors.Is(err, ErrNetNSChanged) {
		t.Fatalf("write pinned to the old namespace: err = %v, want ErrNetNSChanged", err)
	}
	if len(k.writes) != 1 {
		t.Fatalf("%d writes reached the kernel, want only the first", len(k.writes))
	}
	// A new pass reads the new namespace and writes there, on a new socket.
	snap = snapshot(t, r)
	if err := w.UpdateDestination(PinNetNS(context.Background(), snap), webKey, &webDest); err != nil {
		t.Fatalf("write pinned to the new snapshot: %v", err)
	}
	if dials != 2 {
		t.Errorf("the writer opened %d sockets, want a new one in the new namespace", dials)
	}
	// Without a handle nothing is pinned.
	if PinNetNS(context.Background(), &Snapshot{}) != context.Background() {
		t.Error("a snapshot without a namespace pinned something")
	}
}

// The Reader keeps its socket while the namespace stays, and opens a new
// one after a re-open.
func TestReaderFollowsRecreatedNetNS(t *testing.T) {
	skipUnlessRoot(t)
	a, b := newNetNS(t), newNetNS(t)
	path := newRecreatable(t, a)
	ns := openTestNetNS(t, path.path, nil)
	k := newFakeKernel(testTable())
	dials := 0
	r, err := NewReader(ReaderOptions{Namespace: ns, ProcNet: "testdata/procnet", Dial: func() (*genetlink.Conn, error) { dials++; return k.dial() }})
	if err != nil {
		t.Fatal(err)
	}
	snapshot(t, r)
	snapshot(t, r)
	if dials != 1 {
		t.Fatalf("%d sockets for two snapshots of one namespace, want 1", dials)
	}
	path.point(b)
	if snap := snapshot(t, r); snap.netns != ns.refresh() || dials != 2 {
		t.Fatalf("after the re-open: %d sockets, snapshot of %v, namespace in use %v", dials, snap.netns, ns.refresh())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// A shared handle stays open after the reader closes.
	if err := ns.Do(func() error { return nil }); err != nil {
		t.Fatalf("the reader closed the shared handle: %v", err)
	}
}

// The real dial opens its netlink socket inside the namespace in use
// (SIOCGSKNS gives a socket's namespace).
func TestDialInNetNS(t *testing.T) {
	skipUnlessRoot(t)
	a, b := newNetNS(t), newNetNS(t)
	path := newRecreatable(t, a)
	ns := openTestNetNS(t, path.path, nil)
	for _, want := range []*os.File{a, b} {
		if want == b {
			path.point(b)
			ns.Refresh()
		}
		c, err := dialIn(ns)
		if err != nil {
			t.Fatal(err)
		}
		if !sameNetNS(t, c, want) {
			t.Errorf("generation %d: the socket is not in the namespace in use", ns.Generation())
		}
		_ = c.Close()
	}
}

// sameNetNS reports whether c's socket belongs to namespace ns.
func sameNetNS(t *testing.T, c *genetlink.Conn, ns *os.File) bool {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	var ioErr error
	if err := rc.Control(func(s uintptr) { fd, ioErr = unix.IoctlRetInt(int(s), unix.SIOCGSKNS) }); err != nil {
		t.Fatal(err)
	}
	if ioErr != nil {
		t.Fatalf("SIOCGSKNS: %v", ioErr)
	}
	got := os.NewFile(uintptr(fd), "socket-ns")
	defer got.Close()
	gs, err := got.Stat()
	if err != nil {
		t.Fatal(err)
	}
	ws, err := ns.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(gs, ws)
}
