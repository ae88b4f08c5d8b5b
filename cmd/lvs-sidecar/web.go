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
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Healthy")
	})
	// Ready as soon as we serve: an unreadable IPVS table is reported by
	// ipvs_up, not by taking the exporter out of rotation. Checks that
	// cannot run on this director (local_error) make it unready for
	// acting, not for scraping: still 200, so that Prometheus keeps
	// scraping what explains it, and the body says so.
	// /-/ready?for=acting is the probe for what acts on the director's
	// behalf (a VRRP track script, an orchestrator): 503 while the
	// sidecar should not be trusted to act, with the reason.
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.URL.Query().Get("for") == "acting" {
			if ok, why := actingReady(hc); !ok {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, "Not ready for acting: "+why)
				return
			}
			fmt.Fprintln(w, "Ready for acting")
			return
		}
		fmt.Fprintln(w, readyText(hc))
	})
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
	mux.Handle(web.ServicesPath, servicesHandler(reader, hc, store, o.ipvsTimeout))
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
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
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

// actingReady says whether the sidecar is ready for acting: its checks
// can run (no local_error) and its controller acts on verdicts (see
// actuator.Status.ReadyForActing). Without --config.file nothing acts.
func actingReady(hc *checks) (bool, string) {
	if hc == nil {
		return false, "no --config.file: lvs-sidecar only exports the table"
	}
	if n := hc.sched.LocalErrors(); n > 0 {
		return false, fmt.Sprintf("%d real server(s) have checks that cannot run on this director (local_error)", n)
	}
	if hc.ctl == nil {
		return true, ""
	}
	return hc.ctl.Controller().Status().ReadyForActing()
}

// readyText is the body of /-/ready: "Ready", or, while real servers are
// frozen by local errors, that the sidecar is ready for scraping but not
// for acting.
func readyText(hc *checks) string {
	if hc == nil {
		return "Ready"
	}
	n := hc.sched.LocalErrors()
	if n == 0 {
		return "Ready"
	}
	servers := "1 real server has"
	if n != 1 {
		servers = fmt.Sprintf("%d real servers have", n)
	}
	return "Ready for scraping; not ready for acting: " + servers + " checks that cannot run on this director (local_error), " +
		"so their verdicts are frozen; see ipvs_health_local_error_real_servers and the log"
}
