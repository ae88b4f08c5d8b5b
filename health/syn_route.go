package health

import (
	"encoding/binary"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// synRouteTTL is how long a check reuses the source address it looked up
// for its target. The SYN names its source (IP_PKTINFO; an IPv6
// link-local one only with the target's zone), so a cached source is
// never one the checksum was not computed for; a source
// the director lost, or a route gone, fails the send, and the check looks
// up again at once; so does a check that got no answer or an ICMP error.
// What the TTL bounds is only a change of the route's preferred source
// while the old address stays on the director.
const synRouteTTL = 30 * time.Second

// synRoute is what a SYN check keeps of its target between runs, for one
// scanner: the sockaddr to send to, the source, the control message that
// sets it, and the SYN with everything but its source port, ISN and
// checksum filled in. It is never changed once made.
type synRoute struct {
	scanner *SYNScanner
	dst     unix.Sockaddr
	source  netip.Addr
	oob     []byte
	tmpl    [synLen]byte
	// sum is the folded ones' complement sum of the pseudo-header and
	// tmpl (source port, ISN and checksum zero).
	sum     uint32
	expires time.Time // zero: never (an explicit source)
}

// synLen is the length of the SYN's TCP header: 20 bytes and an MSS
// option.
const synLen = 24

// newSynRoute makes the route of a check from source to target.
func newSynRoute(s *SYNScanner, dst unix.Sockaddr, source netip.Addr, target netip.AddrPort) *synRoute {
	r := &synRoute{scanner: s, dst: dst, source: source, oob: synSourceControl(source)}
	copy(r.tmpl[:], synPacket(source, target, 0, 0))
	r.sum = uint32(^binary.BigEndian.Uint16(r.tmpl[16:18]))
	binary.BigEndian.PutUint16(r.tmpl[16:18], 0)
	return r
}

// packet writes into b the SYN from sport with sequence number isn and
// returns it.
func (r *synRoute) packet(b *[synLen]byte, sport uint16, isn uint32) []byte {
	*b = r.tmpl
	binary.BigEndian.PutUint16(b[0:2], sport)
	binary.BigEndian.PutUint32(b[4:8], isn)
	sum := r.sum + uint32(sport) + isn>>16 + isn&0xffff
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[16:18], ^uint16(sum))
	return b[:]
}

// route returns c's route on s: the cached one while it is fresh, else a
// new one (looked up, when c has no explicit source) that it caches.
// cached says whether it came from the cache.
func (s *SYNScanner) route(c *SYN, now time.Time) (r *synRoute, cached bool, err error) {
	if r := c.route.Load(); r != nil && r.scanner == s && (r.expires.IsZero() || now.Before(r.expires)) {
		return r, true, nil
	}
	// Port 0: a raw IPv6 socket refuses any other in its address. A
	// zone's interface is looked up in the checks' namespace.
	var dst unix.Sockaddr
	sockaddr := func() (err error) { dst, err = probeSockaddr(netip.AddrPortFrom(c.target.Addr(), 0)); return err }
	if c.target.Addr().Zone() != "" {
		err = s.inNetNS(sockaddr)
	} else {
		err = sockaddr()
	}
	if err != nil {
		return nil, false, err
	}
	var zone uint32
	if sa6, ok := dst.(*unix.SockaddrInet6); ok {
		zone = sa6.ZoneId
	}
	source := c.source
	var expires time.Time
	if !source.IsValid() {
		if err = s.inNetNS(func() (err error) { source, err = synRouteSource(c.target, zone); return err }); err != nil {
			return nil, false, err
		}
		expires = now.Add(synRouteTTL)
	}
	r = newSynRoute(s, dst, source, c.target)
	r.expires = expires
	if !c.source.IsValid() && source.Is6() && source.IsLinkLocalUnicast() && zone == 0 {
		// The kernel refuses a link-local source without an interface
		// (EINVAL), which a target without a zone does not give: leave
		// the source to the kernel, whose route picks this one.
		r.oob = nil
	}
	c.route.Store(r)
	return r, false, nil
}

// forget drops c's cached route r, so that its next run looks up again.
func (c *SYN) forget(r *synRoute) { c.route.CompareAndSwap(r, nil) }
