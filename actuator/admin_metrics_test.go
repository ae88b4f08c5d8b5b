package actuator

import (
	"maps"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// TestMaintenanceCollector: every real server the checks know has a
// series, 1 while in maintenance and 0 otherwise (a lift is a 0, not a
// vanished series), and an entry of a server the checks no longer know
// still shows as 1.
func TestMaintenanceCollector(t *testing.T) {
	v := newFakeVerdicts()
	v.set(web, rs1, health.StateUp)
	v.set(web, rs2, health.StateUp)
	m := NewMaintenance()
	for _, c := range []MaintenanceChange{
		{Service: web, Server: rs1, Enabled: true},
		{Service: web, Server: rs3, Enabled: true},
		{Service: web, Server: rs2, Enabled: true},
		{Service: web, Server: rs2, Enabled: false},
	} {
		if _, _, err := m.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewMaintenanceCollector(m, v))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
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
	want := map[string]float64{web + " " + rs1: 1, web + " " + rs2: 0, web + " " + rs3: 1}
	if !maps.Equal(got, want) {
		t.Errorf("series %v, want %v", got, want)
	}
}
