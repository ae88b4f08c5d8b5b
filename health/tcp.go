package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
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
// handshake completes, closed on a RST (connection refused) or an ICMP
// unreachable, filtered when nothing answers before the deadline.
type TCP struct {
	target netip.AddrPort
	addr   string // target in the form DialContext parses, computed once
	dialer net.Dialer
	name   string
}

// NewTCP returns a TCP connect checker for target. An IPv4-mapped IPv6
// target is checked over IPv4.
func NewTCP(target netip.AddrPort, opts TCPOptions) *TCP {
	target = probeUnmap(target)
	return &TCP{
		target: target,
		addr:   target.String(),
		dialer: probeDialer(opts.Source),
		name:   "tcp " + target.String(),
	}
}

// String returns "tcp ADDR:PORT".
func (c *TCP) String() string { return c.name }

// Check connects to the target and closes the connection as soon as the
// handshake completes. Latency is the handshake's duration. Without a
// deadline in ctx, the check gives up after 10s.
func (c *TCP) Check(ctx context.Context) Result {
	ctx, cancel, timeout := probeDeadline(ctx)
	defer cancel()
	start := time.Now()
	conn, res := probeDialTCP(ctx, &c.dialer, c.addr, timeout)
	latency := time.Since(start)
	if conn == nil {
		res.Latency = latency
		return res
	}
	probeResetClose(conn)
	return Result{Class: ClassOpen, Latency: latency, Reason: "handshake completed"}
}

// probeDialer returns the dialer every TCP-based check uses: no keep-alive
// probes (the connection lives for one check), bound to source when one is
// given (a source of the other address family than the target makes every
// check fail with ClassError). Go's net package parses the dialed literal
// without DNS.
func probeDialer(source netip.Addr) net.Dialer {
	d := net.Dialer{KeepAlive: -1}
	if source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: source.AsSlice(), Zone: source.Zone()}
	}
	return d
}

// probeDialTCP connects to addr. On failure it returns a nil conn and the
// Result (without latency) that classifies why.
func probeDialTCP(ctx context.Context, d *net.Dialer, addr string, timeout time.Duration) (*net.TCPConn, Result) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		return conn.(*net.TCPConn), Result{}
	}
	if probeCanceled(ctx) {
		return nil, Result{Class: ClassError, Reason: probeCanceledReason}
	}
	if probeIsTimeout(ctx, err) {
		return nil, Result{Class: ClassFiltered, Reason: fmt.Sprintf("no answer to SYN within %s", timeout)}
	}
	class, reason := probeClassifyErr(err)
	return nil, Result{Class: class, Reason: reason}
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

// probeClassifyErr maps a socket error that is not a deadline to a class
// and a short reason. Unreachables count as closed: something on the path
// answered that the target cannot be reached. A local firewall rule that
// refuses the packet counts as filtered, as nmap would report it.
func probeClassifyErr(err error) (Class, string) {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED:
			return ClassClosed, "connection refused (RST)"
		case syscall.EHOSTUNREACH:
			return ClassClosed, "no route to host (ICMP host unreachable)"
		case syscall.ENETUNREACH:
			return ClassClosed, "network is unreachable"
		case syscall.EPERM:
			return ClassFiltered, "blocked by a local firewall rule (operation not permitted)"
		case syscall.EACCES:
			return ClassFiltered, "administratively prohibited (permission denied)"
		case syscall.ECONNRESET:
			return ClassError, "connection reset by peer"
		}
	}
	if errors.Is(err, context.Canceled) {
		return ClassError, probeCanceledReason
	}
	return ClassError, err.Error()
}

// probeDeadline returns ctx with a deadline (the fallback when it has
// none), its cancel func and the time left, for reasons such as "no answer
// within 1s".
func probeDeadline(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	deadline, ok := ctx.Deadline()
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, probeFallbackTimeout)
		return ctx, cancel, probeFallbackTimeout
	}
	return ctx, func() {}, probeRound(time.Until(deadline))
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
