package health

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// synPoolPorts is how many source ports a scanner holds per address
// family for its whole life. A check takes the next port of its own
// rotation that no other check is using towards the same target, so
// consecutive checks of a target come from different ports (the target
// may still hold the previous one's half-open connection when an answer
// was lost), and only a target with more checks in flight at once than
// this pays for a port of its own. 64: a check reuses a port after 64
// runs, over a minute at the shortest usual interval (1 s), longer than
// a target keeps the half-open connection of a probe whose RST was lost
// (tcp_synack_retries 5: 63 s).
const synPoolPorts = 64

// synPorts is one address family's pool of source ports: each reserved by
// a TCP socket bound to it and never listening or connecting, as the
// per-check reservation does (see SYN), held until the scanner closes.
type synPorts struct {
	ports []uint16 // never changed once made
	fds   []int
}

// synOpenPorts reserves up to n ephemeral ports of the family, in the
// calling thread's network namespace. It keeps the ports it got when a
// reservation fails (say, at the descriptor limit): checks then reserve
// their own ports, as they do when the pool is busy.
func synOpenPorts(v6 bool, n int) *synPorts {
	p := &synPorts{}
	for range n {
		port, fd, err := synReservePort(v6)
		if err != nil {
			break
		}
		p.ports = append(p.ports, port)
		p.fds = append(p.fds, fd)
	}
	return p
}

// close releases the pool's ports. The list stays (it is never
// changed, so read without a lock): checks after the scanner's Close fail
// at their send.
func (p *synPorts) close() {
	for _, fd := range p.fds {
		unix.Close(fd)
	}
	p.fds = nil
}

// acquire registers p as the receiver of answers from remote and returns
// its key: the source port is the pool's port at index start, or the next
// one after it that no check is using towards remote; if every one is, a
// port reserved for this check alone, whose descriptor it returns (-1 for
// a pool port) for release to close.
func (s *SYNScanner) acquire(f *synFamily, remote netip.AddrPort, start uint32, p *synProbe) (synKey, int, error) {
	s.mu.Lock()
	if n := uint32(len(f.ports.ports)); n > 0 {
		for i := range n {
			k := synKey{remote: remote, local: f.ports.ports[(start+i)%n]}
			if _, busy := s.probes[k]; !busy {
				s.addLocked(k, p)
				s.mu.Unlock()
				return k, -1, nil
			}
		}
	}
	s.mu.Unlock()
	var port uint16
	var fd int
	err := s.inNetNS(func() (err error) {
		port, fd, err = synReservePort(remote.Addr().Is6())
		return err
	})
	if err != nil {
		return synKey{}, -1, err
	}
	if err := f.pass(port, 1); err != nil {
		unix.Close(fd)
		return synKey{}, -1, err
	}
	// The port is bound: no other probe of this host has it.
	k := synKey{remote: remote, local: port}
	s.register(k, p)
	return k, fd, nil
}

// release unregisters the probe of k and closes fd, the descriptor of a
// port reserved for that probe alone (-1: a pool port).
func (s *SYNScanner) release(f *synFamily, k synKey, fd int) {
	s.unregister(k)
	if fd >= 0 {
		f.freePort(k.local, fd)
	}
}

// freePort gives up port, reserved by fd for one probe.
func (f *synFamily) freePort(port uint16, fd int) {
	// A filter that still passes the port costs nothing but the
	// packets to it, which the reader ignores.
	_ = f.pass(port, -1)
	unix.Close(fd)
}

// synReservePort binds a TCP socket to an ephemeral port of the family and
// returns the port and the socket's descriptor, which holds the port until
// it is closed.
func synReservePort(v6 bool) (uint16, int, error) {
	family, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{})
	if v6 {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, -1, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return 0, -1, os.NewSyscallError("bind", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return 0, -1, os.NewSyscallError("getsockname", err)
	}
	switch got := got.(type) {
	case *unix.SockaddrInet4:
		return uint16(got.Port), fd, nil
	case *unix.SockaddrInet6:
		return uint16(got.Port), fd, nil
	}
	unix.Close(fd)
	return 0, -1, fmt.Errorf("unexpected address %T", got)
}
