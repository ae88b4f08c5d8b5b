package load

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

var errNotALoad = errors.New("the agent answered a negative or not finite number, which is no load")

var (
	rsLabels = []string{"service", "server"}

	descLoad = prometheus.NewDesc("ipvs_real_server_load",
		"Last load polled over SNMP from the real server, in the unit of its load block's start and full (load average for ucd_load, percent for hr_processor, value × scale for oid); absent before the first good answer.", rsLabels, nil)
	descStale = prometheus.NewDesc("ipvs_real_server_load_stale",
		"1 while the real server's load is stale (no good answer for stale_after intervals): the controller uses its declared weight.", rsLabels, nil)
	descErrors = prometheus.NewDesc("ipvs_real_server_load_poll_errors_total",
		"Load polls of the real server that failed: no answer within the timeout, an SNMP error, or a value that is no load.", rsLabels, nil)
	descPolls = prometheus.NewDesc("ipvs_real_server_load_polls_total",
		"Load polls of the real server that got a good answer.", rsLabels, nil)
	descAge = prometheus.NewDesc("ipvs_real_server_load_age_seconds",
		"Time since the last good answer of the real server's load poll; absent before the first.", rsLabels, nil)
)

// Describe sends the descriptors of the poller's metrics.
func (p *Poller) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLoad, descStale, descErrors, descPolls, descAge} {
		ch <- d
	}
}

// Collect sends the metrics of every target.
func (p *Poller) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	workers := make([]*worker, 0, len(p.workers))
	for _, w := range p.workers {
		workers = append(workers, w)
	}
	p.mu.Unlock()
	now := p.opts.Clock.Monotonic()
	for _, w := range workers {
		w.mu.Lock()
		l := []string{w.key.service, w.key.server}
		if w.hasGood {
			ch <- prometheus.MustNewConstMetric(descLoad, prometheus.GaugeValue, w.value, l...)
			ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, (now - w.good).Seconds(), l...)
		}
		stale := 0.0
		if w.stale {
			stale = 1
		}
		ch <- prometheus.MustNewConstMetric(descStale, prometheus.GaugeValue, stale, l...)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(w.errors), l...)
		ch <- prometheus.MustNewConstMetric(descPolls, prometheus.CounterValue, float64(w.seq), l...)
		w.mu.Unlock()
	}
}
