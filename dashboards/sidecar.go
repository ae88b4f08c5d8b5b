package dashboards

//lint:file-ignore SA1019 the v1 dashboard schema is deprecated in favour of dashboardv2, which only Grafana 12's new API reads; file provisioning and import of every current Grafana take v1 JSON.

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// sidecar answers: is the engine keeping up (checks/s, scheduler lag,
// skipped and abandoned runs), what does it write, how long do its passes
// and scrapes take, did the last reload work, how many reloads failed, and what does it cost.
func sidecar(o Options) *dashboard.DashboardBuilder {
	d := base(o, UIDs["lvs-sidecar-sidecar.json"], "LVS / Sidecar",
		"The lvs-sidecar process itself: checks, scheduler, controller writes, reconcile and scrape duration, reloads, memory and CPU.")
	s := sel(o, "")
	l := &layout{}

	l.row(d, "Checks")
	d.WithPanel(ts(l, 12, 7, "Checks/s", "Check runs per second by check type and result.", "ops",
		q{`sum by (instance, type, result) (` + rate("ipvs_health_check_duration_seconds_count", s) + `)`, "{{instance}} {{type}} {{result}}"}))
	d.WithPanel(ts(l, 12, 7, "Scheduler lag", "How late checks start after their due time, 50th and 99th percentile.", "s",
		q{`histogram_quantile(0.99, sum by (instance, le) (` + rate("ipvs_health_scheduler_lag_seconds_bucket", s) + `))`, "{{instance}} p99"},
		q{`histogram_quantile(0.5, sum by (instance, le) (` + rate("ipvs_health_scheduler_lag_seconds_bucket", s) + `))`, "{{instance}} p50"}))
	d.WithPanel(ts(l, 12, 7, "Skipped and abandoned checks/s", "Runs skipped because the previous run was still going, and runs recorded as timeouts because the checker overran its deadline.", "ops",
		q{`sum by (instance) (` + rate("ipvs_health_checks_skipped_total", s) + `)`, "{{instance}} skipped"},
		q{`sum by (instance) (` + rate("ipvs_health_checks_abandoned_total", s) + `)`, "{{instance}} abandoned"}))
	d.WithPanel(ts(l, 12, 7, "Checks in flight", "Checks running now, the most that may run at once, and real servers frozen by local errors.", "short",
		q{`sum by (instance) (ipvs_health_checks_in_flight{` + s + `})`, "{{instance}} in flight"},
		q{`max by (instance) (ipvs_health_max_checks_in_flight{` + s + `})`, "{{instance}} max"},
		q{`sum by (instance) (ipvs_health_local_error_real_servers{` + s + `})`, "{{instance}} local error servers"}))
	d.WithPanel(ts(l, 12, 7, "Check duration p99", "99th percentile of check duration by type.", "s",
		q{`histogram_quantile(0.99, sum by (instance, type, le) (` + rate("ipvs_health_check_duration_seconds_bucket", s) + `))`, "{{instance}} {{type}}"}))

	l.row(d, "Controller")
	d.WithPanel(ts(l, 12, 7, "Actuations/s", "Writes to the table by action and result.", "ops",
		q{`sum by (instance, action, result) (` + rate("ipvs_controller_actuations_total", s) + `)`, "{{instance}} {{action}} {{result}}"}))
	d.WithPanel(ts(l, 12, 7, "Reconcile duration", "Duration of a pass (read, decide, write): 99th percentile and mean.", "s",
		q{`histogram_quantile(0.99, sum by (instance, le) (` + rate("ipvs_controller_reconcile_duration_seconds_bucket", s) + `))`, "{{instance}} p99"},
		q{`sum by (instance) (` + rate("ipvs_controller_reconcile_duration_seconds_sum", s) + `) / sum by (instance) (` + rate("ipvs_controller_reconcile_duration_seconds_count", s) + `)`, "{{instance}} mean"}))
	d.WithPanel(ts(l, 12, 7, "Reconcile passes and errors/s", "Passes per second and passes that failed to read the table or make a write.", "ops",
		q{`sum by (instance) (` + rate("ipvs_controller_reconciles_total", s) + `)`, "{{instance}} passes"},
		q{`sum by (instance) (` + rate("ipvs_controller_reconcile_errors_total", s) + `)`, "{{instance}} errors"}))
	d.WithPanel(ts(l, 12, 7, "Time since last good pass", "Seconds since the last reconcile pass without an error.", "s",
		q{`time() - max by (instance) (ipvs_controller_last_success_timestamp_seconds{` + s + `})`, "{{instance}}"}))

	l.row(d, "Process")
	d.WithPanel(ts(l, 8, 7, "Scrape duration", "Time to read the IPVS table and write it out, per scrape.", "s",
		q{`max by (instance) (ipvs_scrape_duration_seconds{` + s + `})`, "{{instance}}"}))
	d.WithPanel(timeline(l, 8, 7, "Last config reload", "Whether the last load of --config.file (start, SIGHUP, POST /-/reload) succeeded.", upDown("failed", "ok"),
		q{`min by (instance) (lvs_sidecar_config_last_reload_successful{` + s + `})`, "{{instance}}"}))
	d.WithPanel(ts(l, 8, 7, "Reloads", "Reloads of --config.file (SIGHUP, POST /-/reload) by result over the rate interval; the load at start is not counted.", "short",
		q{`sum by (instance, result) (increase(lvs_sidecar_config_reloads_total{` + s + `}[$__rate_interval]))`, "{{instance}} {{result}}"}))
	d.WithPanel(ts(l, 8, 7, "Time since last good reload", "Seconds since the configuration was last loaded successfully.", "s",
		q{`time() - max by (instance) (lvs_sidecar_config_last_reload_success_timestamp_seconds{` + s + `})`, "{{instance}}"}))
	d.WithPanel(ts(l, 8, 7, "Memory", "Resident memory and Go heap in use.", "bytes",
		q{`max by (instance) (process_resident_memory_bytes{` + s + `})`, "{{instance}} resident"},
		q{`max by (instance) (go_memstats_heap_inuse_bytes{` + s + `})`, "{{instance}} heap in use"}))
	d.WithPanel(ts(l, 8, 7, "CPU", "CPU time used per second (1 = one core).", "percentunit",
		q{`sum by (instance) (` + rate("process_cpu_seconds_total", s) + `)`, "{{instance}}"}))
	d.WithPanel(ts(l, 8, 7, "Goroutines", "Goroutines of the process.", "short",
		q{`max by (instance) (go_goroutines{` + s + `})`, "{{instance}}"}))
	return d
}
