package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests against this machine's real kernel. Its kernel has no IPVS, which
// is exactly the case they prove: the real family look-up reports the
// missing module, and real sockets honour the reader's deadlines.

func skipIfIPVS(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS loaded; the test needs a kernel without it")
	}
}

func skipUnlessRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN) to enter network namespaces")
	}
}

// nsPath is a path that opens the namespace of f from any thread (unlike
// f's own name, /proc/thread-self/...).
func nsPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// newNetNS makes a network namespace owned by the test and returns its file.
func newNetNS(t *testing.T) *os.File {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		f, openErr := os.Open("/proc/thread-self/ns/net")
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err} // the locked thread dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		ch <- result{f: f, err: openErr}
	}()
	r := <-ch
	if r.err != nil {
		t.Skipf("cannot create a network namespace: %v", r.err)
	}
	t.Cleanup(func() { _ = r.f.Close() })
	return r.f
}

func TestRealKernelModuleNotLoaded(t *testing.T) {
	skipIfIPVS(t)
	r, err := NewReader(ReaderOptions{})
	if err != nil {
		t.Fatalf("NewReader must not fail without ip_vs: %v", err)
	}
	defer r.Close()
	for i := range 2 {
		_, err := r.Snapshot(context.Background())
		if !errors.Is(err, ErrModuleNotLoaded) {
			t.Fatalf("Snapshot #%d: err = %v, want ErrModuleNotLoaded", i, err)
		}
	}
	// Where ip_vs is installed (the lab VM), a family look-up by name
	// would have loaded it.
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Error("the reader loaded ip_vs")
	}
}

func TestRealKernelModuleNotLoadedInNamespace(t *testing.T) {
	skipIfIPVS(t)
	skipUnlessRoot(t)
	path := nsPath(newNetNS(t))
	r, err := NewReader(ReaderOptions{NetNS: path})
	if err != nil {
		t.Fatalf("NewReader(%s): %v", path, err)
	}
	defer r.Close()
	if _, err := r.Snapshot(context.Background()); !errors.Is(err, ErrModuleNotLoaded) {
		t.Fatalf("err = %v, want ErrModuleNotLoaded", err)
	}
}

// Without the deadline on the socket the kernel would answer the family
// look-up (ENOENT here, the family ID with IPVS): a timeout shows that the
// deadline reached the real socket.
func TestRealKernelSocketDeadline(t *testing.T) {
	r, err := NewReader(ReaderOptions{Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Snapshot(context.Background()); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

// ifaces counts interface lines of /proc/net/dev.
func ifaces(dev []byte) int {
	n := 0
	for _, line := range strings.Split(string(dev), "\n") {
		if strings.Contains(line, ":") && !strings.Contains(line, "|") {
			n++
		}
	}
	return n
}
