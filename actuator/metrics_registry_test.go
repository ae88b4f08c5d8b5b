package actuator

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// registryCollector is the reference implementation of the controller's
// metrics: the prometheus.Collector the controller was until its families
// moved to the text writer (metrics.go). TestMetricsTextMatchesRegistry
// checks that both expose the same families, samples and bytes; its
// descriptors are the published contract, kept here as they were.
type registryCollector struct{ c *Controller }

var (
	rsLabels  = []string{"service", "server"}
	svcLabels = []string{"service"}

	descDesiredWeight = prometheus.NewDesc("ipvs_real_server_desired_weight",
		"Weight the controller wants for the real server, with why (reason: maintenance, local_error, no_verdict, fleet_failure_suspect, panic, fail_open, slow_start, load, up, drain or remove): one series per declared real server, replaced by a change of reason; 0 while drained, in maintenance or removed; for local_error and no_verdict, which leave the server as the table has it, the weight the table had at the last pass (0 when not in it); absent before the controller's first pass that read the table.", []string{"service", "server", "reason"}, nil)
	descDeclaredWeight = prometheus.NewDesc("ipvs_real_server_declared_weight",
		"Weight the configuration file declares for the real server (what it gets when up and not ramping), from the configuration in use, from the load of the file on: written while ipvs_real_server_desired_weight differs from it, is absent or holds the table's weight (drained, in maintenance, ramping, lowered by load, before a verdict, after a reload that changed it); where absent, the declared weight is the desired weight.", rsLabels, nil)
	descLoadFactor = prometheus.NewDesc("ipvs_real_server_load_factor",
		"Share of the declared weight the real server's polled load asks for (1 up to the load block's start, falling to floor at full; 1 while the load is stale); only for real servers with a load block.", rsLabels, nil)
	descEffectiveWeight = prometheus.NewDesc("ipvs_real_server_effective_weight",
		"Weight the real server's load gives it (declared x load factor, between the floor and the declared weight, in steps of at most max_step per poll; the declared weight while the load is stale): what it gets when up, unless slow start ramps lower; only for real servers with a load block.", rsLabels, nil)
	descDrift = prometheus.NewDesc("ipvs_controller_drift",
		"1 while the table differs from what the controller last set for the real server (changed by hand); absent otherwise (absent means 0).", rsLabels, nil)
	descPending = prometheus.NewDesc("ipvs_controller_pending",
		"1 when the table differs from what the controller wants for the real server and its last pass did not write it (dry_run, observed drift, a failed write); absent otherwise (absent means 0).", rsLabels, nil)
	descSlowStart = prometheus.NewDesc("ipvs_controller_slow_start_progress_ratio",
		"Share of the slow-start ramp done (0 to 1); absent when the real server's weight is not ramping.", rsLabels, nil)
	descUndeclared = prometheus.NewDesc("ipvs_controller_undeclared_real_servers",
		"Real servers of a declared service that the table has and the configuration does not list: the controller leaves them alone.", svcLabels, nil)
	descPanic = prometheus.NewDesc("ipvs_controller_panic",
		"1 while the service is in panic: its healthy share of weighted capacity fell below panic_threshold (and is not yet back at panic_threshold + panic_hysteresis), so none is drained (fail open).", svcLabels, nil)
	descFailOpen = prometheus.NewDesc("ipvs_controller_fail_open",
		"1 while no weighted real server of the service is up, so the down ones keep their declared weights instead of the service getting total weight 0.", svcLabels, nil)
	descCapacity = prometheus.NewDesc("ipvs_controller_healthy_capacity_ratio",
		"Declared weight of the up real servers over the declared weight of all judged ones (with a verdict, not in maintenance), 0 to 1: what panic_threshold is compared with; absent while no weighted real server is judged.", svcLabels, nil)
	descFleetSuspect = prometheus.NewDesc("ipvs_controller_fleet_failure_suspect",
		"1 while every judged real server of every service is down after going down within one check interval: taken for trouble on the director, so nothing is drained (fail open everywhere).", nil, nil)
	descFleetSuspects = prometheus.NewDesc("ipvs_controller_fleet_failure_suspects_total",
		"Fleet-wide failures taken for trouble on the director.", nil, nil)
	descDrainKeeps = prometheus.NewDesc("ipvs_controller_drain_keeps_persistent_clients",
		"1 for a persistent service while net.ipv4.vs.expire_quiescent_template is 0: a drained real server (weight 0) keeps getting the clients that have a persistence template.", svcLabels, nil)
	descSysctl = prometheus.NewDesc("ipvs_sysctl",
		"IPVS sysctls that decide what a drain or removal does (net.ipv4.vs.NAME), as the controller's last pass read them; absent when unreadable.", []string{"name"}, nil)
	descPanicTransitions = prometheus.NewDesc("ipvs_controller_panic_transitions_total",
		"Changes of a service's panic state, by the state changed to (panic, normal).", []string{"service", "to"}, nil)
	descActuations = prometheus.NewDesc("ipvs_controller_actuations_total",
		"Writes to the table, by action (create_service, update_service, create, restore, remove, update_weight, update) and result (ok, error).", []string{"action", "result"}, nil)
	descTargeted = prometheus.NewDesc("ipvs_controller_targeted_total",
		"Verdict changes of declared real servers, by what their targeted write did: written (at once, without reading the table), unchanged (nothing to write), full_pass (left to a full pass: a change of panic or fail open, no pass yet, a reload since, a failed write).", []string{"result"}, nil)
	descDriftDetected = prometheus.NewDesc("ipvs_controller_drift_detected_total",
		"Times a managed service or real server was found changed by hand (differing from what the controller last set).", nil, nil)
	descDriftCorrected = prometheus.NewDesc("ipvs_controller_drift_corrected_total",
		"Writes that restored a service or real server changed by hand (managed mode).", nil, nil)
	descPasses = prometheus.NewDesc("ipvs_controller_reconciles_total",
		"Reconcile passes.", nil, nil)
	descPassErrors = prometheus.NewDesc("ipvs_controller_reconcile_errors_total",
		"Reconcile passes that failed to read the table or to make a write.", nil, nil)
	descLastSuccess = prometheus.NewDesc("ipvs_controller_last_success_timestamp_seconds",
		"When the last reconcile pass without an error ended; absent before.", nil, nil)
	descMode = prometheus.NewDesc("ipvs_controller_mode",
		"1 for the controller's mode: managed, observe or dry_run.", []string{"mode"}, nil)
)

// Describe sends the descriptors of every metric Collect sends.
func (r registryCollector) Describe(ch chan<- *prometheus.Desc) {
	c := r.c
	for _, d := range []*prometheus.Desc{descDeclaredWeight, descDesiredWeight, descLoadFactor, descEffectiveWeight,
		descDrift, descPending, descSlowStart, descUndeclared, descPanic, descFailOpen, descCapacity, descDrainKeeps, descSysctl, descFleetSuspect, descFleetSuspects, descPanicTransitions, descActuations,
		descTargeted, descDriftDetected, descDriftCorrected, descPasses, descPassErrors, descLastSuccess, descMode} {
		ch <- d
	}
	c.duration.Describe(ch)
	c.latency.Describe(ch)
}

// Collect sends the metrics of the last pass and the cumulative counts.
func (r registryCollector) Collect(ch chan<- prometheus.Metric) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	// The declared weights come from the configuration in use, not from
	// the last pass: they are there from the load of the file (and change
	// with a reload at once), whether or not a pass could read the table;
	// only where the last pass's desired weight is not the declared one.
	desired := map[[2]string]*RealServerStatus{}
	for i := range c.status.Services {
		for j := range c.status.Services[i].RealServers {
			rs := &c.status.Services[i].RealServers[j]
			desired[[2]string{c.status.Services[i].Service, rs.Server}] = rs
		}
	}
	for i := range c.cfg.Services {
		svc := &c.cfg.Services[i]
		name := svc.Key.String()
		for j := range svc.RealServers {
			rs := &svc.RealServers[j]
			if d := desired[[2]string{name, rs.Address.String()}]; d != nil && d.Decided && d.DesiredWeight == rs.Weight {
				continue
			}
			gauge(descDeclaredWeight, float64(rs.Weight), name, rs.Address.String())
		}
	}
	for _, svc := range c.status.Services {
		gauge(descPanic, b2f(svc.Panic), svc.Service)
		gauge(descFailOpen, b2f(svc.FailOpen), svc.Service)
		gauge(descDrainKeeps, b2f(svc.DrainKeepsPersistent), svc.Service)
		if svc.CapacityJudged > 0 {
			gauge(descCapacity, float64(svc.CapacityUp)/float64(svc.CapacityJudged), svc.Service)
		}
		gauge(descUndeclared, float64(len(svc.Undeclared)), svc.Service)
		for _, to := range []string{"panic", "normal"} {
			counter(descPanicTransitions, c.counter.panics[[2]string{svc.Service, to}], svc.Service, to)
		}
		for _, rs := range svc.RealServers {
			l := []string{svc.Service, rs.Server}
			// The weight it wants, or the one it holds.
			w := rs.KernelWeight
			switch {
			case rs.Decided:
				w = rs.DesiredWeight
			case !rs.InTable:
				w = 0
			}
			gauge(descDesiredWeight, float64(w), svc.Service, rs.Server, string(rs.ReasonCode))
			if rs.Drift {
				gauge(descDrift, 1, l...)
			}
			if rs.Pending {
				gauge(descPending, 1, l...)
			}
			if rs.SlowStart != nil {
				gauge(descSlowStart, rs.SlowStart.Progress, l...)
			}
			if rs.Load != nil {
				gauge(descLoadFactor, rs.Load.Factor, l...)
				gauge(descEffectiveWeight, float64(rs.Load.Weight), l...)
			}
		}
	}
	for k, v := range c.counter.actuations {
		counter(descActuations, v, k[0], k[1])
	}
	for r, v := range c.counter.targeted {
		counter(descTargeted, v, r)
	}
	if v := c.status.Sysctls.ExpireQuiescentTemplate; v != nil {
		gauge(descSysctl, float64(*v), ipvs.SysctlExpireQuiescentTemplate)
	}
	if v := c.status.Sysctls.ExpireNodestConn; v != nil {
		gauge(descSysctl, float64(*v), ipvs.SysctlExpireNodestConn)
	}
	gauge(descFleetSuspect, b2f(c.status.FleetSuspect))
	counter(descFleetSuspects, c.counter.fleetSuspects)
	counter(descDriftDetected, c.counter.driftDetected)
	counter(descDriftCorrected, c.counter.driftCorrected)
	counter(descPasses, c.counter.passes)
	counter(descPassErrors, c.counter.passErrors)
	if !c.status.LastSuccess.IsZero() {
		gauge(descLastSuccess, float64(c.status.LastSuccess.UnixNano())/1e9)
	}
	gauge(descMode, 1, c.status.Mode.String())
	c.duration.Collect(ch)
	c.latency.Collect(ch)
}
