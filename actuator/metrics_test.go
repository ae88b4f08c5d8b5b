package actuator

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// exposition gathers the controller through a pedantic registry (which
// checks every metric against its descriptor and for duplicates) and
// renders it in the text format.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestMetricsGolden drives a controller through maintenance, a drain, a
// hand edit, panic in a second service, a slow start, an undeclared real
// server, a failed write and a targeted write, and compares its metrics with
// testdata/metrics.prom (go test -update rewrites it).
func TestMetricsGolden(t *testing.T) {
	cfg := parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
    slow_start: 40s
    real_servers:
      - {address: `+rs1+`, weight: 2, forward: nat}
      - {address: `+rs2+`, weight: 1, forward: nat}
      - {address: `+rs3+`, weight: 3, forward: nat, upper_threshold: 100, lower_threshold: 50}
      - {address: `+rs4+`, weight: 1, forward: nat}
  - name: api
    address: 192.0.2.11:443
    persistence: 60s
    panic_threshold: 50%
    real_servers:
      - {address: 10.0.1.1, forward: dr}
      - {address: 10.0.1.2, forward: dr}
      - {address: 10.0.1.3, forward: dr}
`)
	tbl := webTable()
	tbl.Destinations = append(tbl.Destinations, dest("10.0.0.99:80", 1))
	tbl.Destinations[0].Weight = 0 // rs1 drained by the last run: ramps when up
	ft := newFakeTable(tbl)
	ft.setSysctl(ipvs.SysctlExpireQuiescentTemplate, 0)
	ft.setSysctl(ipvs.SysctlExpireNodestConn, 1)
	r := newRig(t, cfg, ft)
	r.applied(drainedByUs(web, rs1))
	r.all(health.StateUp)
	r.v.set(web, rs2, health.StateDown)
	r.admin.put(web, rs4, true)
	r.v.set("tcp/192.0.2.11:443", "10.0.1.1:443", health.StateDown)
	r.v.set("tcp/192.0.2.11:443", "10.0.1.2:443", health.StateDown)
	r.v.set("tcp/192.0.2.11:443", "10.0.1.3:443", health.StateUp)
	r.table.setFail("10.0.1.3:443", ipvs.ErrPermission)
	r.pass()
	r.clock.Advance(10 * time.Second)
	r.table.handEdit(webKey, rs3, 5)
	r.pass()
	// A verdict change between passes: its targeted write.
	r.subscribe()
	r.v.set(web, rs3, health.StateDown)
	if w, full := r.target(); full || len(w) != 1 {
		t.Fatalf("targeted write: %q, full pass %v; want one write", w, full)
	}

	got := exposition(t, r.c)
	golden := filepath.Join("testdata", "metrics.prom")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
			}
		}
	}

	// Every family is in the README's metrics tables.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, metricsSection, _ := strings.Cut(string(readme), "\n## Metrics\n")
	metricsSection, _, _ = strings.Cut(metricsSection, "\n## ")
	families := 0
	for _, line := range strings.Split(got, "\n") {
		name, ok := strings.CutPrefix(line, "# HELP ")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, " ")
		families++
		if !strings.Contains(metricsSection, "| `"+name+"` |") {
			t.Errorf("%s is not in the README's metrics tables", name)
		}
	}
	if families != 26 {
		t.Errorf("%d metric families, want 26", families)
	}

	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(got)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Error("promtool not found (CI must lint the metrics): apt-get install prometheus")
	}
}
