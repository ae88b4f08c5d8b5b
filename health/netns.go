package health

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// NetNS is the network namespace the checks open their sockets in, when
// lvs-sidecar works on the IPVS table of another namespace than its own
// (--ipvs.netns): the real servers are reachable from the director's
// network, maybe only from there. Build hands it to every checker
// (BuildDeps.NetNS); nil means the process's own namespace.
//
// Only socket creation runs inside the namespace, on a thread that enters
// it for that moment: a socket belongs to the namespace it was created in
// for its whole life, whichever thread uses it later. TCP checks make
// their socket there; HTTP and UDP checks replace the socket their dialer
// made with one made in the namespace, before it connects; SYN checks open their raw sockets and
// reserve their ports there; an ICMP check runs its pinger on a thread in
// the namespace, which it holds while the ping lasts (pro-bing opens its
// socket inside its run).
type NetNS struct {
	do  func(fn func() error) error
	syn *synLazy
}

// NewNetNS returns the NetNS whose do runs fn on an OS thread inside the
// namespace (ipvs.NetNS.Do), and whose generation changes when do starts
// to enter another namespace (ipvs.NetNS.Generation): SYN checks then
// re-open their raw sockets there. Make one per namespace and pass it to
// every Build, so that all SYN checks share one scanner.
func NewNetNS(do func(fn func() error) error, generation func() uint64) *NetNS {
	n := &NetNS{do: do}
	n.syn = &synLazy{gen: generation, open: func() (*SYNScanner, error) {
		var s *SYNScanner
		err := do(func() error {
			var err error
			s, err = NewSYNScanner()
			return err
		})
		if err != nil {
			return nil, err
		}
		s.do = do
		return s, nil
	}}
	return n
}

// apply makes checker open its sockets in the namespace and returns the
// checker to use.
func (n *NetNS) apply(checker Checker) Checker {
	if n == nil {
		return checker
	}
	switch c := checker.(type) {
	case *TCP:
		c.socket = n.socket
	case *HTTP:
		n.wrapDialer(&c.dialer)
	case *UDP:
		n.wrapDialer(&c.dialer)
	case *SYN:
		if c.scanner == nil {
			c.shared = n.syn
		}
	case *ICMP:
		c.spawn = func(f func()) {
			go func() { _ = n.do(func() error { f(); return nil }) }()
		}
		return &icmpInNetNS{ICMP: c, n: n}
	}
	return checker
}

// icmpInNetNS is an ICMP check that says so when it cannot enter the
// namespace, instead of waiting out its timeout for a pinger that never
// started.
type icmpInNetNS struct {
	*ICMP
	n *NetNS
}

// Check tries the namespace, then pings from it.
func (c *icmpInNetNS) Check(ctx context.Context) Result {
	if err := c.n.do(func() error { return nil }); err != nil {
		return Result{Class: ClassLocalError, Reason: "icmp check: " + (&netnsError{err}).Error()}
	}
	return c.ICMP.Check(ctx)
}

// wrapDialer makes d create its sockets in the namespace. Go's dialer
// calls ControlContext after it made the socket and before it binds,
// connects or registers it with the poller: the socket is replaced there,
// under the same descriptor number, by one made in the namespace. The
// dialer's own control function runs afterwards, on the new socket.
func (n *NetNS) wrapDialer(d *net.Dialer) {
	prevCtx, prev := d.ControlContext, d.Control
	d.Control = nil
	d.ControlContext = func(ctx context.Context, network, address string, rc syscall.RawConn) error {
		if err := n.replaceSocket(rc); err != nil {
			return err
		}
		switch {
		case prevCtx != nil:
			return prevCtx(ctx, network, address, rc)
		case prev != nil:
			return prev(network, address, rc)
		}
		return nil
	}
}

// replaceSocket puts a socket made in the namespace, of the same domain,
// type and protocol, and with the options Go's dialer set, under rc's
// descriptor.
func (n *NetNS) replaceSocket(rc syscall.RawConn) error {
	var err error
	if cerr := rc.Control(func(fd uintptr) { err = n.recreate(int(fd)) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return &netnsError{err}
	}
	return nil
}

// socket makes a socket in the namespace, as unix.Socket; its error is a
// *netnsError when the namespace could not be entered.
func (n *NetNS) socket(domain, typ, proto int) (int, error) {
	fd := -1
	var serr error
	if err := n.do(func() error {
		fd, serr = unix.Socket(domain, typ, proto)
		return nil
	}); err != nil {
		return -1, &netnsError{err}
	}
	return fd, serr
}

// netnsError is a failure to make a socket in the checks' namespace: the
// director's trouble (a namespace gone, no CAP_SYS_ADMIN), never the real
// server's, so its result is a local error.
type netnsError struct{ err error }

func (e *netnsError) Error() string {
	return "create the socket in the checks' network namespace: " + e.err.Error()
}

func (e *netnsError) Unwrap() error { return e.err }

func (n *NetNS) recreate(fd int) error {
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return err
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return err
	}
	proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return err
	}
	v6only := 0
	if domain == unix.AF_INET6 {
		if v6only, err = unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); err != nil {
			return err
		}
	}
	var nfd int
	if err := n.do(func() error {
		var err error
		nfd, err = unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		return err
	}); err != nil {
		return err
	}
	defer unix.Close(nfd)
	// What Go's dialer set on the socket it made (setDefaultSockopts).
	if domain == unix.AF_INET6 {
		if err := unix.SetsockoptInt(nfd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return err
		}
	}
	if typ == unix.SOCK_DGRAM {
		if err := unix.SetsockoptInt(nfd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
			return err
		}
	}
	return unix.Dup3(nfd, fd, unix.O_CLOEXEC)
}

// inNetNS runs fn in the scanner's namespace (the calling thread's when
// it has none).
func (s *SYNScanner) inNetNS(fn func() error) error {
	if s.do == nil {
		return fn()
	}
	return s.do(fn)
}
