package actuator

import (
	"math"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// LoadSource gives the real servers' polled load; *load.Poller satisfies
// it. Service is the service key ("tcp/192.0.2.1:80"), server
// "addr:port". value is in the unit of the server's load block, seq
// counts its good answers (each new one is one step of the weight), and
// fresh is false for a load that is stale or was never read: the server
// then gets its declared weight.
type LoadSource interface {
	Load(service, server string) (value float64, seq uint64, fresh bool)
}

// LoadStatus is the weight a real server's load gives it at one pass.
type LoadStatus struct {
	// Load is the last polled load; Fresh is false while it is stale
	// (the declared weight is used then).
	Load  float64
	Fresh bool
	// Factor is the share of the declared weight the load asks for,
	// from the load the target was last computed from (hysteresis): 1 up
	// to start, falling to floor at full.
	Factor float64
	// Weight is the effective weight: declared × Factor, between the
	// floor and the declared weight, reached by steps of at most
	// max_step, one per pass that sees a new answer; the declared weight
	// while not Fresh.
	Weight int
	// Target is the weight Weight moves towards.
	Target int
}

// loadMemory is what the controller remembers of a real server's load
// weight between passes.
type loadMemory struct {
	has    bool    // weight and anchor hold a value
	weight int32   // the effective weight now
	anchor float64 // the load the target is computed from
	seq    uint64  // the last answer stepped on
}

// step moves the effective weight of a server of declared weight with
// load block l one pass along: towards declared × f(anchor) by at most
// l's step when the pass sees a new answer (one step, however many
// answers came since the last pass, so that no write changes the weight
// by more than max_step), where anchor follows the load only once it
// moved by the hysteresis. A load that is not fresh resets it to the
// declared weight at once: load weights are an optimisation, never a
// reason to keep a server lowered on old news.
func (m *loadMemory) step(l *config.LoadWeight, declared int32, value float64, seq uint64, fresh bool) LoadStatus {
	if !fresh || declared <= 0 {
		*m = loadMemory{}
		return LoadStatus{Load: value, Fresh: fresh, Factor: 1, Weight: int(declared), Target: int(declared)}
	}
	if !m.has {
		*m = loadMemory{has: true, weight: declared, anchor: value, seq: seq - 1}
	}
	if math.Abs(value-m.anchor) >= l.Hysteresis {
		m.anchor = value
	}
	factor := l.Factor(m.anchor)
	target := int32(l.Weight(int(declared), factor))
	// A reload may have changed the declared weight or the floor.
	lo := int32(l.Weight(int(declared), 0))
	m.weight = min(max(m.weight, lo), declared)
	if seq != m.seq {
		// A new answer (or a count the poller restarted on a reload).
		step := int32(l.Step(int(declared)))
		switch {
		case m.weight < target:
			m.weight = min(m.weight+step, target)
		case m.weight > target:
			m.weight = max(m.weight-step, target)
		}
		m.seq = seq
	}
	return LoadStatus{Load: value, Fresh: true, Factor: factor, Weight: int(m.weight), Target: int(target)}
}
