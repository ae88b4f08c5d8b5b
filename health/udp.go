package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"syscall"
	"time"
)

// UDPOptions configures a UDP check.
type UDPOptions struct {
	// Source, when valid, is the local address the datagram comes from
	// (see TCPOptions.Source).
	Source netip.Addr
	// Payload is the datagram sent; empty sends an empty datagram.
	Payload []byte
	// Expect, when set, must match the reply (its first 4 KiB; anchor with
	// ^ and $ to match all of it, (?s) to let . match newlines, \x00 for
	// bytes): a reply that does not match is an error, and no reply is
	// filtered.
	Expect *regexp.Regexp
	// ExpectBytes, when set, must occur in the reply (its first 4 KiB),
	// byte for byte: the config file's expect/expect_hex. Like Expect, a
	// reply without it is an error and no reply is filtered.
	ExpectBytes []byte
	// NoReplyOK passes a check that got no reply at all, which nmap
	// reports as "open|filtered": a UDP service may ignore the payload, or
	// a firewall may have dropped it, and silence cannot tell them apart.
	// Only for services that never answer the payload (an ICMP port
	// unreachable still fails the check as closed). Ignored when Expect is
	// set. By default silence fails as filtered.
	NoReplyOK bool
}

// probeUDPReplyMax is how much of a reply a UDP check reads.
const probeUDPReplyMax = 4 << 10

// UDP checks a UDP service: it sends one datagram on a connected socket
// and waits for a reply. A reply (matching Expect, if set) means open; an
// ICMP port unreachable closed; any other ICMP unreachable (host,
// network, protocol, administratively prohibited) filtered; silence
// filtered (or open with NoReplyOK); a send the director refuses (its
// firewall, its routing table) a local error.
type UDP struct {
	target netip.AddrPort
	addr   string
	dialer net.Dialer
	opts   UDPOptions
	name   string
}

// NewUDP returns a UDP checker for target.
func NewUDP(target netip.AddrPort, opts UDPOptions) *UDP {
	target = probeUnmap(target)
	return &UDP{
		target: target,
		addr:   target.String(),
		dialer: probeDialer(opts.Source, true),
		opts:   opts,
		name:   "udp " + target.String() + probeFrom(opts.Source),
	}
}

// String returns "udp ADDR:PORT", with " from SOURCE" when it has one.
func (c *UDP) String() string { return c.name }

// Check sends the payload and waits for the first reply until ctx's
// deadline (10s if it has none). Latency is the time from sending to the
// reply (or to giving up).
func (c *UDP) Check(ctx context.Context) Result {
	ctx, cancel, timeout := probeDeadline(ctx)
	defer cancel()
	start := time.Now()
	res := func(class Class, reason string) Result {
		return Result{Class: class, Latency: time.Since(start), Reason: reason}
	}
	// Connecting a UDP socket sends nothing: it picks the route and makes
	// the kernel report ICMP errors for this peer to this socket.
	conn, err := c.dialer.DialContext(ctx, "udp", c.addr)
	if err != nil {
		if probeCanceled(ctx) {
			return res(ClassError, probeCanceledReason)
		}
		return res(probeClassifyUDPErr(nil, err))
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	start = time.Now()
	if _, err := conn.Write(c.opts.Payload); err != nil {
		if probeCanceled(ctx) {
			return res(ClassError, probeCanceledReason)
		}
		return res(probeClassifyUDPErr(conn, err))
	}
	buf := make([]byte, probeUDPReplyMax)
	n, err := conn.Read(buf)
	switch {
	case err != nil && probeCanceled(ctx):
		return res(ClassError, probeCanceledReason)
	case err != nil && probeIsTimeout(ctx, err):
		if c.opts.Expect == nil && c.opts.ExpectBytes == nil && c.opts.NoReplyOK {
			return res(ClassOpen, fmt.Sprintf("no reply within %s (open|filtered)", timeout))
		}
		return res(ClassFiltered, fmt.Sprintf("no reply within %s", timeout))
	case err != nil:
		return res(probeClassifyUDPErr(conn, err))
	case c.opts.Expect != nil && !c.opts.Expect.Match(buf[:n]):
		return res(ClassError, fmt.Sprintf("reply %s does not match %s", probeQuote(buf[:n]), c.opts.Expect))
	case c.opts.ExpectBytes != nil && !bytes.Contains(buf[:n], c.opts.ExpectBytes):
		return res(ClassError, fmt.Sprintf("reply %s does not contain %s", probeQuote(buf[:n]), probeQuote(c.opts.ExpectBytes)))
	}
	return res(ClassOpen, fmt.Sprintf("reply of %d bytes", n))
}

// probeClassifyUDPErr classifies a failed write or read of a UDP check:
// by the ICMP error queued on the socket when there is one (a port
// unreachable is closed, every other unreachable filtered), else by the
// errno, which then comes from the director (a send its firewall or
// routing table refused: a local error).
func probeClassifyUDPErr(conn net.Conn, err error) (Class, string) {
	if uc, ok := conn.(*net.UDPConn); ok {
		if rc, rerr := uc.SyscallConn(); rerr == nil {
			var icmp *probeICMP
			_ = rc.Control(func(fd uintptr) { icmp = probeReadICMP(int(fd)) })
			if icmp != nil {
				return probeClassifyICMP(icmp, true)
			}
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return ClassClosed, "ICMP port unreachable"
	}
	return probeClassifyErr(err)
}

// probeQuote renders the start of a reply for a reason: Go-quoted, at most
// 64 bytes.
func probeQuote(b []byte) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}
