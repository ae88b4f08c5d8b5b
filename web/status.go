package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// Paths of the status page.
const (
	// StatusPath is the status page (HTML).
	StatusPath = "/status"
	// StatusAPIPath is the status page's data as JSON (StatusView).
	StatusAPIPath = "/api/v1/status"
	// StatusMaintenancePath takes the status page's maintenance forms
	// (POST, administrators only, like POST /api/v1/maintenance).
	StatusMaintenancePath = "/status/maintenance"
	// statusAssetsPath serves the page's CSS and JavaScript.
	statusAssetsPath = "/status/assets/"
)

// staleControllerPeriods is how many controller periods may pass without
// a successful reconcile pass before the status says its data is stale.
const staleControllerPeriods = 3

// StatusView is the body of GET /api/v1/status and what /status shows:
// the services view (ServicesView: version, ipvs_readable, ipvs_error,
// controller) with a header for people and, per service and real server,
// what the status page shows. The fields added here are always present
// (null where there is no value); ServicesView's are as /api/v1/services
// has them (ipvs_error, name, last_pass, last_error and not_ready_reason
// are left out when empty).
type StatusView struct {
	ServicesView
	// Director names this director: notifications.director of
	// --config.file, or the host name.
	Director string `json:"director"`
	// GeneratedAt is when the answer was made, in UTC.
	GeneratedAt time.Time `json:"generated_at"`
	// ConfigFile is --config.file ("" without one) and ConfigSHA256 the
	// SHA-256 (hex) of the version in use: a reload that failed keeps the
	// previous one.
	ConfigFile   string `json:"config_file"`
	ConfigSHA256 string `json:"config_sha256"`
	// Stale: some of this answer is old or missing (the kernel table could
	// not be read, or the controller has not completed a pass for
	// staleControllerPeriods of its periods); StaleReason says what ("" when
	// not stale).
	Stale       bool   `json:"stale"`
	StaleReason string `json:"stale_reason"`
	// PanicServices are the keys of the services in panic (see
	// ServiceView.Panic), in view order.
	PanicServices []string `json:"panic_services"`
	// RateIntervalSeconds is the interval the rates cover: from the
	// sample they are computed against to this answer; null when there
	// is none (the first answer, or the table unreadable).
	RateIntervalSeconds *float64 `json:"rate_interval_seconds"`
	// Services replaces ServicesView.Services.
	Services []StatusService `json:"services"`
	// Events are the recent verdict changes and controller actions,
	// newest first (at most DefaultEvents).
	Events []EventView `json:"events"`
}

// StatusService is one virtual service: ServiceView and what the page
// adds.
type StatusService struct {
	ServiceView
	// PersistenceSeconds is the persistence timeout (ipvsadm -p): the
	// kernel's, or the configuration's while the kernel does not have the
	// service; 0 when not persistent.
	PersistenceSeconds int `json:"persistence_seconds"`
	// PanicThreshold is the configuration's panic_threshold in percent (0:
	// off, and for services it does not declare).
	PanicThreshold float64 `json:"panic_threshold"`
	// CapacityDeclared sums the declared weights of the declared real
	// servers; CapacityUp those of them whose verdict is up and that are
	// not in maintenance. CapacityShare is CapacityUp / CapacityDeclared
	// (0 to 1), null when CapacityDeclared is 0. (The panic threshold
	// compares the share of the judged servers instead: those without a
	// verdict do not count there.)
	CapacityUp       int      `json:"capacity_up"`
	CapacityDeclared int      `json:"capacity_declared"`
	CapacityShare    *float64 `json:"capacity_share"`
	// StateCounts counts the real servers in each ServerState; every state
	// is a key.
	StateCounts map[ServerState]int `json:"state_counts"`
	// Rates are the service's (null: see RatesView's rules in rate).
	Rates *RatesView `json:"rates"`
	// RealServers replaces ServiceView.RealServers.
	RealServers []StatusRealServer `json:"real_servers"`
}

// StatusRealServer is one real server: RealServerView and what the page
// adds. Its state is the page's one-word state; RealServerView's state
// (why the controller wants what it wants) is ControllerReason here.
type StatusRealServer struct {
	RealServerView
	// State is one of ServerStates, derived from the verdict,
	// maintenance, the controller's wish and the kernel's weight (see
	// deriveState).
	State ServerState `json:"state"`
	// ControllerReason is /api/v1/services' state: one of
	// actuator.Reasons, or "undeclared"; ControllerReasonText says it in
	// words ("" without a controller's pass).
	ControllerReason     string `json:"controller_reason"`
	ControllerReasonText string `json:"controller_reason_text"`
	// Since is when the state last changed as far as the sidecar knows:
	// the later of the verdict's last change (or, without a verdict, when
	// the checks started) and the start of maintenance; null when
	// unknown.
	Since *time.Time `json:"since"`
	// LastCheck is the latest result of the check that decides: the first
	// of the server's checks whose latest result failed, else the one
	// with the most recent result; null before any result.
	LastCheck *CheckView `json:"last_check"`
	// MaintenanceReason, MaintenanceBy and MaintenanceSince are the
	// maintenance record (""/null when not in maintenance): the
	// operator's reason, the administrator, and when.
	MaintenanceReason string     `json:"maintenance_reason"`
	MaintenanceBy     string     `json:"maintenance_by"`
	MaintenanceSince  *time.Time `json:"maintenance_since"`
	// LoadFactor is the share of the declared weight the server's load
	// asks for (ipvs_real_server_load_factor); null without a load block
	// or while the load is stale.
	LoadFactor *float64 `json:"load_factor"`
	// SlowStartProgress is the share of the slow-start ramp done (0 to
	// 1); null when not ramping.
	SlowStartProgress *float64 `json:"slow_start_progress"`
	// Rates are the server's (null: see rate).
	Rates *RatesView `json:"rates"`
}

// CheckView is one check's latest result.
type CheckView struct {
	// Name is the check's name (its type unless the configuration names
	// it).
	Name string `json:"name"`
	// Class is the result's class: open, closed, filtered, timeout,
	// error, local_error.
	Class string `json:"class"`
	// Reason says what was seen ("connection refused (RST)", "HTTP 503,
	// want 200"); often "" for open.
	Reason string `json:"reason"`
	// LatencySeconds is how long the check took.
	LatencySeconds float64 `json:"latency_seconds"`
	// At is when the result came in, UTC.
	At time.Time `json:"at"`
}

// StatusInput is what the status view is built from: the services view's
// input and the header's.
type StatusInput struct {
	ServicesInput
	// Director names the director (see StatusView.Director).
	Director string
}

// buildStatus joins in into the view at now, with the events, and rates
// against the baseline rates keeps (nil: no rates).
func buildStatus(in StatusInput, events []EventView, now time.Time, rates *rateTracker) StatusView {
	sv := BuildServices(in.ServicesInput)
	v := StatusView{
		ServicesView:  sv,
		Director:      in.Director,
		GeneratedAt:   now.UTC(),
		PanicServices: []string{},
		Services:      make([]StatusService, len(sv.Services)),
		Events:        events,
	}
	v.ServicesView.Services = nil
	if v.Events == nil {
		v.Events = []EventView{}
	}
	if in.Config != nil {
		v.ConfigFile, v.ConfigSHA256 = in.Config.Source.Path, in.Config.Source.SHA256
	}
	names := map[string]string{}
	for i := range sv.Services {
		if sv.Services[i].Name != "" {
			names[sv.Services[i].Key] = sv.Services[i].Name
		}
	}
	for i := range v.Events {
		if e := &v.Events[i]; e.ServiceName == "" {
			e.ServiceName = names[e.Service]
		}
	}

	var prev *rateSample
	var dt time.Duration
	if sv.IPVSReadable && rates != nil {
		cur := sampleOf(now, sv.Services)
		if prev = rates.baseline(cur); prev != nil {
			dt = cur.at.Sub(prev.at)
			sec := dt.Seconds()
			v.RateIntervalSeconds = &sec
		}
	}
	for i := range sv.Services {
		v.Services[i] = statusService(&sv.Services[i], sv.IPVSReadable, prev, dt)
		if v.Services[i].Panic {
			v.PanicServices = append(v.PanicServices, v.Services[i].Key)
		}
	}
	var stale []string
	if !sv.IPVSReadable {
		stale = append(stale, "the IPVS table could not be read ("+sv.IPVSError+"): the kernel's weights, connections and rates are missing")
	}
	if st := in.Status; st != nil && st.Passes > 0 {
		period := st.Period
		if period <= 0 {
			period = time.Second
		}
		switch {
		case st.LastSuccess.IsZero():
			stale = append(stale, fmt.Sprintf("the controller has not completed a pass without error yet (%d tried; last error: %s)", st.Passes, st.LastError))
		case now.Sub(st.LastSuccess) > staleControllerPeriods*period:
			why := ""
			if st.LastError != "" {
				why = "; last error: " + st.LastError
			}
			stale = append(stale, fmt.Sprintf("the controller's last successful pass was %s ago, at %s (period %s)%s",
				now.Sub(st.LastSuccess).Truncate(time.Second), st.LastSuccess.UTC().Format(time.RFC3339), period, why))
		}
	}
	v.Stale, v.StaleReason = len(stale) > 0, strings.Join(stale, "; ")
	return v
}

func statusService(s *ServiceView, tableRead bool, prev *rateSample, dt time.Duration) StatusService {
	out := StatusService{ServiceView: *s, StateCounts: make(map[ServerState]int, len(ServerStates)), RealServers: make([]StatusRealServer, len(s.RealServers))}
	out.ServiceView.RealServers = nil
	for _, st := range ServerStates {
		out.StateCounts[st] = 0
	}
	switch src := s.src; {
	case src.kernel != nil && src.kernel.Persistent():
		out.PersistenceSeconds = int(src.kernel.Timeout)
	case src.kernel == nil && src.config != nil:
		out.PersistenceSeconds = int(src.config.Persistence / time.Second)
	}
	if s.src.config != nil {
		out.PanicThreshold = s.src.config.PanicThreshold
	}
	if s.Stats != nil && prev != nil {
		p, ok := prev.services[s.Key]
		out.Rates = rate(countersOf(s.Stats), p, ok, dt)
	}
	for j := range s.RealServers {
		r := statusRealServer(s.Key, &s.RealServers[j], tableRead, prev, dt)
		out.StateCounts[r.State]++
		if r.Declared {
			out.CapacityDeclared += r.WeightDeclared
			if r.Verdict == health.StateUp.String() && !r.Maintenance {
				out.CapacityUp += r.WeightDeclared
			}
		}
		out.RealServers[j] = r
	}
	if out.CapacityDeclared > 0 {
		share := float64(out.CapacityUp) / float64(out.CapacityDeclared)
		out.CapacityShare = &share
	}
	return out
}

func statusRealServer(service string, r *RealServerView, tableRead bool, prev *rateSample, dt time.Duration) StatusRealServer {
	out := StatusRealServer{RealServerView: *r, ControllerReason: r.State}
	out.State = deriveState(stateInput{
		tableRead: tableRead, inTable: r.InTable, kernelWeight: r.WeightKernel,
		declared: r.Declared, declaredWeight: r.WeightDeclared,
		verdict: r.Verdict, maintenance: r.Maintenance, reason: r.State,
	})
	var since time.Time
	if vs := r.src.verdict; vs != nil {
		since = vs.Since
		out.LastCheck = lastCheck(vs.Checks)
	}
	if st := r.src.status; st != nil {
		out.ControllerReasonText = st.ReasonText()
		if st.Load != nil && st.Load.Fresh {
			f := st.Load.Factor
			out.LoadFactor = &f
		}
		if st.SlowStart != nil && st.ReasonCode == actuator.ReasonSlowStart {
			p := st.SlowStart.Progress
			out.SlowStartProgress = &p
		}
	}
	if m := r.src.maintenance; m != nil {
		out.MaintenanceReason, out.MaintenanceBy = m.Reason, m.By
		if !m.Since.IsZero() {
			t := m.Since.UTC()
			out.MaintenanceSince = &t
			if t.After(since) {
				since = t
			}
		}
	}
	if !since.IsZero() {
		since = since.UTC()
		out.Since = &since
	}
	if r.Stats != nil && prev != nil {
		p, ok := prev.servers[[2]string{service, r.Server}]
		out.Rates = rate(countersOf(r.Stats), p, ok, dt)
	}
	return out
}

// lastCheck picks the result a row shows: the first check whose latest
// result failed, else the most recent result; nil before any.
func lastCheck(checks []health.CheckStatus) *CheckView {
	var pick *health.CheckStatus
	for i := range checks {
		c := &checks[i]
		if c.LastTime.IsZero() {
			continue
		}
		if !c.Last.Pass() {
			pick = c
			break
		}
		if pick == nil || c.LastTime.After(pick.LastTime) {
			pick = c
		}
	}
	if pick == nil {
		return nil
	}
	return &CheckView{Name: pick.Name, Class: pick.Last.Class.String(), Reason: pick.Last.Reason,
		LatencySeconds: pick.Last.Latency.Seconds(), At: pick.LastTime.UTC()}
}
