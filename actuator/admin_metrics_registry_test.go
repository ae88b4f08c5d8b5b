package actuator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// maintenanceCollector is the reference implementation of
// ipvs_real_server_maintenance: a prometheus.Collector of one series,
// 1, per real server in maintenance (TestMaintenanceMetrics checks that
// MaintenanceMetrics writes the same samples and bytes).
type maintenanceCollector struct {
	store *Maintenance
	desc  *prometheus.Desc
}

func newMaintenanceCollector(store *Maintenance) *maintenanceCollector {
	return &maintenanceCollector{store: store, desc: prometheus.NewDesc(
		"ipvs_real_server_maintenance",
		"1 while an operator has put the real server into maintenance (drained whatever its checks say, until lifted) through POST /api/v1/maintenance or `lvs-sidecar maintenance`; absent otherwise (absent means 0).",
		[]string{"service", "server"}, nil)}
}

// Describe implements prometheus.Collector.
func (m *maintenanceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

// Collect implements prometheus.Collector.
func (m *maintenanceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range m.store.List() {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, 1, e.Service, e.Server)
	}
}
