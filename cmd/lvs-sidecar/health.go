package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
	"github.com/lvs-sidecar/lvs-sidecar/load"
	"github.com/lvs-sidecar/lvs-sidecar/notify"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// defaultDiscoveryRefresh is how often discovery re-reads the kernel table
// for destinations added or removed by ipvsadm scripts.
const defaultDiscoveryRefresh = 10 * time.Second

// tableReader reads the kernel table: the *ipvs.Reader the collector uses
// too (it is safe for concurrent use), or a fake in tests.
type tableReader interface {
	Snapshot(ctx context.Context) (*ipvs.Snapshot, error)
}

// checks runs the health checks of --config.file. It is the only caller of
// the scheduler's Update, under mu, so that a reload and a discovery
// refresh never interleave. It never writes the IPVS table: it produces
// verdicts, which the controller (ctl) turns into writes.
type checks struct {
	path        string
	table       tableReader
	ipvsTimeout time.Duration
	refresh     time.Duration
	logger      *slog.Logger
	sched       *health.Scheduler
	// names resolves the names an operator gives a real server against
	// the configuration in use and the scheduler's targets.
	names *actuator.Resolver
	// deps are what every Build gets: the network namespace the checks
	// open their sockets in (--ipvs.netns).
	deps health.BuildDeps

	// ctl is the controller the reloads update; nil in tests that run the
	// checks alone. Set before run and before reloads can start.
	ctl *actuator.Runner
	// notifier sends the SNMP notifications; reloads update its targets
	// and report failures to it. Set before run and before reloads can
	// start; nil in tests that run the checks alone.
	notifier *notify.Notifier
	// events are the status page's recent events: the verdict changes
	// and the controller's actions. Set before the controller is built;
	// nil in tests that run the checks alone.
	events *web.Events
	// load polls the load of the real servers with a load block, for the
	// controller; nil in tests that run the checks alone. Reloads update
	// its targets.
	load *load.Poller

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
	// reloads counts the reloads after start by result (success,
	// failure); the load at start is not one.
	reloads *prometheus.CounterVec

	mu  sync.Mutex
	cfg *config.Config
	// snap is the table discovery last read (nil: none yet, or discovery
	// off); a failed read keeps it, so discovered servers keep their
	// checks while the table is unreadable.
	snap *ipvs.Snapshot
	// dests names the destinations of snap ("service server" sorted), to
	// tell whether a refresh changed anything.
	dests []string
	// tableErr is the last discovery read's error, logged when it changes.
	tableErr string
}

// newChecks builds the targets of cfg (reading the table when discovery
// is on) and gives them to a new scheduler, not yet started.
func newChecks(ctx context.Context, path string, cfg *config.Config, table tableReader, o options, logger *slog.Logger) (*checks, error) {
	c := &checks{
		path:        path,
		table:       table,
		ipvsTimeout: o.ipvsTimeout,
		refresh:     o.discoveryRefresh,
		logger:      logger,
		sched:       health.NewScheduler(health.SchedulerOptions{Logger: logger}),
		deps:        buildDeps(o.ns),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lvs_sidecar_config_last_reload_successful",
			Help: "Whether the last configuration reload (start, SIGHUP or POST /-/reload) succeeded (1) or failed and the previous configuration is still in use (0).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lvs_sidecar_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully (Unix time).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lvs_sidecar_config_reloads_total",
			Help: "Reloads of the configuration file after start (SIGHUP, POST /-/reload), by result (success, failure); the load at start is not counted.",
		}, []string{"result"}),
	}
	c.names = actuator.NewResolver(c.config, c.sched)
	// Both results from the start, so that increase() sees the first one.
	c.reloads.WithLabelValues("success")
	c.reloads.WithLabelValues("failure")
	if c.refresh <= 0 {
		c.refresh = defaultDiscoveryRefresh
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	servers, nchecks, err := c.applyLocked(ctx, cfg)
	if err != nil {
		return nil, err
	}
	logger.Info("health checks configured", "real_servers", servers, "checks", nchecks,
		"discovery", cfg.Discovery.Enabled)
	c.reloadOK.Set(1)
	c.reloadTime.SetToCurrentTime()
	return c, nil
}

// buildDeps returns the checks' dependencies for namespace ns (nil: the
// sidecar's own).
func buildDeps(ns *ipvs.NetNS) health.BuildDeps {
	if ns == nil {
		return health.BuildDeps{}
	}
	return health.BuildDeps{NetNS: health.NewNetNS(ns.Do, ns.Generation)}
}

// collectors returns the metrics to register: the reload gauges and
// counter, the load poller's. The scheduler's are a promtext.Source of
// their own.
func (c *checks) collectors() []prometheus.Collector {
	cs := []prometheus.Collector{c.reloadOK, c.reloadTime, c.reloads}
	if c.load != nil {
		cs = append(cs, c.load)
	}
	return cs
}

// run starts the checks and refreshes discovery until ctx ends.
func (c *checks) run(ctx context.Context) {
	c.sched.Start()
	t := time.NewTicker(c.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.refreshDiscovery(ctx)
		}
	}
}

// stop stops the checks, waiting for running ones until ctx ends.
func (c *checks) stop(ctx context.Context) error {
	return c.sched.Stop(ctx)
}

// applyLocked builds cfg's targets and gives them to the scheduler; on
// success cfg is the configuration in use. It returns how many real
// servers and checks there are.
func (c *checks) applyLocked(ctx context.Context, cfg *config.Config) (servers, nchecks int, err error) {
	if cfg.Discovery.Enabled {
		c.readTableLocked(ctx)
	}
	var snap *ipvs.Snapshot
	if cfg.Discovery.Enabled {
		snap = c.snap
	}
	targets, err := health.Build(cfg, snap, c.deps)
	if err != nil {
		return 0, 0, err
	}
	if err := c.sched.Update(targets); err != nil {
		return 0, 0, err
	}
	c.cfg = cfg
	for i := range targets {
		nchecks += len(targets[i].Checks)
	}
	return len(targets), nchecks, nil
}

// readTableLocked reads the kernel table into c.snap; it reports whether
// the destinations changed. A failure keeps the previous snapshot and is
// logged once until the table is readable again.
func (c *checks) readTableLocked(ctx context.Context) bool {
	if c.ipvsTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.ipvsTimeout)
		defer cancel()
	}
	snap, err := c.table.Snapshot(ctx)
	if err != nil {
		if msg := err.Error(); msg != c.tableErr {
			c.tableErr = msg
			c.logger.Warn("discovery: cannot read the IPVS table; discovered real servers stay as they were", "err", err)
		}
		return false
	}
	if c.tableErr != "" {
		c.tableErr = ""
		c.logger.Info("discovery: the IPVS table is readable again")
	}
	dests := destinations(snap)
	changed := c.snap == nil || !slices.Equal(dests, c.dests)
	c.snap, c.dests = snap, dests
	return changed
}

// refreshDiscovery re-reads the table and updates the targets when its
// destinations changed.
func (c *checks) refreshDiscovery(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.cfg.Discovery.Enabled || !c.readTableLocked(ctx) {
		return
	}
	targets, err := health.Build(c.cfg, c.snap, c.deps)
	if err == nil {
		err = c.sched.Update(targets)
	}
	if err != nil {
		c.logger.Error("discovery: cannot check the destinations of the IPVS table", "err", err)
		return
	}
	c.logger.Info("discovery: the IPVS table changed", "destinations", len(c.dests), "real_servers", len(targets))
}

// destinations lists the (service, server) pairs of snap, sorted.
func destinations(snap *ipvs.Snapshot) []string {
	var out []string
	for i := range snap.Services {
		s := &snap.Services[i]
		key := s.ServiceKey.String()
		for j := range s.Destinations {
			out = append(out, key+" "+s.Destinations[j].Server())
		}
	}
	slices.Sort(out)
	return out
}

// reloadError is a reload that failed because the new file is invalid (as
// opposed to unreadable, or not applicable).
type reloadError struct {
	path     string
	problems config.Errors
}

// Error gives the summary line, then every problem on its own line.
func (e *reloadError) Error() string {
	return e.summary() + ":\n" + e.problems.Error()
}

// Is makes the failure a web.ErrInvalidConfig: the file's fault, which
// POST /-/reload answers with 400.
func (e *reloadError) Is(target error) bool { return target == web.ErrInvalidConfig }

func (e *reloadError) summary() string {
	return fmt.Sprintf("%s is invalid (%s; check it with `%s check-config %s`); the previous configuration stays in use",
		e.path, plural(len(e.problems), "problem"), programName, e.path)
}

// notifyText is a failed reload in lsConfigReloadFailed's 255 bytes: the
// first problem (file:line: field: message) and how many there are.
func notifyText(err error) string {
	var invalid *reloadError
	if errors.As(err, &invalid) && len(invalid.problems) > 0 {
		return fmt.Sprintf("%s (%s in all; the previous configuration stays in use)", invalid.problems[0].Error(), plural(len(invalid.problems), "problem"))
	}
	return err.Error()
}

// reload re-reads the configuration file and applies it. On any failure
// the running configuration stays, the failure is logged (each problem
// on its own line, file:line: field: message) and
// lvs_sidecar_config_last_reload_successful is set to 0. Every call counts
// in lvs_sidecar_config_reloads_total by its result.
func (c *checks) reload(ctx context.Context, trigger string) error {
	err := c.doReload(ctx)
	if err != nil {
		c.reloads.WithLabelValues("failure").Inc()
		c.reloadOK.Set(0)
		msg := err.Error()
		var invalid *reloadError
		if errors.As(err, &invalid) {
			msg = invalid.summary()
		}
		c.logger.Error("configuration reload failed; the previous configuration stays in use", "trigger", trigger, "file", c.path, "err", msg)
		// The trap and the status page's event say it in the same words:
		// the first problem and how many there are.
		short := errors.New(notifyText(err))
		if c.notifier != nil {
			c.notifier.ReloadFailed(short)
		}
		if c.events != nil {
			c.events.Reload(time.Now(), trigger, short)
		}
		return err
	}
	c.reloads.WithLabelValues("success").Inc()
	c.reloadOK.Set(1)
	c.reloadTime.SetToCurrentTime()
	if c.events != nil {
		c.events.Reload(time.Now(), trigger, nil)
	}
	return nil
}

func (c *checks) doReload(ctx context.Context) error {
	cfg, err := config.Load(c.path)
	if err != nil {
		var list config.Errors
		if errors.As(err, &list) {
			for _, e := range list {
				c.logger.Error("invalid configuration", "problem", e.Error())
			}
			return &reloadError{path: c.path, problems: list}
		}
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	servers, nchecks, err := c.applyLocked(ctx, cfg)
	if err != nil {
		return err
	}
	c.logger.Info("reloaded configuration", "file", c.path, "summary", summary(cfg), "real_servers", servers, "checks", nchecks)
	if c.ctl != nil {
		c.ctl.Update(cfg)
	}
	if c.notifier != nil {
		// Unchanged targets keep their queues; a target whose settings
		// changed starts afresh.
		c.notifier.Update(cfg)
	}
	if c.load != nil {
		c.load.Update(cfg)
	}
	return nil
}
