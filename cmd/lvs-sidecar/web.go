package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/collector"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// newHandler wires the HTTP surface (web.NewHandler) to the table, and
// with --config.file to the checks, the controller, the notifier and the
// maintenance store; hc and store are nil without --config.file.
func newHandler(o options, table *collector.Collector, reader tableReader, hc *checks, store *actuator.Maintenance, policy *web.Policy, logger *slog.Logger) (http.Handler, error) {
	ho := web.HandlerOptions{
		Name:          programName,
		TelemetryPath: o.telemetryPath,
		Table:         table,
		Policy:        policy,
		Gather: func(ctx context.Context) web.ServicesInput {
			return gatherServices(ctx, reader, hc, store, o.ipvsTimeout)
		},
		Director: func() string { return directorName(hc) },
		Logger:   logger,
	}
	if hc != nil {
		ho.Collectors = hc.collectors()
		ho.Sources = append(ho.Sources, hc.sched, actuator.NewMaintenanceMetrics(store))
		ho.Readiness.LocalErrors = hc.sched.LocalErrors
		if hc.ctl != nil {
			ctl := hc.ctl.Controller()
			ho.Sources = append(ho.Sources, ctl)
			ho.Readiness.Controller = func() (bool, string) { return ctl.Status().ReadyForActing() }
		}
		if hc.notifier != nil {
			ho.Collectors = append(ho.Collectors, hc.notifier)
		}
		ho.Reload = hc.reload
		ho.Maintenance, ho.Names = store, hc.names
		ho.Events = hc.events
	}
	return web.NewHandler(ho)
}
