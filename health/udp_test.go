package health

import (
	"bytes"
	"net"
	"net/netip"
	"regexp"
	"testing"
	"time"
)

// probeUDPServer serves pc until the test ends: each datagram gets
// reply(datagram) back, or nothing when reply returns nil.
func probeUDPServer(t testing.TB, pc *net.UDPConn, reply func([]byte) []byte) netip.AddrPort {
	t.Helper()
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if r := reply(buf[:n]); r != nil {
				_, _ = pc.WriteToUDPAddrPort(r, from)
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// probeListenUDP opens a UDP socket on addr:port.
func probeListenUDP(t testing.TB, addr netip.Addr, port uint16) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, port)))
	if err != nil {
		t.Fatalf("listen udp on %s: %v", addr, err)
	}
	return pc
}

// probePong answers "ping" with "pong" and anything else with "what?".
func probePong(b []byte) []byte {
	if bytes.Equal(b, []byte("ping")) {
		return []byte("pong")
	}
	return []byte("what?")
}

func probeSilent([]byte) []byte { return nil }

// probeFreedUDPPort returns a port of addr where nothing listens: one the
// kernel just gave a socket that is closed again.
func probeFreedUDPPort(t testing.TB, addr netip.Addr) netip.AddrPort {
	t.Helper()
	pc := probeListenUDP(t, addr, 0)
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return ap
}

func TestUDPLoopback(t *testing.T) {
	pong := regexp.MustCompile(`^pong$`)
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			t.Parallel()
			answering := probeUDPServer(t, probeListenUDP(t, addr, 0), probePong)
			silent := probeUDPServer(t, probeListenUDP(t, addr, 0), probeSilent)
			closed := probeFreedUDPPort(t, addr)
			for _, tc := range []struct {
				name   string
				target netip.AddrPort
				opts   UDPOptions
				class  Class
				reason string
			}{
				{"expected reply", answering, UDPOptions{Payload: []byte("ping"), Expect: pong}, ClassOpen, "reply of 4 bytes"},
				{"any reply", answering, UDPOptions{Payload: []byte("hello")}, ClassOpen, "reply of 5 bytes"},
				{"empty datagram", answering, UDPOptions{}, ClassOpen, "reply of 5 bytes"},
				{"wrong reply", answering, UDPOptions{Payload: []byte("hello"), Expect: pong}, ClassError, `reply "what?" does not match ^pong$`},
				{"port unreachable", closed, UDPOptions{Payload: []byte("ping")}, ClassClosed, "port unreachable (type "},
				{"port unreachable, no reply ok", closed, UDPOptions{NoReplyOK: true}, ClassClosed, "port unreachable (type "},
				{"silence", silent, UDPOptions{Payload: []byte("ping")}, ClassFiltered, "no reply within"},
				{"silence, expecting", silent, UDPOptions{Payload: []byte("ping"), Expect: pong, NoReplyOK: true}, ClassFiltered, "no reply within"},
				{"silence, no reply ok", silent, UDPOptions{Payload: []byte("ping"), NoReplyOK: true}, ClassOpen, "(open|filtered)"},
				{"expected bytes", answering, UDPOptions{Payload: []byte("ping"), ExpectBytes: []byte("on")}, ClassOpen, "reply of 4 bytes"},
				{"expected bytes missing", answering, UDPOptions{Payload: []byte("hello"), ExpectBytes: []byte("pong")}, ClassError, `reply "what?" does not contain "pong"`},
				{"silence, expecting bytes", silent, UDPOptions{Payload: []byte("ping"), ExpectBytes: []byte("pong"), NoReplyOK: true}, ClassFiltered, "no reply within"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					const timeout = 300 * time.Millisecond
					probeCheckWithin(t, probeHere, NewUDP(tc.target, tc.opts), tc.class, tc.reason, timeout, 0, timeout+probeSlack)
				})
			}
		})
	}
}

func TestUDPNamespace(t *testing.T) {
	n := probeNewNet(t, probeCheckerFirewall, probeTargetFirewall)
	const timeout = 300 * time.Millisecond
	pong := regexp.MustCompile(`^pong$`)
	for _, addr := range n.targets() {
		var pc *net.UDPConn
		n.target.run(func() { pc = probeListenUDP(t, addr, 0) })
		open := probeUDPServer(t, pc, probePong)
		at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(addr, port) }
		unroutable, noroute := n.unroutable4, n.noroute4
		if addr.Is6() {
			unroutable, noroute = n.unroutable6, n.noroute6
		}
		ping := UDPOptions{Payload: []byte("ping"), Expect: pong}
		type udpCase struct {
			probeNetCase
			opts UDPOptions
		}
		cases := []udpCase{
			{probeNetCase{"open", open, ClassOpen, "reply of 4 bytes", false, false}, ping},
			{probeNetCase{"closed", at(probePortNothing), ClassClosed, "port unreachable", false, false}, ping},
			{probeNetCase{"dropped", at(probePortDropped), ClassFiltered, "no reply within", true, false}, ping},
			{probeNetCase{"dropped, no reply ok", at(probePortDropped), ClassOpen, "(open|filtered)", true, false}, UDPOptions{NoReplyOK: true}},
			{probeNetCase{"unreachable route", netip.AddrPortFrom(unroutable, 53), ClassLocalError, "no route to host (EHOSTUNREACH): an unreachable route in this director's routing table", false, false}, ping},
			{probeNetCase{"no route", netip.AddrPortFrom(noroute, 53), ClassLocalError, "network is unreachable (ENETUNREACH): no route to it in this director's routing table", false, false}, ping},
			{probeNetCase{"dropped on the way out", at(probePortOutDropped), ClassLocalError, "operation not permitted (EPERM): this director's firewall refused the packet", false, false}, ping},
		}
		for _, c := range probeICMPCodeCases(addr, true) {
			cases = append(cases, udpCase{c, ping})
		}
		for _, tc := range cases {
			t.Run(probeFamily(addr)+"/"+tc.name, func(t *testing.T) {
				probeCheckNet(t, n, NewUDP(tc.target, tc.opts), tc.probeNetCase, timeout)
			})
		}
	}
	// The target drops the port from the checker's default address only.
	for _, fam := range []struct{ target, alt, absent netip.Addr }{{n.target4, n.alt4, n.absent4}, {n.target6, n.alt6, n.absent6}} {
		var pc *net.UDPConn
		n.target.run(func() { pc = probeListenUDP(t, fam.target, probePortAltOnly) })
		target := probeUDPServer(t, pc, probePong)
		t.Run(probeFamily(fam.target)+"/source", func(t *testing.T) {
			probeCheckNet(t, n, NewUDP(target, UDPOptions{}), probeNetCase{class: ClassFiltered, untilDeadline: true}, timeout)
			probeCheckNet(t, n, NewUDP(target, UDPOptions{Source: fam.alt}), probeNetCase{class: ClassOpen}, timeout)
			probeCheckNet(t, n, NewUDP(target, UDPOptions{Source: fam.absent}), probeNetCase{class: ClassLocalError, reason: "EADDRNOTAVAIL"}, timeout)
		})
	}
}
