package health

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// synBatchLen is how many packets a reader takes from its socket with one
// recvmmsg, and synPacketCap how much of each it keeps: more than any
// answer's headers (an IPv4 header of 60 bytes and a TCP header; an ICMP
// header, the quoted IP header and 8 bytes of TCP).
const (
	synBatchLen  = 16
	synPacketCap = 256
)

// synBatch is a reader's buffers for recvmmsg.
type synBatch struct {
	v6    bool
	msgs  [synBatchLen]unix.Mmsghdr
	iovs  [synBatchLen]unix.Iovec
	names [synBatchLen]unix.RawSockaddrInet6 // large enough for IPv4's too
	bufs  [synBatchLen][synPacketCap]byte
}

func newSynBatch(v6 bool) *synBatch {
	b := &synBatch{v6: v6}
	for i := range b.msgs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(synPacketCap)
		b.msgs[i].Hdr.Iov = &b.iovs[i]
		b.msgs[i].Hdr.SetIovlen(1)
		b.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	return b
}

// synRead hands every packet rc's raw socket receives to handle, with its
// sender, until the socket is closed. For IPv4 it strips the IP header, as
// net.IPConn does, so that both families hand over what follows it.
//
// It waits on Go's poller and then reads with recvmmsg until a call
// returns fewer packets than it asked for, which means the queue was
// empty: a packet that arrives later wakes the poller again. So an answer
// that arrives alone costs one system call to read, not two (the read,
// then the read that finds nothing, as net.IPConn does).
func synRead(rc syscall.RawConn, b *synBatch, handle func(pkt []byte, from netip.Addr)) {
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, err := b.recv(fd)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				// EAGAIN, or an error the next call would not have
				// (raw sockets queue none that matter here): wait.
				return false
			}
			for i := range n {
				if pkt, from, ok := b.packet(i); ok {
					handle(pkt, from)
				}
			}
			if n < synBatchLen {
				return false
			}
		}
	})
}

// recv reads up to synBatchLen packets without waiting.
func (b *synBatch) recv(fd uintptr) (int, error) {
	for i := range b.msgs {
		b.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.msgs[i].Hdr.Flags = 0
		b.msgs[i].Len = 0
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), synBatchLen, unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// packet returns the i-th packet of the last recv (after the IPv4 header)
// and its sender.
func (b *synBatch) packet(i int) ([]byte, netip.Addr, bool) {
	pkt := b.bufs[i][:min(int(b.msgs[i].Len), synPacketCap)]
	if b.v6 {
		return pkt, netip.AddrFrom16(b.names[i].Addr), true
	}
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return nil, netip.Addr{}, false
	}
	hl := int(pkt[0]&0x0f) * 4
	if hl < 20 || hl > len(pkt) {
		return nil, netip.Addr{}, false
	}
	return pkt[hl:], netip.AddrFrom4([4]byte(pkt[12:16])), true
}
