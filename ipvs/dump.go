package ipvs

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A dump's replies are read straight from the socket into the reader's
// buffer, and each reply's attributes are decoded where they lie: the
// netlink package's Receive makes a buffer for every read, a message for
// every reply and a genetlink message for each again, about 380 bytes
// of garbage for each destination of the table (3.8 MB per read of
// 10,000), twice a scrape interval or more (the scrape, the controller's
// pass). A socket that cannot hand out its descriptor (a test's fake)
// goes through Execute instead.

// dumpBufSize is the size of the buffer a dump is read into: more than
// the kernel ever puts in one read of a dump (netlink_dump sizes its
// buffers by the reader's largest read, never above 32 KB).
const dumpBufSize = 64 << 10

// dump sends a dump request of cmd with payload data to family and hands
// visit the attributes of each reply (after its generic-netlink header),
// valid only during the call. It stops at the first error, visit's
// included: the socket may then hold the rest of the dump, and the caller
// drops it (Reader.snapshot does for any error).
func (r *Reader) dump(c *genetlink.Conn, family uint16, cmd uint8, data []byte, visit func(attrs []byte) error) error {
	m := genetlink.Message{Header: genetlink.Header{Command: cmd, Version: genlVersion}, Data: data}
	rc, err := c.SyscallConn()
	if err != nil {
		msgs, err := c.Execute(m, family, netlink.Request|netlink.Dump)
		if err != nil {
			return err
		}
		for i := range msgs {
			if err := visit(msgs[i].Data); err != nil {
				return err
			}
		}
		return nil
	}
	req, err := c.Send(m, family, netlink.Request|netlink.Dump)
	if err != nil {
		return err
	}
	if r.buf == nil {
		r.buf = make([]byte, dumpBufSize)
	}
	return readDump(rc, r.buf, req.Header.Sequence, visit)
}

// readDump reads the replies of the dump request of sequence number seq
// from rc into buf until the kernel's end of the dump, waiting on Go's
// poller (and the socket's deadline) when none is queued.
func readDump(rc syscall.RawConn, buf []byte, seq uint32, visit func(attrs []byte) error) error {
	var (
		over bool
		derr error
	)
	err := rc.Read(func(fd uintptr) bool {
		for !over {
			n, errno := recvTrunc(fd, buf)
			switch {
			case errno == unix.EINTR:
				continue
			case errno == unix.EAGAIN:
				return false
			case errno != 0:
				derr = fmt.Errorf("receive: %w", errno)
				return true
			case n > len(buf):
				derr = fmt.Errorf("receive: a netlink read of %d bytes, more than the %d-byte buffer", n, len(buf))
				return true
			}
			over, derr = dumpReplies(buf[:n], seq, visit)
			if derr != nil {
				return true
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return derr
}

// dumpReplies hands visit the replies in b, one read's worth: over when
// it ends the dump (NLMSG_DONE), or the error it reports.
func dumpReplies(b []byte, seq uint32, visit func(attrs []byte) error) (over bool, err error) {
	for len(b) > 0 {
		if len(b) < unix.NLMSG_HDRLEN {
			return false, fmt.Errorf("receive: a netlink message of %d bytes, shorter than its header", len(b))
		}
		size := binary.NativeEndian.Uint32(b[0:4])
		typ := binary.NativeEndian.Uint16(b[4:6])
		got := binary.NativeEndian.Uint32(b[8:12])
		if size < unix.NLMSG_HDRLEN || int(size) > len(b) {
			return false, fmt.Errorf("receive: a netlink message of length %d in %d bytes", size, len(b))
		}
		payload := b[unix.NLMSG_HDRLEN:size]
		b = b[min(align4(int(size)), len(b)):]
		if got != seq {
			return false, fmt.Errorf("receive: a reply to request %d, want %d", got, seq)
		}
		switch typ {
		case unix.NLMSG_DONE, unix.NLMSG_ERROR:
			// The end of the dump, or an error that ends it: both carry
			// the request's errno, negated (0 for a dump that ended
			// well).
			if len(payload) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(payload[0:4])); code < 0 {
					return true, syscall.Errno(-code)
				}
			}
			return true, nil
		case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
		default:
			if len(payload) < unix.GENL_HDRLEN {
				return false, fmt.Errorf("receive: generic-netlink message of %d bytes, shorter than its header", len(payload))
			}
			if err := visit(payload[unix.GENL_HDRLEN:]); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// recvTrunc reads one datagram from fd into b without waiting, and
// returns its whole length (MSG_TRUNC), more than len(b) if it did not
// fit. No socket address is asked for, so the call allocates nothing.
func recvTrunc(fd uintptr, b []byte) (int, syscall.Errno) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
	return int(n), errno
}
