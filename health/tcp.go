package health

import (
	"context"
	"errors"
	"net"
	"net/netip"
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
// handshake completes, closed on a RST (connection refused), filtered when
// nothing answers before the deadline or an ICMP destination unreachable
// does (any code), and a local error when the director cannot send the
// SYN (see ClassLocalError).
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
		dialer: probeDialer(opts.Source, false),
		name:   "tcp " + target.String() + probeFrom(opts.Source),
	}
}

// String returns "tcp ADDR:PORT", with " from SOURCE" when it has one.
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
