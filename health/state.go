package health

import (
	"fmt"
	"time"
)

// State is the verdict on a check or a real server.
type State uint8

// States. A real server starts unknown and, once it has a verdict, is
// always up or down: it never returns to unknown.
const (
	// StateUnknown: not enough results yet for a verdict.
	StateUnknown State = iota
	// StateUp: rise consecutive passes (of every check, or of one with
	// CombineAny).
	StateUp
	// StateDown: fall consecutive failures (of one check, or of every check
	// with CombineAny).
	StateDown
)

// States lists every State, for metrics that export all of them.
var States = []State{StateUnknown, StateUp, StateDown}

// numStates sizes the per-state arrays.
const numStates = 3

// String returns "unknown", "up" or "down".
func (s State) String() string {
	switch s {
	case StateUnknown:
		return "unknown"
	case StateUp:
		return "up"
	case StateDown:
		return "down"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// verdict is one check's rise/fall counter: its state and the run of
// identical results that ends with the latest one.
type verdict struct {
	passes int32 // consecutive passes, 0 after a failure
	fails  int32 // consecutive failures, 0 after a pass
	state  State
}

// observe counts one result and reports whether the state changed: rise
// consecutive passes make it up, fall consecutive failures down, from any
// other state, unknown included.
func (v *verdict) observe(pass bool, rise, fall int) bool {
	if pass {
		v.passes++
		v.fails = 0
		if v.state != StateUp && int(v.passes) >= rise {
			v.state = StateUp
			return true
		}
		return false
	}
	v.fails++
	v.passes = 0
	if v.state != StateDown && int(v.fails) >= fall {
		v.state = StateDown
		return true
	}
	return false
}

// checkMode selects which interval schedules a check next.
type checkMode uint8

const (
	modeNormal checkMode = iota // the check's Schedule
	modeFast                    // FastInterval: the verdict is changing
	modeDown                    // DownInterval: down, no pass since
)

// mode returns the interval mode of a check in this state: fast while a
// result contradicts the verdict (or before the first verdict, once a
// result is in), down while down with no pass since.
func (v *verdict) mode() checkMode {
	switch v.state {
	case StateUnknown:
		if v.passes > 0 || v.fails > 0 {
			return modeFast
		}
	case StateUp:
		if v.fails > 0 {
			return modeFast
		}
	case StateDown:
		if v.passes > 0 {
			return modeFast
		}
		return modeDown
	}
	return modeNormal
}

// combineStates returns a real server's state from its checks' verdicts.
// With CombineAll it is down if one check is down and up if all are up;
// with CombineAny up if one is up and down if all are down. Otherwise some
// checks have no verdict yet (new checks after a reload, or at start) and
// the server keeps its previous state: a check added to an up server does
// not make it unknown.
func combineStates(mode Combine, checks []State, prev State) State {
	var up, down int
	for _, s := range checks {
		switch s {
		case StateUp:
			up++
		case StateDown:
			down++
		}
	}
	switch {
	case mode == CombineAny && up > 0, mode == CombineAll && up == len(checks):
		return StateUp
	case mode == CombineAll && down > 0, mode == CombineAny && down == len(checks):
		return StateDown
	}
	return prev
}

// Event is a real server's change of state, delivered to subscribers (see
// Scheduler.Subscribe) and logged once.
type Event struct {
	Time    time.Time // when the change happened
	Service string    // Target.Service
	Server  string    // Target.Server
	Old     State     // StateUnknown for the first verdict
	New     State     // StateUp or StateDown
	// Check names the check (CheckSpec.Name) whose verdict made the change
	// and Result is the result that completed it; Check is empty when a
	// configuration update did (a check was removed or the combination
	// changed).
	Check  string
	Result Result
}

// ServerStatus is a snapshot of a real server's state, for the controller
// and status pages.
type ServerStatus struct {
	Service, Server string
	State           State
	// Since is when the server entered State; while unknown, when Update
	// added it.
	Since time.Time
	// LocalError, when not empty, says the server is frozen by local
	// errors: a check of it could not run on this director at its latest
	// run (ClassLocalError: fd limit, no route, local firewall, no
	// CAP_NET_RAW, missing source address). It is "CHECK: REASON" of the
	// latest such result. State is then not news about the server (the
	// check's verdict neither rises nor falls), and a controller should
	// take no action on it. LocalErrorSince is when the episode started;
	// both are zero when no check of the server is in local error.
	LocalError      string
	LocalErrorSince time.Time
	Checks          []CheckStatus
}

// CheckStatus is a snapshot of one check of a real server.
type CheckStatus struct {
	Name  string
	State State
	// Last is the latest result and LastTime when it came in; LastTime is
	// zero before the first result.
	Last     Result
	LastTime time.Time
	// Passes and Fails count the consecutive identical results that end
	// with Last (one of them is 0).
	Passes, Fails int
}
