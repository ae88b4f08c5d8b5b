package load

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestMetrics scrapes a poller with one answering and one stale real
// server: the families and values, promtool's lint, and that every
// family is in the README's metrics tables.
func TestMetrics(t *testing.T) {
	r := newRig(t)
	r.agents.set("10.0.0.1", 2.5, nil)
	r.agents.set("10.0.0.2", 0, os.ErrDeadlineExceeded)
	r.p.Update(loadConfig(t, "10.0.0.1", "10.0.0.2"))
	r.step(0, 2)
	for i := 2; i <= 4; i++ {
		r.step(time.Second, 2*i)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.p)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	got := buf.String()
	for _, line := range []string{
		`ipvs_real_server_load{server="10.0.0.1:80",service="tcp/192.0.2.1:80"} 2.5`,
		`ipvs_real_server_load_stale{server="10.0.0.1:80",service="tcp/192.0.2.1:80"} 0`,
		`ipvs_real_server_load_stale{server="10.0.0.2:80",service="tcp/192.0.2.1:80"} 1`,
		`ipvs_real_server_load_poll_errors_total{server="10.0.0.2:80",service="tcp/192.0.2.1:80"} 4`,
		`ipvs_real_server_load_polls_total{server="10.0.0.1:80",service="tcp/192.0.2.1:80"} 4`,
		`ipvs_real_server_load_age_seconds{server="10.0.0.1:80",service="tcp/192.0.2.1:80"} 0`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("scrape lacks %s:\n%s", line, got)
		}
	}
	if strings.Contains(got, `ipvs_real_server_load{server="10.0.0.2:80"`) {
		t.Errorf("a load for a server that never answered:\n%s", got)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, metrics, _ := strings.Cut(string(readme), "\n## Metrics\n")
	metrics, _, _ = strings.Cut(metrics, "\n## ")
	for _, mf := range mfs {
		if !strings.Contains(metrics, "| `"+mf.GetName()+"` |") {
			t.Errorf("%s is not in the README's metrics tables", mf.GetName())
		}
	}
	if len(mfs) != 5 {
		t.Errorf("%d families, want 5", len(mfs))
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI (apt-get install prometheus): %v", err)
		}
		t.Skip("promtool not installed")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(got)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
