package collector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestNoStaleSeries scrapes one registry twice while a service is deleted
// in between: the second exposition must not mention it.
func TestNoStaleSeries(t *testing.T) {
	const gone = `service="tcp/192.0.2.10:80"`
	before := loadTable(t)
	after := loadTable(t)
	after.Services = after.Services[1:]
	if strings.Contains(after.Services[0].ServiceKey.String(), "192.0.2.10:80") {
		t.Fatal("fixture changed: the second service is not the one expected")
	}

	c := newTestCollector(sourceOf(step{snap: before}, step{snap: after}), Options{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	first, second := gatherText(t, reg), gatherText(t, reg)
	if n := strings.Count(first, gone); n == 0 {
		t.Fatalf("first scrape has no series of %s", gone)
	}
	if n := strings.Count(second, gone); n != 0 {
		t.Errorf("second scrape still has %d series of the deleted %s", n, gone)
	}
	if !strings.Contains(second, `service="tcp/192.0.2.10:443"`) {
		t.Error("second scrape lost the services that were not deleted")
	}
	if !strings.Contains(second, "ipvs_services 9\n") {
		t.Error("second scrape does not count 9 services")
	}
}
