package actuator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// Slow-start ramps step at least every rampTickMin, and at most about
// rampSteps times per ramp, besides the period.
const (
	rampTickMin = 250 * time.Millisecond
	rampSteps   = 20
)

// pass is one reconcile pass: what it reads once and what it finds.
type pass struct {
	c        *Controller
	cfg      *config.Config // the configuration the pass works to
	ctx      context.Context
	mode     config.ControllerMode
	now      time.Time
	verdicts verdictIndex
	// names are those of cfg (a full pass's).
	names    *names
	firstErr error
	// next is how soon the next pass should run (a ramp in progress).
	next time.Duration
	// skipped counts writes not attempted because the pass was stopped.
	skipped int
	sysctls Sysctls
	// suspect: a fleet-wide failure (see judgeFleet) holds every
	// service open.
	suspect bool
	// targeted: a targeted write of verdict changes (see targeted.go),
	// not a full pass; retry is set when one of its writes failed, so
	// that a full pass decides instead.
	targeted, retry bool
	// saved are the records of a targeted write's writes, for the state
	// file.
	saved []AppliedDest
}

// kind names the pass in the log lines of its writes: "full" (it read
// the table) or "targeted".
func (p *pass) kind() string {
	if p.targeted {
		return "targeted"
	}
	return "full"
}

// errStopped marks writes a pass did not attempt because its context
// ended (its deadline, or the program stopping).
var errStopped = errors.New("the reconcile pass ran out of time or was stopped")

// pass runs one reconcile pass and returns how long to wait for the next
// one when nothing triggers it.
func (c *Controller) pass(ctx context.Context) time.Duration {
	c.passMu.Lock()
	defer c.passMu.Unlock()
	cfg := c.config()
	start := c.clock.Now()
	ctx, cancel := c.clock.WithTimeout(ctx, c.passTimeout)
	defer cancel()
	p := &pass{c: c, cfg: cfg, ctx: ctx, mode: cfg.Controller.Mode, now: start, next: period(cfg)}

	snap, err := c.reader.Snapshot(ctx)
	if err != nil {
		if msg := err.Error(); msg != c.readErr {
			c.readErr = msg
			c.log.Error("controller cannot read the IPVS table; nothing changes until it can", "err", err)
		}
		p.firstErr = err
		c.last = nil
		c.publish(p, nil, start)
		return p.next
	}
	if c.readErr != "" {
		c.readErr = ""
		c.log.Info("controller reads the IPVS table again")
	}
	// The pass writes only into the network namespace it read: if the
	// namespace is re-opened meanwhile, its writes are refused and the
	// next pass reads the new one.
	p.ctx = ipvs.PinNetNS(ctx, snap)

	p.readSysctls()
	var statuses []health.ServerStatus
	if list, ok := c.verdicts.(verdictList); ok {
		statuses = list.Verdicts()
	} else {
		statuses = c.verdicts.Status()
	}
	p.verdicts = sortedVerdicts(statuses)
	kernel := make(map[ipvs.ServiceKey]*ipvs.Service, len(snap.Services))
	for i := range snap.Services {
		k := snap.Services[i].ServiceKey
		k.Address = k.Address.Unmap()
		kernel[k] = &snap.Services[i]
	}

	n := c.namesOf(cfg)
	p.names = n
	fl := p.judgeFleet(cfg)
	p.noteFleet(fl)
	p.suspect = fl.suspect
	c.passes++
	out := make([]ServiceStatus, 0, len(cfg.Services))
	for i := range cfg.Services {
		s := &cfg.Services[i]
		out = append(out, p.service(s, i, kernel[s.Key]))
	}
	// Forget what is no longer declared: it is no longer touched.
	for k, mem := range c.services {
		if mem.seen != c.passes {
			delete(c.services, k)
		}
	}
	for k, mem := range c.dests {
		if mem.seen != c.passes {
			delete(c.dests, k)
		}
	}
	if p.skipped > 0 {
		c.log.Warn("reconcile pass stopped before its writes were done; the next pass makes them", "left", p.skipped, "err", context.Cause(ctx))
	}
	c.saveApplied(cfg)
	c.last = &lastTable{cfg: cfg, pin: snap.NamespaceOnly(), sysctls: p.sysctls, services: n.index}
	c.publish(p, out, start)
	return p.next
}

// publish makes the pass's results what Status and the metrics show.
// services, one per service of the pass's configuration with one real
// server per declared one, in its order, must not change once published:
// the metrics read them without the lock (the next pass publishes new
// ones).
func (c *Controller) publish(p *pass, services []ServiceStatus, start time.Time) {
	end := c.clock.Now()
	c.duration.Observe(end.Sub(start).Seconds())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.Passes++
	c.counter.passes++
	c.status.LastPass = end
	c.status.LastError = ""
	if p.firstErr != nil {
		c.counter.passErrors++
		c.status.LastError = p.firstErr.Error()
	} else {
		c.status.LastSuccess = end
	}
	if services != nil {
		c.status.Services, c.statusCfg = services, p.cfg
		c.status.Sysctls = p.sysctls
		c.status.FleetSuspect = p.suspect
		c.status.LocalErrorHolds = 0
		for _, svc := range services {
			for _, rs := range svc.RealServers {
				if rs.LocalError != "" {
					c.status.LocalErrorHolds++
				}
			}
		}
	}
	known := make(map[string]bool, len(c.status.Services))
	for _, s := range c.status.Services {
		known[s.Service] = true
	}
	for k := range c.counter.panics {
		if !known[k[0]] {
			delete(c.counter.panics, k)
		}
	}
}

// fail records a write error of the pass.
func (p *pass) fail(err error) {
	if p.firstErr == nil {
		p.firstErr = err
	}
}

// count adds to the controller's counters.
func (c *Controller) count(f func(*counters)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.counter)
}

// writes says whether this pass writes a difference between the table
// and what the controller wants: managed always; observe unless it is
// drift (the controller wants what it last set: same is true); dry_run
// never.
func (p *pass) writes(same bool) bool {
	switch p.mode {
	case config.ControllerManaged:
		return true
	case config.ControllerObserve:
		return !same
	}
	return false
}

// driftThen says what the mode does about drift, for the log.
func (p *pass) driftThen() string {
	switch p.mode {
	case config.ControllerManaged:
		return "restoring what the controller set"
	case config.ControllerObserve:
		return "left as is (observe mode) until the controller's decision changes"
	}
	return "left as is (dry_run mode)"
}

// write makes one write, bounded by the pass's deadline, and counts it.
// After the deadline or cancellation no more writes are made.
func (p *pass) write(action string, f func(context.Context) error) error {
	if err := p.ctx.Err(); err != nil {
		p.skipped++
		err = fmt.Errorf("%s not attempted: %w: %w", action, errStopped, err)
		p.fail(err)
		return err
	}
	err := f(p.ctx)
	result := "ok"
	if err != nil {
		result = "error"
		p.fail(err)
	}
	p.c.count(func(n *counters) { n.actuations[[2]string{action, result}]++ })
	return err
}
