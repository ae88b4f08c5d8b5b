package actuator

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// exposition is the controller's metrics as /metrics has them: written by
// the text writer. It checks them against the registry-path reference
// first (matchesRegistry).
func exposition(t *testing.T, c *Controller) string {
	t.Helper()
	matchesRegistry(t, c)
	return testutil.SourceText(t, c)
}

// matchesRegistry checks that the controller's text writer and its
// registry-path reference (registryCollector) expose the same families,
// samples and bytes for c as it is now: a pedantic registry checks the
// reference's samples against their descriptors and for duplicates.
func matchesRegistry(t *testing.T, c *Controller) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(registryCollector{c})
	text := testutil.SourceText(t, c)
	testutil.MatchesRegistry(t, testutil.Gather(t, reg), text)
	declaredOrDesired(t, c, text)
}

// declaredOrDesired checks, in exposition text of c, that
// ipvs_real_server_declared_weight or else ipvs_real_server_desired_weight
// is the declared weight of every real server of the configuration in
// use: the declared weight is left out only where the desired one says
// it.
func declaredOrDesired(t *testing.T, c *Controller, text string) {
	t.Helper()
	values := map[string]map[[2]string]float64{}
	for _, f := range testutil.ParseText(t, text) {
		for _, m := range f.GetMetric() {
			var k [2]string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "service":
					k[0] = l.GetValue()
				case "server":
					k[1] = l.GetValue()
				}
			}
			if values[f.GetName()] == nil {
				values[f.GetName()] = map[[2]string]float64{}
			}
			values[f.GetName()][k] = m.GetGauge().GetValue()
		}
	}
	for _, svc := range c.config().Services {
		for _, rs := range svc.RealServers {
			k := [2]string{svc.Key.String(), rs.Address.String()}
			v, ok := values["ipvs_real_server_declared_weight"][k]
			if !ok {
				v, ok = values["ipvs_real_server_desired_weight"][k]
			}
			if !ok || v != float64(rs.Weight) {
				t.Errorf("%s %s: declared or desired weight %v (present %v), declared %d", k[0], k[1], v, ok, rs.Weight)
			}
		}
	}
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
	if families != 22 {
		t.Errorf("%d metric families, want 22", families)
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

// TestMetricsShareLabels: with Options.Labels, the controller's metrics
// write their label sets from the health checks' strings themselves (the
// same strings, not copies), and the same text as without.
func TestMetricsShareLabels(t *testing.T) {
	cfg := webConfig(t, "", "")
	r := newRig(t, cfg, newFakeTable(webTable()))
	r.all(health.StateUp)
	r.c.pass(t.Context())
	own := exposition(t, r.c)

	// Copies of the fake's strings, so that sharing is told from the
	// strings being equal.
	var shared []health.LabeledServer
	for _, ls := range r.v.LabeledServers() {
		shared = append(shared, health.LabeledServer{Service: strings.Clone(ls.Service), Server: strings.Clone(ls.Server)})
	}
	c, err := New(cfg, Options{Reader: r.table, Writer: r.table, Verdicts: r.v, Labels: staticLabels(shared), Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	c.pass(t.Context())
	if got := exposition(t, c); got != own {
		t.Errorf("with the health checks' strings:\n%s\nwithout:\n%s", got, own)
	}
	c.mu.Lock()
	layout, _ := c.layoutsLocked(c.status.Services)
	c.mu.Unlock()
	byKey := make(map[destKey]health.LabeledServer, len(shared))
	for _, ls := range shared {
		byKey[destKey{ls.Service, ls.Server}] = ls
	}
	if len(layout.servers) != len(shared) {
		t.Fatalf("%d real servers in the layout, want %d", len(layout.servers), len(shared))
	}
	for _, s := range layout.servers {
		want, ok := byKey[destKey{s.service, s.server}]
		if !ok || unsafe.StringData(want.Server) != unsafe.StringData(s.server) || unsafe.StringData(want.Service) != unsafe.StringData(s.service) {
			t.Errorf("real server %s of %s: its strings are copies, not the health checks'", s.server, s.service)
		}
	}
}

// staticLabels is a LabeledServers that lists the same servers each time.
type staticLabels []health.LabeledServer

func (l staticLabels) LabeledServers() []health.LabeledServer { return l }

// TestLayoutEscapesOddNames: a layout whose names need escaping writes
// them escaped, as a registry would (the configuration's addresses and
// keys never do; the health checks' escaping test covers their side).
func TestLayoutEscapesOddNames(t *testing.T) {
	l := newMetricsLayout(statusList{{Service: `tcp/a"b`, RealServers: []RealServerStatus{{Server: `c\d`}, {Server: "e"}}}}, nil, nil)
	if !l.escape {
		t.Fatal("the layout does not know it must escape")
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := promtext.NewWriter(bw)
	w.Begin(famDesiredWeight)
	for _, a := range l.servers {
		l.sample(w, 1, &a, "{")
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ipvs_real_server_desired_weight{server="c\\d",service="tcp/a\"b"} 1`,
		`ipvs_real_server_desired_weight{server="e",service="tcp/a\"b"} 1`,
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("no line %s in:\n%s", want, out.String())
		}
	}
}

// TestSnapshotAllocationsDoNotGrow: a scrape of the controller's
// families allocates what it allocates whatever the number of real
// servers (issue 12: no per-scrape allocation proportional to the
// series): the label sets are the layout's, built once per
// configuration, and the lines are built in the output buffer.
func TestSnapshotAllocationsDoNotGrow(t *testing.T) {
	allocs := func(servers int) float64 {
		r := benchRig(t, 10, servers)
		r.c.pass(context.Background())
		bw := bufio.NewWriterSize(io.Discard, 64<<10)
		pw := promtext.NewWriter(bw)
		return testing.AllocsPerRun(5, func() {
			r.c.Snapshot()(pw)
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(10), allocs(200) // 100 and 2,000 real servers
	if large > small+5 {
		t.Errorf("a scrape of 2,000 real servers makes %.0f allocations, of 100 %.0f: it grows with the series", large, small)
	}
	t.Logf("allocations per scrape: %.0f at 100 real servers, %.0f at 2,000", small, large)
}
