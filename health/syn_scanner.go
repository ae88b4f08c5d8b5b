package health

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ErrNoNetRaw: the process may not open raw sockets. The SYN and ICMP
// checks need them; the text says how to grant the capability.
var ErrNoNetRaw = errors.New("raw sockets need the CAP_NET_RAW capability: run lvs-sidecar as root or grant it (systemd AmbientCapabilities=CAP_NET_RAW, setcap cap_net_raw+ep on the binary, docker --cap-add NET_RAW), or use the tcp connect check instead")

// SYNScanner sends the SYN checks' probes and hands each answer to the
// check waiting for it. It holds, per address family, one raw TCP socket
// (sends SYNs, receives SYN-ACKs and RSTs) and one raw ICMP socket
// (receives unreachables that quote a probe), each read by one goroutine,
// so thousands of concurrent SYN checks share four sockets, and a pool of
// synPoolPorts source ports. Kernel filters (classic BPF) pass only the
// packets that can answer a probe: SYN-ACKs and RSTs to the scanner's
// source ports, and unreachables that quote TCP, so the director's own
// connections cost the scanner nothing but their ICMP errors. Probes
// with a resend or a deadline due wait in one heap under one timer (see
// synFlights), and an answer completes its probe on the reader's
// goroutine, so a check in flight costs no goroutine or timer of its
// own when the scheduler starts it (SYN.startAsync).
//
// Raw sockets belong to the network namespace of the thread that opens
// them. A scanner is safe for concurrent use.
type SYNScanner struct {
	v4, v6     *synFamily
	err4, err6 error // why a family is nil: IPv6 may be off on a host

	mu     sync.Mutex
	probes map[synKey]*synProbe
	seq    uint64 // numbers registrations (synFlight)
	// The probes with a time to act, and the one timer for them all.
	flights synFlights
	timer   *time.Timer
	armed   bool
	armedAt time.Time

	// do runs socket creation in the namespace the raw sockets are in
	// (see NetNS); nil: the calling thread's.
	do func(fn func() error) error

	wg sync.WaitGroup
}

// synFamily is one address family's pair of raw sockets and pool of
// source ports.
type synFamily struct {
	v6        bool
	tcp, icmp *net.IPConn
	tcpRaw    syscall.RawConn // tcp's, for sends
	ports     *synPorts

	// own counts the ports reserved by single checks (see acquire), which
	// tcp's filter passes besides the pool's.
	filterMu sync.Mutex
	own      map[uint16]int
}

// synKey identifies a probe by what every answer carries: the target's
// address and port, and the local port the SYN came from (reserved, so no
// other socket on the host has it; acquire gives it to one probe towards
// a target at a time).
type synKey struct {
	remote netip.AddrPort
	local  uint16
}

// synProbe is one check waiting for an answer. Probes are reused (see
// synProbes): once unregistered, no answer reaches one.
type synProbe struct {
	isn    uint32
	answer chan Result  // buffered 1: the result, for a probe without done
	pkt    [synLen]byte // the SYN, kept for resends

	// Set by its sender before the probe is in flight.
	c       *SYN
	fam     *synFamily
	fd      int // a port reserved for this probe alone, -1: a pool port
	rt      *synRoute
	timeout time.Duration // the check's, for the reason of silence
	done    resultSink    // nil: the result goes to answer
	sent    time.Time     // the first SYN

	// The scanner's lock.
	k        synKey
	seq      uint64
	state    synState
	hasEarly bool      // an answer came while starting
	early    synAnswer // and this was it,
	earlyAt  time.Time // then
	canceled bool
	expires  bool          // limit is the probe's deadline, not only its resends'
	limit    time.Time     // resends only before it
	rto      time.Duration // the wait before the next resend after this one
	resend   time.Time     // the next resend, zero: none
	when     time.Time     // its key in the heap
	index    int           // in the heap, -1 when not

	// send's arguments and error, for write: RawConn.Write calls write,
	// a method value made once per probe, so that a send allocates
	// nothing.
	oob   []byte
	dst   unix.Sockaddr
	err   error
	write func(fd uintptr) bool
}

// synProbes holds probes for reuse: a check would otherwise allocate the
// probe, its channel and its send's closure.
var synProbes = sync.Pool{New: func() any {
	p := &synProbe{answer: make(chan Result, 1), fd: -1, index: -1}
	p.write = p.sendmsg
	return p
}}

// newSynProbe returns an unused probe for a SYN of sequence number isn.
func newSynProbe(isn uint32) *synProbe {
	p := synProbes.Get().(*synProbe)
	p.isn = isn
	return p
}

// free empties p, which no longer is registered, for reuse. The fields
// under the scanner's lock are left to the next registration (addLocked,
// fly), which a late cancellation of this use reads under the lock.
func (p *synProbe) free() {
	select {
	case <-p.answer:
	default:
	}
	p.c, p.fam, p.fd, p.rt, p.done = nil, nil, -1, nil, nil
	p.oob, p.dst, p.err = nil, nil, nil
	synProbes.Put(p)
}

// sendmsg sends the probe's SYN on fd; false: try again when the socket
// is writable.
func (p *synProbe) sendmsg(fd uintptr) bool {
	p.err = rawSendmsg(int(fd), p.pkt[:], p.oob, p.dst)
	return p.err != unix.EAGAIN
}

// synAnswer is what came back for a probe.
type synAnswer struct {
	class  Class
	reason string
}

// NewSYNScanner opens the raw sockets in the calling thread's network
// namespace and starts reading them. Without CAP_NET_RAW it returns an
// error wrapping ErrNoNetRaw. If only IPv6 is unavailable, IPv6 checks fail
// with the reason and IPv4 checks work.
func NewSYNScanner() (*SYNScanner, error) {
	s := &SYNScanner{probes: make(map[synKey]*synProbe)}
	s.v4, s.err4 = synOpenFamily("ip4")
	s.v6, s.err6 = synOpenFamily("ip6")
	if s.err4 != nil && s.err6 != nil {
		s.Close()
		return nil, s.err4
	}
	for _, f := range []*synFamily{s.v4, s.v6} {
		if f == nil {
			continue
		}
		s.wg.Add(2)
		go s.readTCP(f)
		go s.readICMP(f)
	}
	return s, nil
}

// Close closes the sockets, releases the source ports and waits for the
// readers to stop. Checks still using the scanner fail.
func (s *SYNScanner) Close() error {
	for _, f := range []*synFamily{s.v4, s.v6} {
		if f != nil {
			f.tcp.Close()
			f.icmp.Close()
		}
	}
	s.wg.Wait()
	for _, f := range []*synFamily{s.v4, s.v6} {
		if f != nil {
			f.ports.close()
		}
	}
	return nil
}

// send sends p's SYN to dst from the family's raw TCP socket, with oob's
// control messages.
func (f *synFamily) send(p *synProbe, oob []byte, dst unix.Sockaddr) error {
	p.oob, p.dst = oob, dst
	if err := f.tcpRaw.Write(p.write); err != nil {
		return err
	}
	return os.NewSyscallError("sendmsg", p.err)
}

// family returns the sockets for addr's family.
func (s *SYNScanner) family(addr netip.Addr) (*synFamily, error) {
	if addr.Is4() {
		if s.v4 == nil {
			return nil, fmt.Errorf("no IPv4 raw socket: %w", s.err4)
		}
		return s.v4, nil
	}
	if s.v6 == nil {
		return nil, fmt.Errorf("no IPv6 raw socket: %w", s.err6)
	}
	return s.v6, nil
}

// register makes p the receiver of answers for k.
func (s *SYNScanner) register(k synKey, p *synProbe) {
	s.mu.Lock()
	s.addLocked(k, p)
	s.mu.Unlock()
}

// addLocked registers p for k, starting: answers wait for fly.
func (s *SYNScanner) addLocked(k synKey, p *synProbe) {
	s.probes[k] = p
	s.seq++
	p.k, p.seq, p.state, p.hasEarly, p.canceled, p.index = k, s.seq, synStarting, false, false, -1
}

func (s *SYNScanner) unregister(k synKey) {
	s.mu.Lock()
	if p := s.probes[k]; p != nil {
		s.takeLocked(p)
	}
	s.mu.Unlock()
}

// deliver hands an answer to the probe of k if its ISN matches (seq is
// the ISN the answer acknowledges or quotes), so a late answer to an
// earlier probe from the same port never counts. A probe in flight is
// completed here, on the reader's goroutine; one still starting keeps
// the first answer for fly.
func (s *SYNScanner) deliver(k synKey, isn uint32, a synAnswer) {
	// Under the lock: once unregistered, a probe may be reused.
	s.mu.Lock()
	p := s.probes[k]
	if p == nil || p.isn != isn {
		s.mu.Unlock()
		return
	}
	if p.state == synStarting {
		if !p.hasEarly {
			p.hasEarly, p.early, p.earlyAt = true, a, time.Now()
		}
		s.mu.Unlock()
		return
	}
	s.takeLocked(p)
	s.mu.Unlock()
	s.finish(p, Result{Class: a.class, Latency: time.Since(p.sent), Reason: a.reason})
}

// readTCP reads SYN-ACKs and RSTs. An answer to a SYN acknowledges ISN+1.
func (s *SYNScanner) readTCP(f *synFamily) {
	v6 := f.v6
	defer s.wg.Done()
	synRead(f.tcpRaw, newSynBatch(v6), func(seg []byte, from netip.Addr) {
		if len(seg) < 20 {
			return
		}
		k := synKey{
			remote: netip.AddrPortFrom(from.Unmap(), binary.BigEndian.Uint16(seg[0:2])),
			local:  binary.BigEndian.Uint16(seg[2:4]),
		}
		ack := binary.BigEndian.Uint32(seg[8:12])
		flags := seg[13]
		// The kernel filter already did this, but packets queued before
		// it was attached were not filtered.
		if flags&synFlagACK == 0 {
			return
		}
		switch {
		case flags&synFlagRST != 0:
			s.deliver(k, ack-1, synAnswer{ClassClosed, "RST (port closed)"})
		case flags&synFlagSYN != 0:
			s.deliver(k, ack-1, synAnswer{ClassOpen, "SYN-ACK"})
		}
	})
}

// readICMP reads destination unreachables that quote a probe's SYN.
func (s *SYNScanner) readICMP(f *synFamily) {
	v6 := f.v6
	defer s.wg.Done()
	rc, err := f.icmp.SyscallConn()
	if err != nil {
		return
	}
	synRead(rc, newSynBatch(v6), func(m []byte, from netip.Addr) {
		k, seq, code, ok := synParseUnreachable(m, v6)
		if !ok {
			return
		}
		e := &probeICMP{v6: v6, typ: 3, code: code, from: from.Unmap()}
		if v6 {
			e.typ = 1
		}
		class, reason := probeClassifyICMP(e, false)
		s.deliver(k, seq, synAnswer{class, reason})
	})
}

// synParseUnreachable decodes an ICMP or ICMPv6 destination unreachable
// (without the outer IP header) that quotes a TCP segment: the probe's key,
// the quoted sequence number and the unreachable's code. Every code means
// filtered for a SYN, as for nmap -sS (see classify.go).
func synParseUnreachable(m []byte, v6 bool) (synKey, uint32, uint8, bool) {
	if len(m) < 8 {
		return synKey{}, 0, 0, false
	}
	code := m[1]
	q := m[8:] // the quoted packet: IP header, then at least 8 bytes of TCP
	var dst netip.Addr
	if !v6 {
		if m[0] != 3 || len(q) < 20 || q[0]>>4 != 4 || q[9] != syscall.IPPROTO_TCP {
			return synKey{}, 0, 0, false
		}
		dst = netip.AddrFrom4([4]byte(q[16:20]))
		q = q[int(q[0]&0x0f)*4:]
	} else {
		if m[0] != 1 || len(q) < 40 || q[0]>>4 != 6 || q[6] != syscall.IPPROTO_TCP {
			return synKey{}, 0, 0, false
		}
		dst = netip.AddrFrom16([16]byte(q[24:40]))
		q = q[40:]
	}
	if len(q) < 8 {
		return synKey{}, 0, 0, false
	}
	k := synKey{
		remote: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(q[2:4])),
		local:  binary.BigEndian.Uint16(q[0:2]),
	}
	return k, binary.BigEndian.Uint32(q[4:8]), code, true
}

// TCP flags the scanner reads.
const (
	synFlagSYN = 0x02
	synFlagRST = 0x04
	synFlagACK = 0x10
)

// synOpenFamily opens network's ("ip4" or "ip6") raw TCP and ICMP sockets
// with their kernel filters, and reserves its pool of source ports.
func synOpenFamily(network string) (*synFamily, error) {
	v6 := network == "ip6"
	ports := synOpenPorts(v6, synPoolPorts)
	tcp, err := synListen(network+":tcp", synTCPFilter(v6, ports.ports))
	if err != nil {
		ports.close()
		return nil, err
	}
	icmpProto := network + ":icmp"
	if v6 {
		icmpProto = network + ":ipv6-icmp"
	}
	icmp, err := synListen(icmpProto, synICMPFilter(v6))
	if err != nil {
		tcp.Close()
		ports.close()
		return nil, err
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		tcp.Close()
		icmp.Close()
		ports.close()
		return nil, err
	}
	return &synFamily{v6: v6, tcp: tcp, icmp: icmp, tcpRaw: raw, ports: ports, own: make(map[uint16]int)}, nil
}

// synListen opens a raw socket and attaches filter to it.
func synListen(network string, filter []bpf.Instruction) (*net.IPConn, error) {
	c, err := net.ListenIP(network, nil)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("open a raw %s socket: %w", network, ErrNoNetRaw)
		}
		return nil, fmt.Errorf("open a raw %s socket: %w", network, err)
	}
	prog, err := bpf.Assemble(filter)
	if err == nil {
		err = synAttach(c, prog)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("filter the raw %s socket: %w", network, err)
	}
	synGrowBuffer(c)
	return c, nil
}

// synRecvBuffer is the receive buffer the scanner asks for: answers to
// thousands of checks can arrive in a burst while the reader goroutine
// waits for a CPU, and the default (net.core.rmem_default, about 200 KiB,
// a few hundred packets) overflowed in benchmarks, losing answers.
const synRecvBuffer = 4 << 20

// synGrowBuffer raises the socket's receive buffer to synRecvBuffer:
// beyond net.core.rmem_max with CAP_NET_ADMIN (SO_RCVBUFFORCE), else as far
// as rmem_max allows.
func synGrowBuffer(c *net.IPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	var forced error
	_ = rc.Control(func(fd uintptr) {
		forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, synRecvBuffer)
	})
	if forced != nil {
		_ = c.SetReadBuffer(synRecvBuffer)
	}
}

// synAttach sets a classic BPF program on a socket (SO_ATTACH_FILTER).
func synAttach(c *net.IPConn, prog []bpf.RawInstruction) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) { serr = synSetBPF(int(fd), prog) })
	if err != nil {
		return err
	}
	return serr
}

// synSetBPF attaches a classic BPF program to fd.
func synSetBPF(fd int, prog []bpf.RawInstruction) error {
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]})
}

// synICMPFilter accepts destination unreachables (ICMP type 3, ICMPv6
// type 1) that quote a TCP packet.
func synICMPFilter(v6 bool) []bpf.Instruction {
	if v6 {
		return []bpf.Instruction{
			bpf.LoadAbsolute{Off: 0, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipFalse: 3},
			bpf.LoadAbsolute{Off: 8 + 6, Size: 1}, // quoted IPv6 next header
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: syscall.IPPROTO_TCP, SkipFalse: 1},
			bpf.RetConstant{Val: 1 << 16},
			bpf.RetConstant{Val: 0},
		}
	}
	return []bpf.Instruction{
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 0, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 3, SkipFalse: 3},
		bpf.LoadIndirect{Off: 8 + 9, Size: 1}, // quoted IPv4 protocol
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: syscall.IPPROTO_TCP, SkipFalse: 1},
		bpf.RetConstant{Val: 1 << 16},
		bpf.RetConstant{Val: 0},
	}
}
