package main

import (
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
// readiness, reload and the maintenance API. Authentication and TLS wrap
// it in exporter-toolkit, so every path here is behind --web.config.file;
// policy guards the writes (off unless their flag is on, administrators
// only). hc and store are nil without --config.file.
func newHandler(o options, table *collector.Collector, hc *checks, store *actuator.Maintenance, policy *web.Policy, logger *slog.Logger) (http.Handler, error) {
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
		cs = append(cs, newMaintenanceCollector(hc, store))
		if hc.ctl != nil {
			cs = append(cs, hc.ctl.ctl)
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
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Healthy")
	})
	// Ready as soon as we serve: an unreadable IPVS table is reported by
	// ipvs_up, not by taking the exporter out of rotation.
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Ready")
	})
	mux.Handle(web.ReloadPath, policy.Guard(web.LifecycleAPI, reloadHandler(hc, logger)))
	mux.Handle(web.MaintenancePath, policy.Guard(web.AdminAPI, maintenanceHandler(hc, store, logger)))
	if o.telemetryPath != "/" {
		landing, err := toolkitweb.NewLandingPage(toolkitweb.LandingConfig{
			Name:        programName,
			Description: "Linux IPVS (LVS) table exporter",
			Version:     version.Info(),
			Links: []toolkitweb.LandingLinks{
				{Address: o.telemetryPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
				{Address: web.MaintenancePath, Text: "Maintenance", Description: "the real servers in maintenance (JSON)"},
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
