package actuator

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// RunnerOptions configure a Runner: the controller's Options and what
// the Runner adds around it.
type RunnerOptions struct {
	Options
	// Mode, when set, overrides controller.mode of every configuration
	// the runner is given (a command-line flag); nil: each one's own.
	Mode *config.ControllerMode
	// ModeFrom names where Mode comes from, and ConfigModeFrom where a
	// configuration's own mode does, for the log line of Start (say
	// "--controller.mode" and "controller.mode in --config.file").
	ModeFrom, ConfigModeFrom string
	// Close, when set, is called once Run has returned: it closes the
	// writer.
	Close func() error
}

// Runner runs a Controller for the life of a process: it applies the
// mode that overrides the configuration's, runs the controller on its
// own goroutine from Start until Start's context ends, and on Stop waits
// for that and closes the writer. The table is left as it is.
type Runner struct {
	ctl                      *Controller
	mode                     *config.ControllerMode
	modeFrom, configModeFrom string
	close                    func() error
	logger                   *slog.Logger
	done                     chan struct{}
}

// NewRunner builds the controller for cfg (with o.Mode applied); it does
// not touch the table until Start.
func NewRunner(cfg *config.Config, o RunnerOptions) (*Runner, error) {
	r := &Runner{mode: o.Mode, modeFrom: o.ModeFrom, configModeFrom: o.ConfigModeFrom, close: o.Close,
		logger: o.Logger, done: make(chan struct{})}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	ctl, err := New(r.withMode(cfg), o.Options)
	if err != nil {
		return nil, err
	}
	r.ctl = ctl
	return r, nil
}

// Controller returns the controller: its Trigger, Status and metrics.
func (r *Runner) Controller() *Controller { return r.ctl }

// withMode returns cfg with the overriding mode applied.
func (r *Runner) withMode(cfg *config.Config) *config.Config {
	if cfg == nil || r.mode == nil || *r.mode == cfg.Controller.Mode {
		return cfg
	}
	// A Config is never modified once loaded: change a copy.
	cp := *cfg
	cp.Controller.Mode = *r.mode
	return &cp
}

// Update gives the controller a reloaded configuration, with the
// overriding mode applied.
func (r *Runner) Update(cfg *config.Config) {
	r.ctl.Update(r.withMode(cfg))
}

// modeText says what the controller does in each mode, for the log.
var modeText = map[config.ControllerMode]string{
	config.ControllerManaged: "drains, removes, restores and re-weights the declared real servers and restores hand-made changes",
	config.ControllerObserve: "writes what the verdicts and maintenance change, and only reports hand-made changes",
	config.ControllerDryRun:  "computes, logs and exports the weights it wants and writes nothing",
}

// Start logs what the controller does in its mode and runs it until ctx
// ends. Call it once.
func (r *Runner) Start(ctx context.Context) {
	cfg := r.ctl.config()
	source := r.configModeFrom
	if r.mode != nil {
		source = r.modeFrom
	}
	r.logger.Info("controller started: it "+modeText[cfg.Controller.Mode], "mode", cfg.Controller.Mode, "mode_from", source, "period", cfg.Controller.Period)
	go func() {
		defer close(r.done)
		if err := r.ctl.Run(ctx); err != nil {
			r.logger.Error("controller stopped", "err", err)
		}
	}()
}

// Stop waits until the controller's Run, whose context the caller
// canceled, has returned (a write in progress is abandoned at its
// deadline), then calls Close. It gives up when ctx ends first.
func (r *Runner) Stop(ctx context.Context) error {
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("controller: %w", ctx.Err())
	}
	r.logger.Info("controller stopped; the IPVS table is left as it is (nothing is restored or removed on exit)")
	if r.close == nil {
		return nil
	}
	return r.close()
}

// ActionHooks returns one OnAction hook that hands every action to each
// of hooks in turn (nil ones are skipped); nil when there are none, so a
// controller without listeners calls nothing.
func ActionHooks(hooks ...func(Action)) func(Action) {
	var hs []func(Action)
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return hs[0]
	}
	return func(a Action) {
		for _, h := range hs {
			h(a)
		}
	}
}
