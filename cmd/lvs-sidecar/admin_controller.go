package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// newController builds the controller for cfg, writing the table the
// flags name (the kernel's, in --ipvs.netns, or --ipvs.simulate's) with
// --controller.mode applied; it does not touch the table until Start. It
// hears of every maintenance change at once.
func newController(cfg *config.Config, o options, reader actuator.TableReader, hc *checks, store *actuator.Maintenance, logger *slog.Logger) (*actuator.Runner, error) {
	var writer closeWriter = &lazyWriter{opts: ipvs.WriterOptions{Namespace: o.ns, NetNS: o.netns, Timeout: o.ipvsTimeout}}
	if o.sim != nil {
		// --ipvs.simulate: the controller writes the table everything
		// else reads.
		writer = simWriter{o.sim}
	}
	opts := actuator.Options{
		Reader:   reader,
		Writer:   writer,
		Verdicts: hc.sched,
		Labels:   hc.sched,
		Admin:    store,
		Logger:   logger,
		OnAction: onAction(hc),
	}
	if hc.load != nil {
		opts.Load = hc.load
	}
	r, err := actuator.NewRunner(cfg, actuator.RunnerOptions{Options: opts, Mode: o.controllerMode,
		ModeFrom: "--controller.mode", ConfigModeFrom: "controller.mode in --config.file", Close: writer.Close})
	if err != nil {
		return nil, err
	}
	store.OnChange(r.Controller().Trigger)
	return r, nil
}

// onAction returns the controller's action hook: it hands every action
// to the notifier (which only queues) and to the status page's recent
// events (a ring); nil without either.
func onAction(hc *checks) func(actuator.Action) {
	if hc == nil {
		return nil
	}
	var hooks []func(actuator.Action)
	if hc.notifier != nil {
		hooks = append(hooks, hc.notifier.Action)
	}
	if hc.events != nil {
		hooks = append(hooks, hc.events.Action)
	}
	return actuator.ActionHooks(hooks...)
}

// closeWriter is what the controller writes the table with: a lazyWriter
// for the kernel's, or the simulated table's simWriter.
type closeWriter interface {
	actuator.TableWriter
	Close() error
}

// lazyWriter opens the ipvs.Writer on first use and, if that fails, on
// every later use: a failure (a network namespace that cannot be opened
// right now) costs the controller a pass, which it logs and retries on its
// period, instead of the sidecar. The writer itself reports a missing
// ip_vs module or CAP_NET_ADMIN on each write, with the fix.
type lazyWriter struct {
	opts ipvs.WriterOptions

	mu     sync.Mutex
	w      *ipvs.Writer
	closed bool
}

func (l *lazyWriter) get() (*ipvs.Writer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("ipvs writer: closed")
	}
	if l.w == nil {
		w, err := ipvs.NewWriter(l.opts)
		if err != nil {
			return nil, fmt.Errorf("%w (the controller retries on its period)", err)
		}
		l.w = w
	}
	return l.w, nil
}

// Close closes the writer if it was opened.
func (l *lazyWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.w == nil {
		return nil
	}
	return l.w.Close()
}

// CreateService implements actuator.TableWriter.
func (l *lazyWriter) CreateService(ctx context.Context, s *ipvs.Service) error {
	w, err := l.get()
	if err != nil {
		return err
	}
	return w.CreateService(ctx, s)
}

// UpdateService implements actuator.TableWriter.
func (l *lazyWriter) UpdateService(ctx context.Context, s *ipvs.Service) error {
	w, err := l.get()
	if err != nil {
		return err
	}
	return w.UpdateService(ctx, s)
}

// CreateDestination implements actuator.TableWriter.
func (l *lazyWriter) CreateDestination(ctx context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error {
	w, err := l.get()
	if err != nil {
		return err
	}
	return w.CreateDestination(ctx, k, d)
}

// UpdateDestination implements actuator.TableWriter.
func (l *lazyWriter) UpdateDestination(ctx context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error {
	w, err := l.get()
	if err != nil {
		return err
	}
	return w.UpdateDestination(ctx, k, d)
}

// DeleteDestination implements actuator.TableWriter.
func (l *lazyWriter) DeleteDestination(ctx context.Context, k ipvs.ServiceKey, server netip.AddrPort) error {
	w, err := l.get()
	if err != nil {
		return err
	}
	return w.DeleteDestination(ctx, k, server)
}

var _ actuator.TableWriter = (*lazyWriter)(nil)
