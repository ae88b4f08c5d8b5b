package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lvs-sidecar/lvs-sidecar/collector"
	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// HandlerOptions are what the HTTP surface is built from. The fields
// marked "nil without --config.file" must be left nil (not a typed nil
// pointer) when the sidecar only exports the table.
type HandlerOptions struct {
	// Name is the program's name, for the landing page.
	Name string
	// TelemetryPath is --web.telemetry-path: where /metrics is served.
	// Required. When it is "/" there is no landing page.
	TelemetryPath string
	// Table is the IPVS table's collector: /metrics writes it beside the
	// registry's families with its own text writer. Required.
	Table *collector.Collector
	// Collectors are registered beside the build info, Go runtime and
	// process collectors: the notifier's, the reload gauges.
	Collectors []prometheus.Collector
	// Sources are written after the table by their own text writers,
	// as cheaply per series as the table: the families with a series or
	// more per real server (the checks', the controller's, the
	// maintenance store's).
	Sources []promtext.Source
	// Policy guards the writes (off unless their flag is on,
	// administrators only). Required.
	Policy *Policy
	// Readiness is what /-/ready reports on.
	Readiness Readiness
	// Reload re-reads --config.file for POST /-/reload; nil without
	// --config.file.
	Reload Reloader
	// Maintenance is the store the maintenance API and the status page's
	// buttons change, and Names resolves the names they are given; both
	// nil without --config.file.
	Maintenance MaintenanceStore
	Names       ServerResolver
	// Gather reads what the services view and the status page join (the
	// kernel table within its deadline, and with --config.file the
	// configuration, verdicts, controller's last pass and maintenance
	// store); called once per answer. Required.
	Gather func(context.Context) ServicesInput
	// Director names this director on the status page; nil: none.
	Director func() string
	// Events are the status page's recent events; nil: none.
	Events *Events
	// Logger receives what the handlers log; nil discards.
	Logger *slog.Logger
}

// NewHandler builds the whole HTTP surface: the landing page, metrics,
// health and readiness, reload, the maintenance API, the services view,
// and the status page with its JSON. Authentication and TLS wrap it in
// exporter-toolkit, so every path here is behind --web.config.file; the
// policy guards the writes.
func NewHandler(o HandlerOptions) (http.Handler, error) {
	if o.Table == nil || o.Policy == nil || o.Gather == nil || o.TelemetryPath == "" {
		return nil, errors.New("web: Table, Policy, Gather and TelemetryPath are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	metrics, err := metricsHandler(o)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(o.TelemetryPath, metrics)
	mux.Handle(HealthyPath, healthyHandler())
	mux.Handle(ReadyPath, readyHandler(o.Readiness))
	mux.Handle(ReloadPath, o.Policy.Guard(LifecycleAPI, reloadHandler(o.Reload, o.Logger)))
	maintenance := newMaintenanceAPI(o.Maintenance, o.Names, o.Events, o.Logger)
	mux.Handle(MaintenancePath, o.Policy.Guard(AdminAPI, maintenance.handler()))
	mux.Handle(ServicesPath, servicesHandler(o.Gather))
	status, err := NewStatusPage(StatusOptions{
		Gather: func(ctx context.Context) StatusInput {
			in := StatusInput{ServicesInput: o.Gather(ctx)}
			if o.Director != nil {
				in.Director = o.Director()
			}
			return in
		},
		Events:         o.Events,
		Policy:         o.Policy,
		SetMaintenance: maintenance.setter(),
		Logger:         o.Logger,
	})
	if err != nil {
		return nil, err
	}
	status.Register(mux)
	if o.TelemetryPath != "/" {
		landing, err := landingPage(o.Name, o.TelemetryPath, o.Policy)
		if err != nil {
			return nil, err
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}

// metricsHandler serves the telemetry path: the registry of the process's
// own collectors and o.Collectors, then the IPVS table and o.Sources. The
// table and the sources are not registered: collector.Handler writes them
// with their own text writers, which cost a fraction of what gathering
// 100,000 series through a registry does.
func metricsHandler(o HandlerOptions) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	cs := append([]prometheus.Collector{
		versioncollector.NewCollector("lvs_sidecar"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}, o.Collectors...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return promhttp.InstrumentMetricHandler(reg, collector.Handler(reg, o.Table, collector.HandlerOpts{
		Logger: o.Logger,
		// Two scrapes at once would each dump the whole table from the
		// kernel; more than that is a misconfigured Prometheus.
		MaxRequestsInFlight: 4,
		Sources:             o.Sources,
	})), nil
}
