package actuator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// MaintenanceCollector exports the admin state as
// ipvs_real_server_maintenance: 1 for a real server in maintenance, 0 for
// every other real server the health checks know (declared or
// discovered), so that a lift shows as 0, not as a series that vanished.
type MaintenanceCollector struct {
	known KnownServers
	store *Maintenance
	desc  *prometheus.Desc
}

// NewMaintenanceCollector returns the collector of store's entries, with
// a 0 for each real server known lists that is not in maintenance.
func NewMaintenanceCollector(store *Maintenance, known KnownServers) *MaintenanceCollector {
	return &MaintenanceCollector{known: known, store: store, desc: prometheus.NewDesc(
		"ipvs_real_server_maintenance",
		"Whether an operator put the real server into maintenance (1: drained whatever its checks say, until lifted) through POST /api/v1/maintenance or `lvs-sidecar maintenance`.",
		[]string{"service", "server"}, nil)}
}

// Describe implements prometheus.Collector.
func (m *MaintenanceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

// Collect implements prometheus.Collector.
func (m *MaintenanceCollector) Collect(ch chan<- prometheus.Metric) {
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
