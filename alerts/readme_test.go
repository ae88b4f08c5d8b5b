package alerts

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeAlertRow is a row of the README's alert table:
// | [Name](alerts/runbook.md#anchor) | severity | ... |
var readmeAlertRow = regexp.MustCompile(`(?m)^\| \[([A-Za-z0-9]+)\]\(alerts/runbook\.md#([a-z0-9_-]+)\) \| ([a-z]+) \|`)

// TestReadmeListsEveryAlert keeps the README's alert table and the runbook
// true to the rules file: every alert listed once, with its severity and its
// runbook section, and no alert the file does not define.
func TestReadmeListsEveryAlert(t *testing.T) {
	_, alerts := loadRules(t)
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if !strings.Contains(readme, "\n## Dashboards and alerts\n") {
		t.Fatal(`README.md has no "## Dashboards and alerts" section`)
	}
	rows := map[string][]string{}
	var order []string
	for _, m := range readmeAlertRow.FindAllStringSubmatch(readme, -1) {
		if rows[m[1]] != nil {
			t.Errorf("README lists alert %s twice", m[1])
		}
		rows[m[1]] = m[2:]
		order = append(order, m[1])
	}
	anchors := runbookAnchors(t)
	var names []string
	for _, a := range alerts {
		names = append(names, a.Alert)
		row, ok := rows[a.Alert]
		if !ok {
			t.Errorf("README's alert table does not list %s", a.Alert)
			continue
		}
		if want := strings.TrimPrefix(a.Annotations["runbook_url"], runbookURL); row[0] != want {
			t.Errorf("README links %s to #%s, its runbook_url to #%s", a.Alert, row[0], want)
		}
		if !anchors[row[0]] {
			t.Errorf("README links %s to #%s, no heading of %s", a.Alert, row[0], runbookFile)
		}
		if row[1] != a.Labels["severity"] {
			t.Errorf("README says %s is %s, the rule says %s", a.Alert, row[1], a.Labels["severity"])
		}
	}
	for _, n := range order {
		if !slices.Contains(names, n) {
			t.Errorf("README lists alert %s, which %s does not define", n, rulesFile)
		}
	}
}
