package health

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// SYNOptions configures a SYN check.
type SYNOptions struct {
	// Source, when valid, is the address the SYN comes from (see
	// TCPOptions.Source). The zero Addr takes the route's source.
	Source netip.Addr
	// Scanner sends the SYN and receives the answer. Nil: one scanner shared
	// by the process, opened on the first check (in the network namespace of
	// the thread that runs it).
	Scanner *SYNScanner
}

// SYN checks a port half-open, like nmap -sS: it sends one SYN from a raw
// socket; a SYN-ACK means open, a RST closed, an ICMP destination
// unreachable (any code, read with its code from the raw ICMP socket) or
// silence filtered. A SYN the director cannot send (no CAP_NET_RAW, no
// route, its firewall refusing it, no port or descriptor left) is a local
// error. It never completes the handshake: no local socket listens on or
// connects from the SYN's source port, so the kernel answers the SYN-ACK
// with a RST on its own, which is what nmap relies on too. The target's
// application never sees a connection.
//
// The source port is one of the scanner's pool (see synPoolPorts), each
// reserved for the scanner's life by a TCP socket bound to it (bound,
// never listening or connecting): the kernel gives no other socket that
// port, and a bound socket does not take the SYN-ACK away from the
// kernel's RST. No two checks in flight towards the same target share a
// port. Each check has a random initial sequence number, and only answers
// that acknowledge (or, for ICMP, quote) it count, so a late answer to an
// earlier check from the same port never does.
//
// The route's source address (looked up as a UDP connect would) is
// cached per check for synRouteTTL, an explicit one for good; either is
// set on the SYN itself (IP_PKTINFO), so that the checksum is always
// computed for the address the SYN leaves from.
//
// Like the kernel's connect, a check resends its SYN after 1s, then after
// 2s more, while the deadline allows. It needs CAP_NET_RAW.
type SYN struct {
	target  netip.AddrPort
	source  netip.Addr
	scanner *SYNScanner
	name    string
	// shared opens the process-wide scanner when none was given; tests
	// replace it.
	shared *synLazy
	// route is the target's route on the scanner last used, nil before
	// the first run or after a failure.
	route atomic.Pointer[synRoute]
	// next is the pool index of the next run's source port.
	next atomic.Uint32
}

// NewSYN returns a SYN checker for target.
func NewSYN(target netip.AddrPort, opts SYNOptions) *SYN {
	target = probeUnmap(target)
	return &SYN{
		target:  target,
		source:  opts.Source,
		scanner: opts.Scanner,
		name:    "syn " + target.String() + probeFrom(opts.Source),
		shared:  synShared,
	}
}

// String returns "syn ADDR:PORT", with " from SOURCE" when it has one.
func (c *SYN) String() string { return c.name }

// Check sends the SYN and waits for an answer until ctx's deadline (10s if
// it has none). Latency is the time from the first SYN to the answer.
func (c *SYN) Check(ctx context.Context) Result {
	ctx, cancel, timeout := probeDeadline(ctx)
	defer cancel()
	start := time.Now()
	s, err := c.scannerFor()
	if err != nil {
		return synLocalStart(start, err)
	}
	deadline, _ := ctx.Deadline()
	f, r, ok := s.start(c, timeout, deadline, false, nil)
	if !ok {
		return synLatency(r, start)
	}
	p := f.p
	select {
	case r = <-p.answer:
	case <-ctx.Done():
		if s.abort(p) {
			res := Result{Class: ClassError, Reason: probeCanceledReason}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				res = synSilence(timeout)
			}
			s.finish(p, res)
		}
		r = <-p.answer
	}
	p.free()
	return r
}

// startAsync starts the check with its deadline timeout from now and
// returns at once: the scanner reports the result to done, once, from its
// reader's goroutine on an answer or from its timer's at the deadline,
// and cancel completes it early (as canceled, from the timer's goroutine,
// never from the caller's). A check that ends before its SYN is in
// flight (no scanner, no route, a failed send) returns its result
// instead, and done is never called. It is the scheduler's path
// (asyncChecker): a run then takes no goroutine, context or timer of its
// own.
func (c *SYN) startAsync(timeout time.Duration, done resultSink) (cancel func(), res Result, started bool) {
	start := time.Now()
	s, err := c.scannerFor()
	if err != nil {
		return nil, synLocalStart(start, err), false
	}
	if timeout <= 0 {
		timeout = probeFallbackTimeout
	}
	f, r, ok := s.start(c, timeout, start.Add(timeout), true, done)
	if !ok {
		return nil, synLatency(r, start), false
	}
	return func() { s.cancel(f) }, Result{}, true
}

// scannerFor returns the scanner c sends with: its own, or the shared one
// (opened on first use).
func (c *SYN) scannerFor() (*SYNScanner, error) {
	if c.scanner != nil {
		return c.scanner, nil
	}
	return c.shared.get()
}

// synLocalStart is the result of a check that found no scanner.
func synLocalStart(start time.Time, err error) Result {
	return Result{Class: ClassLocalError, Latency: time.Since(start), Reason: err.Error()}
}

// synLatency gives r, a result that came before the SYN was in flight,
// the time since start if it has no latency of its own (an answer's).
func synLatency(r Result, start time.Time) Result {
	if r.Latency == 0 {
		r.Latency = time.Since(start)
	}
	return r
}

// synInitialRTO is when a check resends an unanswered SYN, doubling after
// each resend: the kernel's initial retransmission timeout, so a lost SYN
// costs the SYN check what it costs the connect check.
const synInitialRTO = time.Second

// start sends c's SYN and puts its probe in flight (see fly: resends
// before limit, and a deadline at limit when expires is set), reporting
// to done (nil: on the probe's answer channel). A check that ends before
// that (ok false) returns its result, whose Latency is set only for an
// answer.
func (s *SYNScanner) start(c *SYN, timeout time.Duration, limit time.Time, expires bool, done resultSink) (f synFlight, res Result, ok bool) {
	target, source := c.target, c.source
	fam, err := s.family(target.Addr())
	if err != nil {
		return synFlight{}, Result{Class: ClassLocalError, Reason: err.Error()}, false
	}
	explicit := source.IsValid()
	if explicit && source.Is4() != target.Addr().Is4() {
		return synFlight{}, Result{Class: ClassError, Reason: fmt.Sprintf("source %s and target %s are of different address families", source, target.Addr())}, false
	}
	// Answers carry no IPv6 zone: key without it.
	remote := netip.AddrPortFrom(target.Addr().WithZone(""), target.Port())
	p := newSynProbe(rand.Uint32())
	p.c, p.fam, p.timeout, p.done = c, fam, timeout, done
	k, fd, err := s.acquire(fam, remote, c.next.Add(1)-1, p)
	if err != nil {
		p.free()
		return synFlight{}, synLocal("reserve a source port", err), false
	}
	p.fd = fd
	drop := func() {
		s.release(fam, k, fd)
		p.fd = -1
		p.free()
	}
	var rt *synRoute
	for retried := false; ; retried = true {
		var cached bool
		if rt, cached, err = s.route(c, time.Now()); err != nil {
			drop()
			return synFlight{}, synLocal("route to the target", err), false
		}
		rt.packet(&p.pkt, k.local, p.isn)
		p.sent = time.Now()
		err = fam.send(p, rt.oob, rt.dst)
		if err == nil || retried || !cached || explicit {
			break
		}
		// The route or the source may have changed since it was
		// cached: look up again, and let that say what is wrong.
		c.forget(rt)
	}
	if err != nil {
		// A raw send fails only on the director: no packet came back yet.
		c.forget(rt)
		drop()
		if explicit && !synIsLocal(source) {
			return synFlight{}, Result{Class: ClassLocalError, Reason: fmt.Sprintf("send the SYN from %s: the address is not on this director (%v)", source, err)}, false
		}
		return synFlight{}, synLocal("send the SYN", err), false
	}
	p.rt = rt
	f, res, answered := s.fly(p, limit, expires)
	if answered {
		s.settle(p, res)
		p.free()
		return synFlight{}, res, false
	}
	return f, Result{}, true
}

// synLocal is the result of a SYN the director could not send: every
// errno of a raw send, of the port reservation and of the route lookup is
// the director's (no route, firewall, fd limit, a source it does not
// have), so it is a local error, explained as probeLocalErrno does.
func synLocal(what string, err error) Result {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if reason, ok := probeLocalErrno(errno); ok {
			return Result{Class: ClassLocalError, Reason: what + ": " + reason}
		}
	}
	return Result{Class: ClassLocalError, Reason: what + ": " + err.Error()}
}

// synIsLocal reports whether the host has addr, by binding a socket to
// it: the kernel refuses (EADDRNOTAVAIL) an address it does not have,
// where a raw send from it fails with whatever the route lookup says.
func synIsLocal(addr netip.Addr) bool {
	var family int
	var sa unix.Sockaddr
	if addr.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: addr.As4()}
	} else {
		sa6 := &unix.SockaddrInet6{Addr: addr.As16()}
		if z := addr.Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				sa6.ZoneId = uint32(ifi.Index)
			}
		}
		family, sa = unix.AF_INET6, sa6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return true // cannot tell: let the send's errno speak
	}
	defer unix.Close(fd)
	return !errors.Is(unix.Bind(fd, sa), unix.EADDRNOTAVAIL)
}

// synShared is the scanner SYN checks use when given none.
var synShared = &synLazy{open: NewSYNScanner}

// synLazy opens a scanner on first use. A failure is not remembered: the
// next check tries again (say, after the capability was granted).
type synLazy struct {
	open func() (*SYNScanner, error)
	// gen, when set, numbers the network namespace the scanner must be
	// in (see NetNS): a scanner of another number is closed and a new
	// one opened.
	gen  func() uint64
	mu   sync.Mutex
	s    *SYNScanner
	sgen uint64
}

func (l *synLazy) get() (*SYNScanner, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var gen uint64
	if l.gen != nil {
		gen = l.gen()
	}
	if l.s != nil && gen != l.sgen {
		// Checks still using it fail; Close waits for its readers.
		go l.s.Close()
		l.s = nil
	}
	if l.s == nil {
		s, err := l.open()
		if err != nil {
			return nil, fmt.Errorf("syn check: %w", err)
		}
		l.s, l.sgen = s, gen
	}
	return l.s, nil
}

// synRouteSource returns the source address the kernel's routing picks
// for target (zone: the interface index of an IPv6 target's zone, or 0),
// by connecting a UDP socket (which sends nothing). Its error wraps the
// errno, so "no route to host" classifies as for a connect.
func synRouteSource(target netip.AddrPort, zone uint32) (netip.Addr, error) {
	a := target.Addr()
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(target.Port()), Addr: a.As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(target.Port()), Addr: a.As16(), ZoneId: zone}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.Addr{}, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return netip.Addr{}, os.NewSyscallError("connect", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, os.NewSyscallError("getsockname", err)
	}
	switch got := got.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(got.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(got.Addr), nil
	}
	return netip.Addr{}, fmt.Errorf("route source: unexpected address %T", got)
}

// synSourceControl returns the control message that sets a raw send's
// source address (IP_PKTINFO, IPV6_PKTINFO).
func synSourceControl(source netip.Addr) []byte {
	if source.Is4() {
		return (&ipv4.ControlMessage{Src: source.AsSlice()}).Marshal()
	}
	return (&ipv6.ControlMessage{Src: source.AsSlice()}).Marshal()
}

// synPacket builds the SYN's TCP header (the kernel adds the IP header):
// an MSS option, as every real stack sends, and the checksum over the
// pseudo-header of source and target.
func synPacket(source netip.Addr, target netip.AddrPort, sport uint16, isn uint32) []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint16(b[0:2], sport)
	binary.BigEndian.PutUint16(b[2:4], target.Port())
	binary.BigEndian.PutUint32(b[4:8], isn)
	b[12] = 6 << 4 // data offset: 6 words
	b[13] = synFlagSYN
	binary.BigEndian.PutUint16(b[14:16], 64240)
	mss := uint16(1460) // Ethernet MTU less 40 bytes of headers
	if target.Addr().Is6() {
		mss = 1440
	}
	b[20], b[21] = 2, 4 // option: MSS, length 4
	binary.BigEndian.PutUint16(b[22:24], mss)
	binary.BigEndian.PutUint16(b[16:18], synChecksum(source, target.Addr(), b))
	return b
}

// synChecksum is the TCP checksum (RFC 793, RFC 8200 for IPv6) of seg
// between src and dst: the ones' complement of the ones' complement sum of
// the pseudo-header and the segment, whose checksum field must be zero.
func synChecksum(src, dst netip.Addr, seg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(b[0])<<8 | uint32(b[1])
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	// Protocol and TCP length; IPv4's 16-bit and IPv6's 32-bit length
	// fields sum alike for segments under 64 KiB.
	sum += unix.IPPROTO_TCP + uint32(len(seg))
	add(seg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
