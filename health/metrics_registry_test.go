package health

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registryCollector is the reference implementation of the scheduler's
// metrics: the prometheus.Collector the scheduler was until its families
// moved to the text writer (metrics.go). TestMetricsTextMatchesRegistry
// checks that both expose the same families, samples and bytes; its
// descriptors are the published contract, kept here as they were.
type registryCollector struct{ s *Scheduler }

var (
	metricsServerLabels = []string{"service", "server"}
	metricsCheckLabels  = []string{"service", "server", "check"}

	descServerState = metricsDesc("real_server_health", "state",
		"The real server's health state (unknown, up or down): one series per real server, 1, labelled with the current state; a change of state replaces the series.",
		append(metricsServerLabels, "state"))
	descServerLastTransition = metricsDesc("real_server_health", "last_transition_timestamp_seconds",
		"When the real server's health state last changed (Unix time, to the millisecond); absent before its first verdict.",
		metricsServerLabels)
	descCheckDown = metricsDesc("real_server_health", "check_down",
		"1 while the check's rise/fall verdict is down; absent otherwise (up, or unknown before its first verdict).",
		metricsCheckLabels)
	descChecksTotal = metricsDesc("real_server_health", "checks_total",
		"Runs of the check by result: open (passed), closed, filtered, timeout, error, local_error (could not run on this director; counts neither as a pass nor as a failure); a result other than open appears once it happened.",
		append(metricsCheckLabels, "result"))

	descRealServers = metricsDesc("health", "real_servers",
		"Real servers the health checker watches.", nil)
	descChecks = metricsDesc("health", "checks",
		"Checks the health checker runs, over all real servers.", nil)
	descInFlight = metricsDesc("health", "checks_in_flight",
		"Checks running now.", nil)
	descMaxInFlight = metricsDesc("health", "max_checks_in_flight",
		"How many checks may run at once; due checks wait for a free slot.", nil)
	descSkipped = metricsDesc("health", "checks_skipped_total",
		"Runs skipped because the check's previous run had not returned when it was due again.", nil)
	descAbandoned = metricsDesc("health", "checks_abandoned_total",
		"Runs recorded as timeouts because the checker ignored its deadline by more than a second.", nil)
	descLocalErrors = metricsDesc("health", "local_error_real_servers",
		"Real servers whose verdict is frozen because a check of theirs could not run on this director (result local_error: fd limit, no route, local firewall, no CAP_NET_RAW, missing source address); while above 0 the sidecar is not ready for acting.", nil)

	metricsDescs = []*prometheus.Desc{
		descServerState, descServerLastTransition,
		descCheckDown, descChecksTotal,
		descRealServers, descChecks, descInFlight, descMaxInFlight, descSkipped, descAbandoned,
		descLocalErrors,
	}
)

func metricsDesc(subsystem, name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, subsystem, name), help, labels, nil)
}

// Describe sends the descriptors of every metric Collect sends.
func (r registryCollector) Describe(ch chan<- *prometheus.Desc) {
	s := r.s
	for _, d := range metricsDescs {
		ch <- d
	}
	s.lag.Describe(ch)
	s.durations.Describe(ch)
}

// metricsCheck is what Collect reads of a check under its server's lock.
type metricsCheck struct {
	name   *string // the check's, which never changes
	state  State
	counts [numClasses]uint32
}

// Collect sends the current state of every real server and check (const
// metrics: removed targets leave no stale series) and the scheduler's
// gauges and histograms. A check's checks_total series for a result other
// than open appears once that result has happened.
func (r registryCollector) Collect(ch chan<- prometheus.Metric) {
	s := r.s
	s.mu.Lock()
	servers := append([]*server(nil), s.servers...)
	nchecks, limit := s.nchecks, cap(s.sem)
	s.mu.Unlock()

	ch <- prometheus.MustNewConstMetric(descRealServers, prometheus.GaugeValue, float64(len(servers)))
	ch <- prometheus.MustNewConstMetric(descChecks, prometheus.GaugeValue, float64(nchecks))
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(s.running.Load()))
	ch <- prometheus.MustNewConstMetric(descMaxInFlight, prometheus.GaugeValue, float64(limit))
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(s.skipped.Load()))
	ch <- prometheus.MustNewConstMetric(descAbandoned, prometheus.CounterValue, float64(s.abandons.Load()))
	ch <- prometheus.MustNewConstMetric(descLocalErrors, prometheus.GaugeValue, float64(s.frozen.Load()))

	e := &metricsEmitter{ch: ch}
	var checks []metricsCheck
	for _, srv := range servers {
		// Copy under the lock, send without it: a slow scrape must not hold
		// up the results of this server's checks.
		srv.mu.Lock()
		state, since := srv.state, srv.since
		checks = checks[:0]
		for _, c := range srv.checks {
			checks = append(checks, metricsCheck{name: &c.spec.Name, state: c.v.state, counts: c.counts})
		}
		srv.mu.Unlock()
		e.server(srv, state, since, checks)
	}
	s.lag.Collect(ch)
	s.durations.Collect(ch)
}

// server emits the samples of one real server and its checks.
func (e *metricsEmitter) server(srv *server, state State, since time.Time, checks []metricsCheck) {
	service, server := e.pair(&labelService, &srv.key.service), e.pair(&labelServer, &srv.key.server)
	base := e.list(server, service)
	e.emit(descServerState, false, 1, e.list(server, service, pairStates[state]))
	if state != StateUnknown {
		e.emit(descServerLastTransition, false, transitionSeconds(since), base)
	}
	for i := range checks {
		c := &checks[i]
		check := e.pair(&labelCheck, c.name)
		labels := e.list(check, server, service)
		if c.state == StateDown {
			e.emit(descCheckDown, false, 1, labels)
		}
		for j, class := range Classes {
			if n := c.counts[class]; n > 0 || class == ClassOpen {
				e.emit(descChecksTotal, true, float64(n), e.list(check, pairResults[j], server, service))
			}
		}
	}
}
