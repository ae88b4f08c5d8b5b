package actuator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
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
	ctx      context.Context
	mode     config.ControllerMode
	now      time.Time
	verdicts map[destKey]*health.ServerStatus
	firstErr error
	// next is how soon the next pass should run (a ramp in progress).
	next time.Duration
	// skipped counts writes not attempted because the pass was stopped.
	skipped int
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
	p := &pass{c: c, ctx: ctx, mode: cfg.Controller.Mode, now: start, next: period(cfg)}

	snap, err := c.reader.Snapshot(ctx)
	if err != nil {
		if msg := err.Error(); msg != c.readErr {
			c.readErr = msg
			c.log.Error("controller cannot read the IPVS table; nothing changes until it can", "err", err)
		}
		p.firstErr = err
		c.publish(p, nil, start)
		return p.next
	}
	if c.readErr != "" {
		c.readErr = ""
		c.log.Info("controller reads the IPVS table again")
	}

	statuses := c.verdicts.Status()
	p.verdicts = make(map[destKey]*health.ServerStatus, len(statuses))
	for i := range statuses {
		p.verdicts[destKey{statuses[i].Service, statuses[i].Server}] = &statuses[i]
	}
	kernel := make(map[ipvs.ServiceKey]*ipvs.Service, len(snap.Services))
	for i := range snap.Services {
		k := snap.Services[i].ServiceKey
		k.Address = k.Address.Unmap()
		kernel[k] = &snap.Services[i]
	}

	out := make([]ServiceStatus, 0, len(cfg.Services))
	seenSvc := make(map[ipvs.ServiceKey]bool, len(cfg.Services))
	seenDest := make(map[destKey]bool)
	for i := range cfg.Services {
		s := &cfg.Services[i]
		seenSvc[s.Key] = true
		for j := range s.RealServers {
			seenDest[destKey{s.Key.String(), s.RealServers[j].Address.String()}] = true
		}
		out = append(out, p.service(s, kernel[s.Key]))
	}
	// Forget what is no longer declared: it is no longer touched.
	for k := range c.services {
		if !seenSvc[k] {
			delete(c.services, k)
		}
	}
	for k := range c.dests {
		if !seenDest[k] {
			delete(c.dests, k)
		}
	}
	if p.skipped > 0 {
		c.log.Warn("reconcile pass stopped before its writes were done; the next pass makes them", "left", p.skipped, "err", context.Cause(ctx))
	}
	c.publish(p, out, start)
	return p.next
}

// publish makes the pass's results what Status and the metrics show.
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
		c.status.Services = services
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

// target is one declared destination during a pass.
type target struct {
	rs     *config.RealServer
	key    destKey
	mem    *destMemory
	kernel destSpec
	d      decision
	st     RealServerStatus
}

// service reconciles one declared service and its real servers; ks is
// the kernel's service, nil when the table does not have it.
func (p *pass) service(s *config.Service, ks *ipvs.Service) ServiceStatus {
	c := p.c
	name := s.Key.String()
	mem := c.services[s.Key]
	if mem == nil {
		mem = &serviceMemory{undeclared: make(map[string]bool)}
		c.services[s.Key] = mem
	}
	st := ServiceStatus{Name: s.Name, Service: name, InTable: ks != nil, PanicThreshold: s.PanicThreshold}

	inKernel := make(map[string]*ipvs.Destination)
	if ks != nil {
		for i := range ks.Destinations {
			d := &ks.Destinations[i]
			inKernel[netip.AddrPortFrom(d.Address.Unmap(), d.Port).String()] = d
		}
	}

	// Verdicts, maintenance and the panic decision.
	targets := make([]*target, len(s.RealServers))
	for i := range s.RealServers {
		rs := &s.RealServers[i]
		k := destKey{name, rs.Address.String()}
		t := &target{rs: rs, key: k, kernel: kernelSpec(inKernel[k.server])}
		t.mem = c.dests[k]
		if t.mem == nil {
			t.mem = &destMemory{}
			c.dests[k] = t.mem
		}
		verdict, _ := verdictOf(p.verdicts, k)
		t.st = RealServerStatus{Server: k.server, Verdict: verdict, Maintenance: c.admin.InMaintenance(name, k.server),
			DeclaredWeight: rs.Weight, InTable: t.kernel.present, KernelWeight: int(t.kernel.weight)}
		if !t.st.Maintenance && (verdict == health.StateUp || verdict == health.StateDown) {
			st.Judged++
			if verdict == health.StateUp {
				st.Up++
			}
		}
		targets[i] = t
	}
	st.Panic = inPanic(s.PanicThreshold, st.Up, st.Judged)
	if st.Panic != mem.panic {
		mem.panic = st.Panic
		to := "normal"
		if st.Panic {
			to = "panic"
			c.log.Warn("service in panic: too few real servers are healthy, so none is drained or removed (fail open)",
				"service", name, "name", s.Name, "up", st.Up, "judged", st.Judged, "panic_threshold", fmt.Sprintf("%g%%", s.PanicThreshold))
		} else {
			c.log.Info("service out of panic: enough real servers are healthy, failed ones are drained again",
				"service", name, "name", s.Name, "up", st.Up, "judged", st.Judged, "panic_threshold", fmt.Sprintf("%g%%", s.PanicThreshold))
		}
		c.count(func(n *counters) { n.panics[[2]string{name, to}]++ })
	}

	// Decisions.
	wantPresent := false
	for _, t := range targets {
		up := t.st.Verdict == health.StateUp && !t.st.Maintenance
		ramp := t.mem.rampState(up, st.Panic, t.kernel.weight, int32(t.rs.Weight), s.SlowStart, p.now)
		if ramp >= 0 {
			t.st.SlowStart = &SlowStart{Start: t.mem.rampStart, End: t.mem.rampStart.Add(s.SlowStart),
				Progress: min(1, float64(p.now.Sub(t.mem.rampStart))/float64(s.SlowStart))}
			p.next = min(p.next, max(s.SlowStart/rampSteps, rampTickMin))
		}
		t.d = decide(destInput{rs: t.rs, verdict: t.st.Verdict, maintenance: t.st.Maintenance, panic: st.Panic,
			onFailure: s.OnFailure, inTable: t.kernel.present, ramp: ramp})
		t.st.Decided, t.st.Reason = t.d.decided, t.d.reason
		if t.d.decided {
			t.st.DesiredInTable, t.st.DesiredWeight = t.d.spec.present, int(t.d.spec.weight)
			wantPresent = wantPresent || (t.d.spec.present && !t.kernel.present)
		}
	}

	ready := p.reconcileService(s, ks, mem, wantPresent)
	for _, t := range targets {
		p.dest(s, t, ready)
		st.RealServers = append(st.RealServers, t.st)
	}
	st.InTable = st.InTable || ready

	// Destinations the configuration does not list: left alone, reported.
	declared := make(map[string]bool, len(targets))
	for _, t := range targets {
		declared[t.key.server] = true
	}
	for server := range inKernel {
		if declared[server] {
			continue
		}
		st.Undeclared = append(st.Undeclared, server)
		if !mem.undeclared[server] {
			mem.undeclared[server] = true
			c.log.Info("real server in the table is not in the configuration: left alone", "service", name, "name", s.Name, "server", server)
		}
	}
	for server := range mem.undeclared {
		if inKernel[server] == nil || declared[server] {
			delete(mem.undeclared, server)
		}
	}
	slices.Sort(st.Undeclared)
	return st
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// reconcileService creates or updates the service itself and reports
// whether it is in the table for the destinations' writes. A missing
// service is created only when one of its real servers is to be added,
// so nothing is created before a first verdict.
func (p *pass) reconcileService(s *config.Service, ks *ipvs.Service, mem *serviceMemory, wantPresent bool) bool {
	c := p.c
	name := s.Key.String()
	want := wantService(s)
	var kernel serviceSpec
	if ks != nil {
		kernel = kernelService(ks)
		if want.matches(kernel) {
			mem.applied, mem.drifted, mem.planLog = &want, false, ""
			return true
		}
	} else if !wantPresent {
		return false
	}
	drift := mem.applied != nil
	if drift && !mem.drifted {
		mem.drifted = true
		c.count(func(n *counters) { n.driftDetected++ })
		what := "deleted"
		if ks != nil {
			what = serviceText(kernel)
		}
		c.log.Warn("virtual service changed by hand", "service", name, "name", s.Name, "table", what,
			"controller_set", serviceText(*mem.applied), "mode", p.mode.String(), "then", p.driftThen())
	}
	action := actionUpdateService
	if ks == nil {
		action = actionCreateService
	}
	if !p.writes(mem.applied != nil && *mem.applied == want) {
		if p.mode == config.ControllerDryRun {
			plan := fmt.Sprintf("%s %+v", action, want)
			if plan != mem.planLog {
				mem.planLog = plan
				c.log.Info("dry run: would "+actionText(action), "service", name, "name", s.Name,
					"scheduler", want.scheduler, "persistence", time.Duration(want.timeout)*time.Second)
			}
		}
		return ks != nil
	}
	svc := serviceFor(s.Key, want, ks)
	var err error
	if ks == nil {
		err = p.write(action, func(ctx context.Context) error { return c.writer.CreateService(ctx, svc) })
	} else {
		err = p.write(action, func(ctx context.Context) error { return c.writer.UpdateService(ctx, svc) })
	}
	if err != nil {
		if msg := err.Error(); msg != mem.writeErr && !errors.Is(err, errStopped) {
			mem.writeErr = msg
			c.log.Error("controller write failed; retrying every pass", "action", action, "service", name, "name", s.Name, "err", err)
		}
		return ks != nil
	}
	mem.writeErr = ""
	if drift {
		c.count(func(n *counters) { n.driftCorrected++ })
	}
	mem.applied, mem.drifted, mem.planLog = &want, false, ""
	old := []any{}
	if ks != nil {
		old = append(old, "old_scheduler", kernel.scheduler, "old_persistence", time.Duration(kernel.timeout)*time.Second*time.Duration(b2i(kernel.persistent)))
	}
	c.log.Info(actionText(action), append([]any{"service", name, "name", s.Name, "action", action,
		"scheduler", want.scheduler, "persistence", time.Duration(want.timeout) * time.Second}, old...)...)
	return true
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

// dest reconciles one declared destination; ready says whether its
// service is in the table.
func (p *pass) dest(s *config.Service, t *target, ready bool) {
	c, mem, k := p.c, t.mem, t.key
	if !t.d.decided {
		return
	}
	want := t.d.spec
	drift := mem.applied != nil && !mem.applied.matches(t.kernel)
	if drift && !mem.drifted {
		mem.drifted = true
		c.count(func(n *counters) { n.driftDetected++ })
		c.log.Warn("real server changed by hand", "service", k.service, "name", s.Name, "server", k.server,
			"table", specText(t.kernel), "controller_set", specText(*mem.applied), "mode", p.mode.String(), "then", p.driftThen())
	}
	if !drift {
		mem.drifted = false
	}
	t.st.Drift = mem.drifted
	if want.matches(t.kernel) {
		mem.applied, mem.planLog = &want, ""
		return
	}
	action := destAction(t.kernel, want, mem.removed)
	if !ready || !p.writes(mem.applied != nil && *mem.applied == want) {
		t.st.Pending = true
		if p.mode == config.ControllerDryRun {
			plan := action + " " + specText(want)
			if plan != mem.planLog {
				// The steps of a ramp after the first one are details.
				level := slog.LevelInfo
				if t.d.reason == reasonSlowStart && mem.planLog != "" {
					level = slog.LevelDebug
				}
				mem.planLog = plan
				c.log.Log(context.Background(), level, "dry run: would "+actionText(action), p.reason(s, t, action)...)
			}
		}
		return
	}
	d := &ipvs.Destination{Address: t.rs.Address.Addr(), Port: t.rs.Address.Port(), Weight: want.weight,
		Forward: want.forward, UpperThreshold: want.upper, LowerThreshold: want.lower}
	var err error
	switch action {
	case actionCreate, actionRestore:
		err = p.write(action, func(ctx context.Context) error { return c.writer.CreateDestination(ctx, s.Key, d) })
	case actionRemove:
		err = p.write(action, func(ctx context.Context) error { return c.writer.DeleteDestination(ctx, s.Key, t.rs.Address) })
	default:
		err = p.write(action, func(ctx context.Context) error { return c.writer.UpdateDestination(ctx, s.Key, d) })
	}
	if err != nil {
		t.st.Pending = true
		if msg := err.Error(); msg != mem.writeErr && !errors.Is(err, errStopped) {
			mem.writeErr = msg
			c.log.Error("controller write failed; retrying every pass", append(p.reason(s, t, action), "err", err)...)
		}
		return
	}
	mem.writeErr = ""
	if drift {
		c.count(func(n *counters) { n.driftCorrected++ })
	}
	mem.applied, mem.drifted, mem.planLog = &want, false, ""
	t.st.Drift = false
	mem.removed = action == actionRemove || (mem.removed && action != actionCreate && action != actionRestore)
	t.st.InTable, t.st.KernelWeight = want.present, int(want.weight)
	msg, level := actionText(action), slog.LevelInfo
	switch {
	case action == actionRemove || (want.present && want.weight == 0 && t.kernel.weight > 0):
		level = slog.LevelWarn
	case t.d.reason == reasonSlowStart && t.kernel.present && t.kernel.weight > 0 && action == actionUpdateWeight:
		msg, level = "slow start: real server weight raised", slog.LevelDebug
	}
	c.log.Log(context.Background(), level, msg, p.reason(s, t, action)...)
}

// destAction names the write that turns kernel into want.
func destAction(kernel, want destSpec, removed bool) string {
	switch {
	case !want.present:
		return actionRemove
	case !kernel.present && removed:
		return actionRestore
	case !kernel.present:
		return actionCreate
	case kernel.upper == want.upper && kernel.lower == want.lower &&
		(kernel.forward == want.forward || kernel.forward == ipvs.ForwardLocal):
		return actionUpdateWeight
	}
	return actionUpdate
}

// actionText is the log message of an action.
func actionText(action string) string {
	switch action {
	case actionCreateService:
		return "create virtual service"
	case actionUpdateService:
		return "update virtual service"
	case actionCreate:
		return "add real server"
	case actionRestore:
		return "restore removed real server"
	case actionRemove:
		return "remove real server"
	case actionUpdateWeight:
		return "set real server weight"
	}
	return "update real server"
}

// reason returns the log attributes that say why a destination gets
// what it gets: its verdict and the check behind it, maintenance, panic,
// slow start, and the old and new state.
func (p *pass) reason(s *config.Service, t *target, action string) []any {
	attrs := []any{"service", t.key.service, "name", s.Name, "server", t.key.server, "action", action,
		"reason", t.d.reason, "verdict", t.st.Verdict.String()}
	if _, vs := verdictOf(p.verdicts, t.key); vs != nil && t.st.Verdict == health.StateDown {
		for _, ch := range vs.Checks {
			if ch.State == health.StateDown {
				attrs = append(attrs, "check", ch.Name, "result", ch.Last.Class.String(), "check_reason", ch.Last.Reason)
				break
			}
		}
	}
	if t.kernel.present {
		attrs = append(attrs, "old_weight", t.kernel.weight)
	} else {
		attrs = append(attrs, "old_weight", "absent")
	}
	if t.d.spec.present {
		attrs = append(attrs, "new_weight", t.d.spec.weight)
	} else {
		attrs = append(attrs, "new_weight", "absent")
	}
	if action == actionCreate || action == actionRestore || action == actionUpdate {
		attrs = append(attrs, "forward", t.d.spec.forward.String(), "upper_threshold", t.d.spec.upper, "lower_threshold", t.d.spec.lower)
	}
	if t.st.SlowStart != nil {
		attrs = append(attrs, "slow_start_until", t.st.SlowStart.End)
	}
	if t.st.Drift {
		attrs = append(attrs, "drift", true)
	}
	return append(attrs, "mode", p.mode.String())
}

// serviceText renders a service spec for logs.
func serviceText(s serviceSpec) string {
	if !s.persistent {
		return "scheduler " + s.scheduler + ", not persistent"
	}
	return fmt.Sprintf("scheduler %s, persistence %s, netmask %#x", s.scheduler, time.Duration(s.timeout)*time.Second, s.netmask)
}

// specText renders a destination spec for logs.
func specText(s destSpec) string {
	if !s.present {
		return "absent"
	}
	return fmt.Sprintf("weight %d, forward %s, thresholds %d/%d", s.weight, s.forward, s.upper, s.lower)
}
