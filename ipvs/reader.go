package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// defaultTimeout bounds one Snapshot or one write when the caller sets none.
const defaultTimeout = 5 * time.Second

// ReaderOptions configures a Reader.
type ReaderOptions struct {
	// NetNS is the path of a network-namespace file (/run/netns/NAME,
	// /proc/PID/ns/net) whose table to read; "" reads the current one.
	// The reader opens it for itself unless Namespace is set.
	NetNS string
	// Namespace is a namespace handle shared with the Writer and the
	// health checks; it wins over NetNS, and Close leaves it open.
	Namespace *NetNS
	// Timeout bounds one Snapshot (default 5s). A context deadline that is
	// sooner wins.
	Timeout time.Duration
	// ProcNet is, for tests, the directory holding ip_vs_stats; "" reads
	// /proc/net of the target namespace.
	ProcNet string
	// Dial is, for tests (genltest.Dial), how to open the generic-netlink
	// connection; nil opens a real socket in NetNS.
	Dial func() (*genetlink.Conn, error)
}

// Reader reads the kernel's IPVS table over generic netlink. It is safe for
// concurrent use; concurrent Snapshots run one after the other. It keeps one
// netlink socket open between Snapshots and opens a new one after any error.
type Reader struct {
	opts  ReaderOptions
	ns    *NetNS // nil: the current namespace
	ownNS bool   // ns was opened by NewReader, and Close closes it
	dial  func() (*genetlink.Conn, error)
	// sem is a one-slot semaphore guarding everything below; unlike a
	// mutex, waiting for it respects the caller's context.
	sem chan struct{}

	conn     *genetlink.Conn
	connNS   nsID   // the namespace conn was opened in
	genlID   uint16 // the "IPVS" family ID; 0 until resolved, and after errors
	closed   bool
	req      []byte // request payload, reused between requests
	lastDsts int    // destinations in the last Snapshot: a capacity hint
	lastSvcs int    // services in the last Snapshot: a capacity hint
	buf      []byte // what dumps are read into (dump.go), made at the first dump
}

// NewReader returns a Reader. It does not talk to the kernel, so it succeeds
// whether or not ip_vs is loaded; it fails only for a NetNS path that cannot
// be opened as a network namespace.
func NewReader(opts ReaderOptions) (*Reader, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	r := &Reader{opts: opts, sem: make(chan struct{}, 1), dial: opts.Dial, ns: opts.Namespace}
	if r.ns == nil && opts.NetNS != "" {
		ns, err := OpenNetNS(opts.NetNS, nil)
		if err != nil {
			return nil, fmt.Errorf("ipvs reader: %w", err)
		}
		r.ns, r.ownNS = ns, true
	}
	if r.dial == nil {
		r.dial = func() (*genetlink.Conn, error) { return dialIn(r.ns) }
	}
	return r, nil
}

// dialIn opens a generic-netlink socket in namespace ns.
func dialIn(ns *NetNS) (*genetlink.Conn, error) {
	var c *genetlink.Conn
	err := ns.Do(func() error {
		var err error
		c, err = genetlink.Dial(nil)
		return err
	})
	return c, err
}

// Close releases the socket and the namespace file. It waits for a Snapshot
// in progress, which its deadline bounds.
func (r *Reader) Close() error {
	r.sem <- struct{}{}
	defer func() { <-r.sem }()
	if r.closed {
		return nil
	}
	r.closed = true
	r.resetConn()
	if r.ownNS {
		return r.ns.Close()
	}
	return nil
}

// Snapshot reads the whole table: services and their destinations (which
// must succeed), then the version, the timeouts and the host-wide totals
// (which may fail: they are nil then and Snapshot.Partial says why).
//
// Errors wrap ErrModuleNotLoaded (no ip_vs; a later Snapshot succeeds once it
// is loaded), ErrPermission (no CAP_NET_ADMIN) or ErrTimeout (the deadline
// passed: ctx's or Timeout after the call, whichever is sooner).
func (r *Reader) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := acquire(ctx, r.sem); err != nil {
		return nil, fmt.Errorf("read IPVS table: waiting for the snapshot in progress: %w", err)
	}
	defer func() { <-r.sem }()
	if r.closed {
		return nil, errors.New("read IPVS table: the reader is closed")
	}
	deadline := time.Now().Add(r.opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	snap, err := r.snapshot(ctx, deadline)
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("read IPVS table: %w", err))
	}
	return snap, nil
}

// acquire takes a one-slot semaphore, giving up when ctx ends. A free
// semaphore is taken even if ctx has ended, so that what follows fails on
// the socket's deadline, the same way whether or not another call was
// running.
func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx, kernelErr(ctx.Err()))
	}
}

// resetConn drops the socket, whose stream may hold replies to an abandoned
// request, and forgets the family ID, which a module reload changes.
func (r *Reader) resetConn() {
	if r.conn != nil {
		_ = r.conn.Close()
		r.conn = nil
	}
	r.genlID = 0
}

func (r *Reader) snapshot(ctx context.Context, deadline time.Time) (snap *Snapshot, err error) {
	ns := r.ns.refresh()
	if r.conn != nil && r.connNS != ns {
		// The namespace was re-opened: the socket is in the old one.
		r.resetConn()
	}
	if r.conn == nil {
		c, err := r.dial()
		if err != nil {
			return nil, fmt.Errorf("open generic-netlink socket: %w", kernelErr(err))
		}
		r.conn, r.connNS = c, ns
	}
	c := r.conn
	netlinkFailed := false
	defer func() {
		if err != nil || netlinkFailed {
			r.resetConn()
		}
	}()

	// A real socket honours the deadline in every send and receive. Test
	// sockets may not support deadlines; the checks between requests below
	// still bound those.
	_ = c.SetDeadline(deadline)
	// Cancelling ctx interrupts a blocked receive by moving the deadline to
	// the past.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			// The interrupt ran or is running: it may land after this
			// Snapshot, so this socket must not serve the next one.
			netlinkFailed = true
		}
	}()

	services, err := r.readServices(ctx, c, deadline)
	if err != nil {
		return nil, err
	}
	snap = &Snapshot{Services: services, netns: ns}

	var partial []error
	if info, err := r.readInfo(c); err != nil {
		netlinkFailed = true
		partial = append(partial, fmt.Errorf("read IPVS info: %w", err))
	} else {
		snap.Info = info
	}
	if t, err := r.readTimeouts(c); err != nil {
		netlinkFailed = true
		partial = append(partial, fmt.Errorf("read IPVS timeouts: %w", err))
	} else {
		snap.Timeouts = t
	}
	if totals, err := r.readTotals(); err != nil {
		partial = append(partial, err)
	} else {
		snap.Totals = totals
	}
	snap.Partial = errors.Join(partial...)
	return snap, nil
}

// readServices resolves the family (unless cached) and dumps the services
// and their destinations.
func (r *Reader) readServices(ctx context.Context, c *genetlink.Conn, deadline time.Time) ([]Service, error) {
	cached := r.genlID != 0
	if !cached {
		id, err := resolveFamily(c)
		if err != nil {
			return nil, err
		}
		r.genlID = id
	}
	services, err := r.dumpServices(c)
	if cached && errors.Is(err, unix.ENOENT) {
		// The cached family ID is gone: ip_vs was unloaded, and maybe
		// loaded again under a new ID.
		id, rerr := resolveFamily(c)
		if rerr != nil {
			return nil, rerr
		}
		r.genlID = id
		services, err = r.dumpServices(c)
	}
	if err != nil {
		return nil, err
	}
	if err := r.dumpDests(ctx, c, deadline, services); err != nil {
		return nil, err
	}
	return services, nil
}

func (r *Reader) dumpServices(c *genetlink.Conn) ([]Service, error) {
	services := make([]Service, 0, r.lastSvcs)
	var derr error // a reply that does not decode, named apart from a kernel's error
	err := r.dump(c, r.genlID, cmdGetService, nil, func(attrs []byte) error {
		services = append(services, Service{})
		derr = decodeServiceMsg(attrs, &services[len(services)-1])
		return derr
	})
	if derr != nil {
		return nil, derr
	}
	if err != nil {
		return nil, fmt.Errorf("dump services: %w", kernelErr(err))
	}
	r.lastSvcs = len(services)
	return services, nil
}

// dumpDests dumps each service's destinations into one backing array, cut
// into per-service slices at the end (appending moves the array).
func (r *Reader) dumpDests(ctx context.Context, c *genetlink.Conn, deadline time.Time, services []Service) error {
	all := make([]Destination, 0, r.lastDsts+r.lastDsts/8)
	ends := make([]int, len(services))
	for i := range services {
		s := &services[i]
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("dump destinations of %s: %w", s.ServiceKey, kernelErr(err))
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("dump destinations of %s: %w", s.ServiceKey, ErrTimeout)
		}
		r.req = appendServiceIdentity(r.req[:0], &s.ServiceKey)
		var derr error // a reply that does not decode, named apart from a kernel's error
		err := r.dump(c, r.genlID, cmdGetDest, r.req, func(attrs []byte) error {
			all = append(all, Destination{})
			derr = decodeDestMsg(attrs, s.Family, &all[len(all)-1])
			return derr
		})
		if derr != nil {
			return fmt.Errorf("service %s: %w", s.ServiceKey, derr)
		}
		if err != nil {
			return fmt.Errorf("dump destinations of %s: %w", s.ServiceKey, kernelErr(err))
		}
		ends[i] = len(all)
	}
	start := 0
	for i := range services {
		if ends[i] > start {
			services[i].Destinations = all[start:ends[i]:ends[i]]
		}
		start = ends[i]
	}
	r.lastDsts = len(all)
	return nil
}

// appendServiceIdentity appends the IPVS_CMD_ATTR_SERVICE attribute that
// names a service: family and fwmark, or family, protocol, address and
// port (ip_vs_genl_parse_service). The address goes as the kernel's 16-byte
// union nf_inet_addr, IPv4 in the first 4 bytes.
func appendServiceIdentity(b []byte, k *ServiceKey) []byte {
	b, off := beginNest(b, cmdAttrService)
	b = appendIdentityAttrs(b, k)
	return endNest(b, off)
}

// appendIdentityAttrs appends the attributes of a service's identity.
func appendIdentityAttrs(b []byte, k *ServiceKey) []byte {
	b = appendAttrU16(b, svcAttrAF, k.Family)
	if k.FWMark != 0 {
		return appendAttrU32(b, svcAttrFWMark, k.FWMark)
	}
	b = appendAttrU16(b, svcAttrProtocol, uint16(k.Protocol))
	u := inetAddr(k.Address)
	b = appendAttr(b, svcAttrAddr, u[:]...)
	return appendAttrBE16(b, svcAttrPort, k.Port)
}

// inetAddr lays an address out as union nf_inet_addr.
func inetAddr(a netip.Addr) [16]byte {
	var u [16]byte
	if a.Is4() {
		v4 := a.As4()
		copy(u[:], v4[:])
	} else if a.IsValid() {
		u = a.As16()
	}
	return u
}

func (r *Reader) readInfo(c *genetlink.Conn) (*Info, error) {
	msgs, err := c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmdGetInfo, Version: genlVersion},
	}, r.genlID, netlink.Request)
	if err != nil {
		return nil, kernelErr(err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("%d replies, want 1", len(msgs))
	}
	return decodeInfo(msgs[0].Data)
}

func (r *Reader) readTimeouts(c *genetlink.Conn) (*Timeouts, error) {
	msgs, err := c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmdGetConfig, Version: genlVersion},
	}, r.genlID, netlink.Request)
	if err != nil {
		return nil, kernelErr(err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("%d replies, want 1", len(msgs))
	}
	return decodeTimeouts(msgs[0].Data)
}
