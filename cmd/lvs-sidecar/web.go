package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/collector"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// newHandler builds the HTTP surface: landing page, metrics, health,
// readiness, reload, the maintenance API, the services view and the
// status page with its JSON. Authentication and TLS wrap
// it in exporter-toolkit, so every path here is behind --web.config.file;
// policy guards the writes (off unless their flag is on, administrators
// only). hc and store are nil without --config.file.
func newHandler(o options, table *collector.Collector, reader tableReader, hc *checks, store *actuator.Maintenance, policy *web.Policy, logger *slog.Logger) (http.Handler, error) {
	// The IPVS table is not registered here: collector.Handler writes it
	// beside this registry's families with its own text writer, which costs
	// a fraction of what gathering 100,000 series through a registry does.
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{
		versioncollector.NewCollector("lvs_sidecar"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if hc != nil {
		cs = append(cs, hc.collectors()...)
		cs = append(cs, actuator.NewMaintenanceCollector(store, hc.sched))
		if hc.ctl != nil {
			cs = append(cs, hc.ctl.Controller())
		}
		if hc.notifier != nil {
			cs = append(cs, hc.notifier)
		}
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.Handle(o.telemetryPath, promhttp.InstrumentMetricHandler(reg, collector.Handler(reg, table, collector.HandlerOpts{
		Logger: logger,
		// Two scrapes at once would each dump the whole table from the
		// kernel; more than that is a misconfigured Prometheus.
		MaxRequestsInFlight: 4,
	})))
	mux.Handle(web.HealthyPath, web.HealthyHandler())
	var ready web.Readiness
	if hc != nil {
		ready.LocalErrors = hc.sched.LocalErrors
		if hc.ctl != nil {
			ctl := hc.ctl.Controller()
			ready.Controller = func() (bool, string) { return ctl.Status().ReadyForActing() }
		}
	}
	mux.Handle(web.ReadyPath, web.ReadyHandler(ready))
	var reload web.Reloader
	if hc != nil {
		reload = hc.reload
	}
	mux.Handle(web.ReloadPath, policy.Guard(web.LifecycleAPI, web.ReloadHandler(reload, logger)))
	var maintenance *web.MaintenanceAPI
	if hc != nil {
		maintenance = web.NewMaintenanceAPI(store, hc.names, logger)
	}
	mux.Handle(web.MaintenancePath, policy.Guard(web.AdminAPI, maintenance.Handler()))
	mux.Handle(web.ServicesPath, web.ServicesHandler(func(ctx context.Context) web.ServicesInput {
		return gatherServices(ctx, reader, hc, store, o.ipvsTimeout)
	}))
	var events *web.Events
	if hc != nil {
		events = hc.events
	}
	status, err := web.NewStatusPage(web.StatusOptions{
		Gather:         statusGather(reader, hc, store, o.ipvsTimeout),
		Events:         events,
		Policy:         policy,
		SetMaintenance: maintenance.Setter(),
		Logger:         logger,
	})
	if err != nil {
		return nil, err
	}
	status.Register(mux)
	if o.telemetryPath != "/" {
		landing, err := toolkitweb.NewLandingPage(toolkitweb.LandingConfig{
			Name:        programName,
			Description: "Linux IPVS (LVS) table exporter",
			Version:     version.Info(),
			Links: []toolkitweb.LandingLinks{
				{Address: o.telemetryPath, Text: "Metrics"},
				{Address: web.HealthyPath, Text: "Health"},
				{Address: web.ReadyPath, Text: "Readiness"},
				{Address: web.MaintenancePath, Text: "Maintenance", Description: "the real servers in maintenance (JSON)"},
				{Address: web.StatusPath, Text: "Status", Description: "the services and real servers at a glance, recent events, maintenance for administrators"},
				{Address: web.StatusAPIPath, Text: "Status (JSON)", Description: "the status page's data"},
				{Address: web.ServicesPath, Text: "Services", Description: "the services and real servers: table, verdicts, weights (JSON; what snmp-pass-persist serves)"},
			},
			ExtraHTML: policy.LandingHTML(),
		})
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}
