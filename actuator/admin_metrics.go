package actuator

import (
	"cmp"
	"slices"
	"strings"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// LabeledServers lists the real servers the health checks know (declared
// or discovered) with their metric label sets, sorted by server then
// service; *health.Scheduler satisfies it.
type LabeledServers interface {
	LabeledServers() []health.LabeledServer
}

var famMaintenance = promtext.NewFamily("ipvs_real_server_maintenance",
	"1 while an operator has put the real server into maintenance (drained whatever its checks say, until lifted) through POST /api/v1/maintenance or `lvs-sidecar maintenance`; absent otherwise (absent means 0).",
	promtext.Gauge)

// MaintenanceMetrics exports the admin state as
// ipvs_real_server_maintenance: 1 for each real server in maintenance,
// nothing for the others (absent means 0: at 10,000 real servers a 0 for
// each cost a series per real server at every scrape, for the few an
// operator drains). It is a promtext.Source.
type MaintenanceMetrics struct {
	store *Maintenance
}

// NewMaintenanceMetrics returns the metrics of store's entries.
func NewMaintenanceMetrics(store *Maintenance) *MaintenanceMetrics {
	return &MaintenanceMetrics{store: store}
}

// Families implements promtext.Source.
func (m *MaintenanceMetrics) Families() []string { return []string{famMaintenance.Name()} }

// Snapshot implements promtext.Source. The entries are few: their label
// sets are rendered here, at each scrape.
func (m *MaintenanceMetrics) Snapshot() func(*promtext.Writer) {
	entries := m.store.List()
	// Entries of servers the checks no longer know still drain them if
	// they come back: they are shown too.
	on := make([]health.LabeledServer, 0, len(entries))
	for _, e := range entries {
		on = append(on, health.LabeledServer{Service: e.Service, Server: e.Server})
	}
	slices.SortFunc(on, func(a, b health.LabeledServer) int { return compareServer(a, b.Service, b.Server) })
	return func(w *promtext.Writer) {
		w.Begin(famMaintenance)
		for _, s := range on {
			w.ServerSample(1, "{", promtext.Escaped(s.Server), promtext.Escaped(s.Service), "}")
		}
	}
}

// compareServer orders real servers as a registry sorts a family
// labelled by server and service: by server, then service.
func compareServer(k health.LabeledServer, service, server string) int {
	return cmp.Or(strings.Compare(k.Server, server), strings.Compare(k.Service, service))
}
