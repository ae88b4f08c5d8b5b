package actuator

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// target is one declared destination during a pass.
type target struct {
	rs     *config.RealServer
	key    destKey
	mem    *destMemory
	kernel destSpec
	d      decision
	st     RealServerStatus
	capa   capacity  // the service's, for the action hook
	wrote  time.Time // when the pass wrote it; zero: it did not
}

// service reconciles one declared service, the i-th of the pass's
// configuration, and its real servers; ks is the kernel's service, nil
// when the table does not have it.
func (p *pass) service(s *config.Service, i int, ks *ipvs.Service) ServiceStatus {
	c := p.c
	name := p.names.services[i]
	mem := c.services[s.Key]
	if mem == nil {
		mem = &serviceMemory{}
		c.services[s.Key] = mem
	}
	mem.seen = c.passes
	st := ServiceStatus{Name: s.Name, Service: name, InTable: ks != nil, PanicThreshold: s.PanicThreshold}
	st.DrainKeepsPersistent = p.drainKeepsPersistent(s, mem)

	// Keyed by address, not by its text: a pass makes no string per
	// real server. The two maps are the controller's, emptied for each
	// service.
	inKernel, declared := c.inKernel, c.inConfig
	clear(inKernel)
	clear(declared)
	if ks != nil {
		for i := range ks.Destinations {
			d := &ks.Destinations[i]
			inKernel[netip.AddrPortFrom(d.Address.Unmap(), d.Port)] = d
		}
	}
	targets := p.targets(len(s.RealServers))
	for j := range s.RealServers {
		rs := &s.RealServers[j]
		k := p.names.key(i, j)
		t := targets[j]
		*t = target{rs: rs, key: k, kernel: kernelSpec(inKernel[rs.Address])}
		t.mem = c.dests[k]
		if t.mem == nil {
			t.mem = &destMemory{}
			c.dests[k] = t.mem
			p.firstSight(s, t)
		}
		t.mem.seen = c.passes
		declared[rs.Address] = true
	}
	undeclaredWeight := 0
	for addr, d := range inKernel {
		if !declared[addr] {
			undeclaredWeight += int(d.Weight)
		}
	}
	mem.undeclaredWeight = undeclaredWeight

	capa := p.judge(s, mem, targets, undeclaredWeight, &st)
	p.serviceState(s, mem, &st, capa)
	wantPresent := false
	for _, t := range targets {
		p.decideDest(s, &st, t, capa)
		wantPresent = wantPresent || (t.d.decided && t.d.spec.present && !t.kernel.present)
	}

	ready := p.reconcileService(s, ks, mem, wantPresent)
	st.RealServers = make([]RealServerStatus, 0, len(targets))
	for _, t := range targets {
		p.dest(s, t, ready)
		st.RealServers = append(st.RealServers, t.st)
	}
	st.InTable = st.InTable || ready

	// Destinations the configuration does not list: left alone, reported.
	for addr := range inKernel {
		if declared[addr] {
			continue
		}
		server := addr.String()
		st.Undeclared = append(st.Undeclared, server)
		if !mem.undeclared[server] {
			if mem.undeclared == nil {
				mem.undeclared = make(map[string]bool)
			}
			mem.undeclared[server] = true
			c.log.Info("real server in the table is not in the configuration: left alone", "service", name, "name", s.Name, "server", server)
		}
	}
	slices.Sort(st.Undeclared)
	for server := range mem.undeclared {
		if _, found := slices.BinarySearch(st.Undeclared, server); !found {
			delete(mem.undeclared, server)
		}
	}
	return st
}

// targets returns n targets for a service of a full pass, from the
// controller's: a pass reuses them from service to service (nothing
// keeps a target past its service) and from pass to pass.
func (p *pass) targets(n int) []*target {
	c := p.c
	if cap(c.targets) < n {
		c.targets = make([]target, n)
		c.targetPtrs = make([]*target, n)
		for j := range c.targets {
			c.targetPtrs[j] = &c.targets[j]
		}
	}
	return c.targetPtrs[:n]
}

// judge gives each target its verdict and maintenance, counts them into
// st and returns the service's weighted capacity, and sets st.Panic and
// st.FailOpen to what they call for (mem.panic is the panic state before,
// for the hysteresis); mem is not changed. undeclared is the weight the
// table gives the service's real servers that the configuration does not
// list. A pass and a targeted write judge a service with this one code.
func (p *pass) judge(s *config.Service, mem *serviceMemory, targets []*target, undeclared int, st *ServiceStatus) capacity {
	c := p.c
	var capa capacity
	weightedUp, weightedDown, otherWeight := false, false, undeclared
	for _, t := range targets {
		rs, k := t.rs, t.key
		verdict, _ := verdictOf(p.verdicts, k)
		t.st = RealServerStatus{Server: k.server, Verdict: verdict, Maintenance: c.admin.InMaintenance(k.service, k.server),
			DeclaredWeight: rs.Weight, InTable: t.kernel.present, KernelWeight: int(t.kernel.weight)}
		judged := !t.st.Maintenance && (verdict == health.StateUp || verdict == health.StateDown)
		switch {
		case judged:
			st.Judged++
			capa.judged += rs.Weight
			if verdict == health.StateUp {
				st.Up++
				capa.up += rs.Weight
				weightedUp = weightedUp || rs.Weight > 0
			} else {
				weightedDown = weightedDown || rs.Weight > 0
			}
		case !t.st.Maintenance && t.kernel.present:
			// No verdict yet: the controller leaves its weight as it is.
			otherWeight += int(t.kernel.weight)
		}
	}
	st.CapacityUp, st.CapacityJudged = capa.up, capa.judged
	st.Panic = inPanic(s.PanicThreshold, s.PanicHysteresis, capa, mem.panic)
	// Verdicts alone never empty a service: with no weighted real server
	// up (and nothing else in the table carrying weight), the down ones
	// keep their declared weights.
	st.FailOpen = !st.Panic && !p.suspect && !weightedUp && weightedDown && otherWeight == 0
	return capa
}

// serviceState records, logs and reports a change of the service's panic
// or fail-open state that judge found.
func (p *pass) serviceState(s *config.Service, mem *serviceMemory, st *ServiceStatus, capa capacity) {
	c := p.c
	name := st.Service
	if st.Panic != mem.panic {
		mem.panic = st.Panic
		to := "normal"
		attrs := []any{"service", name, "name", s.Name, "healthy_capacity", fmt.Sprintf("%.4g%%", capa.percent()),
			"capacity_up", capa.up, "capacity_judged", capa.judged, "up", st.Up, "judged", st.Judged,
			"panic_threshold", fmt.Sprintf("%g%%", s.PanicThreshold)}
		if st.Panic {
			to = "panic"
			c.log.Warn("service in panic: too little of its weighted capacity is healthy, so no real server is drained or removed (fail open)", attrs...)
		} else {
			c.log.Info("service out of panic: enough weighted capacity is healthy again, failed real servers are drained again",
				append(attrs, "panic_hysteresis", fmt.Sprintf("%g%%", s.PanicHysteresis))...)
		}
		c.count(func(n *counters) { n.panics[[2]string{name, to}]++ })
		kind := ActionPanicLeave
		if st.Panic {
			kind = ActionPanicEnter
		}
		p.emitService(s, kind, capa)
	}
	if st.FailOpen != mem.failOpen {
		mem.failOpen = st.FailOpen
		kind := ActionFailOpenLeave
		if st.FailOpen {
			kind = ActionFailOpenEnter
		}
		p.emitService(s, kind, capa)
		if st.FailOpen {
			c.log.Warn("no weighted real server of the service is up: failing open, the down ones keep their declared weights instead of the service getting total weight 0",
				"service", name, "name", s.Name, "judged", st.Judged)
		} else {
			c.log.Info("a weighted real server is up again: down real servers are drained again", "service", name, "name", s.Name, "up", st.Up)
		}
	}
}

// decideDest decides what a judged target should be: its load weight,
// its slow-start ramp (which it moves along) and the rules of decide,
// under the service's panic and fail-open states in st.
func (p *pass) decideDest(s *config.Service, st *ServiceStatus, t *target, capa capacity) {
	t.capa = capa
	up := t.st.Verdict == health.StateUp && !t.st.Maintenance
	effective := p.loadWeight(t)
	ramp := t.mem.rampState(up, st.Panic || p.suspect, t.kernel.weight, effective, s.SlowStart, p.now)
	if ramp >= 0 {
		start := t.mem.ramp.start
		t.st.SlowStart = &SlowStart{Start: start, End: start.Add(s.SlowStart),
			Progress: min(1, float64(p.now.Sub(start))/float64(s.SlowStart))}
		p.next = min(p.next, max(s.SlowStart/rampSteps, rampTickMin))
	}
	if _, vs := verdictOf(p.verdicts, t.key); vs != nil && !t.st.Maintenance {
		t.st.LocalError = vs.LocalError // maintenance wins over a hold
	}
	t.d = decide(destInput{rs: t.rs, verdict: t.st.Verdict, localError: t.st.LocalError, maintenance: t.st.Maintenance, panic: st.Panic,
		failOpen: st.FailOpen, suspect: p.suspect, onFailure: s.OnFailure, inTable: t.kernel.present, ramp: ramp, effective: effective})
	t.st.Decided, t.st.ReasonCode = t.d.decided, t.d.reason
	if t.d.decided {
		t.st.DesiredInTable, t.st.DesiredWeight = t.d.spec.present, int(t.d.spec.weight)
	}
}

// emitService reports a change of the service's panic or fail-open
// state to the action hook.
func (p *pass) emitService(s *config.Service, kind ActionKind, capa capacity) {
	p.c.emit(Action{Time: p.now, Kind: kind, Service: s.Key.String(), Name: s.Name, CapacityUp: capa.up,
		CapacityJudged: capa.judged, CapacityPercent: capa.percent(), PanicThreshold: s.PanicThreshold})
}

// loadWeight returns the effective weight of t from its load (its
// declared weight without a load block or source) and records it in its
// status; while the weight moves, the next pass comes within a poll
// interval.
func (p *pass) loadWeight(t *target) int32 {
	declared := int32(t.rs.Weight)
	if t.rs.Load == nil || p.c.load == nil {
		t.mem.load = nil
		return declared
	}
	if t.mem.load == nil {
		t.mem.load = new(loadMemory)
	}
	value, seq, fresh := p.c.load.Load(t.key.service, t.key.server)
	lw := t.mem.load.step(t.rs.Load, declared, value, seq, fresh)
	t.st.Load = &lw
	if lw.Weight != lw.Target {
		p.next = min(p.next, t.rs.Load.Interval)
	}
	return int32(lw.Weight)
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
	mem.ready = false
	var kernel serviceSpec
	if ks != nil {
		kernel = kernelService(ks)
		if want.matches(kernel) {
			mem.applied, mem.drifted, mem.planLog, mem.ready = &want, false, "", true
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
	c.emit(Action{Time: p.now, Kind: ActionKind(action), Service: name, Name: s.Name, Drift: drift, PanicThreshold: s.PanicThreshold})
	mem.applied, mem.drifted, mem.planLog, mem.ready = &want, false, "", true
	old := []any{}
	if ks != nil {
		old = append(old, "old_scheduler", kernel.scheduler, "old_persistence", time.Duration(kernel.timeout)*time.Second*time.Duration(b2i(kernel.persistent)))
	}
	c.log.Info(actionText(action), append([]any{"service", name, "name", s.Name, "action", action,
		"scheduler", want.scheduler, "persistence", time.Duration(want.timeout) * time.Second}, old...)...)
	return true
}
