package actuator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// maintenanceCollector is the reference implementation of
// ipvs_real_server_maintenance: the prometheus.Collector it was until it
// moved to the text writer (MaintenanceMetrics).
// TestMaintenanceMetricsMatchRegistry checks that both expose the same
// samples and bytes.
type maintenanceCollector struct {
	known KnownServers
	store *Maintenance
	desc  *prometheus.Desc
}

func newMaintenanceCollector(store *Maintenance, known KnownServers) *maintenanceCollector {
	return &maintenanceCollector{known: known, store: store, desc: prometheus.NewDesc(
		"ipvs_real_server_maintenance",
		"Whether an operator put the real server into maintenance (1: drained whatever its checks say, until lifted) through POST /api/v1/maintenance or `lvs-sidecar maintenance`.",
		[]string{"service", "server"}, nil)}
}

// Describe implements prometheus.Collector.
func (m *maintenanceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

// Collect implements prometheus.Collector.
func (m *maintenanceCollector) Collect(ch chan<- prometheus.Metric) {
	seen := make(map[[2]string]bool)
	for _, st := range m.known.Status() {
		k := [2]string{st.Service, st.Server}
		seen[k] = true
		v := 0.0
		if m.store.InMaintenance(st.Service, st.Server) {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, v, st.Service, st.Server)
	}
	// Entries of servers the configuration no longer has still drain them
	// if they come back: show them.
	for _, e := range m.store.List() {
		if !seen[[2]string{e.Service, e.Server}] {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, 1, e.Service, e.Server)
		}
	}
}
