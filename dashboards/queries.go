package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// committed holds the dashboards as committed next to this file, so tests
// that run elsewhere (the lab VM) evaluate exactly what users import.
//
//go:embed lvs-sidecar-*.json
var committed embed.FS

// Query is one PromQL query of a committed dashboard: a panel's target or
// the selector of a variable's label_values().
type Query struct {
	Dashboard string // file name
	Panel     string // panel title; empty for a variable
	RefID     string // the target's refId; empty for a variable
	Expr      string // as written, with Grafana's variables in it
}

// Variable is a query variable of a dashboard: label_values(Selector,
// Label).
type Variable struct {
	Name       string
	Selector   string
	Label      string
	Multi      bool
	IncludeAll bool
	AllValue   string
}

// Dashboard is what the queries of one committed dashboard need: its
// query variables in their order (each may refer to the ones before it)
// and its panels' targets.
type Dashboard struct {
	File      string
	Variables []Variable
	Targets   []Query
}

var labelValuesCall = regexp.MustCompile(`^label_values\((.+), *([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// Committed returns the committed dashboards, sorted by file name.
func Committed() ([]Dashboard, error) {
	var out []Dashboard
	for name := range UIDs {
		raw, err := committed.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr  string `json:"expr"`
					RefID string `json:"refId"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Name  string          `json:"name"`
					Type  string          `json:"type"`
					Query json.RawMessage `json:"query"`
					Multi bool            `json:"multi"`
					All   bool            `json:"includeAll"`
					AllV  *string         `json:"allValue"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		db := Dashboard{File: name}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				return nil, fmt.Errorf("%s: variable %s: %w", name, v.Name, err)
			}
			m := labelValuesCall.FindStringSubmatch(q.Query)
			if m == nil {
				return nil, fmt.Errorf("%s: variable %s: %q is not label_values(selector, label)", name, v.Name, q.Query)
			}
			nv := Variable{Name: v.Name, Selector: m[1], Label: m[2], Multi: v.Multi, IncludeAll: v.All}
			if v.AllV != nil {
				nv.AllValue = *v.AllV
			}
			db.Variables = append(db.Variables, nv)
		}
		for _, p := range d.Panels {
			for _, t := range p.Targets {
				db.Targets = append(db.Targets, Query{Dashboard: name, Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
		}
		out = append(out, db)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

var grafanaVar = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)

// Substitute replaces Grafana's variables in expr as Grafana does before
// it sends a query: $__rate_interval by rateInterval, every other $name or
// ${name} by vars[name]. A variable missing from vars is an error.
func Substitute(expr string, rateInterval time.Duration, vars map[string]string) (string, error) {
	var missing []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		name := grafanaVar.FindStringSubmatch(m)[1]
		if name == "__rate_interval" {
			return model.Duration(rateInterval).String()
		}
		v, ok := vars[name]
		if !ok {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %s in %s", strings.Join(missing, ", "), expr)
	}
	return out, nil
}

// RateInterval is Grafana's $__rate_interval for a data source with
// scrape interval scrape, when the panel's step is at most scrape: four
// scrape intervals.
func RateInterval(scrape time.Duration) time.Duration { return 4 * scrape }
