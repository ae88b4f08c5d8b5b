package ipvs

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// LocalAddrs is the set of addresses held by the interfaces of a network
// namespace: what an RTM_GETADDR dump lists, less the addresses the kernel
// does not accept traffic for yet or at all (IPv6 tentative, still in
// duplicate address detection; dadfailed, another host has it).
// IPv4-mapped IPv6 addresses are stored unmapped, zones are dropped.
type LocalAddrs map[netip.Addr]struct{}

// Has reports whether a is held (a is unmapped and stripped of its zone
// first, as the set's members are).
func (l LocalAddrs) Has(a netip.Addr) bool {
	_, ok := l[a.Unmap().WithZone("")]
	return ok
}

// AddrReader dumps the addresses of a network namespace's interfaces over
// rtnetlink, one RTM_GETADDR dump per call, on a socket opened for that
// call: a namespace handle that was re-opened (NetNS.Refresh) is followed
// at the next call.
type AddrReader struct {
	// NetNS is the namespace to read; nil: the process's own.
	NetNS *NetNS
	// Timeout bounds one dump when ctx has no earlier deadline; 0: 5 s.
	Timeout time.Duration
}

// LocalAddrs reads the addresses held now.
func (r *AddrReader) LocalAddrs(ctx context.Context) (LocalAddrs, error) {
	var c *netlink.Conn
	err := r.NetNS.Do(func() error {
		var err error
		c, err = netlink.Dial(unix.NETLINK_ROUTE, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the local addresses: open an rtnetlink socket%s: %w", r.where(), err)
	}
	defer c.Close()
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("read the local addresses: set a deadline: %w", err)
	}
	// An ifaddrmsg of family AF_UNSPEC: every address of every family.
	req := netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETADDR, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfAddrmsg),
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("read the local addresses: RTM_GETADDR dump%s: %w", r.where(), err)
	}
	return parseAddrMessages(msgs)
}

func (r *AddrReader) where() string {
	if p := r.NetNS.Path(); p != "" {
		return " in network namespace " + p
	}
	return ""
}

// parseAddrMessages reads the RTM_NEWADDR messages of a dump.
func parseAddrMessages(msgs []netlink.Message) (LocalAddrs, error) {
	out := make(LocalAddrs, len(msgs))
	for i, m := range msgs {
		if m.Header.Type != unix.RTM_NEWADDR {
			continue
		}
		a, held, err := parseAddrMessage(m.Data)
		if err != nil {
			return nil, fmt.Errorf("read the local addresses: message %d of the dump: %w", i, err)
		}
		if held {
			out[a] = struct{}{}
		}
	}
	return out, nil
}

// parseAddrMessage reads one RTM_NEWADDR payload: an ifaddrmsg and its
// attributes. The address is IFA_LOCAL when present (on a point-to-point
// IPv4 link IFA_ADDRESS is the peer's), else IFA_ADDRESS (IPv6 sends only
// that). The flags are IFA_FLAGS when present (32 bits), else the
// ifaddrmsg's 8.
func parseAddrMessage(b []byte) (netip.Addr, bool, error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return netip.Addr{}, false, fmt.Errorf("ifaddrmsg of %d bytes, want %d", len(b), unix.SizeofIfAddrmsg)
	}
	family := b[0]
	flags := uint32(b[2])
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofIfAddrmsg:])
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("attributes: %w", err)
	}
	ad.ByteOrder = binary.NativeEndian
	var local, address []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.IFA_LOCAL:
			local = ad.Bytes()
		case unix.IFA_ADDRESS:
			address = ad.Bytes()
		case unix.IFA_FLAGS:
			if len(ad.Bytes()) == 4 {
				flags = ad.Uint32()
			}
		}
	}
	if err := ad.Err(); err != nil {
		return netip.Addr{}, false, fmt.Errorf("attributes: %w", err)
	}
	raw := local
	if raw == nil {
		raw = address
	}
	a, ok := netip.AddrFromSlice(raw)
	if !ok {
		return netip.Addr{}, false, fmt.Errorf("family %d: address of %d bytes", family, len(raw))
	}
	held := flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0
	return a.Unmap(), held, nil
}
