package health

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// How a check's socket errors become result classes, as nmap's
// port-scanning documentation has it: for TCP (connect and SYN) a RST is
// closed, and silence or an ICMP destination unreachable (type 3 codes 0,
// 1, 2, 3, 9, 10, 13; ICMPv6 type 1) filtered; for UDP an ICMP port
// unreachable is closed and every other unreachable filtered. An error
// that no packet from the network caused (the director's fd limit, its
// routing table, its firewall refusing the send, a source address it does
// not have) is ClassLocalError, which says nothing about the real server.
//
// An errno alone cannot tell the two apart: connect fails with "no route
// to host" (EHOSTUNREACH) for an unreachable route in the local table and
// for an ICMP host unreachable from a router alike, and with "connection
// refused" for a RST and for an ICMP port unreachable. The checks set
// IP_RECVERR (IPV6_RECVERR) on their sockets, so the kernel also queues
// each ICMP error with its type, code and sender on the socket's error
// queue: an error with an ICMP record there came from the network, one
// without it from the director.

// probeICMP is an ICMP error the kernel queued on a check's socket.
type probeICMP struct {
	v6        bool
	typ, code uint8
	from      netip.Addr // the ICMP's sender: the router or host that reported
}

// unreachable reports whether it is a destination unreachable.
func (e *probeICMP) unreachable() bool {
	return (!e.v6 && e.typ == 3) || (e.v6 && e.typ == 1)
}

// portUnreachable reports whether it is a port unreachable: ICMP type 3
// code 3, ICMPv6 type 1 code 4.
func (e *probeICMP) portUnreachable() bool {
	return e.unreachable() && ((!e.v6 && e.code == 3) || (e.v6 && e.code == 4))
}

// String names the error and its sender: "ICMP host unreachable (type 3,
// code 1) from 192.0.2.254".
func (e *probeICMP) String() string {
	s := probeICMPName(e.v6, e.typ, e.code)
	if e.from.IsValid() && !e.from.IsUnspecified() {
		s += " from " + e.from.String()
	}
	return s
}

// probeICMPName names an ICMP or ICMPv6 error type and code.
func probeICMPName(v6 bool, typ, code uint8) string {
	proto := "ICMP"
	if v6 {
		proto = "ICMPv6"
	}
	name := ""
	switch {
	case !v6 && typ == 3:
		name = map[uint8]string{
			0: "network unreachable", 1: "host unreachable", 2: "protocol unreachable",
			3: "port unreachable", 4: "fragmentation needed", 5: "source route failed",
			6: "destination network unknown", 7: "destination host unknown", 8: "source host isolated",
			9: "network administratively prohibited", 10: "host administratively prohibited",
			11: "network unreachable for TOS", 12: "host unreachable for TOS",
			13: "communication administratively prohibited", 14: "host precedence violation",
			15: "precedence cutoff in effect",
		}[code]
		if name == "" {
			name = "destination unreachable"
		}
	case v6 && typ == 1:
		name = map[uint8]string{
			0: "no route to destination", 1: "administratively prohibited", 2: "beyond scope of source address",
			3: "address unreachable", 4: "port unreachable", 5: "source address failed policy",
			6: "reject route to destination",
		}[code]
		if name == "" {
			name = "destination unreachable"
		}
	case !v6 && typ == 11, v6 && typ == 3:
		name = "time exceeded"
	case !v6 && typ == 12, v6 && typ == 4:
		name = "parameter problem"
	case v6 && typ == 2:
		name = "packet too big"
	default:
		name = "error"
	}
	return fmt.Sprintf("%s %s (type %d, code %d)", proto, name, typ, code)
}

// probeReadICMP reads the oldest ICMP error queued on fd (IP_RECVERR),
// without blocking (a raw system call, see rawsys.go); nil when there is
// none (or only a local one).
func probeReadICMP(fd int) *probeICMP {
	var oob [256]byte
	for range 4 { // a few local records may precede it
		oobn, err := rawRecvErr(fd, oob[:])
		if err != nil {
			return nil
		}
		if e := probeParseICMP(oob[:oobn]); e != nil {
			return e
		}
	}
	return nil
}

// probeParseICMP decodes the IP_RECVERR or IPV6_RECVERR control message of
// an error-queue read: a struct sock_extended_err and, after it, the
// sockaddr of the ICMP's sender.
func probeParseICMP(oob []byte) *probeICMP {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	const eeSize = int(unsafe.Sizeof(unix.SockExtendedErr{}))
	for _, m := range msgs {
		v4 := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR
		v6 := m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		if (!v4 && !v6) || len(m.Data) < eeSize {
			continue
		}
		origin, typ, code := m.Data[4], m.Data[5], m.Data[6]
		var e *probeICMP
		switch origin {
		case unix.SO_EE_ORIGIN_ICMP:
			e = &probeICMP{typ: typ, code: code}
		case unix.SO_EE_ORIGIN_ICMP6:
			e = &probeICMP{v6: true, typ: typ, code: code}
		default:
			continue
		}
		e.from = probeSockaddrAddr(m.Data[eeSize:])
		return e
	}
	return nil
}

// probeSockaddrAddr returns the address of a raw struct sockaddr_in or
// sockaddr_in6 (family in host byte order, address in network order).
func probeSockaddrAddr(b []byte) netip.Addr {
	if len(b) < 2 {
		return netip.Addr{}
	}
	switch binary.NativeEndian.Uint16(b[0:2]) {
	case unix.AF_INET:
		if len(b) >= 8 {
			return netip.AddrFrom4([4]byte(b[4:8]))
		}
	case unix.AF_INET6:
		if len(b) >= 24 {
			return netip.AddrFrom16([16]byte(b[8:24])).Unmap()
		}
	}
	return netip.Addr{}
}

// probeClassifyICMP classifies an ICMP error from the network: for UDP a
// port unreachable is closed, for TCP it is filtered as every other one.
func probeClassifyICMP(e *probeICMP, udp bool) (Class, string) {
	if udp && e.portUnreachable() {
		return ClassClosed, e.String()
	}
	return ClassFiltered, e.String()
}

// probeClassifyErr maps a socket error that is not a deadline, and that
// no ICMP record explains, to a class and a short reason: a RST is
// closed, and an error the director caused is a local error.
func probeClassifyErr(err error) (Class, string) {
	if ne := (*netnsError)(nil); errors.As(err, &ne) {
		return ClassLocalError, ne.Error()
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if class, reason, ok := probeClassifyErrno(errno); ok {
			return class, reason
		}
	}
	return ClassError, err.Error()
}

// probeClassifyErrno classifies the errnos it knows.
func probeClassifyErrno(errno syscall.Errno) (Class, string, bool) {
	switch errno {
	case syscall.ECONNREFUSED:
		return ClassClosed, "connection refused (RST)", true
	case syscall.ECONNRESET:
		return ClassError, "connection reset by peer", true
	case syscall.ETIMEDOUT:
		return ClassFiltered, "connection timed out (no answer)", true
	// The kernel turns these ICMP codes into errnos; they reach here only
	// when the ICMP record could not be read.
	case syscall.EHOSTDOWN, syscall.ENONET, syscall.ENOPROTOOPT, syscall.EPROTO:
		return ClassFiltered, errno.Error() + " (ICMP unreachable)", true
	}
	if reason, ok := probeLocalErrno(errno); ok {
		return ClassLocalError, reason, true
	}
	return 0, "", false
}

// probeLocalErrno explains the errnos that mean the director, not the
// real server, is in trouble, with what to look at.
func probeLocalErrno(errno syscall.Errno) (string, bool) {
	switch errno {
	case syscall.EMFILE:
		return "too many open files (EMFILE): the process's file descriptor limit is reached (raise LimitNOFILE / ulimit -n)", true
	case syscall.ENFILE:
		return "too many open files in the system (ENFILE): the host's file limit is reached (fs.file-max)", true
	case syscall.ENOBUFS, syscall.ENOMEM:
		return errno.Error() + " (" + probeErrnoName(errno) + "): this director is short of socket memory", true
	case syscall.EADDRNOTAVAIL:
		return "cannot assign requested address (EADDRNOTAVAIL): the source address is not on this director, or no local port is free", true
	case syscall.EADDRINUSE:
		return "address already in use (EADDRINUSE): no local port is free on this director", true
	case syscall.ENETUNREACH:
		return "network is unreachable (ENETUNREACH): no route to it in this director's routing table", true
	case syscall.EHOSTUNREACH:
		return "no route to host (EHOSTUNREACH): an unreachable route in this director's routing table", true
	case syscall.EACCES:
		return "permission denied (EACCES): a prohibit route or a firewall rule on this director refused the packet", true
	case syscall.EPERM:
		return "operation not permitted (EPERM): this director's firewall refused the packet, or the process lacks a capability", true
	case syscall.EINVAL:
		return "invalid argument (EINVAL): a blackhole route on this director, or an address it cannot use", true
	case syscall.ENETDOWN:
		return "network is down (ENETDOWN): this director's interface is down", true
	case syscall.EAFNOSUPPORT:
		return "address family not supported (EAFNOSUPPORT): this director has no stack for the address family (IPv6 disabled?)", true
	}
	return "", false
}

// probeErrnoName returns the errno's C name for the few probeLocalErrno
// mentions by variable.
func probeErrnoName(errno syscall.Errno) string {
	switch errno {
	case syscall.ENOBUFS:
		return "ENOBUFS"
	case syscall.ENOMEM:
		return "ENOMEM"
	}
	return fmt.Sprintf("errno %d", int(errno))
}

// probeSetRecvErr sets IP_RECVERR (IPV6_RECVERR for an IPv6 socket) on
// fd, so that the kernel queues every ICMP error for the socket's peer
// with its type and code; without it Linux reports only some of them,
// and without their codes.
func probeSetRecvErr(fd int, v6 bool, on bool) error {
	level, opt := unix.IPPROTO_IP, unix.IP_RECVERR
	if v6 {
		level, opt = unix.IPPROTO_IPV6, unix.IPV6_RECVERR
	}
	v := 0
	if on {
		v = 1
	}
	return rawSetsockoptInt(fd, level, opt, v)
}
