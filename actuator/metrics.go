package actuator

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// Actions the controller takes, the "action" label of
// ipvs_controller_actuations_total.
const (
	actionCreateService = "create_service" // a declared service missing from the table
	actionUpdateService = "update_service" // its scheduler or persistence differ
	actionCreate        = "create"         // a declared real server missing from the table
	actionRestore       = "restore"        // one the controller removed, back on recovery
	actionRemove        = "remove"         // on_failure remove
	actionUpdateWeight  = "update_weight"  // only the weight differs: drain, restore, slow start
	actionUpdate        = "update"         // the forwarding method or thresholds differ
)

var actions = []string{actionCreateService, actionUpdateService, actionCreate, actionRestore, actionRemove, actionUpdateWeight, actionUpdate}

// counters are the controller's cumulative counts, exported as const
// metrics.
type counters struct {
	actuations     map[[2]string]uint64 // by action and result (ok, error)
	driftDetected  uint64
	driftCorrected uint64
	passes         uint64
	passErrors     uint64
	// panics counts panic transitions by service and direction (to
	// "panic" or "normal").
	panics map[[2]string]uint64
	// fleetSuspects counts fleet-wide failures taken for director trouble.
	fleetSuspects uint64
	// targeted counts the verdict changes of declared real servers by
	// what their targeted write did (targetedResults).
	targeted map[string]uint64
}

func newCounters() counters {
	c := counters{actuations: make(map[[2]string]uint64), panics: make(map[[2]string]uint64), targeted: make(map[string]uint64)}
	for _, a := range actions {
		c.actuations[[2]string{a, "ok"}] = 0
		c.actuations[[2]string{a, "error"}] = 0
	}
	for _, r := range targetedResults {
		c.targeted[r] = 0
	}
	return c
}

// The families the controller writes with the text writer; README.md,
// "Metrics", documents them. The pass duration and verdict-to-write
// histograms are one series each whatever the table's size: they stay
// client_golang histograms, gathered from a registry of their own.
var (
	famDesiredWeight = promtext.NewFamily("ipvs_real_server_desired_weight",
		"Weight the controller wants for the real server, with why (reason: maintenance, local_error, no_verdict, fleet_failure_suspect, panic, fail_open, slow_start, load, up, drain or remove): one series per declared real server, replaced by a change of reason; 0 while drained, in maintenance or removed; for local_error and no_verdict, which leave the server as the table has it, the weight the table had at the last pass (0 when not in it); absent before the controller's first pass that read the table.", promtext.Gauge)
	famDeclaredWeight = promtext.NewFamily("ipvs_real_server_declared_weight",
		"Weight the configuration file declares for the real server (what it gets when up and not ramping), from the configuration in use, from the load of the file on: written while ipvs_real_server_desired_weight differs from it, is absent or holds the table's weight (drained, in maintenance, ramping, lowered by load, before a verdict, after a reload that changed it); where absent, the declared weight is the desired weight.", promtext.Gauge)
	famLoadFactor = promtext.NewFamily("ipvs_real_server_load_factor",
		"Share of the declared weight the real server's polled load asks for (1 up to the load block's start, falling to floor at full; 1 while the load is stale); only for real servers with a load block.", promtext.Gauge)
	famEffectiveWeight = promtext.NewFamily("ipvs_real_server_effective_weight",
		"Weight the real server's load gives it (declared x load factor, between the floor and the declared weight, in steps of at most max_step per poll; the declared weight while the load is stale): what it gets when up, unless slow start ramps lower; only for real servers with a load block.", promtext.Gauge)
	famDrift = promtext.NewFamily("ipvs_controller_drift",
		"1 while the table differs from what the controller last set for the real server (changed by hand); absent otherwise (absent means 0).", promtext.Gauge)
	famPending = promtext.NewFamily("ipvs_controller_pending",
		"1 when the table differs from what the controller wants for the real server and its last pass did not write it (dry_run, observed drift, a failed write); absent otherwise (absent means 0).", promtext.Gauge)
	famSlowStart = promtext.NewFamily("ipvs_controller_slow_start_progress_ratio",
		"Share of the slow-start ramp done (0 to 1); absent when the real server's weight is not ramping.", promtext.Gauge)
	famUndeclared = promtext.NewFamily("ipvs_controller_undeclared_real_servers",
		"Real servers of a declared service that the table has and the configuration does not list: the controller leaves them alone.", promtext.Gauge)
	famPanic = promtext.NewFamily("ipvs_controller_panic",
		"1 while the service is in panic: its healthy share of weighted capacity fell below panic_threshold (and is not yet back at panic_threshold + panic_hysteresis), so none is drained (fail open).", promtext.Gauge)
	famFailOpen = promtext.NewFamily("ipvs_controller_fail_open",
		"1 while no weighted real server of the service is up, so the down ones keep their declared weights instead of the service getting total weight 0.", promtext.Gauge)
	famCapacity = promtext.NewFamily("ipvs_controller_healthy_capacity_ratio",
		"Declared weight of the up real servers over the declared weight of all judged ones (with a verdict, not in maintenance), 0 to 1: what panic_threshold is compared with; absent while no weighted real server is judged.", promtext.Gauge)
	famFleetSuspect = promtext.NewFamily("ipvs_controller_fleet_failure_suspect",
		"1 while every judged real server of every service is down after going down within one check interval: taken for trouble on the director, so nothing is drained (fail open everywhere).", promtext.Gauge)
	famFleetSuspects = promtext.NewFamily("ipvs_controller_fleet_failure_suspects_total",
		"Fleet-wide failures taken for trouble on the director.", promtext.Counter)
	famDrainKeeps = promtext.NewFamily("ipvs_controller_drain_keeps_persistent_clients",
		"1 for a persistent service while net.ipv4.vs.expire_quiescent_template is 0: a drained real server (weight 0) keeps getting the clients that have a persistence template.", promtext.Gauge)
	famSysctl = promtext.NewFamily("ipvs_sysctl",
		"IPVS sysctls that decide what a drain or removal does (net.ipv4.vs.NAME), as the controller's last pass read them; absent when unreadable.", promtext.Gauge)
	famPanicTransitions = promtext.NewFamily("ipvs_controller_panic_transitions_total",
		"Changes of a service's panic state, by the state changed to (panic, normal).", promtext.Counter)
	famActuations = promtext.NewFamily("ipvs_controller_actuations_total",
		"Writes to the table, by action (create_service, update_service, create, restore, remove, update_weight, update) and result (ok, error).", promtext.Counter)
	famTargeted = promtext.NewFamily("ipvs_controller_targeted_total",
		"Verdict changes of declared real servers, by what their targeted write did: written (at once, without reading the table), unchanged (nothing to write), full_pass (left to a full pass: a change of panic or fail open, no pass yet, a reload since, a failed write).", promtext.Counter)
	famDriftDetected = promtext.NewFamily("ipvs_controller_drift_detected_total",
		"Times a managed service or real server was found changed by hand (differing from what the controller last set).", promtext.Counter)
	famDriftCorrected = promtext.NewFamily("ipvs_controller_drift_corrected_total",
		"Writes that restored a service or real server changed by hand (managed mode).", promtext.Counter)
	famPasses = promtext.NewFamily("ipvs_controller_reconciles_total",
		"Reconcile passes.", promtext.Counter)
	famPassErrors = promtext.NewFamily("ipvs_controller_reconcile_errors_total",
		"Reconcile passes that failed to read the table or to make a write.", promtext.Counter)
	famLastSuccess = promtext.NewFamily("ipvs_controller_last_success_timestamp_seconds",
		"When the last reconcile pass without an error ended; absent before.", promtext.Gauge)
	famMode = promtext.NewFamily("ipvs_controller_mode",
		"1 for the controller's mode: managed, observe or dry_run.", promtext.Gauge)
)

// The histograms' families: the pass duration, and the time from a
// verdict change to its targeted write.
const (
	famDurationName = "ipvs_controller_reconcile_duration_seconds"
	famLatencyName  = "ipvs_controller_verdict_to_write_seconds"
)

// Families implements promtext.Source: the name of every family the
// controller's metrics have.
func (c *Controller) Families() []string {
	out := []string{famDurationName, famLatencyName}
	for _, f := range []*promtext.Family{famDeclaredWeight, famDesiredWeight, famLoadFactor, famEffectiveWeight,
		famDrift, famPending, famSlowStart, famUndeclared, famPanic, famFailOpen, famCapacity, famDrainKeeps, famSysctl, famFleetSuspect, famFleetSuspects, famPanicTransitions, famActuations,
		famTargeted, famDriftDetected, famDriftCorrected, famPasses, famPassErrors, famLastSuccess, famMode} {
		out = append(out, f.Name())
	}
	return out
}

// Label text that is the same for every scrape, rendered once.
var (
	toNormal                = "," + promtext.Label("to", "normal") + "}"
	toPanic                 = "," + promtext.Label("to", "panic") + "}"
	sysctlNodestConn        = "{" + promtext.Label("name", ipvs.SysctlExpireNodestConn) + "}"
	sysctlQuiescentTemplate = "{" + promtext.Label("name", ipvs.SysctlExpireQuiescentTemplate) + "}"
)

// destList is a list of declared services and their real servers: the
// last pass's status, or the configuration.
type destList interface {
	services() int
	service(i int) string
	servers(i int) int
	server(i, j int) string
}

type statusList []ServiceStatus

func (l statusList) services() int          { return len(l) }
func (l statusList) service(i int) string   { return l[i].Service }
func (l statusList) servers(i int) int      { return len(l[i].RealServers) }
func (l statusList) server(i, j int) string { return l[i].RealServers[j].Server }

type configList struct{ cfg *config.Config }

func (l configList) services() int          { return len(l.cfg.Services) }
func (l configList) service(i int) string   { return l.cfg.Services[i].Key.String() }
func (l configList) servers(i int) int      { return len(l.cfg.Services[i].RealServers) }
func (l configList) server(i, j int) string { return l.cfg.Services[i].RealServers[j].Address.String() }

// metricsLayout is what the exposition of one configuration's services
// and real servers needs that does not change until the configuration
// does: the real servers in the order a registry sorts their samples
// (by server, then service), the services by service, and their label
// values. One layout serves both the declared weights (from the
// configuration in use) and the last pass's results (from the
// configuration that pass used: the same one, but between a reload and
// the next pass).
type metricsLayout struct {
	list destList // what it lays out
	// servers are the real servers sorted by server then service.
	servers []layoutServer
	// services are the services sorted by service.
	services []layoutService
	// escape: some server's or service's name needs escaping in a label
	// value (none of the addresses and keys the configuration makes
	// does); values then escapes them at every sample.
	escape bool
}

// layoutServer is a real server of the layout, with the strings its label
// set is written from (Writer.Sample's pieces, not a rendered set: 80
// bytes a real server at 10,000), the health checks' own when they know
// it.
type layoutServer struct {
	svc, rs         int32 // the position in the list
	server, service string
}

type layoutService struct {
	svc    int32  // the position in the list
	labels string // `service="…"`
}

// values returns the server and service of a as label values: escaped,
// if the layout has any name that needs it.
func (l *metricsLayout) values(a *layoutServer) (server, service string) {
	if l.escape {
		return promtext.Escaped(a.server), promtext.Escaped(a.service)
	}
	return a.server, a.service
}

// sample writes a sample of real server a with value v: head (`{`, or
// `{` and the pairs that sort before server's, with their comma), then
// its server and service pairs.
func (l *metricsLayout) sample(w *promtext.Writer, v float64, a *layoutServer, head string) {
	server, service := l.values(a)
	w.ServerSample(v, head, server, service, "}")
}

// newMetricsLayout returns the layout of list, reusing the strings of
// shared (the health checks' real servers) and of like's real servers
// (the same real servers, as a rule).
func newMetricsLayout(list destList, like *metricsLayout, shared []health.LabeledServer) *metricsLayout {
	known := make(map[destKey]destKey, len(shared))
	if like != nil {
		for _, a := range like.servers {
			k := destKey{a.service, a.server}
			known[k] = k
		}
	}
	for _, ls := range shared { // the health checks' strings win
		k := destKey{ls.Service, ls.Server}
		known[k] = k
	}
	l := &metricsLayout{list: list}
	var svcKeys []string
	for i := range list.services() {
		svc := list.service(i)
		svcKeys = append(svcKeys, svc)
		l.services = append(l.services, layoutService{svc: int32(i), labels: promtext.Label("service", svc)})
		for j := range list.servers(i) {
			k := destKey{svc, list.server(i, j)}
			if shared, ok := known[k]; ok {
				k = shared
			}
			l.escape = l.escape || promtext.NeedsEscape(k.server) || promtext.NeedsEscape(k.service)
			l.servers = append(l.servers, layoutServer{svc: int32(i), rs: int32(j), server: k.server, service: k.service})
		}
	}
	slices.SortStableFunc(l.servers, func(a, b layoutServer) int {
		return cmp.Or(strings.Compare(a.server, b.server), strings.Compare(a.service, b.service))
	})
	slices.SortStableFunc(l.services, func(a, b layoutService) int { return strings.Compare(svcKeys[a.svc], svcKeys[b.svc]) })
	return l
}

// fits reports whether services have the shape of the layout: as many
// services, each with as many real servers. A pass's services always fit
// the layout of its configuration; this only guards the index.
func (l *metricsLayout) fits(services []ServiceStatus) bool {
	if len(services) != l.list.services() {
		return false
	}
	for i := range services {
		if len(services[i].RealServers) != l.list.servers(i) {
			return false
		}
	}
	return true
}

// metricsState is what the controller keeps for its metrics; embedded in
// Controller.
type metricsState struct {
	histograms *prometheus.Registry // of the pass duration and the verdict-to-write latency

	// Under the controller's mu: statusCfg is the configuration the
	// published services come from; layout is that of the configuration
	// in use, statusLayout that of statusCfg while it differs.
	statusCfg    *config.Config
	layout       *metricsLayout
	statusLayout *metricsLayout
	// labels has the health checks' label sets; nil: none.
	labels LabeledServers

	scratchMu  sync.Mutex
	scratchBuf metricsScratch
}

// metricsScratch is what a scrape copies under the controller's lock,
// kept between scrapes so that a scrape allocates nothing per series.
type metricsScratch struct {
	panics   [][2]uint64 // by status service: to normal, to panic
	targeted []targetedCount
}

// targetedCount is one ipvs_controller_targeted_total sample.
type targetedCount struct {
	result string
	value  uint64
}

// layoutsLocked returns the layouts of the declared weights and of the
// published services; c.mu is held.
func (c *Controller) layoutsLocked(services []ServiceStatus) (declared, status *metricsLayout) {
	var shared []health.LabeledServer
	sharedLabels := func() []health.LabeledServer {
		if shared == nil && c.labels != nil {
			shared = c.labels.LabeledServers()
		}
		return shared
	}
	layoutOf := func(cfg *config.Config, cached *metricsLayout) *metricsLayout {
		if cached != nil && cached.list == (configList{cfg}) {
			return cached
		}
		return newMetricsLayout(configList{cfg}, c.layout, sharedLabels())
	}
	c.layout = layoutOf(c.cfg, c.layout)
	status = c.layout
	switch {
	case len(services) == 0:
		status = &metricsLayout{list: statusList(nil)}
	case c.statusCfg != c.cfg:
		// A reload the next pass has not acted on yet (or could not).
		c.statusLayout = layoutOf(c.statusCfg, c.statusLayout)
		status = c.statusLayout
	default:
		c.statusLayout = nil
	}
	if !status.fits(services) {
		status = newMetricsLayout(statusList(services), c.layout, sharedLabels())
	}
	return c.layout, status
}

// actuation is one ipvs_controller_actuations_total sample.
type actuation struct {
	action, result string
	value          uint64
}

// Snapshot implements promtext.Source: it takes what the last pass
// published and the counters (under the controller's lock, for as long
// as a copy of the counters takes), and returns the writer of the
// controller's families. The published services are never changed once
// published (a pass publishes new ones), so the writer reads them
// without the lock.
func (c *Controller) Snapshot() func(*promtext.Writer) {
	sc, release := c.scratch()
	c.mu.Lock()
	st := c.status
	services := st.Services
	dl, sl := c.layoutsLocked(services)
	cfg := c.cfg
	counter := c.counter
	sc.panics = slices.Grow(sc.panics[:0], len(services))[:len(services)]
	for i := range services {
		sc.panics[i] = [2]uint64{counter.panics[[2]string{services[i].Service, "normal"}], counter.panics[[2]string{services[i].Service, "panic"}]}
	}
	acts := make([]actuation, 0, len(counter.actuations))
	for k, v := range counter.actuations {
		acts = append(acts, actuation{action: k[0], result: k[1], value: v})
	}
	sc.targeted = sc.targeted[:0]
	for r, v := range counter.targeted {
		sc.targeted = append(sc.targeted, targetedCount{result: r, value: v})
	}
	var nodestConn, quiescentTemplate *int
	if v := st.Sysctls.ExpireNodestConn; v != nil {
		nodestConn = new(*v)
	}
	if v := st.Sysctls.ExpireQuiescentTemplate; v != nil {
		quiescentTemplate = new(*v)
	}
	c.mu.Unlock()
	slices.SortFunc(acts, func(a, b actuation) int {
		return cmp.Or(strings.Compare(a.action, b.action), strings.Compare(a.result, b.result))
	})
	slices.SortFunc(sc.targeted, func(a, b targetedCount) int { return strings.Compare(a.result, b.result) })
	hist, err := c.histograms.Gather()
	if err != nil {
		// Histograms of fixed buckets cannot be invalid.
		c.log.Error("gather the controller's histograms", "err", err)
	}
	// The histograms by name, each written where its name sorts.
	writeHist := func(w *promtext.Writer, name string) {
		for _, mf := range hist {
			if mf.GetName() == name {
				w.MetricFamily(mf)
			}
		}
	}

	return func(w *promtext.Writer) {
		defer release()
		rsOf := func(a layoutServer) *RealServerStatus { return &services[a.svc].RealServers[a.rs] }
		// Family by family in the order of their names, as a registry
		// writes them.
		w.Begin(famActuations)
		for _, a := range acts {
			w.Sample(float64(a.value), "{", promtext.Label("action", a.action), ",", promtext.Label("result", a.result), "}")
		}
		w.Begin(famDrainKeeps)
		for _, s := range sl.services {
			w.Sample(b2f(services[s.svc].DrainKeepsPersistent), "{", s.labels, "}")
		}
		// drift and pending are 0 for almost every real server, almost
		// always: written only while 1, they cost nothing at a scrape of
		// a converged table.
		w.Begin(famDrift)
		for _, a := range sl.servers {
			if rsOf(a).Drift {
				sl.sample(w, 1, &a, "{")
			}
		}
		w.Begin(famDriftCorrected)
		w.Sample(float64(counter.driftCorrected))
		w.Begin(famDriftDetected)
		w.Sample(float64(counter.driftDetected))
		w.Begin(famFailOpen)
		for _, s := range sl.services {
			w.Sample(b2f(services[s.svc].FailOpen), "{", s.labels, "}")
		}
		w.Begin(famFleetSuspect)
		w.Sample(b2f(st.FleetSuspect))
		w.Begin(famFleetSuspects)
		w.Sample(float64(counter.fleetSuspects))
		w.Begin(famCapacity)
		for _, s := range sl.services {
			if svc := &services[s.svc]; svc.CapacityJudged > 0 {
				w.Sample(float64(svc.CapacityUp)/float64(svc.CapacityJudged), "{", s.labels, "}")
			}
		}
		w.Begin(famLastSuccess)
		if !st.LastSuccess.IsZero() {
			w.Sample(float64(st.LastSuccess.UnixNano()) / 1e9)
		}
		w.Begin(famMode)
		w.Sample(1, "{", promtext.Label("mode", st.Mode.String()), "}")
		w.Begin(famPanic)
		for _, s := range sl.services {
			w.Sample(b2f(services[s.svc].Panic), "{", s.labels, "}")
		}
		w.Begin(famPanicTransitions)
		for _, s := range sl.services {
			w.Sample(float64(sc.panics[s.svc][0]), "{", s.labels, toNormal)
			w.Sample(float64(sc.panics[s.svc][1]), "{", s.labels, toPanic)
		}
		w.Begin(famPending)
		for _, a := range sl.servers {
			if rsOf(a).Pending {
				sl.sample(w, 1, &a, "{")
			}
		}
		writeHist(w, famDurationName)
		w.Begin(famPassErrors)
		w.Sample(float64(counter.passErrors))
		w.Begin(famPasses)
		w.Sample(float64(counter.passes))
		w.Begin(famSlowStart)
		for _, a := range sl.servers {
			if rs := rsOf(a); rs.SlowStart != nil {
				sl.sample(w, rs.SlowStart.Progress, &a, "{")
			}
		}
		w.Begin(famTargeted)
		for _, t := range sc.targeted {
			w.Sample(float64(t.value), "{", promtext.Label("result", t.result), "}")
		}
		w.Begin(famUndeclared)
		for _, s := range sl.services {
			w.Sample(float64(len(services[s.svc].Undeclared)), "{", s.labels, "}")
		}
		writeHist(w, famLatencyName)
		// The declared weight only where the desired weight is not
		// it: an up server at its declared weight (almost every one)
		// would repeat ipvs_real_server_desired_weight.
		w.Begin(famDeclaredWeight)
		desired := desiredOf(dl, sl, services)
		for _, a := range dl.servers {
			declared := cfg.Services[a.svc].RealServers[a.rs].Weight
			if rs := desired(a); rs != nil && rs.Decided && rs.DesiredWeight == declared {
				continue
			}
			dl.sample(w, float64(declared), &a, "{")
		}
		writeDesired(w, sl, services)
		w.Begin(famEffectiveWeight)
		for _, a := range sl.servers {
			if rs := rsOf(a); rs.Load != nil {
				sl.sample(w, float64(rs.Load.Weight), &a, "{")
			}
		}
		w.Begin(famLoadFactor)
		for _, a := range sl.servers {
			if rs := rsOf(a); rs.Load != nil {
				sl.sample(w, rs.Load.Factor, &a, "{")
			}
		}
		// By name: expire_nodest_conn, expire_quiescent_template.
		w.Begin(famSysctl)
		if nodestConn != nil {
			w.Sample(float64(*nodestConn), sysctlNodestConn)
		}
		if quiescentTemplate != nil {
			w.Sample(float64(*quiescentTemplate), sysctlQuiescentTemplate)
		}
	}
}

// desiredOf returns what gives, for a real server of the declared
// layout dl, the last pass's status of the same real server (nil when
// the pass did not have it): by position when the pass used the same
// layout (the configuration in use, as a rule), else by key.
func desiredOf(dl, sl *metricsLayout, services []ServiceStatus) func(layoutServer) *RealServerStatus {
	if dl == sl {
		return func(a layoutServer) *RealServerStatus { return &services[a.svc].RealServers[a.rs] }
	}
	byKey := make(map[destKey]*RealServerStatus)
	for i := range services {
		for j := range services[i].RealServers {
			rs := &services[i].RealServers[j]
			byKey[destKey{services[i].Service, rs.Server}] = rs
		}
	}
	return func(a layoutServer) *RealServerStatus {
		return byKey[destKey{dl.list.service(int(a.svc)), dl.list.server(int(a.svc), int(a.rs))}]
	}
}

// writeDesired writes ipvs_real_server_desired_weight, whose samples a
// registry sorts by reason first: the real servers are written once per
// reason that some of them have. The reason is a label of the weight
// rather than a 0/1 series of its own: one series per real server
// instead of two, 0.9 of the 6.4 MB the checks and the controller added
// to a scrape at 10,000 (BENCHMARKS.md, "Series per real server and the
// gzip scrape").
func writeDesired(w *promtext.Writer, l *metricsLayout, services []ServiceStatus) {
	var buf [16]Reason
	reasons := buf[:0]
	for i := range services {
		for j := range services[i].RealServers {
			if r := services[i].RealServers[j].ReasonCode; !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
	}
	slices.Sort(reasons)
	w.Begin(famDesiredWeight)
	for _, r := range reasons {
		pair := "{" + promtext.Label("reason", string(r)) + ","
		for _, a := range l.servers {
			if rs := &services[a.svc].RealServers[a.rs]; rs.ReasonCode == r {
				l.sample(w, float64(rs.WantedWeight()), &a, pair)
			}
		}
	}
}

// scratch returns the controller's scratch, or a new one while another
// scrape uses it; release gives it back.
func (c *Controller) scratch() (*metricsScratch, func()) {
	if c.scratchMu.TryLock() {
		return &c.scratchBuf, c.scratchMu.Unlock
	}
	return &metricsScratch{}, func() {}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
