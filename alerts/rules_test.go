// Package alerts holds no Go code: its tests lint and exercise the Prometheus
// rules in this directory (lvs-sidecar.rules.yml) and the runbook they link.
package alerts

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

const (
	rulesFile   = "lvs-sidecar.rules.yml"
	runbookFile = "runbook.md"
	runbookURL  = "https://github.com/lvs-sidecar/lvs-sidecar/blob/main/alerts/runbook.md#"
)

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) (records, alerts []rule) {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records = append(records, r)
			} else {
				alerts = append(alerts, r)
			}
		}
	}
	if len(alerts) == 0 || len(records) == 0 {
		t.Fatalf("%s: %d alerts, %d recording rules; want both", rulesFile, len(alerts), len(records))
	}
	return records, alerts
}

var (
	camelCase     = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	recordName    = regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$`)
	templated     = regexp.MustCompile(`\{\{[^}]*\$(labels|value)[^}]*\}\}`)
	anyTemplate   = regexp.MustCompile(`\{\{`)
	readmeMetric  = regexp.MustCompile("^\\| `([a-z_:]+)` \\|")
	markdownTitle = regexp.MustCompile(`^#{1,6} (.+)$`)
)

// TestAlertRulesLint applies mixtool's and dashboard-linter's alert rules.
func TestAlertRulesLint(t *testing.T) {
	_, alerts := loadRules(t)
	anchors := runbookAnchors(t)
	seen := map[string]bool{}
	for _, a := range alerts {
		if !camelCase.MatchString(a.Alert) {
			t.Errorf("alert %q: name is not CamelCase", a.Alert)
		}
		if seen[a.Alert] {
			t.Errorf("alert %q: defined twice", a.Alert)
		}
		seen[a.Alert] = true
		if s := a.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("alert %s: severity %q, want critical or warning", a.Alert, s)
		}
		summary, desc := a.Annotations["summary"], a.Annotations["description"]
		if summary == "" {
			t.Errorf("alert %s: no summary", a.Alert)
		} else if anyTemplate.MatchString(summary) {
			t.Errorf("alert %s: summary %q is templated; keep it static so notifications group", a.Alert, summary)
		}
		if desc == "" {
			t.Errorf("alert %s: no description", a.Alert)
		} else if !templated.MatchString(desc) {
			t.Errorf("alert %s: description %q uses neither $labels nor $value", a.Alert, desc)
		}
		u := a.Annotations["runbook_url"]
		anchor, ok := strings.CutPrefix(u, runbookURL)
		switch {
		case !ok:
			t.Errorf("alert %s: runbook_url %q does not start with %s", a.Alert, u, runbookURL)
		case !anchors[anchor]:
			t.Errorf("alert %s: runbook_url anchor #%s is no heading of %s", a.Alert, anchor, runbookFile)
		}
		for k := range a.Annotations {
			if k != "summary" && k != "description" && k != "runbook_url" {
				t.Errorf("alert %s: unexpected annotation %q", a.Alert, k)
			}
		}
	}
}

// TestRecordingRuleNames checks the level:metric:operations convention and
// that no alert reads a counter without rate or increase.
func TestRecordingRuleNames(t *testing.T) {
	records, _ := loadRules(t)
	for _, r := range records {
		if !recordName.MatchString(r.Record) {
			t.Errorf("recording rule %q: name is not level:metric:operations", r.Record)
		}
		if len(r.Labels) > 0 || len(r.Annotations) > 0 {
			t.Errorf("recording rule %s: labels or annotations on a recording rule", r.Record)
		}
	}
}

// counterFuncs are the functions a counter may be read through.
var counterFuncs = map[string]bool{"rate": true, "irate": true, "increase": true, "resets": true}

func isCounter(name string) bool {
	if strings.Contains(name, ":") { // a recording rule: already a rate
		return false
	}
	for _, s := range []string{"_total", "_bucket", "_count", "_sum"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// TestRuleExpressions parses every expression with Prometheus's own parser,
// checks that counters appear only inside rate/increase, and that every
// metric named is one the sidecar exports (the README's metrics reference,
// which cmd/lvs-sidecar's tests keep true), a recording rule of this file,
// or Prometheus's own up.
func TestRuleExpressions(t *testing.T) {
	records, alerts := loadRules(t)
	known := readmeMetrics(t)
	known["up"] = true
	for _, r := range records {
		known[r.Record] = true
	}
	p := parser.NewParser(parser.Options{})
	for _, r := range append(records, alerts...) {
		name := r.Record + r.Alert
		expr, err := p.ParseExpr(r.Expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, r.Expr)
			continue
		}
		n := 0
		parser.Inspect(expr, func(node parser.Node, path []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			n++
			if !known[vs.Name] {
				t.Errorf("%s: metric %q is not exported by the sidecar (README metrics reference) nor recorded here", name, vs.Name)
			}
			if !isCounter(vs.Name) {
				return nil
			}
			for _, anc := range path {
				if c, ok := anc.(*parser.Call); ok && counterFuncs[c.Func.Name] {
					return nil
				}
			}
			t.Errorf("%s: counter %s used outside rate/increase", name, vs.Name)
			return nil
		})
		if n == 0 {
			t.Errorf("%s: expression selects no metric", name)
		}
	}
}

// readmeMetrics lists the metric names of the README's metrics tables, with
// the series names of its histograms.
func readmeMetrics(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := readmeMetric.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		names[m[1]] = true
		if strings.Contains(sc.Text(), "| histogram |") {
			for _, s := range []string{"_bucket", "_count", "_sum"} {
				names[m[1]+s] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) < 50 || !names["ipvs_up"] || !names["ipvs_health_scheduler_lag_seconds_bucket"] {
		t.Fatalf("README metrics reference: found only %d metrics; did the table format change?", len(names))
	}
	return names
}

// runbookAnchors returns the GitHub anchors of the runbook's headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if m := markdownTitle.FindStringSubmatch(line); m != nil {
			anchors[githubAnchor(m[1])] = true
		}
	}
	return anchors
}

// githubAnchor is the id GitHub gives a heading: lower case, punctuation
// dropped, spaces as dashes.
func githubAnchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(title)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// TestPromtoolCheckRules runs promtool check rules (Debian package
// prometheus) over the rules, which must pass with no warning.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := lookPromtool(t)
	out, err := exec.Command(promtool, "check", "rules", "--lint=all", "--lint-fatal", rulesFile).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("SUCCESS")) || bytes.Contains(out, []byte("WARNING")) {
		t.Errorf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	}
}

// TestPromtoolTestRules runs the unit tests of the rules (promtool test
// rules) and checks they give every alert a firing and a silent case.
func TestPromtoolTestRules(t *testing.T) {
	promtool := lookPromtool(t)
	tests, err := filepath.Glob(filepath.Join("tests", "*.yml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no rule tests in tests/: %v", err)
	}
	_, alerts := loadRules(t)
	firing, silent := alertCases(t, tests)
	for _, a := range alerts {
		if firing[a.Alert] == 0 {
			t.Errorf("alert %s: no test case where it fires", a.Alert)
		}
		if silent[a.Alert] == 0 {
			t.Errorf("alert %s: no test case where it stays silent", a.Alert)
		}
	}
	args := append([]string{"test", "rules"}, tests...)
	out, err := exec.Command(promtool, args...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("SUCCESS")) {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// alertCases counts, per alert, the alert_rule_test cases expecting it to
// fire (exp_alerts not empty) and to stay silent.
func alertCases(t *testing.T, files []string) (firing, silent map[string]int) {
	t.Helper()
	firing, silent = map[string]int{}, map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string           `yaml:"alertname"`
					ExpAlerts []map[string]any `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range doc.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					for _, e := range a.ExpAlerts {
						if e["exp_labels"] == nil || e["exp_annotations"] == nil {
							t.Errorf("%s: alert %s: a firing case must assert labels and annotations", f, a.Alertname)
						}
					}
					firing[a.Alertname]++
				} else {
					silent[a.Alertname]++
				}
			}
		}
	}
	return firing, silent
}

// lookPromtool finds promtool, or skips the test outside CI (as
// collector/promtool_test.go does): in CI (CI set) a missing promtool fails.
func lookPromtool(t *testing.T) string {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI (apt-get install prometheus): %v", err)
		}
		t.Skipf("promtool not installed (apt-get install prometheus): %v", err)
	}
	return promtool
}

// TestTuneMarkers keeps the tuning convention: every for: and every
// comparison with a threshold other than the 0/1 of a boolean gauge is on a
// line marked "# TUNE", so grep finds every knob.
func TestTuneMarkers(t *testing.T) {
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	threshold := regexp.MustCompile(`[<>]=? *([0-9.]+)`)
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		code, _, _ := strings.Cut(line, "#")
		needs := strings.HasPrefix(strings.TrimSpace(code), "for:")
		if m := threshold.FindStringSubmatch(code); m != nil && m[1] != "0" && m[1] != "1" {
			needs = true
		}
		if needs {
			n++
			if !strings.Contains(line, "# TUNE") {
				t.Errorf("%s:%d: threshold without a # TUNE marker: %s", rulesFile, i+1, strings.TrimSpace(line))
			}
		}
	}
	if n < 10 {
		t.Errorf("found only %d thresholds; did the file's layout change?", n)
	}
}
