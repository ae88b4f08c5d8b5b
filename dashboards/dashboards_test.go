package dashboards

//lint:file-ignore SA1019 the v1 dashboard schema is deprecated in favour of dashboardv2, which only Grafana 12's new API reads; file provisioning and import of every current Grafana take v1 JSON.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
)

// TestCommittedJSONIsFresh fails while the committed JSON differs from what
// the generator writes: edit the Go code, then run `make dashboards`.
func TestCommittedJSONIsFresh(t *testing.T) {
	files, err := Build(Default)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(UIDs) {
		t.Fatalf("Build wrote %d files, UIDs names %d", len(files), len(UIDs))
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v (run make dashboards)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run make dashboards and commit the result", name)
		}
	}
}

// The JSON Grafana gets must read back into the SDK's own types without
// unknown fields. UnmarshalJSONStrict returns a typed nil error when all is
// well, so the check is on the joined error's text, not on err != nil.
func TestJSONReadsBackStrictly(t *testing.T) {
	for name := range UIDs {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard.Dashboard
		if err := d.UnmarshalJSONStrict(raw); err != nil && len(err.Error()) > 0 {
			t.Errorf("%s: %v", name, err)
		}
		if d.Uid == nil || *d.Uid != UIDs[name] {
			t.Errorf("%s: uid %v, want %s", name, d.Uid, UIDs[name])
		}
	}
}

// The lint rules below follow grafana's dashboard-linter (template-*,
// panel-*, target-* rules), applied to the committed JSON as Grafana reads it.

type jsonDash struct {
	UID        string      `json:"uid"`
	Title      string      `json:"title"`
	Panels     []jsonPanel `json:"panels"`
	Templating struct {
		List []jsonVar `json:"list"`
	} `json:"templating"`
}

type jsonVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Refresh    int             `json:"refresh"`
	Hide       int             `json:"hide"`
	Datasource *jsonDS         `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

type jsonDS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type jsonPanel struct {
	ID          int          `json:"id"`
	Type        string       `json:"type"`
	Title       string       `json:"title"`
	Datasource  *jsonDS      `json:"datasource"`
	Targets     []jsonTarget `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type jsonTarget struct {
	Expr       string  `json:"expr"`
	RefID      string  `json:"refId"`
	Datasource *jsonDS `json:"datasource"`
}

func loadAll(t *testing.T) map[string]jsonDash {
	t.Helper()
	out := map[string]jsonDash{}
	for name := range UIDs {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var d jsonDash
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = d
	}
	return out
}

func TestLintTemplating(t *testing.T) {
	for name, d := range loadAll(t) {
		vars := map[string]jsonVar{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || string(v.Query) != `"prometheus"` {
			t.Errorf("%s: no datasource variable of type prometheus: %+v", name, v)
		}
		for _, want := range []string{"site", "job", "instance"} {
			v, ok := vars[want]
			if !ok {
				t.Errorf("%s: no %s variable", name, want)
				continue
			}
			if !v.Multi || !v.IncludeAll {
				t.Errorf("%s: variable %s should be multi-valued with All", name, want)
			}
		}
		if vars["site"].Hide != 2 {
			t.Errorf("%s: site variable shown by default (hide %d), want hidden", name, vars["site"].Hide)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			if v.Refresh != int(dashboard.VariableRefreshOnTimeRangeChanged) {
				t.Errorf("%s: variable %s refresh %d, want 2 (on time range change)", name, v.Name, v.Refresh)
			}
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("%s: variable %s does not use ${datasource}", name, v.Name)
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Errorf("%s: variable %s: %v", name, v.Name, err)
				continue
			}
			m := labelValues.FindStringSubmatch(q.Query)
			if m == nil {
				t.Errorf("%s: variable %s query %q is not label_values(selector, label)", name, v.Name, q.Query)
				continue
			}
			lintExpr(t, name+": variable "+v.Name, m[1], vars, false)
		}
	}
	if len(loadAll(t)["lvs-sidecar-service.json"].Templating.List) < 6 {
		t.Error("service dashboard lacks its service and server variables")
	}
}

var labelValues = regexp.MustCompile(`^label_values\((.+), *[a-zA-Z_][a-zA-Z0-9_]*\)$`)

func TestLintPanels(t *testing.T) {
	uids := map[string]string{}
	for name, d := range loadAll(t) {
		if d.UID == "" || d.UID != UIDs[name] {
			t.Errorf("%s: uid %q, want %q", name, d.UID, UIDs[name])
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", name, other, d.UID)
		}
		uids[d.UID] = name
		vars := map[string]jsonVar{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		ids := map[int]bool{}
		targets := 0
		for _, p := range d.Panels {
			if ids[p.ID] || p.ID == 0 {
				t.Errorf("%s: panel %q has id %d, not unique or unset", name, p.Title, p.ID)
			}
			ids[p.ID] = true
			if strings.TrimSpace(p.Title) == "" {
				t.Errorf("%s: panel %d has no title", name, p.ID)
			}
			if p.Type == "row" {
				continue
			}
			where := name + ": panel " + p.Title
			if p.FieldConfig.Defaults.Unit == "" {
				t.Errorf("%s: no unit", where)
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: panel datasource is not ${datasource}", where)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no targets", where)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				targets++
				if tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("%s: refId %q empty or repeated", where, tg.RefID)
				}
				refs[tg.RefID] = true
				if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
					t.Errorf("%s: target %s datasource is not ${datasource}", where, tg.RefID)
				}
				lintExpr(t, where+" "+tg.RefID, tg.Expr, vars, true)
			}
		}
		t.Logf("%s: %d panels, %d queries", name, len(d.Panels), targets)
	}
}

// rateInterval stands in for $__rate_interval; an odd value, so that a
// range written by hand cannot pass for it.
const rateInterval = 7*time.Minute + 13*time.Second

var metricWord = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

var varRef = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)

// lintExpr substitutes variables as Grafana would, parses the result as
// PromQL and checks what dashboard-linter checks: known metric names only,
// counters only inside rate/increase, and every range $__rate_interval.
func lintExpr(t *testing.T, where, expr string, vars map[string]jsonVar, target bool) {
	t.Helper()
	for _, p := range exprProblems(where, expr, vars, knownMetrics(t), target) {
		t.Error(p)
	}
}

// target is true for panel targets, which must select on job, instance and
// site; variable queries select on the variables before them only.
func exprProblems(where, expr string, vars map[string]jsonVar, known map[string]bool, target bool) []string {
	var probs []string
	errorf := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	s := strings.ReplaceAll(expr, "$__rate_interval", "7m13s")
	var unknown []string
	s = varRef.ReplaceAllStringFunc(s, func(m string) string {
		name := varRef.FindStringSubmatch(m)[1]
		if _, ok := vars[name]; !ok {
			unknown = append(unknown, m)
		}
		return "value"
	})
	if len(unknown) > 0 {
		errorf("%s: unknown variables %v in %s", where, unknown, expr)
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(s)
	if err != nil {
		errorf("%s: %s does not parse: %v", where, expr, err)
		return probs
	}
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			if n.Range != rateInterval {
				errorf("%s: range [%s] is not $__rate_interval in %s", where, n.Range, expr)
			}
		case *parser.VectorSelector:
			if !known[n.Name] && !strings.HasPrefix(n.Name, "go_") && !strings.HasPrefix(n.Name, "process_") {
				errorf("%s: metric %s is not in the README's metrics reference", where, n.Name)
			}
			// dashboard-linter's target-job-rule and target-instance-rule,
			// and the site label for several sites.
			has := map[string]bool{}
			for _, m := range n.LabelMatchers {
				has[m.Name] = true
			}
			for _, l := range []string{"job", "instance", Default.SiteLabel} {
				if target && !has[l] {
					errorf("%s: %s has no %s matcher in %s", where, n.Name, l, expr)
				}
			}
			if isCounter(n.Name) && !inRate(path) {
				errorf("%s: counter %s outside rate/increase in %s", where, n.Name, expr)
			}
		}
		return nil
	})
	return probs
}

func isCounter(name string) bool {
	for _, s := range []string{"_total", "_bucket", "_count", "_sum"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func inRate(path []parser.Node) bool {
	if len(path) < 2 {
		return false
	}
	if _, ok := path[len(path)-1].(*parser.MatrixSelector); !ok {
		return false
	}
	c, ok := path[len(path)-2].(*parser.Call)
	return ok && (c.Func.Name == "rate" || c.Func.Name == "increase")
}

var knownCache map[string]bool

// knownMetrics reads the metric names of the README's metrics reference
// (which cmd/lvs-sidecar's README tests hold to the real scrape), adds the
// series names of histograms, and Prometheus's own `up`.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	if knownCache != nil {
		return knownCache
	}
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "\n## Metrics\n")
	end := strings.Index(readme[start+1:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README has no ## Metrics section")
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_:]+)` \\| ([a-z]+)")
	k := map[string]bool{"up": true}
	for _, m := range row.FindAllStringSubmatch(readme[start:start+1+end], -1) {
		k[m[1]] = true
		if m[2] == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				k[m[1]+s] = true
			}
		}
	}
	if len(k) < 50 {
		names := make([]string, 0, len(k))
		for n := range k {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Fatalf("read only %d metric names from the README: %v", len(k), names)
	}
	knownCache = k
	return k
}

// The lint must catch what it is written for; a checker that passes
// everything proves nothing.
func TestLintCatchesBadExpressions(t *testing.T) {
	vars := map[string]jsonVar{"job": {}, "instance": {}, "site": {}}
	known := knownMetrics(t)
	sel := `{job=~"$job", instance=~"$instance", site=~"$site"}`
	// Each bad expression breaks exactly one rule; the others hold.
	for _, bad := range []string{
		`rate(ipvs_connections_total{job=~"$job", site=~"$site"}[$__rate_interval])`, // no instance matcher
		`ipvs_up{job=~"$job", instance="x"}`,                                         // no site matcher
		`ipvs_connections_totalSEL`,                                                  // counter outside rate
		`rate(ipvs_connections_totalSEL[5m])`,                                        // fixed range
		`rate(ipvs_connection_totalSEL[$__rate_interval])`,                           // not exported
		`sum by (instance) (ipvs_upSEL`,                                              // does not parse
		`ipvs_up{job=~"$nosuch", instance=~"$instance", site=~"$site"}`,              // unknown variable
		`max_over_time(ipvs_controller_drift_detected_totalSEL[$__rate_interval])`,   // counter in a function other than rate/increase
		`rate(ipvs_health_scheduler_lag_seconds_bucketSEL[$__rate_interval]) + ipvs_health_scheduler_lag_seconds_countSEL`,
	} {
		bad = strings.ReplaceAll(bad, "SEL", sel)
		if p := exprProblems("bad", bad, vars, known, true); len(p) != 1 {
			t.Errorf("lint found %d problems, want 1, in %s: %v", len(p), bad, p)
		}
	}
	good := `sum by (instance) (rate(ipvs_connections_total` + sel + `[$__rate_interval]))`
	if p := exprProblems("good", good, vars, known, true); len(p) > 0 {
		t.Errorf("lint failed a good expression: %v", p)
	}
}
