package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// The standard library has no SCTP: these use one-to-one (SOCK_STREAM) SCTP
// sockets through plain system calls, blocking, which is fine for a helper.

// serveSCTP sends name and a newline on every association accepted on addr,
// then shuts it down.
func serveSCTP(addr, name string) error {
	fd, err := listenSCTP(addr)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return answerSCTP(fd, name)
}

// listenSCTP opens a dual-stack listening SCTP socket on addr (":PORT" or
// "[IP]:PORT").
func listenSCTP(addr string) (int, error) {
	ap, err := parseListen(addr)
	if err != nil {
		return -1, err
	}
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_SCTP)
	if err != nil {
		return -1, fmt.Errorf("sctp socket (is the sctp module loaded?): %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("IPV6_V6ONLY: %w", err)
	}
	sa := &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", addr, err)
	}
	if err := syscall.Listen(fd, 64); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("listen %s: %w", addr, err)
	}
	return fd, nil
}

// parseListen turns ":PORT" or "IP:PORT" into an IPv6 (or v4-mapped)
// address and port.
func parseListen(addr string) (netip.AddrPort, error) {
	if len(addr) > 0 && addr[0] == ':' {
		port, err := strconv.ParseUint(addr[1:], 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("bad port in %q: %w", addr, err)
		}
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)), nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad address %q: %w", addr, err)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port()), nil
}

// answerSCTP is serveSCTP's loop on a listening socket.
func answerSCTP(fd int, name string) error {
	reply := []byte(name + "\n")
	for {
		nfd, _, err := syscall.Accept4(fd, syscall.SOCK_CLOEXEC)
		if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ECONNABORTED) {
			continue
		}
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		// A client that went away must not stop the server.
		_, _ = syscall.Write(nfd, reply)
		_ = syscall.Shutdown(nfd, syscall.SHUT_WR)
		syscall.Close(nfd)
	}
}

// askSCTP connects to addr over SCTP and copies what the server sends, up to
// its shutdown, to w.
func askSCTP(w io.Writer, addr string, timeout time.Duration) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", addr, err)
	}
	family := syscall.AF_INET6
	var sa syscall.Sockaddr = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	if ap.Addr().Is4() {
		family = syscall.AF_INET
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_SCTP)
	if err != nil {
		return fmt.Errorf("sctp socket (is the sctp module loaded?): %w", err)
	}
	defer syscall.Close(fd)
	// Blocking connect and read honour these, so no call waits longer.
	tv := syscall.NsecToTimeval(timeout.Nanoseconds())
	for _, opt := range []int{syscall.SO_SNDTIMEO, syscall.SO_RCVTIMEO} {
		if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, opt, &tv); err != nil {
			return fmt.Errorf("set timeout: %w", err)
		}
	}
	if err := syscall.Connect(fd, sa); err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	buf := make([]byte, 2048)
	got := 0
	for {
		n, err := syscall.Read(fd, buf)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read from %s: %w", addr, err)
		}
		if n == 0 {
			break
		}
		got += n
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
	}
	if got == 0 {
		return fmt.Errorf("%s closed without an answer", addr)
	}
	return nil
}
