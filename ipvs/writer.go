package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	// NetNS is the path of a network-namespace file (/run/netns/NAME,
	// /proc/PID/ns/net) whose table to change; "" changes the current one.
	// The writer opens it for itself unless Namespace is set.
	NetNS string
	// Namespace is a namespace handle shared with the Reader and the
	// health checks; it wins over NetNS, and Close leaves it open.
	Namespace *NetNS
	// Timeout bounds one call (default 5s). A context deadline that is
	// sooner wins.
	Timeout time.Duration
	// Dial is, for tests, how to open the generic-netlink connection; nil
	// opens a real socket in the namespace.
	Dial func() (*genetlink.Conn, error)
}

// Writer changes the kernel's IPVS table over generic netlink, with the
// same code that reads it. Every create and update carries every attribute
// the kernel keeps (tunnel type, port and checksum flags, thresholds,
// persistence engine, flags), so no write changes what it does not mean
// to. Calls are serialized on one socket and each is bounded by its
// deadline: past it, or after any answer that is not the kernel's, the
// socket is closed and the next call opens a new one.
//
// The writer never loads a module: without ip_vs every call fails with
// ErrModuleNotLoaded. The "IPVS" family ID is resolved on first use and
// again when the kernel no longer knows the cached one (ip_vs was unloaded
// and loaded again), so writes go on after a reload without a restart.
type Writer struct {
	timeout time.Duration
	ns      *NetNS
	ownNS   bool
	dial    func() (*genetlink.Conn, error)

	sem    chan struct{} // one-slot semaphore guarding everything below
	conn   *genetlink.Conn
	connNS nsID
	genlID uint16 // 0 until resolved, and after errors
	closed bool
	req    []byte // request payload, reused between calls
}

// NewWriter returns a Writer. It does not talk to the kernel, so it succeeds
// whether or not ip_vs is loaded; it fails only for a NetNS path that cannot
// be opened as a network namespace.
func NewWriter(opts WriterOptions) (*Writer, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	w := &Writer{timeout: opts.Timeout, ns: opts.Namespace, dial: opts.Dial, sem: make(chan struct{}, 1)}
	if w.ns == nil && opts.NetNS != "" {
		ns, err := OpenNetNS(opts.NetNS, nil)
		if err != nil {
			return nil, fmt.Errorf("ipvs writer: %w", err)
		}
		w.ns, w.ownNS = ns, true
	}
	if w.dial == nil {
		w.dial = func() (*genetlink.Conn, error) { return dialIn(w.ns) }
	}
	return w, nil
}

// Close closes the socket (and the namespace, if the writer opened it).
// It waits for a call in progress, which its deadline bounds.
func (w *Writer) Close() error {
	w.sem <- struct{}{}
	defer func() { <-w.sem }()
	if w.closed {
		return nil
	}
	w.closed = true
	w.resetConn()
	if w.ownNS {
		return w.ns.Close()
	}
	return nil
}

func (w *Writer) resetConn() {
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
	w.genlID = 0
}

// CreateService adds a virtual service with its scheduler, persistence
// engine, flags (persistence), persistence timeout and netmask;
// s.Destinations are ignored. A zero Netmask means one client address
// (255.255.255.255 for IPv4, 128 for IPv6), as with ipvsadm. It fails with
// ErrExists if the service is there already.
func (w *Writer) CreateService(ctx context.Context, s *Service) error {
	return w.write(ctx, "create service "+s.String(), s, cmdNewService, func(b []byte) ([]byte, error) {
		return appendService(b, s)
	})
}

// UpdateService changes an existing service's scheduler, persistence
// engine, flags, timeout and netmask to those of s, as CreateService sets
// them.
func (w *Writer) UpdateService(ctx context.Context, s *Service) error {
	return w.write(ctx, "update service "+s.String(), s, cmdSetService, func(b []byte) ([]byte, error) {
		return appendService(b, s)
	})
}

// DeleteService removes a service and its destinations.
func (w *Writer) DeleteService(ctx context.Context, k ServiceKey) error {
	return w.write(ctx, "delete service "+k.String(), nil, cmdDelService, func(b []byte) ([]byte, error) {
		return appendServiceKey(b, k)
	})
}

// CreateDestination adds a real server to service k with its weight,
// forwarding method, thresholds and tunnel settings. A tunnel real server
// may be of the other address family than the service.
func (w *Writer) CreateDestination(ctx context.Context, k ServiceKey, d *Destination) error {
	return w.write(ctx, fmt.Sprintf("add real server %s to %s", d.Server(), k), nil, cmdNewDest, func(b []byte) ([]byte, error) {
		return appendServiceDest(b, k, d)
	})
}

// UpdateDestination sets a real server's weight, forwarding method,
// thresholds and tunnel settings to those of d. Weight 0 drains it:
// existing connections go on, new ones go elsewhere.
func (w *Writer) UpdateDestination(ctx context.Context, k ServiceKey, d *Destination) error {
	return w.write(ctx, fmt.Sprintf("update real server %s of %s", d.Server(), k), nil, cmdSetDest, func(b []byte) ([]byte, error) {
		return appendServiceDest(b, k, d)
	})
}

// DeleteDestination removes real server server from service k.
func (w *Writer) DeleteDestination(ctx context.Context, k ServiceKey, server netip.AddrPort) error {
	return w.write(ctx, fmt.Sprintf("delete real server %s from %s", server, k), nil, cmdDelDest, func(b []byte) ([]byte, error) {
		return appendServiceServer(b, k, server)
	})
}

// write encodes a request with enc and sends it: serialized, bounded by
// the deadline, in the namespace in use. svc is the service a create or
// update sends (for the message of a missing scheduler), nil otherwise.
func (w *Writer) write(ctx context.Context, what string, svc *Service, cmd uint8, enc func([]byte) ([]byte, error)) error {
	if err := acquire(ctx, w.sem); err != nil {
		return fmt.Errorf("%s: waiting for the write in progress: %w", what, err)
	}
	defer func() { <-w.sem }()
	if w.closed {
		return fmt.Errorf("%s: the writer is closed", what)
	}
	req, err := enc(w.req[:0])
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	w.req = req
	deadline := time.Now().Add(w.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ns := w.ns.refresh()
	if pinned, ok := pinnedNetNS(ctx); ok && pinned != ns {
		return fmt.Errorf("%s: %w", what, ErrNetNSChanged)
	}
	err = w.send(ctx, deadline, ns, cmd, req)
	return ctxErr(ctx, writeErr(what, svc, err))
}

// send runs one request on the writer's socket, opening it (in namespace
// ns) and resolving the family first when needed.
func (w *Writer) send(ctx context.Context, deadline time.Time, ns nsID, cmd uint8, req []byte) (err error) {
	if w.conn != nil && w.connNS != ns {
		w.resetConn()
	}
	if w.conn == nil {
		c, err := w.dial()
		if err != nil {
			return fmt.Errorf("open generic-netlink socket: %w", kernelErr(err))
		}
		w.conn, w.connNS = c, ns
	}
	c := w.conn
	broken := false
	defer func() {
		var errno syscall.Errno
		if broken || (err != nil && !errors.As(err, &errno) && !errors.Is(err, ErrModuleNotLoaded)) {
			// Not an answer of the kernel's (a timeout, a broken
			// exchange): the socket may still receive a late reply.
			w.resetConn()
		}
	}()
	_ = c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			// The interrupt ran or is running and may land after this
			// call: this socket must not serve the next one.
			broken = true
		}
	}()

	cached := w.genlID != 0
	if !cached {
		id, err := resolveFamily(c)
		if err != nil {
			return err
		}
		w.genlID = id
	}
	err = w.exec(c, cmd, req)
	if cached && errors.Is(err, unix.ENOENT) {
		// Either the kernel's own "no such thing" (a scheduler, a
		// destination), or no family with the cached ID any more: ip_vs
		// was unloaded, and maybe loaded again under a new ID. Only the
		// latter changes the ID; the request then went nowhere and is
		// sent again, once.
		id, rerr := resolveFamily(c)
		if rerr != nil {
			w.genlID = 0
			return rerr
		}
		if id != w.genlID {
			w.genlID = id
			err = w.exec(c, cmd, req)
		}
	}
	return err
}

func (w *Writer) exec(c *genetlink.Conn, cmd uint8, req []byte) error {
	_, err := c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: genlVersion},
		Data:   req,
	}, w.genlID, netlink.Request|netlink.Acknowledge)
	return err
}

// writeErr names the failed write and adds the sentinel the kernel's errno
// means (ip_vs_genl_set_cmd and the functions it calls).
func writeErr(what string, svc *Service, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("%s: %w", what, kernelErr(err))
	}
	switch errno {
	case syscall.ESRCH:
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case syscall.ENOENT:
		if svc != nil {
			// Creating or editing a service: ip_vs_scheduler_get or
			// ip_vs_pe_getbyname found no such module.
			msg := fmt.Sprintf("the kernel has no IPVS scheduler %q (load it: modprobe ip_vs_%s)", svc.Scheduler, svc.Scheduler)
			if svc.PEName != "" {
				msg = fmt.Sprintf("the kernel has no IPVS scheduler %q or persistence engine %q (load them: modprobe ip_vs_%s ip_vs_pe_%s)", svc.Scheduler, svc.PEName, svc.Scheduler, svc.PEName)
			}
			return fmt.Errorf("%s: %s: %w", what, msg, err)
		}
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case syscall.EEXIST:
		return fmt.Errorf("%s: %w", what, ErrExists)
	case syscall.EPERM, syscall.EACCES:
		return fmt.Errorf("%s: %w: %w", what, ErrPermission, err)
	case syscall.EINVAL:
		return fmt.Errorf("%s: the kernel rejected the parameters as invalid: %w", what, err)
	case syscall.ERANGE:
		return fmt.Errorf("%s: a weight or threshold is out of range: %w", what, err)
	case syscall.EAFNOSUPPORT:
		return fmt.Errorf("%s: the kernel has no IPv6 support in IPVS: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
