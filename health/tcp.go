package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// probeFallbackTimeout bounds a check whose context has no deadline. The
// scheduler always sets one; this only keeps a stray caller from waiting
// forever.
const probeFallbackTimeout = 10 * time.Second

// TCPOptions configures a TCP connect check.
type TCPOptions struct {
	// Source, when valid, is the local address the check connects from
	// (keepalived's bindto): on a director with several addresses, the one
	// the real servers route back through. The zero Addr lets the kernel
	// choose.
	Source netip.Addr
}

// TCP checks a port with a full TCP handshake, like nmap -sT: open when the
// handshake completes, closed on a RST (connection refused), filtered when
// nothing answers before the deadline or an ICMP destination unreachable
// does (any code), and a local error when the director cannot send the
// SYN (see ClassLocalError).
//
// It connects a non-blocking socket of its own and waits for it on Go's
// poller, as keepalived's TCP_CHECK does on its event loop, instead of
// going through net.Dialer: no address parsing, no goroutine, and the
// system calls a check needs (socket, IP_RECVERR, connect, the poller's
// add and delete, the connect's result, the reset, close), not the ones a
// connection that lives on needs (TCP_NODELAY, getsockname, getpeername,
// and the descriptor duplicate that keeps the error queue readable after
// a failed dial; see BENCHMARKS.md, "CPU per check"). Those on the socket
// itself are raw system calls that keep the check's processor (see
// rawsys.go). The Scheduler on the real clock does not call Check when a
// slot is free at once: the run goes on an event loop instead
// (asyncChecker, tcp_async.go), which classifies alike and spares the
// os.File, the poller's add and delete, the goroutine, context and
// timers.
type TCP struct {
	// The target, as addr and port rather than a netip.AddrPort, so that
	// peek fits in the AddrPort's padding.
	addr netip.Addr
	port uint16
	// peek is what startAsync knows of the check's connects (tcpPeek).
	peek atomic.Uint32
	// source is the address to connect from, nil to let the kernel
	// choose: most checks have none, and behind a pointer it costs them 8
	// bytes, not 24 (a TCP is 48 bytes).
	source *netip.Addr
	// socket makes the check's socket; NetNS.apply makes it in the
	// checks' namespace.
	socket func(domain, typ, proto int) (int, error)
}

// NewTCP returns a TCP connect checker for target. An IPv4-mapped IPv6
// target is checked over IPv4.
func NewTCP(target netip.AddrPort, opts TCPOptions) *TCP {
	target = probeUnmap(target)
	c := &TCP{addr: target.Addr(), port: target.Port(), socket: rawSocket}
	if opts.Source.IsValid() {
		c.source = &opts.Source
	}
	return c
}

// target returns the address and port checked.
func (c *TCP) target() netip.AddrPort { return netip.AddrPortFrom(c.addr, c.port) }

// from returns the address to connect from, the zero Addr for none.
func (c *TCP) from() netip.Addr {
	if c.source == nil {
		return netip.Addr{}
	}
	return *c.source
}

// String returns "tcp ADDR:PORT", with " from SOURCE" when it has one.
// It is made at each call: the scheduler asks for it only when its
// targets change and to log (the check's metrics label is CheckSpec's
// Name), and kept it would cost 24 bytes or more a check.
func (c *TCP) String() string { return "tcp " + c.target().String() + probeFrom(c.from()) }

// Check connects to the target and closes the connection as soon as the
// handshake completes. Latency is the handshake's duration. Without a
// deadline in ctx, the check gives up after 10s.
func (c *TCP) Check(ctx context.Context) Result {
	ctx, cancel, timeout := probeDeadline(ctx)
	defer cancel()
	start := time.Now()
	res := c.connect(ctx, timeout)
	res.Latency = time.Since(start)
	return res
}

// connect runs the check but for its latency.
func (c *TCP) connect(ctx context.Context, timeout time.Duration) Result {
	fd, sa, res, pending := c.dial()
	if !pending {
		return res
	}
	// From here the file owns fd, and its poller registration.
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	icmp, err := probeWaitConnect(ctx, f, &sa)
	switch {
	case err == nil && icmp == nil:
	case probeCanceled(ctx):
		return Result{Class: ClassError, Reason: probeCanceledReason}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return tcpExpired(fd, timeout)
	}
	return tcpEnded(fd, icmp, err)
}

// dial makes the check's socket (in the checks' namespace, bound to the
// source if there is one) and starts its connect. It returns the socket
// and the target's address with the connect in progress (pending), or
// the result when the check is over already, its socket closed.
func (c *TCP) dial() (fd int, sa rawSockaddr, res Result, pending bool) {
	v6 := c.addr.Is6()
	if source := c.from(); source.IsValid() && source.Unmap().Is4() == v6 {
		return -1, sa, Result{Class: ClassError, Reason: fmt.Sprintf("source %s and target %s are of different address families", source, c.addr)}, false
	}
	domain := unix.AF_INET
	if v6 {
		domain = unix.AF_INET6
	}
	fd, err := c.socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if _, ok := err.(*netnsError); !ok {
			err = os.NewSyscallError("socket", err)
		}
		class, reason := probeClassifyErr(err)
		return -1, sa, Result{Class: class, Reason: reason}, false
	}
	if err := probeSetRecvErr(fd, v6, true); err != nil {
		rawClose(fd)
		return -1, sa, Result{Class: ClassLocalError, Reason: "set IP_RECVERR: " + err.Error()}, false
	}
	if source := c.from(); source.IsValid() {
		local, err := probeSockaddr(netip.AddrPortFrom(source, 0))
		if err == nil {
			err = os.NewSyscallError("bind", rawBind(fd, local))
		}
		if err != nil {
			rawClose(fd)
			class, reason := probeClassifyErr(err)
			return -1, sa, Result{Class: class, Reason: reason}, false
		}
	}
	if !rawSockaddrOfAddrPort(c.target(), &sa) {
		// An IPv6 zone: probeSockaddr looks up its interface.
		zoned, err := probeSockaddr(c.target())
		if err != nil {
			rawClose(fd)
			return -1, sa, Result{Class: ClassError, Reason: err.Error()}, false
		}
		rawSockaddrOf(zoned, &sa)
	}
	switch err = rawConnectRaw(fd, &sa); err {
	case unix.EINPROGRESS, unix.EINTR:
		return fd, sa, Result{}, true
	}
	res = tcpEnded(fd, nil, err)
	rawClose(fd)
	return -1, sa, res, false
}

// tcpEnded classifies the connect of fd once it is over: open when it
// completed (err and icmp nil; the connection is then reset), filtered
// by the ICMP error that ended it, else by its errno. It leaves fd open.
func tcpEnded(fd int, icmp *probeICMP, err error) Result {
	switch {
	case err == nil && icmp == nil:
		if err := rawReset(fd); err != nil {
			probeSetResetClose(fd) // the close resets it instead
		}
		return Result{Class: ClassOpen, Reason: "handshake completed"}
	case icmp != nil:
		class, reason := probeClassifyICMP(icmp, false)
		return Result{Class: class, Reason: reason}
	}
	return probeConnectFailed(fd, err)
}

// tcpExpired classifies the connect of fd that was still running at its
// deadline: filtered. It leaves fd open.
func tcpExpired(fd int, timeout time.Duration) Result {
	// Over IPv6 on one host, an ICMPv6 error can sit in the queue of a
	// connect still waiting (see tcpConnectState).
	if icmp := probeReadICMP(fd); icmp != nil {
		class, reason := probeClassifyICMP(icmp, false)
		return Result{Class: class, Reason: reason}
	}
	return Result{Class: ClassFiltered, Reason: fmt.Sprintf("no answer to SYN within %s", timeout)}
}

// probeWaitConnect waits on the poller until the connect in progress on
// f's socket completes (nil, nil), fails (its errno), an ICMP error
// arrives in the socket's error queue (the record), or ctx is done
// (os.ErrDeadlineExceeded); tcpConnectState reads which.
func probeWaitConnect(ctx context.Context, f *os.File, sa *rawSockaddr) (*probeICMP, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		if err := f.SetWriteDeadline(deadline); err != nil {
			return nil, err
		}
	}
	// Cancellation (the scheduler stopping the check) moves the deadline
	// into the past, which wakes the wait.
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	var cerr error
	var icmp *probeICMP
	// Write asks before it waits, and forgets a readiness that came
	// before: the handshake may have completed since connect returned.
	if err := rc.Write(func(fd uintptr) bool {
		var over bool
		over, icmp, cerr = tcpConnectState(int(fd), sa)
		return over
	}); err != nil {
		return nil, err
	}
	return icmp, cerr
}

// tcpConnectState reads the state of the connect in progress on fd to
// sa by connecting again, as BSD sockets allow: it returns 0 or EISCONN
// once connected, EALREADY while the handshake runs, and the error that
// ended it. A spurious wake-up of the poller (golang.org/issue/19289) is
// thus told from a completed connect without a getpeername. over is
// false while the connect runs on; when it is over, err is its errno
// (nil once connected) or icmp the ICMP error that ended it.
//
// The kernel queues an ICMP error (IP_RECVERR) and wakes the poller even
// when it leaves the connect running: over IPv6 on one host, or when the
// ICMP arrived while the connect held the socket. The kernel fails the
// connect itself on such an error when the socket is free, so one in the
// queue ends the check.
func tcpConnectState(fd int, sa *rawSockaddr) (over bool, icmp *probeICMP, err error) {
	switch err = rawConnectRaw(fd, sa); err {
	case nil, unix.EISCONN:
		return true, nil, nil
	case unix.EALREADY, unix.EINPROGRESS, unix.EINTR:
		icmp = probeReadICMP(fd)
		return icmp != nil, icmp, nil
	}
	return true, nil, err
}

// probeConnectFailed classifies the failed connect of fd: by the ICMP
// error the kernel queued (IP_RECVERR) if there is one, else by err.
func probeConnectFailed(fd int, err error) Result {
	if icmp := probeReadICMP(fd); icmp != nil {
		class, reason := probeClassifyICMP(icmp, false)
		return Result{Class: class, Reason: reason}
	}
	class, reason := probeClassifyErr(os.NewSyscallError("connect", err))
	return Result{Class: class, Reason: reason}
}

// probeSockaddr converts ap to the socket address connect and bind take;
// an IPv6 zone becomes its interface's index.
func probeSockaddr(ap netip.AddrPort) (unix.Sockaddr, error) {
	a := ap.Addr()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return nil, fmt.Errorf("zone of %s: %w", a, err)
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, nil
}

// probeResetClose closes a check's connection with SO_LINGER 0, so the
// kernel sends a RST instead of a FIN and keeps no TIME_WAIT socket. At
// thousands of checks per second an orderly close would leave a TIME_WAIT
// entry per check for 60s (hundreds of thousands of them, beyond
// net.ipv4.tcp_max_tw_buckets) and, towards one real server, reuse source
// ports slower than checks consume them. HAProxy closes its health-check
// connections the same way. The cost: the server sees a reset instead of a
// close, which some servers log.
func probeResetClose(conn *net.TCPConn) {
	_ = conn.SetLinger(0)
	_ = conn.Close()
}

// probeSetResetClose makes the close of socket fd reset the connection,
// as probeResetClose does.
func probeSetResetClose(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

// probeCanceledReason is the reason of a check whose context was canceled
// before its deadline (say, the scheduler stopped it).
const probeCanceledReason = "check canceled"

// probeCanceled reports whether ctx was canceled before its deadline.
// Checks test it before they classify an error: cancellation cuts a wait
// short by moving socket deadlines into the past, which looks like a
// timeout.
func probeCanceled(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// probeIsTimeout reports whether err means the check ran out of time: the
// poller's deadline (set from ctx's) or ctx's own, whichever fired first.
func probeIsTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// probeDeadline returns ctx with a deadline (the fallback when it has
// none), its cancel func and the timeout to name in reasons such as "no
// answer within 1s": the check's configured timeout when the scheduler
// gave it (withProbeTimeout), else the time left, never below 0. The time
// left alone misleads: a run that starts late, or a fake clock's
// deadline, once gave "no answer to SYN within -37.466403ms".
func probeDeadline(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	deadline, ok := ctx.Deadline()
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, probeFallbackTimeout)
		return ctx, cancel, probeFallbackTimeout
	}
	if d, ok := ctx.Value(probeTimeoutKey{}).(time.Duration); ok {
		return ctx, func() {}, d
	}
	return ctx, func() {}, probeRound(max(time.Until(deadline), 0))
}

// probeTimeoutKey carries a run's configured timeout in its context.
type probeTimeoutKey struct{}

// withProbeTimeout records in ctx the timeout a check was configured
// with, for the checkers' reasons.
func withProbeTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, probeTimeoutKey{}, d)
}

// probeRound rounds a timeout for a reason string: "1s", not "999.8721ms".
func probeRound(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d
}

// probeUnmap turns an IPv4-mapped IPv6 target into IPv4, so the check uses
// the IPv4 stack as the kernel's IPVS table would.
func probeUnmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
