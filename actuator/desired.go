package actuator

import (
	"math"
	"net/netip"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// destSpec is what the controller compares and writes of a destination:
// whether it is in the table, and its weight, forwarding method,
// thresholds and tunnel settings. Every write carries all of them, so a
// drain, a restore or a re-weight keeps the rest as declared.
type destSpec struct {
	present bool
	weight  int32
	forward ipvs.ForwardMethod
	upper   uint32
	lower   uint32
	tunnel  config.Tunnel // type, port and checksum flags; zero (ipip) unless forward is tun
}

// matches reports whether the kernel's destination k is what s asks for.
// The kernel turns the forwarding method of a real server whose address
// is local to the director into "local" by itself (ipvsadm shows Local),
// whatever was written: that is no difference to correct.
func (s destSpec) matches(k destSpec) bool {
	if s.present != k.present {
		return false
	}
	if !s.present {
		return true
	}
	fwd := s.forward == k.forward || k.forward == ipvs.ForwardLocal
	return fwd && s.weight == k.weight && s.upper == k.upper && s.lower == k.lower && s.tunnel == k.tunnel
}

// kernelSpec returns the spec of a destination read from the table; nil
// means absent.
func kernelSpec(d *ipvs.Destination) destSpec {
	if d == nil {
		return destSpec{}
	}
	return destSpec{present: true, weight: d.Weight, forward: d.Forward, upper: d.UpperThreshold, lower: d.LowerThreshold,
		tunnel: config.Tunnel{Type: d.TunnelType, Port: d.TunnelPort, Flags: d.TunnelFlags}}
}

// destination returns the destination a write of s at address sends.
func (s destSpec) destination(address netip.AddrPort) *ipvs.Destination {
	return &ipvs.Destination{Address: address.Addr(), Port: address.Port(), Weight: s.weight,
		Forward: s.forward, UpperThreshold: s.upper, LowerThreshold: s.lower,
		TunnelType: s.tunnel.Type, TunnelPort: s.tunnel.Port, TunnelFlags: s.tunnel.Flags}
}

// Reason is why the controller wants what it wants for a declared real
// server: one of a fixed set, the "reason" label of
// ipvs_real_server_desired_weight. Text gives the words that the logs
// and RealServerStatus.ReasonText use.
type Reason string

// The reasons, in the order decide weighs them.
const (
	// ReasonMaintenance: an operator put the server into maintenance
	// (weight 0, or kept out of the table).
	ReasonMaintenance Reason = "maintenance"
	// ReasonLocalError: a check of the server cannot run on this director
	// (local_error); the controller holds it as the table has it.
	ReasonLocalError Reason = "local_error"
	// ReasonNoVerdict: the checks have no verdict yet; the controller
	// leaves the server as the table has it.
	ReasonNoVerdict Reason = "no_verdict"
	// ReasonFleetSuspect: every judged server of every service went down
	// at once, taken for trouble on the director: declared weight kept.
	ReasonFleetSuspect Reason = "fleet_failure_suspect"
	// ReasonPanic: the service is in panic (too little healthy
	// capacity): declared weight, up or down.
	ReasonPanic Reason = "panic"
	// ReasonFailOpen: the server is down but no weighted server of the
	// service is up: declared weight kept.
	ReasonFailOpen Reason = "fail_open"
	// ReasonSlowStart: up, with its weight ramping towards the declared
	// one.
	ReasonSlowStart Reason = "slow_start"
	// ReasonLoad: up, with its weight lowered by its load (load block).
	ReasonLoad Reason = "load"
	// ReasonUp: up, at its declared weight.
	ReasonUp Reason = "up"
	// ReasonDrain: down, drained (weight 0, on_failure drain).
	ReasonDrain Reason = "drain"
	// ReasonRemove: down, out of the table (on_failure remove).
	ReasonRemove Reason = "remove"
)

// Reasons lists every Reason.
var Reasons = []Reason{ReasonMaintenance, ReasonLocalError, ReasonNoVerdict, ReasonFleetSuspect, ReasonPanic,
	ReasonFailOpen, ReasonSlowStart, ReasonLoad, ReasonUp, ReasonDrain, ReasonRemove}

var reasonText = map[Reason]string{
	ReasonNoVerdict:    "no verdict yet",
	ReasonUp:           "up",
	ReasonSlowStart:    "up, slow start",
	ReasonLoad:         "up, weight lowered by its load",
	ReasonDrain:        "down, drain",
	ReasonRemove:       "down, remove",
	ReasonMaintenance:  "maintenance",
	ReasonPanic:        "panic: too little healthy capacity, failing open",
	ReasonFailOpen:     "down, but no weighted real server is up: declared weight kept (fail open)",
	ReasonLocalError:   "held: a check cannot run on this director (local_error)",
	ReasonFleetSuspect: "fail open: every real server of every service went down at once (director trouble suspected)",
}

// Text says the reason in words; for ReasonLocalError, localError names
// the check that cannot run and why.
func (r Reason) Text(localError string) string {
	if r == ReasonLocalError && localError != "" {
		return reasonText[r] + ": " + localError
	}
	if t, ok := reasonText[r]; ok {
		return t
	}
	return string(r)
}

// destInput is everything that decides what a declared destination
// should be.
type destInput struct {
	rs      *config.RealServer
	verdict health.State
	// localError names a check of the server that cannot run on this
	// director: its verdict is frozen and says nothing new.
	localError  string
	maintenance bool
	panic       bool // the service is in panic
	// failOpen: no weighted real server of the service is up, so a down
	// one keeps its declared weight rather than leave the service with
	// total weight 0.
	failOpen bool
	// suspect: a fleet-wide failure is taken for director trouble; every
	// server keeps its declared weight.
	suspect   bool
	onFailure config.OnFailure
	inTable   bool  // the kernel has the destination
	ramp      int32 // the slow-start weight while ramping, else -1
	// effective is the weight an up server gets when its load lowers it
	// (see loadMemory.step); 0 (never a load weight: its floor is at
	// least 1) or the declared weight leave the declared weight.
	effective int32
}

// decision is what the controller wants for a destination.
type decision struct {
	// decided is false while the controller leaves the destination as
	// the kernel has it (no verdict yet).
	decided bool
	spec    destSpec
	reason  Reason
}

// decide computes the desired state of one destination:
//
//   - maintenance wins over everything: weight 0 (a destination that is
//     not in the table stays out: it gets no connections either way);
//   - a check that cannot run on this director (local_error): no
//     change, the frozen verdict is no news;
//   - no verdict yet: no change, so that a start or restart never flaps
//     a server (one drained before the restart stays drained);
//   - panic (fail open): the declared weight, up or down;
//   - fail open: a down server keeps its declared weight when no
//     weighted server of the service is up, so verdicts alone never
//     bring a service's total weight to 0;
//   - up: the effective weight (the declared one, or lower by load), or
//     the slow-start ramp's towards it;
//   - down: weight 0 (drain) or out of the table (remove).
//
// The forwarding method, thresholds and tunnel settings are always the
// declared ones.
func decide(in destInput) decision {
	spec := destSpec{present: true, weight: int32(in.rs.Weight), forward: in.rs.Forward,
		upper: in.rs.UpperThreshold, lower: in.rs.LowerThreshold, tunnel: in.rs.Tunnel}
	switch {
	case in.maintenance:
		if !in.inTable {
			return decision{true, destSpec{}, ReasonMaintenance}
		}
		spec.weight = 0
		return decision{true, spec, ReasonMaintenance}
	case in.localError != "":
		return decision{false, destSpec{}, ReasonLocalError}
	case in.verdict != health.StateUp && in.verdict != health.StateDown:
		return decision{false, destSpec{}, ReasonNoVerdict}
	case in.suspect:
		return decision{true, spec, ReasonFleetSuspect}
	case in.panic:
		return decision{true, spec, ReasonPanic}
	case in.failOpen && in.verdict == health.StateDown && spec.weight > 0:
		return decision{true, spec, ReasonFailOpen}
	case in.verdict == health.StateUp:
		if in.effective > 0 && in.effective < spec.weight {
			spec.weight = in.effective
		}
		if in.ramp >= 0 && in.ramp < spec.weight {
			spec.weight = in.ramp
			return decision{true, spec, ReasonSlowStart}
		}
		if spec.weight < int32(in.rs.Weight) {
			return decision{true, spec, ReasonLoad}
		}
		return decision{true, spec, ReasonUp}
	case in.onFailure == config.Remove:
		return decision{true, destSpec{}, ReasonRemove}
	}
	spec.weight = 0
	return decision{true, spec, ReasonDrain}
}

// capacity is a service's weighted capacity at one pass: the declared
// weights of the real servers judged (with a verdict, not in
// maintenance) and of those of them that are up. Standbys (declared
// weight 0) add nothing to either, so they cannot hide a service whose
// weighted servers are all down.
type capacity struct{ up, judged int }

// percent is the healthy share of the capacity, 100 when nothing
// weighted is judged (no evidence of trouble).
func (c capacity) percent() float64 {
	if c.judged <= 0 {
		return 100
	}
	return float64(c.up) * 100 / float64(c.judged)
}

// inPanic decides a service's panic state from its capacity and whether
// it was in panic at the last pass: it enters panic when the healthy
// share falls below threshold (percent; 0 disables) and leaves it only
// once the share is back at threshold + hysteresis (capped at 100%), so
// a server flapping at the threshold does not flap the service.
func inPanic(threshold, hysteresis float64, c capacity, was bool) bool {
	if threshold <= 0 || c.judged <= 0 {
		return false
	}
	p := c.percent()
	if !was {
		return p < threshold
	}
	return p < min(threshold+hysteresis, 100)
}

// rampWeight is the slow-start weight elapsed into a ramp of length
// slowStart towards declared: ceil(declared × elapsed / slowStart), at
// least 1, and declared once the ramp is over (done). It never decreases
// as elapsed grows.
func rampWeight(declared int32, elapsed, slowStart time.Duration) (w int32, done bool) {
	if slowStart <= 0 || elapsed >= slowStart || declared <= 1 {
		return declared, true
	}
	elapsed = max(elapsed, 0)
	w = int32(math.Ceil(float64(declared) * float64(elapsed) / float64(slowStart)))
	return min(max(w, 1), declared), false
}

// rampOffset is how far into a ramp towards declared a destination that
// the kernel has at weight current already is, so that a ramp started
// (or resumed after a restart) at a partial weight goes on from there
// instead of dropping to 1.
func rampOffset(current, declared int32, slowStart time.Duration) time.Duration {
	if current <= 0 || declared <= 0 {
		return 0
	}
	return time.Duration(float64(slowStart) * float64(current) / float64(declared))
}
