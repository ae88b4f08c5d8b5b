package dashboards

//lint:file-ignore SA1019 the v1 dashboard schema is deprecated in favour of dashboardv2, which only Grafana 12's new API reads; file provisioning and import of every current Grafana take v1 JSON.

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func rate(metric, s string) string {
	return `rate(` + metric + `{` + s + `}[$__rate_interval])`
}

// fleet answers: is every director and its sidecar up, how much of each
// director's table is healthy, how much traffic it carries, and where a
// human should look (panic, drained, drift, directors that disagree).
func fleet(o Options) *dashboard.DashboardBuilder {
	d := base(o, UIDs["lvs-sidecar-fleet.json"], "LVS / Fleet",
		"Every director at a glance: sidecar and IPVS up, healthy real servers, traffic, panic, drains, drift and directors that disagree.")
	s := sel(o, "")
	up := sel(o, `state="up"`)
	l := &layout{}

	l.row(d, "Directors")
	d.WithPanel(timeline(l, 12, 6, "Sidecar up", "Prometheus could scrape the sidecar (up).", upDown("down", "up"),
		q{`max by (instance) (up{` + s + `})`, "{{instance}}"}))
	d.WithPanel(timeline(l, 12, 6, "IPVS up", "The sidecar could read the IPVS table (ipvs_up): 0 means ip_vs not loaded or no permission.", upDown("unreadable", "read"),
		q{`max by (instance) (ipvs_up{` + s + `})`, "{{instance}}"}))
	// A real server has one health state series, its state's: counting
	// them counts servers; "or ... * 0" shows 0 on a director with none
	// up instead of no line.
	d.WithPanel(ts(l, 12, 7, "Real servers up / total", "Real servers whose checks' verdict is up, and all checked ones, per director.", "short",
		q{`count by (instance) (ipvs_real_server_health_state{` + up + `}) or count by (instance) (ipvs_real_server_health_state{` + s + `}) * 0`, "{{instance}} up"},
		q{`count by (instance) (ipvs_real_server_health_state{` + s + `})`, "{{instance}} total"}))
	d.WithPanel(ts(l, 12, 7, "Services up / total", "Services with at least one real server up, and all services in the table, per director.", "short",
		q{`count by (instance) (count by (instance, service) (ipvs_real_server_health_state{` + up + `})) or count by (instance) (ipvs_real_server_health_state{` + s + `}) * 0`, "{{instance}} up"},
		q{`sum by (instance) (ipvs_services{` + s + `})`, "{{instance}} total"}))
	d.WithPanel(timeline(l, 24, 6, "Who holds the VIP", "Per director and service, whether the VIP is on one of the director's interfaces (ipvs_service_vip_local): the active director of a VRRP pair holds it, a backup's table is idle. No row for fwmark services.", upDown("not held", "held"),
		q{`max by (instance, service) (ipvs_service_vip_local{` + s + `})`, "{{instance}} {{service}}"}))

	l.row(d, "Traffic")
	d.WithPanel(ts(l, 8, 7, "Connections/s", "New connections IPVS scheduled, host-wide, per director.", "cps",
		q{`sum by (instance) (` + rate("ipvs_connections_total", s) + `)`, "{{instance}}"}))
	d.WithPanel(ts(l, 8, 7, "Packets/s", "Packets in from clients and out to clients (out only through the director: NAT).", "pps",
		q{`sum by (instance) (` + rate("ipvs_incoming_packets_total", s) + `)`, "{{instance}} in"},
		q{`sum by (instance) (` + rate("ipvs_outgoing_packets_total", s) + `)`, "{{instance}} out"}))
	d.WithPanel(ts(l, 8, 7, "Bytes/s", "Bytes in from clients and out to clients (out only through the director: NAT).", "Bps",
		q{`sum by (instance) (` + rate("ipvs_incoming_bytes_total", s) + `)`, "{{instance}} in"},
		q{`sum by (instance) (` + rate("ipvs_outgoing_bytes_total", s) + `)`, "{{instance}} out"}))

	l.row(d, "Attention")
	d.WithPanel(st(l, 6, 5, "Services in panic", "Services whose healthy share of capacity fell below panic_threshold: nothing is drained (fail open).", "short",
		q{`sum(ipvs_controller_panic{` + s + `})`, "panic"}))
	d.WithPanel(st(l, 6, 5, "Services failing open", "Services with no weighted real server up: the down ones keep their weights.", "short",
		q{`sum(ipvs_controller_fail_open{` + s + `})`, "fail open"}))
	d.WithPanel(st(l, 6, 5, "Drained real servers", "Real servers with weight 0 in the table (drained by the controller or by hand).", "short",
		q{`sum(ipvs_real_server_weight{` + s + `} == bool 0)`, "drained"}))
	d.WithPanel(st(l, 6, 5, "In maintenance", "Real servers an operator put into maintenance.", "short",
		q{`sum(ipvs_real_server_maintenance{` + s + `}) or vector(0)`, "maintenance"}))
	d.WithPanel(ts(l, 12, 7, "Panic, fail open, drained, maintenance per director", "Counts over time, per director, and 1 while a fleet-wide failure is taken for director trouble.", "short",
		q{`sum by (instance) (ipvs_controller_panic{` + s + `})`, "{{instance}} panic"},
		q{`sum by (instance) (ipvs_controller_fail_open{` + s + `})`, "{{instance}} fail open"},
		q{`sum by (instance) (ipvs_real_server_weight{` + s + `} == bool 0)`, "{{instance}} drained"},
		q{`sum by (instance) (ipvs_real_server_maintenance{` + s + `}) or count by (instance) (ipvs_real_server_health_state{` + s + `}) * 0`, "{{instance}} maintenance"},
		q{`max by (instance) (ipvs_controller_fleet_failure_suspect{` + s + `})`, "{{instance}} fleet-wide failure suspect"}))
	d.WithPanel(ts(l, 12, 7, "Healthy capacity per service", "Declared weight of the up real servers over that of all judged ones; panic_threshold is compared with it.", "percentunit",
		q{`min by (instance, service) (ipvs_controller_healthy_capacity_ratio{` + s + `})`, "{{instance}} {{service}}"}).Min(0).Max(1))
	d.WithPanel(ts(l, 12, 7, "Drift and reconcile errors", "Real servers changed by hand now, hand-made changes found and corrected, and failed reconcile passes.", "short",
		q{`sum by (instance) (ipvs_controller_drift{` + s + `}) or count by (instance) (ipvs_real_server_desired_weight{` + s + `}) * 0`, "{{instance}} drifted now"},
		q{`sum by (instance) (increase(ipvs_controller_drift_detected_total{` + s + `}[$__rate_interval]))`, "{{instance}} drift found"},
		q{`sum by (instance) (increase(ipvs_controller_drift_corrected_total{` + s + `}[$__rate_interval]))`, "{{instance}} drift corrected"},
		q{`sum by (instance) (increase(ipvs_controller_reconcile_errors_total{` + s + `}[$__rate_interval]))`, "{{instance}} reconcile errors"}))
	// Sums, not counts of == 1: a director with zero live servers still
	// yields a series, so the difference does not go silent.
	d.WithPanel(ts(l, 12, 7, "Directors that disagree", "Per service, highest minus lowest over the selected directors of the number of real servers and of the sum of their weights; above 0 the directors' tables differ.", "short",
		q{`max by (service) (ipvs_service_real_servers{` + s + `}) - min by (service) (ipvs_service_real_servers{` + s + `})`, "{{service}} real servers"},
		q{`max by (service) (sum by (instance, service) (ipvs_real_server_weight{` + s + `})) - min by (service) (sum by (instance, service) (ipvs_real_server_weight{` + s + `}))`, "{{service}} weight"}))
	return d
}
