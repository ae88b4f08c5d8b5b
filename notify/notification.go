package notify

import (
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// Event says what a Notification reports; each is one NOTIFICATION-TYPE
// of LVS-SIDECAR-MIB.
type Event uint8

// Events.
const (
	EventStateChange     Event = iota + 1 // lsRealServerStateChange
	EventRealServerWrite                  // lsRealServerAction
	EventServiceWrite                     // lsServiceAction
	EventPanic                            // lsServicePanic
	EventPanicCleared                     // lsServicePanicCleared
	EventFailOpen                         // lsServiceFailOpen
	EventFailOpenCleared                  // lsServiceFailOpenCleared
	EventReloadFailed                     // lsConfigReloadFailed
	EventStart                            // lsSidecarStart
	EventStop                             // lsSidecarStop
)

var eventNames = map[Event]string{
	EventStateChange: "state_change", EventRealServerWrite: "real_server_action", EventServiceWrite: "service_action",
	EventPanic: "panic", EventPanicCleared: "panic_cleared", EventFailOpen: "fail_open", EventFailOpenCleared: "fail_open_cleared",
	EventReloadFailed: "reload_failed", EventStart: "start", EventStop: "stop",
}

// String names the event for logs.
func (e Event) String() string { return eventNames[e] }

// Kind returns the config kind (notifications.targets[].send) e belongs
// to.
func (e Event) Kind() config.NotifyKind {
	switch e {
	case EventStateChange:
		return config.NotifyState
	case EventRealServerWrite, EventServiceWrite:
		return config.NotifyAction
	case EventPanic, EventPanicCleared, EventFailOpen, EventFailOpenCleared:
		return config.NotifyPanic
	case EventReloadFailed:
		return config.NotifyReload
	}
	return config.NotifyLifecycle
}

// Notification is one thing to tell the targets, in the sidecar's terms;
// each target's mode turns it into varbinds. Fields that do not apply to
// the Event are zero.
type Notification struct {
	Event Event
	Time  time.Time
	// Service is the service key ("tcp/192.0.2.1:80"), Name its name in
	// the configuration, Server the real server ("addr:port").
	Service, Name, Server string
	// OldState and NewState: EventStateChange.
	OldState, NewState health.State
	// Check and CheckResult name the check and the class of the result
	// that made a state change; Reason is its words, or the controller's
	// reason for a write.
	Check, CheckResult, Reason string
	// Action, the weights and Drift: EventRealServerWrite and
	// EventServiceWrite.
	Action               actuator.ActionKind
	OldWeight, NewWeight int
	Drift                bool
	// Capacity: the panic and fail-open events.
	CapacityUp, CapacityJudged      int
	CapacityPercent, PanicThreshold float64
	// Message: EventReloadFailed (the error), EventStart (the version).
	Message string

	// Filled in by the Notifier from what it tracks, for keepalived
	// mode: how many of the service's declared real servers are up, of
	// how many.
	ServersUp, ServersTotal int
	// serviceKey is the declared service's key, when it is declared.
	serviceKey ipvs.ServiceKey
	declared   bool
}

// key returns the declared service's kernel key.
func (n *Notification) key() (ipvs.ServiceKey, bool) { return n.serviceKey, n.declared }

// FromHealth returns the notification of a real server's change of
// state.
func FromHealth(e health.Event) Notification {
	return Notification{Event: EventStateChange, Time: e.Time, Service: e.Service, Server: e.Server,
		OldState: e.Old, NewState: e.New, Check: e.Check, CheckResult: e.Result.Class.String(), Reason: e.Result.Reason}
}

// FromAction returns the notification of a controller action.
func FromAction(a actuator.Action) Notification {
	n := Notification{Time: a.Time, Service: a.Service, Name: a.Name, Server: a.Server, Action: a.Kind,
		OldWeight: a.OldWeight, NewWeight: a.NewWeight, Reason: string(a.Reason), Drift: a.Drift,
		CapacityUp: a.CapacityUp, CapacityJudged: a.CapacityJudged, CapacityPercent: a.CapacityPercent, PanicThreshold: a.PanicThreshold}
	switch a.Kind {
	case actuator.ActionPanicEnter:
		n.Event = EventPanic
	case actuator.ActionPanicLeave:
		n.Event = EventPanicCleared
	case actuator.ActionFailOpenEnter:
		n.Event = EventFailOpen
	case actuator.ActionFailOpenLeave:
		n.Event = EventFailOpenCleared
	case actuator.ActionCreateService, actuator.ActionUpdateService:
		n.Event = EventServiceWrite
	default:
		n.Event = EventRealServerWrite
	}
	return n
}
