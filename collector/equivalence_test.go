package collector

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// equivalenceCases are the tables both exposition paths must agree on: the
// golden fixtures, the benchmark's synthetic tables, the look-alike tables
// of TestUniqueSeries and label values that need escaping.
func equivalenceCases(t *testing.T) map[string]step {
	t.Helper()
	partial := loadTable(t)
	partial.Totals = nil
	partial.Partial = fmt.Errorf("read host-wide totals: %w", ipvs.ErrTimeout)
	mixedForward := loadTable(t)
	for i := range mixedForward.Services {
		for j := range mixedForward.Services[i].Destinations {
			mixedForward.Services[i].Destinations[j].Forward = ipvs.ForwardMethod(4 - j%5)
		}
	}
	cases := map[string]step{
		"table.json":                    {snap: loadTable(t)},
		"table.json, unreadable":        {err: fmt.Errorf("read the IPVS table: %w", ipvs.ErrModuleNotLoaded)},
		"table.json, partial":           {snap: partial},
		"table.json, forward mixed":     {snap: mixedForward},
		"empty table":                   {snap: &ipvs.Snapshot{}},
		"synthetic, 10 destinations":    {snap: syntheticTable(t, 10)},
		"synthetic, 1000 destinations":  {snap: syntheticTable(t, 1000)},
		"synthetic, 10000 destinations": {snap: syntheticTable(t, 10000)},
		// The first service in the exposition's order has no real
		// server, and the forwards of the next one are not in order.
		"first service empty": {snap: &ipvs.Snapshot{
			Services: []ipvs.Service{
				{ServiceKey: tcp4("192.0.2.2", 80), Destinations: []ipvs.Destination{
					{Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Forward: ipvs.ForwardTunnel},
					{Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Forward: ipvs.ForwardMasq},
				}},
				{ServiceKey: tcp4("192.0.2.1", 80)},
			},
		}},
		"label values that need escaping": {snap: &ipvs.Snapshot{
			Info: &ipvs.Info{Version: 0x010201},
			Services: []ipvs.Service{
				{ServiceKey: tcp4("192.0.2.1", 80), Scheduler: `w"rr`, PEName: "sip\\\n", Destinations: []ipvs.Destination{dst("10.0.0.1:80")}},
				{ServiceKey: tcp4("192.0.2.1", 81), Scheduler: "\\\\\"\"\n\n", PEName: "\xff\"", Destinations: []ipvs.Destination{dst("10.0.0.1:80")}},
			},
		}},
	}
	for _, u := range uniqueSeriesCases() {
		cases["look-alikes: "+u.name] = step{snap: &ipvs.Snapshot{Services: u.services}}
	}
	if testing.Short() {
		delete(cases, "synthetic, 10000 destinations")
	}
	return cases
}

// TestTextMatchesRegistry is what keeps the two exposition paths from
// drifting apart: for each table, the text the fast path writes must parse
// into the same families (help, type, label sets, values, order) that a
// pedantic registry gathers from Collect, and be the same bytes expfmt
// writes for them.
func TestTextMatchesRegistry(t *testing.T) {
	for name, st := range equivalenceCases(t) {
		t.Run(name, func(t *testing.T) { textMatchesRegistry(t, st) })
	}
}

// textMatchesRegistry fails t unless the fast path's text of st is what a
// pedantic registry gathers from Collect. A table the registry refuses
// (a repeated series) fails too: the collector must never make one.
func textMatchesRegistry(t *testing.T, st step) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newTestCollector(sourceOf(st), Options{}))
	want, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	testutil.MatchesRegistry(t, want, fastText(t, newTestCollector(sourceOf(st), Options{})))
}

// TestFamiliesDiffCatchesDrift proves TestTextMatchesRegistry can fail: it
// spoils the fast path's text in one place at a time and expects
// familiesDiff to say where.
func TestFamiliesDiffCatchesDrift(t *testing.T) {
	st := step{snap: loadTable(t)}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newTestCollector(sourceOf(st), Options{}))
	want, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	text := fastText(t, newTestCollector(sourceOf(st), Options{}))
	if diff := familiesDiff(want, parseText(t, text)); len(diff) > 0 {
		t.Fatalf("unspoilt text already differs:\n%s", strings.Join(diff, "\n"))
	}

	weight := `ipvs_real_server_weight{address="192.0.2.10",family="ipv4",fwmark="",port="80",protocol="tcp",server="10.0.0.1:8080",service="tcp/192.0.2.10:80"} `
	tests := []struct {
		name   string
		spoil  func(string) string
		family string // the family the difference must name
	}{
		{"one value changed", func(s string) string {
			return replaceValue(t, s, weight, "2")
		}, "ipvs_real_server_weight"},
		{"a counter off by one above 2^32", func(s string) string {
			line := `ipvs_real_server_connections_total{address="192.0.2.10",family="ipv4",fwmark="",port="80",protocol="tcp",server="10.0.0.1:8080",service="tcp/192.0.2.10:80"} `
			return replaceValue(t, s, line, "4.294967302e+09")
		}, "ipvs_real_server_connections_total"},
		{"one label value changed", func(s string) string {
			return strings.Replace(s, `forward="masq"`, `forward="route"`, 1)
		}, "ipvs_real_server_info"},
		{"one sample missing", func(s string) string {
			return removeLine(t, s, "ipvs_timeout_seconds{protocol=\"udp\"}")
		}, "ipvs_timeout_seconds"},
		{"one sample too many", func(s string) string {
			return strings.Replace(s, "ipvs_timeout_seconds{protocol=\"udp\"} 300\n", "ipvs_timeout_seconds{protocol=\"udp\"} 300\nipvs_timeout_seconds{protocol=\"sctp\"} 300\n", 1)
		}, "ipvs_timeout_seconds"},
		{"two samples swapped", func(s string) string {
			a := `ipvs_timeout_seconds{protocol="tcp"} 900` + "\n"
			b := `ipvs_timeout_seconds{protocol="tcpfin"} 120` + "\n"
			return strings.Replace(s, a+b, b+a, 1)
		}, "ipvs_timeout_seconds"},
		{"help changed", func(s string) string {
			return strings.Replace(s, "# HELP ipvs_up Whether", "# HELP ipvs_up whether", 1)
		}, "ipvs_up"},
		{"type changed", func(s string) string {
			return strings.Replace(s, "# TYPE ipvs_services gauge", "# TYPE ipvs_services counter", 1)
		}, "ipvs_services"},
		{"family missing", func(s string) string {
			return removeLine(t, removeLine(t, removeLine(t, s, "# HELP ipvs_info "), "# TYPE ipvs_info "), "ipvs_info{")
		}, "ipvs_info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spoilt := tt.spoil(text)
			if spoilt == text {
				t.Fatal("the spoiler changed nothing: the fixture changed")
			}
			diff := familiesDiff(want, parseText(t, spoilt))
			if len(diff) == 0 {
				t.Fatal("familiesDiff found no difference")
			}
			if !strings.Contains(strings.Join(diff, "\n"), tt.family) {
				t.Errorf("the difference does not name %s:\n%s", tt.family, strings.Join(diff, "\n"))
			}
		})
	}
}

// replaceValue replaces the value of the sample line that starts with
// prefix.
func replaceValue(t *testing.T, s, prefix, value string) string {
	t.Helper()
	i := strings.Index(s, "\n"+prefix)
	if i < 0 {
		t.Fatalf("no line %q", prefix)
	}
	start := i + 1 + len(prefix)
	end := start + strings.IndexByte(s[start:], '\n')
	return s[:start] + value + s[end:]
}

// removeLine removes the first line that starts with prefix.
func removeLine(t *testing.T, s, prefix string) string {
	t.Helper()
	i := strings.Index(s, "\n"+prefix)
	if i < 0 {
		t.Fatalf("no line %q", prefix)
	}
	end := i + 1 + strings.IndexByte(s[i+1:], '\n')
	return s[:i] + s[end:]
}

// fastText is what the text writer writes for c.
func fastText(t *testing.T, c *Collector) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.WriteText(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// parseText parses a text exposition with expfmt's parser, which rejects
// what Prometheus would reject.
func parseText(t *testing.T, text string) []*dto.MetricFamily {
	t.Helper()
	return testutil.ParseText(t, text)
}

// familiesDiff lists how got differs from want (testutil.FamiliesDiff).
func familiesDiff(want, got []*dto.MetricFamily) []string { return testutil.FamiliesDiff(want, got) }

func firstDifference(a, b string) int { return testutil.FirstDifference(a, b) }
