package actuator

import (
	"maps"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// TestMaintenanceMetrics: every real server in maintenance has a series,
// 1, whether the checks know it or not (an entry of a server the checks
// no longer know still drains it if it comes back: the series come from
// the entries alone); the others, a lifted
// one among them, have none (absent means 0); the text writer writes what
// the registry-path reference gathers, in its order.
func TestMaintenanceMetrics(t *testing.T) {
	m := NewMaintenance()
	for _, c := range []MaintenanceChange{
		{Service: web, Server: rs1, Enabled: true},
		{Service: web, Server: rs3, Enabled: true},
		{Service: web, Server: rs2, Enabled: true},
		{Service: web, Server: rs2, Enabled: false},
		{Service: web, Server: "10.0.0.0:80", Enabled: true},
		{Service: "tcp/192.0.2.99:80", Server: "10.0.0.99:80", Enabled: true},
	} {
		if _, _, err := m.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newMaintenanceCollector(m))
	text := testutil.SourceText(t, NewMaintenanceMetrics(m))
	testutil.MatchesRegistry(t, testutil.Gather(t, reg), text)
	got := map[string]float64{}
	for _, f := range testutil.ParseText(t, text) {
		if f.GetName() != "ipvs_real_server_maintenance" || f.GetType() != dto.MetricType_GAUGE {
			t.Errorf("family %s of type %s", f.GetName(), f.GetType())
		}
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["service"]+" "+labels["server"]] = mt.GetGauge().GetValue()
		}
	}
	want := map[string]float64{web + " " + rs1: 1, web + " " + rs3: 1, web + " 10.0.0.0:80": 1,
		"tcp/192.0.2.99:80 10.0.0.99:80": 1}
	if !maps.Equal(got, want) {
		t.Errorf("series %v, want %v", got, want)
	}
}
