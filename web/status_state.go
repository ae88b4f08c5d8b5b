package web

import (
	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// ServerState is what a real server's row on the status page says about
// it in one word: what its traffic does, as far as the sidecar knows.
type ServerState string

// The states of a real server, as StatusRealServer.State and the status
// page show them.
const (
	// ServerUp: the checks say up and the table gives the server its
	// share (a weight above 0, or the declared weight 0 of a standby).
	ServerUp ServerState = "up"
	// ServerDown: the checks say down but the table still sends it new
	// connections (weight above 0): the controller keeps it (panic, fail
	// open, a local error) or may not write (observe, dry_run), or has
	// not passed since.
	ServerDown ServerState = "down"
	// ServerDrained: in the table with weight 0 although its declared
	// weight is not: no new connections, existing ones finish. The
	// controller drained it after a down verdict, or someone did by hand.
	ServerDrained ServerState = "drained"
	// ServerRemoved: not in the kernel table: no traffic at all.
	ServerRemoved ServerState = "removed"
	// ServerMaintenance: an operator put it into maintenance: drained
	// whatever its checks say.
	ServerMaintenance ServerState = "maintenance"
	// ServerRamping: up, its weight ramping towards the declared one
	// (slow start).
	ServerRamping ServerState = "ramping"
	// ServerUnknown: the checks have no verdict yet (or never will: a
	// destination nothing checks).
	ServerUnknown ServerState = "unknown"
)

// ServerStates lists every ServerState, problems first: the order of the
// page's filter and of its sort by state.
var ServerStates = []ServerState{ServerDown, ServerRemoved, ServerDrained, ServerMaintenance, ServerUnknown, ServerRamping, ServerUp}

// stateInput is what a real server's ServerState is derived from.
type stateInput struct {
	// tableRead: the kernel table could be read; inTable and
	// kernelWeight say nothing otherwise.
	tableRead    bool
	inTable      bool
	kernelWeight int
	// declared: the configuration lists the server, with
	// declaredWeight.
	declared       bool
	declaredWeight int
	verdict        string // health.State's string
	maintenance    bool
	// reason is the controller's reason code (RealServerView.State).
	reason string
}

// deriveState is the one place that says which ServerState a real server
// is in, in this order: maintenance wins; without a verdict it is
// unknown; without the table the verdict alone speaks (the page says the
// data is stale); then out of the table is removed, a ramp is ramping,
// weight 0 where the declared weight is not is drained, and the verdict
// says up or down.
func deriveState(in stateInput) ServerState {
	up := in.verdict == health.StateUp.String()
	switch {
	case in.maintenance:
		return ServerMaintenance
	case !up && in.verdict != health.StateDown.String():
		return ServerUnknown
	case !in.tableRead && up:
		return ServerUp
	case !in.tableRead:
		return ServerDown
	case !in.inTable:
		return ServerRemoved
	case up && in.reason == string(actuator.ReasonSlowStart):
		return ServerRamping
	case in.kernelWeight == 0 && (!in.declared || in.declaredWeight > 0):
		return ServerDrained
	case up:
		return ServerUp
	}
	return ServerDown
}

// stateRank orders states as ServerStates lists them.
func stateRank(s ServerState) int {
	for i, x := range ServerStates {
		if x == s {
			return i
		}
	}
	return len(ServerStates)
}

// parseServerState returns the state s names.
func parseServerState(s string) (ServerState, bool) {
	for _, x := range ServerStates {
		if string(x) == s {
			return x, true
		}
	}
	return "", false
}
