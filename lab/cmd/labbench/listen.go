package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// parsePorts reads a listen spec: comma-separated ports, ranges A-B, and
// ranges with a step A-B:S (every S-th port from A to B).
func parsePorts(spec string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(spec, ",") {
		if part == "" {
			continue
		}
		r, step := part, 1
		if i := strings.IndexByte(part, ':'); i >= 0 {
			s, err := strconv.Atoi(part[i+1:])
			if err != nil || s < 1 {
				return nil, fmt.Errorf("port spec %q: step must be a positive integer", part)
			}
			r, step = part[:i], s
		}
		lo, hi, isRange := strings.Cut(r, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
			return nil, fmt.Errorf("port spec %q: want PORT, A-B or A-B:STEP with 1 <= A <= B <= 65535", part)
		}
		for p := a; p <= b; p += step {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no ports")
	}
	return out, nil
}

// listenCmd is `labbench listen SPEC`: a TCP listener on every port of
// SPEC (all addresses) that accepts each connection and closes it, the
// real server side of the checks. It prints one line when every port is
// bound, then runs until killed.
func listenCmd(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: labbench listen PORTSPEC")
	}
	ports, err := parsePorts(args[0])
	if err != nil {
		return err
	}
	for _, p := range ports {
		ln, err := net.Listen("tcp4", ":"+strconv.Itoa(p))
		if err != nil {
			return err
		}
		go acceptAndClose(ln)
	}
	fmt.Fprintf(stdout, "listening on %d ports\n", len(ports))
	select {}
}

// acceptAndClose closes every connection ln accepts, until ln closes.
func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: the check fails, as it would on a
			// real server; go on.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c.Close()
	}
}

// inNetNS runs fn on an OS thread in network namespace /run/netns/ns:
// sockets fn opens stay in ns.
func inNetNS(ns string, fn func() error) error {
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return fmt.Errorf("enter namespace: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and ends with its goroutine rather
		// than run others in the wrong namespace.
		return fmt.Errorf("leave namespace %s: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// victim is the drain phase's real server: a listener in its namespace
// whose accepts are seen, and which can be killed right after one.
type victim struct {
	ns, addr string

	mu      sync.Mutex
	ln      net.Listener
	armed   bool
	killed  chan time.Time // gets the kill time when an armed accept closes ln
	accepts atomic.Int64
}

func newVictim(ns, addr string) *victim { return &victim{ns: ns, addr: addr} }

// open starts listening (again).
func (v *victim) open() error {
	var ln net.Listener
	err := inNetNS(v.ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", v.addr)
		return err
	})
	if err != nil {
		return fmt.Errorf("listen on %s in %s: %w", v.addr, v.ns, err)
	}
	v.mu.Lock()
	v.ln, v.armed = ln, false
	v.mu.Unlock()
	go v.serve(ln)
	return nil
}

// serve accepts on ln; an accept while armed closes ln right after the
// connection: the real server dies just after a check passed.
func (v *victim) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
		v.accepts.Add(1)
		v.mu.Lock()
		if v.armed && v.ln == ln {
			ln.Close()
			at := time.Now()
			v.armed, v.ln = false, nil
			v.killed <- at
		}
		v.mu.Unlock()
	}
}

// arm makes the next accepted check kill the listener; the kill time
// arrives on the channel returned.
func (v *victim) arm() <-chan time.Time {
	ch := make(chan time.Time, 1)
	v.mu.Lock()
	v.armed, v.killed = true, ch
	v.mu.Unlock()
	return ch
}

// close stops listening (at the end of the phase).
func (v *victim) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ln != nil {
		v.ln.Close()
		v.ln, v.armed = nil, false
	}
}
