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
	"Whether an operator put the real server into maintenance (1: drained whatever its checks say, until lifted) through POST /api/v1/maintenance or `lvs-sidecar maintenance`.",
	promtext.Gauge)

// MaintenanceMetrics exports the admin state as
// ipvs_real_server_maintenance: 1 for a real server in maintenance, 0 for
// every other real server the health checks know, so that a lift shows as
// 0, not as a series that vanished. It is a promtext.Source: the label
// sets are the health checks', rendered once per change of the targets.
type MaintenanceMetrics struct {
	known LabeledServers
	store *Maintenance
}

// NewMaintenanceMetrics returns the metrics of store's entries, with a 0
// for each real server known lists that is not in maintenance.
func NewMaintenanceMetrics(store *Maintenance, known LabeledServers) *MaintenanceMetrics {
	return &MaintenanceMetrics{known: known, store: store}
}

// Families implements promtext.Source.
func (m *MaintenanceMetrics) Families() []string { return []string{famMaintenance.Name()} }

// Snapshot implements promtext.Source.
func (m *MaintenanceMetrics) Snapshot() func(*promtext.Writer) {
	known := m.known.LabeledServers()
	entries := m.store.List() // a few
	// Entries of servers the checks no longer know still drain them if
	// they come back: they are shown too, in their place in the order.
	on := make(map[int]bool, len(entries))
	var extra []health.LabeledServer
	for _, e := range entries {
		if i, found := slices.BinarySearchFunc(known, e, func(k health.LabeledServer, e MaintenanceEntry) int {
			return compareServer(k, e.Service, e.Server)
		}); found {
			on[i] = true
			continue
		}
		extra = append(extra, health.LabeledServer{Service: e.Service, Server: e.Server,
			Labels: promtext.Labels(promtext.Label("server", e.Server), promtext.Label("service", e.Service))})
	}
	slices.SortFunc(extra, func(a, b health.LabeledServer) int { return compareServer(a, b.Service, b.Server) })
	return func(w *promtext.Writer) {
		w.Begin(famMaintenance)
		i, j := 0, 0
		for i < len(known) || j < len(extra) {
			if j < len(extra) && (i == len(known) || compareServer(extra[j], known[i].Service, known[i].Server) < 0) {
				w.Sample(1, "{", extra[j].Labels, "}")
				j++
				continue
			}
			w.Sample(b2f(on[i]), "{", known[i].Labels, "}")
			i++
		}
	}
}

// compareServer orders real servers as a registry sorts a family
// labelled by server and service: by server, then service.
func compareServer(k health.LabeledServer, service, server string) int {
	return cmp.Or(strings.Compare(k.Server, server), strings.Compare(k.Service, service))
}
