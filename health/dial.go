package health

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// probeDialer returns the dialer of every connect-based check (tcp, http,
// https, udp): the one place that builds a net.Dialer. No keep-alive
// probes (the connection lives for one check); bound to source when one
// is given, so that a source the host does not have fails the check as a
// local error (EADDRNOTAVAIL), and one of the other address family than
// the target as an error. UDP sockets get IP_RECVERR here; TCP ones in
// probeDialTCP, which reads the error queue. Go's net package parses the
// dialed literal without DNS.
func probeDialer(source netip.Addr, udp bool) net.Dialer {
	d := net.Dialer{KeepAlive: -1}
	if source.IsValid() {
		ip, zone := source.AsSlice(), source.Zone()
		if udp {
			d.LocalAddr = &net.UDPAddr{IP: ip, Zone: zone}
		} else {
			d.LocalAddr = &net.TCPAddr{IP: ip, Zone: zone}
		}
	}
	if udp {
		d = probeWithControl(d, func(network string, fd int) error {
			return probeSetRecvErr(fd, network == "udp6", true)
		})
	}
	return d
}

// probeFrom is the suffix of a checker's String for its source address:
// " from 192.0.2.250", or "" when the route chooses.
func probeFrom(source netip.Addr) string {
	if !source.IsValid() {
		return ""
	}
	return " from " + source.String()
}

// probeWithControl returns d with f called on each socket after d's own
// Control or ControlContext hook (if any), before the socket binds and
// connects.
func probeWithControl(d net.Dialer, f func(network string, fd int) error) net.Dialer {
	run := func(network string, rc syscall.RawConn) error {
		var ferr error
		if err := rc.Control(func(fd uintptr) { ferr = f(network, int(fd)) }); err != nil {
			return err
		}
		return ferr
	}
	if prev := d.ControlContext; prev != nil {
		d.ControlContext = func(ctx context.Context, network, address string, rc syscall.RawConn) error {
			if err := prev(ctx, network, address, rc); err != nil {
				return err
			}
			return run(network, rc)
		}
		return d
	}
	prev := d.Control
	d.Control = func(network, address string, rc syscall.RawConn) error {
		if prev != nil {
			if err := prev(network, address, rc); err != nil {
				return err
			}
		}
		return run(network, rc)
	}
	return d
}

// probeDialTCP connects to addr with d. On failure it returns a nil conn
// and the Result (without latency) that classifies why (see classify.go).
//
// To tell an error from the network from one of the director it needs the
// ICMP error the kernel queued on the socket, which Go closes when
// connect fails: the socket gets IP_RECVERR, and a duplicate of its
// descriptor keeps it open until the error queue has been read.
func probeDialTCP(ctx context.Context, d *net.Dialer, addr string, timeout time.Duration) (*net.TCPConn, Result) {
	dup, v6 := -1, false
	dd := probeWithControl(*d, func(network string, fd int) error {
		v6 = network == "tcp6"
		if err := probeSetRecvErr(fd, v6, true); err != nil {
			return fmt.Errorf("set IP_RECVERR: %w", err)
		}
		if dup >= 0 {
			unix.Close(dup)
		}
		var err error
		if dup, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			dup = -1
			return fmt.Errorf("dup: %w", err)
		}
		return nil
	})
	conn, err := dd.DialContext(ctx, "tcp", addr)
	if dup >= 0 {
		defer unix.Close(dup)
	}
	if err == nil {
		// Established, IP_RECVERR would make the ICMP errors TCP rides
		// out (soft errors) fatal to the HTTP exchange that follows.
		_ = probeSetRecvErr(dup, v6, false)
		return conn.(*net.TCPConn), Result{}
	}
	if probeCanceled(ctx) {
		return nil, Result{Class: ClassError, Reason: probeCanceledReason}
	}
	var icmp *probeICMP
	if dup >= 0 {
		icmp = probeReadICMP(dup)
	}
	switch {
	case icmp != nil:
		class, reason := probeClassifyICMP(icmp, false)
		return nil, Result{Class: class, Reason: reason}
	case probeIsTimeout(ctx, err):
		return nil, Result{Class: ClassFiltered, Reason: fmt.Sprintf("no answer to SYN within %s", timeout)}
	}
	class, reason := probeClassifyErr(err)
	return nil, Result{Class: class, Reason: reason}
}
