package actuator

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// destKey identifies a declared destination the way metrics and the
// health checks do: the service key's String() and "addr:port".
type destKey struct{ service, server string }

// destMemory is what the controller remembers of a declared destination
// between passes.
type destMemory struct {
	// applied is what the controller last wrote, or saw the kernel agree
	// with; nil until then. A kernel state that differs from it is drift.
	applied *destSpec
	// ramp is the slow-start ramp in progress, nil when none; load is
	// the load weight's state, nil without a load block. Both are rare:
	// behind pointers they cost a destination without them 8 bytes each.
	ramp *rampMemory
	load *loadMemory

	// logged is what was last logged of the destination, nil when
	// nothing (planLog, writeErr): rare, behind a pointer it costs a
	// destination without it 8 bytes, not 32.
	logged *destLogged

	// known is the destination as the table has it after the last pass
	// (what it read, then wrote) and the targeted writes since: the last
	// known table that a targeted write starts from; isKnown is false
	// before a pass and after a failed write.
	known destSpec
	// The flags sit in the padding after known (28 bytes): one each
	// beside a wider field would make a destMemory 112 bytes, not 96.
	isKnown bool
	// removed: the controller took the destination out (on_failure
	// remove); adding it back is a restore.
	removed bool
	// wasUp: up and not in maintenance at the last pass; a change to up
	// may start a slow-start ramp.
	wasUp   bool
	drifted bool // drift was reported and has not ended

	// seen is the number of the last pass that found the destination
	// declared (Controller.passes).
	seen uint64
}

// destLogged is what the controller last logged of a destination.
type destLogged struct {
	planLog  string // the pending plan last logged (dry_run, observe)
	writeErr string // the last write error logged
}

// planLog returns the pending plan last logged, "" if none.
func (m *destMemory) planLog() string {
	if m.logged == nil {
		return ""
	}
	return m.logged.planLog
}

// writeErr returns the last write error logged, "" if none.
func (m *destMemory) writeErr() string {
	if m.logged == nil {
		return ""
	}
	return m.logged.writeErr
}

// setPlanLog records the pending plan logged ("": none).
func (m *destMemory) setPlanLog(plan string) { m.setLogged(plan, m.writeErr()) }

// setWriteErr records the write error logged ("": none).
func (m *destMemory) setWriteErr(msg string) { m.setLogged(m.planLog(), msg) }

func (m *destMemory) setLogged(plan, writeErr string) {
	switch {
	case plan == "" && writeErr == "":
		m.logged = nil
	case m.logged == nil:
		m.logged = &destLogged{planLog: plan, writeErr: writeErr}
	default:
		m.logged.planLog, m.logged.writeErr = plan, writeErr
	}
}

// rampMemory is a slow-start ramp in progress.
type rampMemory struct {
	start time.Time
	floor int32 // the kernel's weight when the ramp started
}

// serviceMemory is what the controller remembers of a declared service.
type serviceMemory struct {
	applied  *serviceSpec
	panic    bool
	failOpen bool
	// drainKeeps: the warning that a drain keeps persistent clients was
	// logged and still holds.
	drainKeeps bool
	drifted    bool
	planLog    string
	writeErr   string
	// undeclared are the table's destinations of the service that the
	// configuration does not list, already logged; nil until one is (a
	// map per service, for the few services that have any).
	undeclared map[string]bool
	// undeclaredWeight is their weight in the table at the last pass.
	undeclaredWeight int
	// ready: the last pass left the service in the table as the
	// configuration declares it, so a targeted write of one of its real
	// servers needs no write of the service.
	ready bool
	// seen is the number of the last pass that found the service
	// declared (Controller.passes).
	seen uint64
}

// rampState returns the slow-start weight of a ramping destination and
// moves its ramp along: it starts when the server becomes up (from down,
// maintenance or no verdict) while the kernel has it below its declared
// weight, and ends once slowStart has passed, in panic, or when the
// server is no longer up. -1 means no ramp.
func (m *destMemory) rampState(up, panic bool, kernelWeight, declared int32, slowStart time.Duration, now time.Time) int32 {
	switch {
	case !up || panic || slowStart <= 0:
		m.ramp = nil
	case !m.wasUp && kernelWeight < declared:
		m.ramp = &rampMemory{floor: max(kernelWeight, 0), start: now.Add(-rampOffset(kernelWeight, declared, slowStart))}
	}
	m.wasUp = up
	if m.ramp == nil {
		return -1
	}
	w, done := rampWeight(declared, now.Sub(m.ramp.start), slowStart)
	if done {
		m.ramp = nil
		return -1
	}
	return max(w, min(m.ramp.floor, declared))
}

// verdictIndex finds a real server's status among the verdict source's:
// for a full pass in its Status, sorted by service and server (a binary
// search: no map of every real server on every pass), for a targeted
// write in a map of its few.
type verdictIndex struct {
	sorted []health.ServerStatus
	byKey  map[destKey]*health.ServerStatus
}

// sortedVerdicts returns the index of statuses, which it sorts when the
// source did not (a copy: the source's slice is left alone).
func sortedVerdicts(statuses []health.ServerStatus) verdictIndex {
	order := func(a, b health.ServerStatus) int { return compareStatus(a, b.Service, b.Server) }
	if !slices.IsSortedFunc(statuses, order) {
		statuses = slices.Clone(statuses)
		slices.SortStableFunc(statuses, order)
	}
	return verdictIndex{sorted: statuses}
}

// find returns the status of k, nil when the source has none.
func (x verdictIndex) find(k destKey) *health.ServerStatus {
	if x.byKey != nil {
		return x.byKey[k]
	}
	i, found := slices.BinarySearchFunc(x.sorted, k, func(st health.ServerStatus, k destKey) int {
		return compareStatus(st, k.service, k.server)
	})
	if !found {
		return nil
	}
	return &x.sorted[i]
}

// compareStatus orders statuses by service, then server: the order of
// the verdict source's Status.
func compareStatus(st health.ServerStatus, service, server string) int {
	return cmp.Or(strings.Compare(st.Service, service), strings.Compare(st.Server, server))
}

// verdictOf returns the state of a real server in an index of the
// verdict source's statuses.
func verdictOf(index verdictIndex, k destKey) (health.State, *health.ServerStatus) {
	if st := index.find(k); st != nil {
		return st.State, st
	}
	return health.StateUnknown, nil
}
