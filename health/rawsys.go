package health

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The TCP check's calls on its socket, and the SYN check's send and reads
// on its raw sockets, are made as raw system calls, without the runtime's
// system-call bookkeeping (entersyscall and exitsyscall). Through that bookkeeping, a call that lasts longer than
// one tick of the runtime's monitor thread (sysmon: 20 µs when the
// process is busy) loses its processor to another thread, which must be
// woken, and each such handoff sets the monitor back to polling every
// 20 µs. A TCP connect to a real server on a veth pair or loopback runs
// the whole handshake inside the call (the kernel processes the answer
// before connect returns), and a reset does the same for the RST: tens of
// microseconds natively, hundreds under the lab's emulation. The
// bookkeeping also wakes sysmon from its deep sleep when the process was
// idle, which then polls every 20 µs for a millisecond at least: at every
// wake-up of a process that checks a few hundred servers a second. None of
// these calls can sleep on a non-blocking socket, which is what the
// bookkeeping is for, so the check keeps its processor as a C event loop
// does. A raw call must never be one that can block: it would stop every
// goroutine of its processor. In the
// lab this cut the CPU per TCP check from 1.60–1.77 to 1.20–1.28 times
// keepalived's (BENCHMARKS.md, "The TCP check's system calls made raw").

// rawSocket is socket(2) made raw; the socket must be non-blocking for
// the calls on it to be made raw too.
func rawSocket(domain, typ, proto int) (int, error) {
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(domain), uintptr(typ), uintptr(proto))
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// rawSetsockoptInt is setsockopt(2) of an int option, made raw.
func rawSetsockoptInt(fd, level, opt, value int) error {
	v := int32(value)
	_, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v)), unsafe.Sizeof(v), 0)
	if e != 0 {
		return e
	}
	return nil
}

// rawSockaddr is the kernel's form of an IPv4 or IPv6 socket address.
type rawSockaddr struct {
	buf unix.RawSockaddrInet6 // the larger of the two
	len uintptr
}

// rawSockaddrOf converts sa, a *unix.SockaddrInet4 or *unix.SockaddrInet6
// (what probeSockaddr makes), to the kernel's form; ok is false for any
// other.
func rawSockaddrOf(sa unix.Sockaddr, out *rawSockaddr) (ok bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(&out.buf))
		*r = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
		putPort(&r.Port, sa.Port)
		out.len = unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		out.buf = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: sa.Addr, Scope_id: sa.ZoneId}
		putPort(&out.buf.Port, sa.Port)
		out.len = unix.SizeofSockaddrInet6
	default:
		return false
	}
	return true
}

// rawSockaddrOfAddrPort puts ap in the kernel's form into out, as
// rawSockaddrOf(probeSockaddr(ap)) does but without making the
// unix.Sockaddr, an allocation for every connect; ok is false for an
// address with an IPv6 zone, whose interface index probeSockaddr looks
// up.
func rawSockaddrOfAddrPort(ap netip.AddrPort, out *rawSockaddr) (ok bool) {
	a := ap.Addr()
	switch {
	case a.Is4():
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(&out.buf))
		*r = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		putPort(&r.Port, int(ap.Port()))
		out.len = unix.SizeofSockaddrInet4
	case a.Is6() && a.Zone() == "":
		out.buf = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		putPort(&out.buf.Port, int(ap.Port()))
		out.len = unix.SizeofSockaddrInet6
	default:
		return false
	}
	return true
}

// putPort stores port in network byte order.
func putPort(p *uint16, port int) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// rawConnectRaw is connect(2) made raw, for a non-blocking socket, to an
// address in the kernel's form (rawSockaddrOfAddrPort). Its errors are
// the errnos unix.Connect returns (EINPROGRESS, EALREADY, EISCONN,
// ECONNREFUSED, ...).
func rawConnectRaw(fd int, r *rawSockaddr) error { return rawAddrCall(unix.SYS_CONNECT, fd, r) }

// rawBind is bind(2) made raw.
func rawBind(fd int, sa unix.Sockaddr) error {
	var r rawSockaddr
	if !rawSockaddrOf(sa, &r) {
		return unix.Bind(fd, sa)
	}
	return rawAddrCall(unix.SYS_BIND, fd, &r)
}

func rawAddrCall(trap uintptr, fd int, r *rawSockaddr) error {
	_, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&r.buf)), r.len)
	if e != 0 {
		return e
	}
	return nil
}

// rawReset resets the connected TCP socket fd: a connect to an AF_UNSPEC
// address makes the kernel disconnect it (tcp_disconnect), which sends a
// RST, keeps no TIME_WAIT socket and frees the local port at once, as a
// close with SO_LINGER 0 would (see probeResetClose), in the one call the
// SO_LINGER option cost, and leaves the close only a closed socket to
// free.
func rawReset(fd int) error {
	var r rawSockaddr
	r.buf.Family, r.len = unix.AF_UNSPEC, unix.SizeofSockaddrInet4
	return rawAddrCall(unix.SYS_CONNECT, fd, &r)
}

// rawSendmsg is sendmsg(2) of one buffer to sa, with control data, made
// raw: the SYN check's send on its raw socket, which never blocks (a full
// socket answers EAGAIN) and runs the real server's answer on a veth or
// loopback pair inside the call, as a TCP connect does.
func rawSendmsg(fd int, p, oob []byte, sa unix.Sockaddr) error {
	var r rawSockaddr
	if !rawSockaddrOf(sa, &r) {
		return unix.Sendmsg(fd, p, oob, sa, 0)
	}
	var iov unix.Iovec
	var msg unix.Msghdr
	msg.Name, msg.Namelen = (*byte)(unsafe.Pointer(&r.buf)), uint32(r.len)
	if len(p) > 0 {
		iov.Base = &p[0]
		iov.SetLen(len(p))
		msg.Iov = &iov
		msg.SetIovlen(1)
	}
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return e
	}
	return nil
}

// rawClose is close(2) made raw. It is for a check's socket only, which
// never lingers (SO_LINGER is off, or on with a zero timeout), so that
// the close never sleeps.
func rawClose(fd int) {
	_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// rawRecvErr is recvmsg(2) of the error queue with MSG_DONTWAIT, made
// raw: it returns the control message's length in oob.
func rawRecvErr(fd int, oob []byte) (int, error) {
	var msg unix.Msghdr
	msg.Control = &oob[0]
	msg.SetControllen(len(oob))
	_, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)),
		unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if e != 0 {
		return 0, e
	}
	return int(msg.Controllen), nil
}

// rawEpollCtl is epoll_ctl(2) made raw.
func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd),
		uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// rawEpollWaitNow is epoll_pwait(2) with a timeout of 0, made raw: it
// never waits. A raw call that waited would hold its processor for as
// long (with GOMAXPROCS=1, the whole process): epoll_wait with any other
// timeout must go through the runtime (the reactor waits on Go's poller
// instead; see reactor).
func rawEpollWaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
