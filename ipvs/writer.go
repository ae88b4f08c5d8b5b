package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	mobyipvs "github.com/moby/ipvs"
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	// NetNS is the path of a network-namespace file (/run/netns/NAME,
	// /proc/PID/ns/net) whose table to change; "" changes the current one.
	NetNS string
	// Timeout bounds one call (default 5s). A context deadline that is
	// sooner wins.
	Timeout time.Duration
}

// mobyHandle is the part of *mobyipvs.Handle the Writer uses: an interface
// so that tests can put a fake kernel behind it.
type mobyHandle interface {
	NewService(*mobyipvs.Service) error
	UpdateService(*mobyipvs.Service) error
	DelService(*mobyipvs.Service) error
	NewDestination(*mobyipvs.Service, *mobyipvs.Destination) error
	UpdateDestination(*mobyipvs.Service, *mobyipvs.Destination) error
	DelDestination(*mobyipvs.Service, *mobyipvs.Destination) error
	Close()
}

// Writer changes the kernel's IPVS table through github.com/moby/ipvs,
// guarded against its failure modes: each call first checks that the ip_vs
// module is loaded (moby/ipvs would report success for writes that went
// nowhere), calls are serialized (a moby handle is not safe for concurrent
// use), and each call is bounded by its deadline (a moby handle waits for
// a lost reply forever): past it, the handle is closed and the next call
// opens a new one.
type Writer struct {
	timeout time.Duration
	// probe returns the current "IPVS" family ID or ErrModuleNotLoaded.
	probe func(deadline time.Time) (uint16, error)
	// open makes a moby handle; family is the ID probe just returned.
	open func(family uint16) (mobyHandle, error)
	// boundFamily is the family ID moby/ipvs resolved (0: none yet).
	boundFamily func() uint16
	closers     []func() error

	sem    chan struct{} // one-slot semaphore guarding h and closed
	h      mobyHandle
	closed bool
}

// NewWriter returns a Writer. It does not talk to the kernel, so it succeeds
// whether or not ip_vs is loaded; it fails only for a NetNS path that cannot
// be opened as a network namespace.
func NewWriter(opts WriterOptions) (*Writer, error) {
	var nsFile *os.File
	nsFD := 0
	if opts.NetNS != "" {
		f, err := openNetNS(opts.NetNS)
		if err != nil {
			return nil, fmt.Errorf("ipvs writer: %w", err)
		}
		nsFile, nsFD = f, int(f.Fd())
	}
	p := &familyProbe{dial: func() (*genetlink.Conn, error) {
		return genetlink.Dial(&netlink.Config{NetNS: nsFD})
	}}
	w := newWriter(opts.Timeout, p.probe,
		func(family uint16) (mobyHandle, error) { return openMoby(opts.NetNS, family) },
		mobyFamily)
	w.closers = append(w.closers, p.close)
	if nsFile != nil {
		w.closers = append(w.closers, nsFile.Close)
	}
	return w, nil
}

func newWriter(timeout time.Duration, probe func(time.Time) (uint16, error), open func(uint16) (mobyHandle, error), boundFamily func() uint16) *Writer {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return &Writer{timeout: timeout, probe: probe, open: open, boundFamily: boundFamily, sem: make(chan struct{}, 1)}
}

// Close closes the moby handle and the probe's socket. It waits for a call
// in progress, which its deadline bounds.
func (w *Writer) Close() error {
	w.sem <- struct{}{}
	defer func() { <-w.sem }()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.h != nil {
		w.h.Close()
		w.h = nil
	}
	var errs []error
	for _, c := range w.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// CreateService adds a virtual service with its scheduler, flags
// (persistence), persistence timeout and netmask; s.Destinations are
// ignored. A zero Netmask means one client address (255.255.255.255 for
// IPv4, 128 for IPv6), as with ipvsadm. It fails with ErrExists if the
// service is there already.
func (w *Writer) CreateService(ctx context.Context, s *Service) error {
	what := "create service " + s.String()
	ms, err := mobyServiceFull(s)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return w.do(ctx, what, s, func(h mobyHandle) error { return h.NewService(ms) })
}

// UpdateService changes an existing service's scheduler, flags, timeout and
// netmask, as CreateService sets them.
func (w *Writer) UpdateService(ctx context.Context, s *Service) error {
	what := "update service " + s.String()
	ms, err := mobyServiceFull(s)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return w.do(ctx, what, s, func(h mobyHandle) error { return h.UpdateService(ms) })
}

// DeleteService removes a service and its destinations.
func (w *Writer) DeleteService(ctx context.Context, k ServiceKey) error {
	what := "delete service " + k.String()
	ms, err := mobyService(k)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return w.do(ctx, what, nil, func(h mobyHandle) error { return h.DelService(ms) })
}

// CreateDestination adds a real server to service k with its weight,
// forwarding method and connection thresholds.
func (w *Writer) CreateDestination(ctx context.Context, k ServiceKey, d *Destination) error {
	what := fmt.Sprintf("add real server %s to %s", d.Server(), k)
	ms, md, err := mobyServiceDest(k, d)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return w.do(ctx, what, nil, func(h mobyHandle) error { return h.NewDestination(ms, md) })
}

// UpdateDestination changes a real server's weight, forwarding method and
// thresholds. Weight 0 drains it: existing connections go on, new ones go
// elsewhere.
func (w *Writer) UpdateDestination(ctx context.Context, k ServiceKey, d *Destination) error {
	what := fmt.Sprintf("update real server %s of %s", d.Server(), k)
	ms, md, err := mobyServiceDest(k, d)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return w.do(ctx, what, nil, func(h mobyHandle) error { return h.UpdateDestination(ms, md) })
}

// DeleteDestination removes real server server from service k.
func (w *Writer) DeleteDestination(ctx context.Context, k ServiceKey, server netip.AddrPort) error {
	what := fmt.Sprintf("delete real server %s from %s", server, k)
	ms, md, err := mobyServiceDest(k, &Destination{Address: server.Addr(), Port: server.Port()})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return w.do(ctx, what, nil, func(h mobyHandle) error { return h.DelDestination(ms, md) })
}

// do runs op on the moby handle: serialized, after the family probe, and
// bounded by the deadline. svc is the service a create/update sends (for
// the message of a missing scheduler), nil otherwise.
func (w *Writer) do(ctx context.Context, what string, svc *Service, op func(mobyHandle) error) error {
	if err := acquire(ctx, w.sem); err != nil {
		return fmt.Errorf("%s: waiting for the write in progress: %w", what, err)
	}
	defer func() { <-w.sem }()
	if w.closed {
		return fmt.Errorf("%s: the writer is closed", what)
	}
	deadline := time.Now().Add(w.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}

	family, err := w.probe(deadline)
	if err != nil {
		return ctxErr(ctx, fmt.Errorf("%s: %w", what, err))
	}
	if bound := w.boundFamily(); bound != 0 && bound != family {
		// moby/ipvs resolves the family ID once per process: after a
		// module reload its requests would go to a stale ID, which may now
		// belong to another generic-netlink family.
		return fmt.Errorf("%s: the ip_vs module was reloaded since lvs-sidecar started (generic-netlink family ID %d, now %d) and github.com/moby/ipvs cannot follow: restart lvs-sidecar", what, bound, family)
	}

	type result struct {
		h   mobyHandle
		err error
	}
	// handle is the one the call uses, which the watchdog must close when
	// it abandons the call, also if the goroutine opened it only just now.
	var mu sync.Mutex
	handle, abandoned := w.h, false
	done := make(chan result, 1)
	go func() {
		mu.Lock()
		h := handle
		mu.Unlock()
		if h == nil {
			nh, err := w.open(family)
			if err != nil {
				done <- result{err: fmt.Errorf("open IPVS handle: %w", err)}
				return
			}
			mu.Lock()
			handle, h = nh, nh
			gone := abandoned
			mu.Unlock()
			if gone {
				nh.Close()
				return
			}
		}
		done <- result{h: h, err: op(h)}
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case res := <-done:
		w.h = res.h
		var errno syscall.Errno
		if res.err != nil && res.h != nil && !errors.As(res.err, &errno) {
			// Not an answer from the kernel: the socket may hold a late
			// reply. Start the next call on a new handle.
			res.h.Close()
			w.h = nil
		}
		return writeErr(what, svc, res.err)
	case <-timer.C:
	case <-ctx.Done():
	}
	// Abandon the call. Closing the handle's socket makes moby's receive
	// loop give up (within its 3 s receive timeout); the next call opens a
	// new handle.
	w.h = nil
	mu.Lock()
	abandoned = true
	h := handle
	mu.Unlock()
	if h != nil {
		h.Close()
	}
	return ctxErr(ctx, fmt.Errorf("%s: %w", what, ErrTimeout))
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
	}
	return fmt.Errorf("%s: %w", what, err)
}
