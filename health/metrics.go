package health

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// metricsNamespace is the product's metric namespace (see the collector
// package): per real server metrics are ipvs_real_server_health_*, beside
// ipvs_real_server_weight and the others, and the scheduler's own are
// ipvs_health_*.
const metricsNamespace = "ipvs"

// metricsDurationBuckets suit check durations and scheduler lag: 100 µs
// (a loopback TCP handshake) to 10 s (a long HTTP timeout).
var metricsDurationBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// The families the scheduler writes with the text writer; README.md,
// "Metrics", documents them. The histograms (check durations by type and
// result, scheduler lag) are few series whatever the number of targets:
// they stay client_golang histograms, gathered from a registry of their
// own.
var (
	famServerState = promtext.NewFamily("ipvs_real_server_health_state",
		"The real server's health state (unknown, up or down): one series per real server, 1, labelled with the current state; a change of state replaces the series.", promtext.Gauge)
	famServerLastTransition = promtext.NewFamily("ipvs_real_server_health_last_transition_timestamp_seconds",
		"When the real server's health state last changed (Unix time, to the millisecond); absent before its first verdict.", promtext.Gauge)
	famCheckDown = promtext.NewFamily("ipvs_real_server_health_check_down",
		"1 while the check's rise/fall verdict is down; absent otherwise (up, or unknown before its first verdict).", promtext.Gauge)
	famChecksTotal = promtext.NewFamily("ipvs_real_server_health_checks_total",
		"Runs of the check by result: open (passed), closed, filtered, timeout, error, local_error (could not run on this director; counts neither as a pass nor as a failure); a result other than open appears once it happened.", promtext.Counter)

	famRealServers = promtext.NewFamily("ipvs_health_real_servers",
		"Real servers the health checker watches.", promtext.Gauge)
	famChecks = promtext.NewFamily("ipvs_health_checks",
		"Checks the health checker runs, over all real servers.", promtext.Gauge)
	famInFlight = promtext.NewFamily("ipvs_health_checks_in_flight",
		"Checks running now.", promtext.Gauge)
	famMaxInFlight = promtext.NewFamily("ipvs_health_max_checks_in_flight",
		"How many checks may run at once; due checks wait for a free slot.", promtext.Gauge)
	famSkipped = promtext.NewFamily("ipvs_health_checks_skipped_total",
		"Runs skipped because the check's previous run had not returned when it was due again.", promtext.Counter)
	famAbandoned = promtext.NewFamily("ipvs_health_checks_abandoned_total",
		"Runs recorded as timeouts because the checker ignored its deadline by more than a second.", promtext.Counter)
	famLocalErrors = promtext.NewFamily("ipvs_health_local_error_real_servers",
		"Real servers whose verdict is frozen because a check of theirs could not run on this director (result local_error: fd limit, no route, local firewall, no CAP_NET_RAW, missing source address); while above 0 the sidecar is not ready for acting.", promtext.Gauge)
)

// Names of the histogram families, for Families.
const (
	famLagName       = "ipvs_health_scheduler_lag_seconds"
	famDurationsName = "ipvs_health_check_duration_seconds"
)

// Families implements promtext.Source: the name of every family the
// scheduler's metrics have.
func (s *Scheduler) Families() []string {
	out := []string{famLagName, famDurationsName}
	for _, f := range []*promtext.Family{famServerState, famServerLastTransition,
		famCheckDown, famChecksTotal,
		famRealServers, famChecks, famInFlight, famMaxInFlight, famSkipped, famAbandoned, famLocalErrors} {
		out = append(out, f.Name())
	}
	return out
}

// Label text that is the same for every real server, rendered once.
var (
	// stateLabels end a server's label set with each state's pair, by
	// State.
	stateLabels = func() (out [numStates]string) {
		for _, st := range States {
			out[st] = "," + promtext.Label("state", st.String()) + "}"
		}
		return out
	}()
	// resultLabels sit between a check's pair and its server's, by Class
	// (in checkHeads).
	resultLabels = func() (out [numClasses]string) {
		for _, c := range Classes {
			out[c] = "," + promtext.Label("result", c.String()) + ","
		}
		return out
	}()
	// classesByName is the order in which a registry sorts the samples
	// of one check by their result label.
	classesByName = sortedByName(Classes)
)

func sortedByName[T interface{ String() string }](in []T) []T {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(a.String(), b.String()) })
	return out
}

// metricsLayout is what the exposition of one set of targets needs that
// does not change until the next Update: the servers and checks in the
// order a registry sorts their samples, with their label sets rendered.
// It is built at the first scrape after an Update (Scheduler.layoutLocked).
type metricsLayout struct {
	gen     uint64    // the Update it describes
	servers []*server // sorted by server, then service
	// escape: some server's or service's name needs escaping in a label
	// value (none of the addresses and keys the configuration makes
	// does); serverValues then escapes them at every sample. A label set
	// is written from the values it is made of, not kept rendered: 80
	// bytes a real server of live heap at 10,000.
	escape bool
	// checks are every check, sorted by check name, then server and
	// service; checkIndex[checkStart[i]:checkStart[i+1]] are those of
	// servers[i], as indexes into checks, in their order there (one
	// array for all: a slice per server would cost 24 bytes each).
	checks     []layoutCheck
	checkStart []int32
	checkIndex []int32
	// heads are the openings of the label sets of each check name, by
	// layoutCheck.label: checks share names.
	heads []checkHeads
}

// checksOf returns the indexes in l.checks of the checks of l.servers[i].
func (l *metricsLayout) checksOf(i int) []int32 {
	return l.checkIndex[l.checkStart[i]:l.checkStart[i+1]]
}

type layoutCheck struct {
	c      *check
	label  int32 // index in heads
	server int32 // index in servers
}

// serverValues returns the server and service of l.servers[i] as label
// values: escaped, if the layout has any name that needs it.
func (l *metricsLayout) serverValues(i int) (server, service string) {
	server, service = l.servers[i].key.server, l.servers[i].key.service
	if l.escape {
		server, service = promtext.Escaped(server), promtext.Escaped(service)
	}
	return server, service
}

// checkHeads are the openings of a check name's label sets, up to the
// server pair: `{check="…",` for check_down, and with each result's
// pair, by Class, for checks_total.
type checkHeads struct {
	down    string
	results [numClasses]string
}

// newCheckHeads renders the openings of check name's label sets.
func newCheckHeads(name string) checkHeads {
	h := checkHeads{down: "{" + promtext.Label("check", name) + ","}
	for _, c := range Classes {
		h.results[c] = "{" + promtext.Label("check", name) + resultLabels[c]
	}
	return h
}

// compareServers orders servers by server, then service: the order of
// a family labelled by both.
func compareServers(a, b serverKey) int {
	return cmp.Or(cmp.Compare(a.server, b.server), cmp.Compare(a.service, b.service))
}

// layoutLocked returns the layout of the current targets, building it if
// an Update changed them since the last one; s.mu is held.
func (s *Scheduler) layoutLocked() *metricsLayout {
	if l := s.layout; l != nil && l.gen == s.gen {
		return l
	}
	l := &metricsLayout{gen: s.gen, servers: slices.Clone(s.servers)}
	slices.SortFunc(l.servers, func(a, b *server) int { return compareServers(a.key, b.key) })
	l.checkStart = make([]int32, len(l.servers)+1)
	labels := make(map[string]int32) // index in l.heads by check name
	for i, srv := range l.servers {
		l.escape = l.escape || promtext.NeedsEscape(srv.key.server) || promtext.NeedsEscape(srv.key.service)
		// The checks of a server change only under s.mu, which is held.
		for _, c := range srv.checks {
			label, ok := labels[c.name()]
			if !ok {
				label = int32(len(l.heads))
				l.heads = append(l.heads, newCheckHeads(c.name()))
				labels[c.name()] = label
			}
			l.checks = append(l.checks, layoutCheck{c: c, label: label, server: int32(i)})
		}
		l.checkStart[i+1] = l.checkStart[i] + int32(len(srv.checks))
	}
	// Stable: servers are sorted already, so checks of one name stay in
	// server order.
	slices.SortStableFunc(l.checks, func(a, b layoutCheck) int { return cmp.Compare(a.c.name(), b.c.name()) })
	// Each server's checks, in the order of l.checks.
	l.checkIndex = make([]int32, len(l.checks))
	next := slices.Clone(l.checkStart[:len(l.servers)])
	for k, lc := range l.checks {
		l.checkIndex[next[lc.server]] = int32(k)
		next[lc.server]++
	}
	s.layout = l
	return l
}

// transitionSeconds is t as the value of the last-transition family:
// Unix seconds to the millisecond, Prometheus's own resolution. The
// nanoseconds of a time.Time are noise there, and the least compressible
// digits of a scrape: at 10,000 real servers the family was 95 kB of a
// gzipped scrape's 864 kB, twice any other (65 kB to the millisecond;
// gzip -1 of BenchmarkScrapeChecked's body).
func transitionSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1e3 }

// LabeledServer is a real server the checks know, by the strings its
// label values are written from.
type LabeledServer struct {
	Service, Server string
}

// LabeledServers returns every real server the checks know, sorted by
// server, then service: the order of a metric family labelled by both.
// Its strings are the checks' own, shared so that the controller's names
// and metrics hold no copy of their own; the list is made at each call
// (the controller asks when its configuration changes: kept, it would
// cost 32 bytes a real server).
func (s *Scheduler) LabeledServers() []LabeledServer {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.layoutLocked()
	out := make([]LabeledServer, len(l.servers))
	for i, srv := range l.servers {
		out[i] = LabeledServer{Service: srv.key.service, Server: srv.key.server}
	}
	return out
}

// metricsScratch is what one scrape copies of every server and check,
// under their locks, before the response is written. Scrapes take it
// from a pool, so that a scrape allocates nothing per series, and the
// garbage collector frees it when scrapes stop (a scrape in 15 s of
// checks sees a collection or two): kept between scrapes, it would be
// 70 bytes a check of live heap between them.
type metricsScratch struct {
	servers []serverSample // as layout.servers
	checks  []checkSample  // as layout.checks
}

type serverSample struct {
	state State
	since float64 // Unix seconds
}

type checkSample struct {
	down   bool
	counts [numClasses]uint32
}

// scratch returns a scratch from the scheduler's pool, or a new one,
// sized for l; release gives it back.
func (s *Scheduler) scratch(l *metricsLayout) (sc *metricsScratch, release func()) {
	sc, _ = s.scratchPool.Get().(*metricsScratch)
	if sc == nil {
		sc = new(metricsScratch)
	}
	sc.servers = slices.Grow(sc.servers[:0], len(l.servers))[:len(l.servers)]
	sc.checks = slices.Grow(sc.checks[:0], len(l.checks))[:len(l.checks)]
	return sc, func() { s.scratchPool.Put(sc) }
}

// Snapshot implements promtext.Source: it copies the state of every real
// server and check (one lock of each server, for as long as the copy
// takes: a slow scrape never holds up a check's result) and returns the
// writer of the scheduler's families. Removed targets leave no stale
// series; a check's checks_total series for a result other than open
// appears once that result has happened.
func (s *Scheduler) Snapshot() func(*promtext.Writer) {
	s.mu.Lock()
	l := s.layoutLocked()
	nchecks, limit := s.nchecks, cap(s.sem)
	s.mu.Unlock()

	sc, release := s.scratch(l)
	for i, srv := range l.servers {
		srv.mu.Lock()
		sc.servers[i] = serverSample{state: srv.state, since: transitionSeconds(srv.since)}
		for _, k := range l.checksOf(i) {
			c := l.checks[k].c
			sc.checks[k] = checkSample{down: c.v.state == StateDown, counts: c.counts}
		}
		srv.mu.Unlock()
	}
	hist, err := s.histograms.Gather()
	if err != nil {
		// Two histograms of fixed buckets and labels cannot be invalid.
		s.log.Error("gather the health check histograms", "err", err)
	}
	realServers := float64(len(l.servers))
	inFlight, skipped, abandoned, frozen := s.running.Load(), s.skipped.Load(), s.abandons.Load(), s.frozen.Load()

	return func(w *promtext.Writer) {
		defer release()
		// Family by family in the order of their names, as a registry
		// writes them.
		for _, mf := range hist {
			if mf.GetName() == famDurationsName {
				w.MetricFamily(mf)
			}
		}
		w.Begin(famChecks)
		w.Sample(float64(nchecks))
		w.Begin(famAbandoned)
		w.Sample(float64(abandoned))
		w.Begin(famInFlight)
		w.Sample(float64(inFlight))
		w.Begin(famSkipped)
		w.Sample(float64(skipped))
		w.Begin(famLocalErrors)
		w.Sample(float64(frozen))
		w.Begin(famMaxInFlight)
		w.Sample(float64(limit))
		w.Begin(famRealServers)
		w.Sample(realServers)
		for _, mf := range hist {
			if mf.GetName() == famLagName {
				w.MetricFamily(mf)
			}
		}
		writeCheckFamilies(w, l, sc)
		writeServerFamilies(w, l, sc)
	}
}

// writeCheckFamilies writes the per check families: their samples are
// sorted by check name first.
func writeCheckFamilies(w *promtext.Writer, l *metricsLayout, sc *metricsScratch) {
	// Down checks are few: a series for each check that is not down
	// would cost a series per real server at every scrape.
	w.Begin(famCheckDown)
	for k, lc := range l.checks {
		if sc.checks[k].down {
			server, service := l.serverValues(int(lc.server))
			w.ServerSample(1, l.heads[lc.label].down, server, service, "}")
		}
	}
	// By check name, then result, then server: the checks of one name
	// are written once per result.
	w.Begin(famChecksTotal)
	for start := 0; start < len(l.checks); {
		end := start + 1
		for end < len(l.checks) && l.checks[end].label == l.checks[start].label {
			end++
		}
		for _, class := range classesByName {
			for k := start; k < end; k++ {
				if n := sc.checks[k].counts[class]; n > 0 || class == ClassOpen {
					server, service := l.serverValues(int(l.checks[k].server))
					w.ServerSample(float64(n), l.heads[l.checks[k].label].results[class], server, service, "}")
				}
			}
		}
		start = end
	}
}

// writeServerFamilies writes the per server families.
func writeServerFamilies(w *promtext.Writer, l *metricsLayout, sc *metricsScratch) {
	w.Begin(famServerLastTransition)
	for i, srv := range sc.servers {
		if srv.state != StateUnknown {
			server, service := l.serverValues(i)
			w.ServerSample(srv.since, "{", server, service, "}")
		}
	}
	w.Begin(famServerState)
	for i, srv := range sc.servers {
		server, service := l.serverValues(i)
		w.ServerSample(1, "{", server, service, stateLabels[srv.state])
	}
}

// newHistograms returns the scheduler's histograms and the registry they
// are gathered from at each scrape.
func newHistograms() (lag prometheus.Histogram, durations *prometheus.HistogramVec, reg *prometheus.Registry) {
	lag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: "health", Name: "scheduler_lag_seconds",
		Help:    "How late checks start after their due time (jitter excluded), waiting for a free slot included.",
		Buckets: metricsDurationBuckets,
	})
	durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: "health", Name: "check_duration_seconds",
		Help:    "Duration of health checks (the checker's latency) by check type and result.",
		Buckets: metricsDurationBuckets,
	}, []string{"type", "result"})
	reg = prometheus.NewRegistry()
	reg.MustRegister(lag, durations)
	return lag, durations, reg
}

// metricsState is what the scheduler keeps for its metrics; embedded in
// Scheduler.
type metricsState struct {
	lag        prometheus.Histogram
	durations  *prometheus.HistogramVec
	histograms *prometheus.Registry
	// observers are the children of durations by check kind (under mu).
	observers map[string]*classObservers

	// gen counts the Updates (under mu), layout is the exposition's
	// layout of the last one a scrape saw (under mu).
	gen    uint64
	layout *metricsLayout

	scratchPool sync.Pool // of *metricsScratch
}
