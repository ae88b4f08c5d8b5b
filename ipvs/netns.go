package ipvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// nsGetNSType is the NS_GET_NSTYPE ioctl (linux/nsfs.h): it returns the
// CLONE_NEW* type of a namespace file.
const nsGetNSType = 0xb703

// nsID identifies a namespace: the device and inode of its nsfs file. The
// zero value is "no namespace handle" (the process's own namespace).
type nsID struct{ dev, ino uint64 }

func (id nsID) String() string { return fmt.Sprintf("%d:%d", id.dev, id.ino) }

// NetNS is a network namespace opened once and shared by everything that
// must act in it: the Reader, the Writer and the health checks' sockets
// (through Do). It holds the namespace open, so a namespace whose path is
// deleted stays the one in use; when the path later names a different
// namespace (ip netns del NAME; ip netns add NAME), Refresh, which the
// Reader and the Writer call on every snapshot and every write, notices,
// logs it and switches everyone to the new one. Writes made with a context
// from PinNetNS are then refused: what was read from the old namespace is
// never written to the new one.
//
// A nil *NetNS is the process's own namespace: Do runs fn as it is.
type NetNS struct {
	path string
	log  *slog.Logger

	mu     sync.RWMutex // guards f, id, gen and closed
	f      *os.File
	id     nsID
	gen    uint64
	closed bool

	logMu   sync.Mutex
	lastErr string // the last Refresh problem, logged once
}

// OpenNetNS opens the network-namespace file at path (/run/netns/NAME,
// /proc/PID/ns/net) and checks that it is one, so that a wrong path fails
// at start-up with a message naming it rather than at the first scrape.
// logger (nil: none) hears when the namespace is re-opened.
func OpenNetNS(path string, logger *slog.Logger) (*NetNS, error) {
	f, id, err := openNetNS(path)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &NetNS{path: path, log: logger, f: f, id: id, gen: 1}, nil
}

// openNetNS opens path and returns it with its identity.
func openNetNS(path string) (*os.File, nsID, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nsID{}, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	typ, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType)
	if err != nil {
		_ = f.Close()
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
			return nil, nsID{}, fmt.Errorf("open network namespace %s: not a namespace file (want e.g. /run/netns/NAME or /proc/PID/ns/net)", path)
		}
		return nil, nsID{}, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	if typ != unix.CLONE_NEWNET {
		_ = f.Close()
		return nil, nsID{}, fmt.Errorf("open network namespace %s: a namespace file, but not of a network namespace", path)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		_ = f.Close()
		return nil, nsID{}, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	return f, nsID{dev: st.Dev, ino: st.Ino}, nil
}

// Path returns the path the namespace was opened from.
func (n *NetNS) Path() string {
	if n == nil {
		return ""
	}
	return n.path
}

// Generation numbers the namespaces the handle has held: 1 for the one
// opened first, one more at each re-open. 0 for a nil handle.
func (n *NetNS) Generation() uint64 {
	if n == nil {
		return 0
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.gen
}

// Close closes the namespace file. Do fails afterwards.
func (n *NetNS) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	return n.f.Close()
}

// Refresh checks whether the path still names the namespace in use and,
// if it names another one now, re-opens it: from then on Do enters the new
// namespace, and the Reader and the Writer open new sockets there. A path
// that is gone, or that names no namespace, keeps the one in use; each
// such state is logged once.
func (n *NetNS) Refresh() {
	n.refresh()
}

// refresh is Refresh returning the identity of the namespace in use.
func (n *NetNS) refresh() nsID {
	if n == nil {
		return nsID{}
	}
	n.mu.RLock()
	cur, closed := n.id, n.closed
	n.mu.RUnlock()
	if closed {
		return cur
	}
	var st unix.Stat_t
	if err := unix.Stat(n.path, &st); err != nil {
		n.problem(fmt.Sprintf("cannot look at %s: %v; still using the network namespace opened from it", n.path, err))
		return cur
	}
	if (nsID{dev: st.Dev, ino: st.Ino}) == cur {
		n.problem("")
		return cur
	}
	f, id, err := openNetNS(n.path)
	if err != nil {
		n.problem(fmt.Sprintf("%v; still using the network namespace opened from it before", err))
		return cur
	}
	n.mu.Lock()
	if n.closed || n.id == id {
		n.mu.Unlock()
		_ = f.Close()
		return cur
	}
	old, oldID := n.f, n.id
	n.f, n.id = f, id
	n.gen++
	gen := n.gen
	n.mu.Unlock()
	_ = old.Close()
	n.problem("")
	n.log.Warn("network namespace re-opened: its path now names a different namespace (it was recreated); the IPVS table is read and written, and checks run, in the new one",
		"netns", n.path, "old", oldID.String(), "new", id.String(), "generation", gen)
	return id
}

// problem logs msg once, until a different one (or "", all well) comes.
func (n *NetNS) problem(msg string) {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	if msg == n.lastErr {
		return
	}
	prev := n.lastErr
	n.lastErr = msg
	if msg != "" {
		n.log.Error("network namespace: " + msg)
	} else if prev != "" {
		n.log.Info("network namespace: its path names the namespace in use again", "netns", n.path)
	}
}

// Do runs fn on an OS thread inside the namespace and returns fn's error.
// Sockets fn creates belong to the namespace for their whole life, from
// whichever thread they are used later; fn should create them and return,
// not wait on them, since the thread is fn's until it returns. A panic in
// fn is raised again in the caller's goroutine.
//
// fn runs on a goroutine of its own, locked to its thread, which enters
// the namespace and comes back. If it cannot come back, the goroutine ends
// with the thread still locked, and the Go runtime then destroys the
// thread instead of reusing it in the wrong namespace.
func (n *NetNS) Do(fn func() error) error {
	if n == nil {
		return fn()
	}
	type result struct {
		err      error
		panicked bool
		value    any
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open the current network namespace: %w", err)}
			return
		}
		defer orig.Close()
		n.mu.RLock()
		if n.closed {
			n.mu.RUnlock()
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("network namespace %s: the handle is closed", n.path)}
			return
		}
		err = unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET)
		n.mu.RUnlock()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter network namespace %s: %w", n.path, err)}
			return
		}
		var res result
		func() {
			defer func() {
				if p := recover(); p != nil {
					res = result{panicked: true, value: p}
				}
			}()
			res.err = fn()
		}()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Deliberately no UnlockOSThread: see the doc comment.
			if !res.panicked {
				res.err = errors.Join(res.err, fmt.Errorf("return to the original network namespace: %w", err))
			}
			ch <- res
			return
		}
		runtime.UnlockOSThread()
		ch <- res
	}()
	r := <-ch
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

// readProcNet reads /proc/thread-self/net/NAME as seen from inside the
// namespace (the process's own for a nil handle).
func (n *NetNS) readProcNet(name string) ([]byte, error) {
	if n == nil {
		return os.ReadFile("/proc/self/net/" + name)
	}
	return n.readFile("/proc/thread-self/net/" + name)
}

// readFile reads the file at path from a thread inside the namespace, for
// files whose content depends on the opener's namespace
// (/proc/thread-self/net/*, /proc/sys/net/*); a nil handle reads it here.
func (n *NetNS) readFile(path string) ([]byte, error) {
	if n == nil {
		return os.ReadFile(path)
	}
	var data []byte
	err := n.Do(func() error {
		var err error
		data, err = os.ReadFile(path)
		return err
	})
	return data, err
}

// pinKey is the context key of PinNetNS.
type pinKey struct{}

// PinNetNS returns ctx marked with the namespace snap was read from.
// A Writer refuses a write made with it, with ErrNetNSChanged, once its
// namespace is no longer that one (the path was recreated and re-opened in
// between): a reconcile pass that pins its writes to its snapshot never
// writes into one namespace what it read from another. A snapshot read
// without a namespace handle pins nothing.
func PinNetNS(ctx context.Context, snap *Snapshot) context.Context {
	if snap == nil || snap.netns == (nsID{}) {
		return ctx
	}
	return context.WithValue(ctx, pinKey{}, snap.netns)
}

// NamespaceOnly returns a Snapshot that holds only the namespace s was
// read from: what PinNetNS needs, for writes made after s itself is
// dropped (the controller's targeted writes, between passes).
func (s *Snapshot) NamespaceOnly() *Snapshot {
	if s == nil {
		return nil
	}
	return &Snapshot{netns: s.netns}
}

// pinnedNetNS returns the namespace PinNetNS put in ctx.
func pinnedNetNS(ctx context.Context) (nsID, bool) {
	id, ok := ctx.Value(pinKey{}).(nsID)
	return id, ok
}
