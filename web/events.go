package web

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// DefaultEvents is how many recent events the status page keeps.
const DefaultEvents = 200

// Kinds of EventView.
const (
	// EventHealth is a real server's verdict changing (health.Event).
	EventHealth = "health"
	// EventAction is one of the controller's writes to the table, or a
	// service entering or leaving panic or fail open (actuator.Action).
	EventAction = "action"
	// EventMaintenance is an administrator putting a real server into
	// maintenance or lifting it (code "maintenance_enter",
	// "maintenance_leave").
	EventMaintenance = "maintenance"
	// EventConfig is a reload of the configuration file (code "reload",
	// "reload_failed").
	EventConfig = "config"
)

// EventView is one entry of the recent events: a verdict change or a
// controller action, said in words.
type EventView struct {
	// Time is when it happened (the checks' or the controller's clock),
	// UTC.
	Time time.Time `json:"time"`
	// Kind is "health", "action", "maintenance" or "config".
	Kind string `json:"kind"`
	// Code says what in one word: for health the new verdict ("up",
	// "down"), for action the actuator.ActionKind ("update_weight",
	// "remove", "panic_enter", ...), for maintenance "maintenance_enter"
	// or "maintenance_leave", for config "reload" or "reload_failed".
	Code string `json:"code"`
	// Service is the service key; ServiceName its name in the
	// configuration ("" when it has none).
	Service     string `json:"service"`
	ServiceName string `json:"service_name"`
	// Server is the real server, "addr:port"; "" for a service's event.
	Server string `json:"server"`
	// What happened and Why, in words.
	What string `json:"what"`
	Why  string `json:"why"`
}

// Events keeps the most recent events in a ring of fixed size, for the
// status page. It is safe for concurrent use; adding costs a copy under a
// lock held for nothing else, so the scheduler's event goroutine and the
// controller's pass (OnAction) never wait on a reader.
type Events struct {
	mu   sync.Mutex
	buf  []EventView
	next int  // where the next event goes
	full bool // buf has wrapped
}

// NewEvents returns a ring of the n most recent events (DefaultEvents
// when n <= 0).
func NewEvents(n int) *Events {
	if n <= 0 {
		n = DefaultEvents
	}
	return &Events{buf: make([]EventView, n)}
}

// Add records e, dropping the oldest event when the ring is full.
func (r *Events) Add(e EventView) {
	e.Time = e.Time.UTC()
	r.mu.Lock()
	r.buf[r.next] = e
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// List returns the events, newest first.
func (r *Events) List() []EventView {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := make([]EventView, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}

// HealthEvent records a verdict change; pass it to
// health.Scheduler.Subscribe.
func (r *Events) HealthEvent(e health.Event) { r.Add(healthEventView(e)) }

// Action records a controller action; call it from
// actuator.Options.OnAction.
func (r *Events) Action(a actuator.Action) { r.Add(actionView(a)) }

// Maintenance records an administrator's maintenance change that changed
// something: by whom, and the reason they gave.
func (r *Events) Maintenance(at time.Time, ref actuator.ServerRef, enabled bool, reason, by string) {
	e := EventView{Time: at, Kind: EventMaintenance, Code: "maintenance_leave", Service: ref.Service, ServiceName: ref.Name,
		Server: ref.Server, What: "maintenance lifted by " + by, Why: "the controller restores the weight as the checks allow"}
	if enabled {
		e.Code, e.What, e.Why = "maintenance_enter", "maintenance enabled by "+by, "drained whatever the checks say"
		if reason != "" {
			e.Why += ": " + reason
		}
	}
	r.Add(e)
}

// Reload records a reload of the configuration file, by its trigger
// ("SIGHUP", "POST /-/reload"): err nil for one that took effect, else
// why the previous configuration stays.
func (r *Events) Reload(at time.Time, trigger string, err error) {
	e := EventView{Time: at, Kind: EventConfig, Code: "reload", What: "configuration reloaded", Why: trigger}
	if err != nil {
		e.Code, e.What, e.Why = "reload_failed", "configuration reload failed ("+trigger+")", err.Error()
	}
	r.Add(e)
}

func healthEventView(e health.Event) EventView {
	what := e.New.String()
	if e.Old == health.StateUnknown {
		what = "first verdict: " + what
	} else {
		what += " (was " + e.Old.String() + ")"
	}
	why := "the checks changed in the configuration"
	if e.Check != "" {
		why = e.Check + ": " + resultText(e.Result)
	}
	return EventView{Time: e.Time, Kind: EventHealth, Code: e.New.String(), Service: e.Service, Server: e.Server, What: what, Why: why}
}

// resultText says a check result in words: its class, reason and latency.
func resultText(r health.Result) string {
	s := r.Class.String()
	if r.Reason != "" {
		s += ", " + r.Reason
	}
	if r.Latency > 0 {
		s += " in " + shortDuration(r.Latency)
	}
	return s
}

func actionView(a actuator.Action) EventView {
	e := EventView{Time: a.Time, Kind: EventAction, Code: string(a.Kind), Service: a.Service, ServiceName: a.Name, Server: a.Server}
	capacity := fmt.Sprintf("healthy capacity %s%% (%d of %d declared weight judged), threshold %s%%",
		percent(a.CapacityPercent), a.CapacityUp, a.CapacityJudged, percent(a.PanicThreshold))
	switch a.Kind {
	case actuator.ActionCreateService:
		e.What, e.Why = "service created", "the configuration declares it"
	case actuator.ActionUpdateService:
		e.What, e.Why = "service updated", "the table differed from the configuration"
	case actuator.ActionCreate:
		e.What = "added to the table with weight " + strconv.Itoa(a.NewWeight)
	case actuator.ActionRestore:
		e.What = "put back into the table with weight " + strconv.Itoa(a.NewWeight)
	case actuator.ActionRemove:
		e.What = "removed from the table"
	case actuator.ActionUpdateWeight:
		switch {
		case a.NewWeight == 0:
			e.What = "drained: weight " + weightText(a.OldWeight) + " → 0"
		case a.OldWeight == 0:
			e.What = "restored: weight 0 → " + weightText(a.NewWeight)
		default:
			e.What = "weight " + weightText(a.OldWeight) + " → " + weightText(a.NewWeight)
		}
	case actuator.ActionUpdate:
		e.What = "updated: weight " + weightText(a.OldWeight) + " → " + weightText(a.NewWeight)
	case actuator.ActionPanicEnter:
		e.What, e.Why = "panic: nothing is drained", capacity
	case actuator.ActionPanicLeave:
		e.What, e.Why = "panic over: failed servers are drained again", capacity
	case actuator.ActionFailOpenEnter:
		e.What, e.Why = "fail open: the down servers keep their weights", "no weighted real server is up"
	case actuator.ActionFailOpenLeave:
		e.What, e.Why = "fail open over", "a weighted real server is up again"
	default:
		e.What = string(a.Kind)
	}
	if a.Server != "" && a.Reason != "" {
		e.Why = a.Reason.Text("")
	}
	if a.Drift {
		e.Why += " (put back what someone changed by hand)"
	}
	return e
}

func weightText(w int) string {
	if w == actuator.NoWeight {
		return "none"
	}
	return strconv.Itoa(w)
}

// percent formats a percentage to a tenth, without trailing zeros: 50,
// 33.3.
func percent(p float64) string {
	return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64)
}

// shortDuration formats d for a table cell: 850µs, 12.3ms, 1.2s, 3m4s.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Truncate(time.Second).String()
}
