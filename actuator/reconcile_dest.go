package actuator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// dest reconciles one declared destination; ready says whether its
// service is in the table.
func (p *pass) dest(s *config.Service, t *target, ready bool) {
	c, mem, k := p.c, t.mem, t.key
	mem.known, mem.isKnown = t.kernel, true
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
		if mem.applied == nil || *mem.applied != want {
			spec := want // never changed in place: a converged pass keeps it
			mem.applied = &spec
		}
		mem.setPlanLog("")
		return
	}
	action := destAction(t.kernel, want, mem.removed)
	if !ready || !p.writes(mem.applied != nil && *mem.applied == want) {
		t.st.Pending = true
		if p.mode == config.ControllerDryRun {
			plan := action + " " + specText(want)
			if last := mem.planLog(); plan != last {
				// The steps of a ramp after the first one are details.
				level := slog.LevelInfo
				if t.d.reason == ReasonSlowStart && last != "" {
					level = slog.LevelDebug
				}
				mem.setPlanLog(plan)
				c.log.Log(context.Background(), level, "dry run: would "+actionText(action), p.reason(s, t, action)...)
			}
		}
		return
	}
	d := want.destination(t.rs.Address)
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
		mem.isKnown = false // a failed write may have changed something
		if p.targeted {
			// Not logged as a failure yet: the full pass that follows
			// reads the table and decides again (and logs a failure).
			p.retry = true
			c.log.Debug("targeted write failed; a full pass decides instead", append(p.reason(s, t, action), "err", err)...)
			return
		}
		if msg := err.Error(); msg != mem.writeErr() && !errors.Is(err, errStopped) {
			mem.setWriteErr(msg)
			c.log.Error("controller write failed; retrying every pass", append(p.reason(s, t, action), "err", err)...)
		}
		return
	}
	mem.setWriteErr("")
	t.wrote = c.clock.Now()
	if drift {
		c.count(func(n *counters) { n.driftCorrected++ })
	}
	c.emit(Action{Time: p.now, Kind: ActionKind(action), Service: k.service, Name: s.Name, Server: k.server,
		OldWeight: weightOf(t.kernel), NewWeight: weightOf(want), DeclaredWeight: t.rs.Weight, Reason: t.d.reason, Drift: drift,
		CapacityUp: t.capa.up, CapacityJudged: t.capa.judged, CapacityPercent: t.capa.percent(), PanicThreshold: s.PanicThreshold,
		Targeted: p.targeted})
	spec := want
	mem.applied, mem.drifted, mem.known = &spec, false, want
	mem.setPlanLog("")
	t.st.Drift = false
	mem.removed = action == actionRemove || (mem.removed && action != actionCreate && action != actionRestore)
	t.st.InTable, t.st.KernelWeight = want.present, int(want.weight)
	msg, level := actionText(action), slog.LevelInfo
	switch {
	case action == actionRemove || (want.present && want.weight == 0 && t.kernel.weight > 0):
		level = slog.LevelWarn
	case t.d.reason == ReasonSlowStart && t.kernel.present && t.kernel.weight > 0 && action == actionUpdateWeight:
		msg, level = "slow start: real server weight raised", slog.LevelDebug
	case t.st.Load != nil && t.st.Load.Fresh && t.kernel.present && t.kernel.weight > 0 && action == actionUpdateWeight:
		// The steps of a load move are details; its end is news.
		msg = "load: real server weight changed"
		if t.st.Load.Weight != t.st.Load.Target {
			level = slog.LevelDebug
		}
	}
	c.log.Log(context.Background(), level, msg, p.reason(s, t, action)...)
}

// weightOf returns the weight of s, NoWeight when it is absent.
func weightOf(s destSpec) int {
	if !s.present {
		return NoWeight
	}
	return int(s.weight)
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
	case kernel.upper == want.upper && kernel.lower == want.lower && kernel.tunnel == want.tunnel &&
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
		"reason", t.st.ReasonText(), "verdict", t.st.Verdict.String()}
	if _, vs := verdictOf(p.verdicts, t.key); vs != nil && t.st.Verdict == health.StateDown {
		checks := vs.Checks
		if lookup, ok := p.c.verdicts.(verdictLookup); ok && checks == nil {
			// The pass's verdicts come without their checks (verdictList).
			if full, ok := lookup.StatusOf(t.key.service, t.key.server); ok {
				checks = full.Checks
			}
		}
		for _, ch := range checks {
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
		if t.d.spec.forward == ipvs.ForwardTunnel {
			attrs = append(attrs, "tunnel", tunnelText(t.d.spec.tunnel))
		}
	}
	if t.st.SlowStart != nil {
		attrs = append(attrs, "slow_start_until", t.st.SlowStart.End)
	}
	if lw := t.st.Load; lw != nil {
		attrs = append(attrs, "load", lw.Load, "load_fresh", lw.Fresh, "load_factor", fmt.Sprintf("%.3f", lw.Factor), "load_target", lw.Target)
	}
	if t.st.Drift {
		attrs = append(attrs, "drift", true)
	}
	return append(attrs, "mode", p.mode.String(), "pass", p.kind())
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
	text := fmt.Sprintf("weight %d, forward %s, thresholds %d/%d", s.weight, s.forward, s.upper, s.lower)
	if s.forward == ipvs.ForwardTunnel || s.tunnel != (config.Tunnel{}) {
		text += ", tunnel " + tunnelText(s.tunnel)
	}
	return text
}

// tunnelText renders tunnel settings as ipvsadm names them: "gue port
// 6080 csum", "gre nocsum", "ipip".
func tunnelText(t config.Tunnel) string {
	text := t.Type.String()
	if t.Port != 0 {
		text += fmt.Sprintf(" port %d", t.Port)
	}
	if t.Type != ipvs.TunnelIPIP || t.Flags != 0 {
		text += " " + t.Flags.String()
	}
	return text
}
