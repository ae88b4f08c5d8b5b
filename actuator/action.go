package actuator

import "time"

// ActionKind names what an Action reports: one of the controller's writes
// (the "action" label of ipvs_controller_actuations_total) or a change of
// a service's fail-open state.
type ActionKind string

// The kinds of Action. A drain is an ActionUpdateWeight to weight 0 with
// ReasonDrain; a restore of a drained server an ActionUpdateWeight back
// up; ActionRestore re-adds a server the controller removed.
const (
	ActionCreateService ActionKind = actionCreateService
	ActionUpdateService ActionKind = actionUpdateService
	ActionCreate        ActionKind = actionCreate
	ActionRestore       ActionKind = actionRestore
	ActionRemove        ActionKind = actionRemove
	ActionUpdateWeight  ActionKind = actionUpdateWeight
	ActionUpdate        ActionKind = actionUpdate
	// ActionPanicEnter: the service's healthy weighted capacity fell below
	// its panic threshold; no real server is drained or removed.
	ActionPanicEnter ActionKind = "panic_enter"
	// ActionPanicLeave: enough capacity is healthy again (threshold plus
	// hysteresis); failed real servers are drained again.
	ActionPanicLeave ActionKind = "panic_leave"
	// ActionFailOpenEnter: no weighted real server of the service is up;
	// the down ones keep their declared weights.
	ActionFailOpenEnter ActionKind = "fail_open_enter"
	// ActionFailOpenLeave: a weighted real server is up again.
	ActionFailOpenLeave ActionKind = "fail_open_leave"
)

// ActionKinds lists every ActionKind.
var ActionKinds = []ActionKind{ActionCreateService, ActionUpdateService, ActionCreate, ActionRestore, ActionRemove,
	ActionUpdateWeight, ActionUpdate, ActionPanicEnter, ActionPanicLeave, ActionFailOpenEnter, ActionFailOpenLeave}

// IsServiceState reports whether k is a change of a service's state
// (panic, fail open) rather than a write.
func (k ActionKind) IsServiceState() bool {
	switch k {
	case ActionPanicEnter, ActionPanicLeave, ActionFailOpenEnter, ActionFailOpenLeave:
		return true
	}
	return false
}

// NoWeight is Action.OldWeight or NewWeight of a real server that is not
// in the table (before a create or restore, after a remove).
const NoWeight = -1

// Action is what Options.OnAction receives: one successful write of the
// controller to the kernel table, or a service entering or leaving panic
// or fail open. Failed writes are not reported (they are retried every
// pass and logged once).
type Action struct {
	Time    time.Time  // the pass's time (the controller's clock)
	Kind    ActionKind // what was done
	Service string     // the service key, "tcp/192.0.2.1:80" or "fwmark/42"
	Name    string     // the service's name in the configuration
	// Server is the real server, "addr:port"; empty for service actions
	// (create_service, update_service and the state changes).
	Server string
	// OldWeight is the kernel's weight before the write and NewWeight the
	// one written; NoWeight when the server was or is not in the table.
	// Both are 0 for service actions.
	OldWeight, NewWeight int
	// DeclaredWeight is the weight the configuration gives the server.
	DeclaredWeight int
	// Reason is why the controller wanted NewWeight (real server actions
	// only).
	Reason Reason
	// Drift: the write put back what the controller had set after someone
	// changed the table by hand.
	Drift bool
	// CapacityUp and CapacityJudged are the service's weighted capacity at
	// this pass (declared weights of the real servers up, and of those
	// with a verdict and not in maintenance); CapacityPercent is the
	// healthy share, 100 when nothing weighted is judged.
	CapacityUp, CapacityJudged int
	CapacityPercent            float64
	// PanicThreshold is the service's threshold in percent (0: none).
	PanicThreshold float64
	// Targeted: the write was the targeted write of a verdict change,
	// made from the last known table without reading it, not a full
	// pass's.
	Targeted bool
}

// emit hands a to the OnAction hook, if any. It runs inside the pass or
// the targeted write, so the hook must return at once (queue the action,
// never wait on I/O).
func (c *Controller) emit(a Action) {
	if c.onAction != nil {
		c.onAction(a)
	}
}
