package dashboards

//lint:file-ignore SA1019 the v1 dashboard schema is deprecated in favour of dashboardv2, which only Grafana 12's new API reads; file provisioning and import of every current Grafana take v1 JSON.

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// service answers, for one service across the selected directors: where
// its connections go, what weight each real server has in the kernel,
// what the controller wants and why, what the file declares, what the
// checks say, and whether a server's
// share of traffic matches its share of weight.
func service(o Options) *dashboard.DashboardBuilder {
	d := base(o, UIDs["lvs-sidecar-service.json"], "LVS / Service",
		"One service across directors: per real server traffic, connections, weights, verdicts and checks.")
	d.WithVariable(queryVar("service", "service", `label_values(ipvs_service_info{`+sel(o, "")+`}, service)`, false, false).
		IncludeAll(false).Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("")}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("")}}))
	d.WithVariable(queryVar("server", "real server", `label_values(ipvs_real_server_weight{`+sel(o, `service="$service"`)+`}, server)`, false, true))
	s := sel(o, `service="$service", server=~"$server"`)
	up := sel(o, `service="$service", server=~"$server", state="up"`)
	svc := sel(o, `service="$service"`)
	l := &layout{}

	l.row(d, "Traffic per real server")
	d.WithPanel(ts(l, 12, 8, "Connections/s", "New connections scheduled to each real server, per director.", "cps",
		q{`sum by (instance, server) (` + rate("ipvs_real_server_connections_total", s) + `)`, "{{instance}} {{server}}"}))
	d.WithPanel(ts(l, 12, 8, "Active and inactive connections", "Connections in ESTABLISHED state and in other states.", "short",
		q{`sum by (instance, server) (ipvs_real_server_active_connections{` + s + `})`, "{{instance}} {{server}} active"},
		q{`sum by (instance, server) (ipvs_real_server_inactive_connections{` + s + `})`, "{{instance}} {{server}} inactive"}))
	d.WithPanel(ts(l, 12, 8, "Bytes/s", "Bytes from clients to each real server, and back through the director (NAT only).", "Bps",
		q{`sum by (instance, server) (` + rate("ipvs_real_server_incoming_bytes_total", s) + `)`, "{{instance}} {{server}} in"},
		q{`sum by (instance, server) (` + rate("ipvs_real_server_outgoing_bytes_total", s) + `)`, "{{instance}} {{server}} out"}))
	d.WithPanel(ts(l, 12, 8, "Share of traffic vs share of weight", "Each real server's share of the service's new connections next to its share of the service's weight on that director. A server weighted but getting no traffic, or far more than its weight, stands out.", "percentunit",
		q{`sum by (instance, service, server) (` + rate("ipvs_real_server_connections_total", s) + `) / on (instance, service) group_left () sum by (instance, service) (` + rate("ipvs_real_server_connections_total", svc) + `)`, "{{instance}} {{server}} traffic"},
		q{`sum by (instance, service, server) (ipvs_real_server_weight{` + s + `}) / on (instance, service) group_left () sum by (instance, service) (ipvs_real_server_weight{` + svc + `})`, "{{instance}} {{server}} weight"}).Min(0).Max(1))

	l.row(d, "Weights and verdicts")
	d.WithPanel(ts(l, 12, 8, "Kernel, desired and declared weight", "The weight in the kernel's table now, the weight the controller wants (0 while drained, in maintenance or removed; below the declared one while slow start ramps) and the weight the configuration file declares. Kernel below desired: a write is pending (dry_run, drift, a failed write).", "short",
		q{`max by (instance, server) (ipvs_real_server_weight{` + s + `})`, "{{instance}} {{server}} kernel"},
		q{`max by (instance, server) (ipvs_real_server_desired_weight{` + s + `})`, "{{instance}} {{server}} desired"},
		// The declared weight is written only where the desired one
		// differs from it (the desired one has the reason beside).
		q{`max by (instance, server) (ipvs_real_server_declared_weight{` + s + `} or ignoring (reason) ipvs_real_server_desired_weight{` + s + `})`, "{{instance}} {{server}} declared"}))
	d.WithPanel(labelTable(l, 12, 8, "Last reason", "Why the controller wants what it wants for each real server, per director, at the last pass: maintenance, local_error (held: a check cannot run on the director), no_verdict, fleet_failure_suspect, panic, fail_open, slow_start, load (weight lowered by its load), up, drain or remove (see the README's Metrics).", []string{"instance", "server", "reason"},
		q{`max by (instance, server, reason) (ipvs_real_server_desired_weight{` + s + `})`, ""}))
	// The flags below are written only while 1 (absent means 0): "or
	// ... * 0" gives every real server a 0 line when it has none.
	d.WithPanel(timeline(l, 12, 8, "Verdict", "The checks' rise/fall verdict per real server (up = 1; down or unknown = 0).", upDown("down", "up"),
		q{`max by (instance, server) (ipvs_real_server_health_state{` + up + `} or ipvs_real_server_health_state{` + s + `} * 0)`, "{{instance}} {{server}}"}))
	d.WithPanel(timeline(l, 12, 6, "Maintenance", "Real servers an operator put into maintenance.", upDown("in service", "maintenance"),
		q{`max by (instance, server) (ipvs_real_server_maintenance{` + s + `}) or max by (instance, server) (ipvs_real_server_health_state{` + s + `}) * 0`, "{{instance}} {{server}}"}))
	d.WithPanel(ts(l, 12, 6, "Time since last verdict change", "How long each real server has had its current verdict.", "s",
		q{`time() - max by (instance, server) (ipvs_real_server_health_last_transition_timestamp_seconds{` + s + `})`, "{{instance}} {{server}}"}))
	d.WithPanel(ts(l, 12, 6, "Healthy capacity and panic", "The service's healthy share of declared weight, and 1 while it is in panic (fail open).", "percentunit",
		q{`max by (instance) (ipvs_controller_healthy_capacity_ratio{` + svc + `})`, "{{instance}} capacity"},
		q{`max by (instance) (ipvs_controller_panic{` + svc + `})`, "{{instance}} panic"}).Min(0).Max(1))
	d.WithPanel(ts(l, 12, 6, "Drift and pending writes", "1 while a real server differs from what the controller set (drift), or the controller wants a change it did not write (pending).", "short",
		q{`max by (instance, server) (ipvs_controller_drift{` + s + `}) or max by (instance, server) (ipvs_real_server_desired_weight{` + s + `}) * 0`, "{{instance}} {{server}} drift"},
		q{`max by (instance, server) (ipvs_controller_pending{` + s + `}) or max by (instance, server) (ipvs_real_server_desired_weight{` + s + `}) * 0`, "{{instance}} {{server}} pending"}))

	l.row(d, "Checks")
	d.WithPanel(ts(l, 12, 8, "Check results/s", "Check runs per second by check and result (open, closed, filtered, timeout, error, local_error).", "ops",
		q{`sum by (instance, server, check, result) (` + rate("ipvs_real_server_health_checks_total", s) + `)`, "{{instance}} {{server}} {{check}} {{result}}"}))
	// No latency per real server: a gauge of the last run's cost a
	// series per check at every scrape and showed one run in each scrape
	// interval; the histogram is per check type (BENCHMARKS.md, "Scale").
	dir := sel(o, "")
	d.WithPanel(ts(l, 12, 8, "Check duration (director)", "p50 and p99 of the duration of every check the director runs, by check type (all its services: the histogram has no service label). Each real server's latest check latency is on the sidecar's status page (sortable by latency).", "s",
		q{`histogram_quantile(0.99, sum by (instance, type, le) (` + rate("ipvs_health_check_duration_seconds_bucket", dir) + `))`, "{{instance}} {{type}} p99"},
		q{`histogram_quantile(0.5, sum by (instance, type, le) (` + rate("ipvs_health_check_duration_seconds_bucket", dir) + `))`, "{{instance}} {{type}} p50"}))
	return d
}
