package ipvs

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// nsGetNSType is the NS_GET_NSTYPE ioctl (linux/nsfs.h): it returns the
// CLONE_NEW* type of a namespace file.
const nsGetNSType = 0xb703

// openNetNS opens a network-namespace file (/run/netns/NAME,
// /proc/PID/ns/net) and checks that it is one, so that a wrong path fails at
// start-up with a message naming it rather than at the first scrape.
func openNetNS(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	typ, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType)
	if err != nil {
		_ = f.Close()
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("open network namespace %s: not a namespace file (want e.g. /run/netns/NAME or /proc/PID/ns/net)", path)
		}
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	if typ != unix.CLONE_NEWNET {
		_ = f.Close()
		return nil, fmt.Errorf("open network namespace %s: a namespace file, but not of a network namespace", path)
	}
	return f, nil
}

// readProcNetIn reads /proc/thread-self/net/NAME as seen from inside the
// network namespace nsFD.
func readProcNetIn(nsFD int, name string) ([]byte, error) {
	return readFileIn(nsFD, "/proc/thread-self/net/"+name)
}

// readFileIn reads the file at path from a thread inside the network
// namespace nsFD (for files whose content depends on the opener's
// namespace: /proc/thread-self/net/*, /proc/sys/net/*). It runs on a
// goroutine of its own, locked to its OS thread, which enters the
// namespace and comes back. If it cannot come back, the goroutine ends
// with the thread still locked, and the Go runtime then destroys the
// thread instead of reusing it in the wrong namespace.
func readFileIn(nsFD int, path string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
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
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter network namespace: %w", err)}
			return
		}
		data, readErr := os.ReadFile(path)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Deliberately no UnlockOSThread: see the doc comment.
			ch <- result{err: fmt.Errorf("return to the original network namespace: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{data: data, err: readErr}
	}()
	r := <-ch
	return r.data, r.err
}
