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

// controller runs the actuator beside the health checks: it turns their
// verdicts and the maintenance store into the kernel table's weights.
type controller struct {
	ctl    *actuator.Controller
	writer closeWriter
	// mode overrides the configuration's controller.mode (from
	// --controller.mode); nil: the file says.
	mode   *config.ControllerMode
	logger *slog.Logger
	done   chan struct{}
}

// newController builds the controller for cfg; it does not touch the table
// until start.
func newController(cfg *config.Config, o options, reader actuator.TableReader, hc *checks, store *actuator.Maintenance, logger *slog.Logger) (*controller, error) {
	c := &controller{
		writer: &lazyWriter{opts: ipvs.WriterOptions{Namespace: o.ns, NetNS: o.netns, Timeout: o.ipvsTimeout}},
		mode:   o.controllerMode,
		logger: logger,
		done:   make(chan struct{}),
	}
	if o.sim != nil {
		// --ipvs.simulate: the controller writes the table everything
		// else reads.
		c.writer = simWriter{o.sim}
	}
	opts := actuator.Options{
		Reader:   reader,
		Writer:   c.writer,
		Verdicts: hc.sched,
		Admin:    store,
		Logger:   logger,
		OnAction: onAction(hc),
	}
	if hc.load != nil {
		opts.Load = hc.load
	}
	ctl, err := actuator.New(c.config(cfg), opts)
	if err != nil {
		return nil, err
	}
	c.ctl = ctl
	store.OnChange(ctl.Trigger)
	return c, nil
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
	switch len(hooks) {
	case 0:
		return nil
	case 1:
		return hooks[0]
	}
	return func(a actuator.Action) {
		for _, h := range hooks {
			h(a)
		}
	}
}

// config returns cfg with --controller.mode applied.
func (c *controller) config(cfg *config.Config) *config.Config {
	if c.mode == nil || *c.mode == cfg.Controller.Mode {
		return cfg
	}
	// A Config is never modified once loaded: change a copy.
	cp := *cfg
	cp.Controller.Mode = *c.mode
	return &cp
}

// update gives the controller a reloaded configuration.
func (c *controller) update(cfg *config.Config) {
	c.ctl.Update(c.config(cfg))
}

// start runs the controller until ctx ends.
func (c *controller) start(ctx context.Context, cfg *config.Config) {
	eff := c.config(cfg)
	source := "controller.mode in --config.file"
	if c.mode != nil {
		source = "--controller.mode"
	}
	what := map[config.ControllerMode]string{
		config.ControllerManaged: "drains, removes, restores and re-weights the declared real servers and restores hand-made changes",
		config.ControllerObserve: "writes what the verdicts and maintenance change, and only reports hand-made changes",
		config.ControllerDryRun:  "computes, logs and exports the weights it wants and writes nothing",
	}[eff.Controller.Mode]
	c.logger.Info("controller started: it "+what, "mode", eff.Controller.Mode, "mode_from", source, "period", eff.Controller.Period)
	go func() {
		defer close(c.done)
		if err := c.ctl.Run(ctx); err != nil {
			c.logger.Error("controller stopped", "err", err)
		}
	}()
}

// stop waits until the controller's Run, whose context the caller
// canceled, has returned (a write in progress is abandoned at its
// deadline), then closes the writer. The table is left as it is.
func (c *controller) stop(ctx context.Context) error {
	select {
	case <-c.done:
	case <-ctx.Done():
		return fmt.Errorf("controller: %w", ctx.Err())
	}
	c.logger.Info("controller stopped; the IPVS table is left as it is (nothing is restored or removed on exit)")
	return c.writer.Close()
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
