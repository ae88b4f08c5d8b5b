// Package dashboards builds the Grafana dashboards of lvs-sidecar from Go
// code (grafana-foundation-sdk). The JSON files next to this file are its
// output; `make dashboards` writes them again and a test fails when they are
// stale.
package dashboards

//lint:file-ignore SA1019 the v1 dashboard schema is deprecated in favour of dashboardv2, which only Grafana 12's new API reads; file provisioning and import of every current Grafana take v1 JSON.

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Options change what the generator writes.
type Options struct {
	// SiteLabel is the target label that tells sites (or clusters) apart,
	// "site" by default.
	SiteLabel string
	// ShowSite shows the site variable; without it the variable is hidden
	// and matches everything, as the mixins do for one cluster.
	ShowSite bool
}

// Default is what the committed JSON files are built with.
var Default = Options{SiteLabel: "site"}

// File names and uids of the dashboards. The uids are stable: links and
// bookmarks keep working across regenerations.
var UIDs = map[string]string{
	"lvs-sidecar-fleet.json":   "lvs-sidecar-fleet",
	"lvs-sidecar-service.json": "lvs-sidecar-service",
	"lvs-sidecar-sidecar.json": "lvs-sidecar-sidecar",
}

// Build returns every dashboard as indented JSON, by file name.
func Build(o Options) (map[string][]byte, error) {
	if o.SiteLabel == "" {
		o.SiteLabel = Default.SiteLabel
	}
	out := map[string][]byte{}
	for name, f := range map[string]func(Options) *dashboard.DashboardBuilder{
		"lvs-sidecar-fleet.json":   fleet,
		"lvs-sidecar-service.json": service,
		"lvs-sidecar-sidecar.json": sidecar,
	} {
		d, err := f(o).Build()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = append(b, '\n')
	}
	return out, nil
}

var ds = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// sel is the selector every query starts from; extra adds matchers.
func sel(o Options, extra string) string {
	s := o.SiteLabel + `=~"$site", job=~"$job", instance=~"$instance"`
	if extra != "" {
		s += ", " + extra
	}
	return s
}

// layout hands out panel ids and grid positions: panels flow left to right
// in rows 24 units wide.
type layout struct {
	id   uint32
	x, y uint32
	rowH uint32
}

func (l *layout) next(w, h uint32) (uint32, dashboard.GridPos) {
	if l.x+w > 24 {
		l.x, l.y, l.rowH = 0, l.y+l.rowH, 0
	}
	l.id++
	p := dashboard.GridPos{X: l.x, Y: l.y, W: w, H: h}
	l.x += w
	if h > l.rowH {
		l.rowH = h
	}
	return l.id, p
}

// row starts a new row of panels under a collapsed-false row header.
func (l *layout) row(d *dashboard.DashboardBuilder, title string) {
	if l.x != 0 {
		l.x, l.y, l.rowH = 0, l.y+l.rowH, 0
	}
	l.id++
	d.WithRow(dashboard.NewRowBuilder(title).Id(l.id).GridPos(dashboard.GridPos{X: 0, Y: l.y, W: 24, H: 1}))
	l.y++
}

type q struct{ expr, legend string }

func targets(qs []q) []cog.Builder[variants.Dataquery] {
	var t []cog.Builder[variants.Dataquery]
	for i, x := range qs {
		t = append(t, prometheus.NewDataqueryBuilder().
			Datasource(ds).
			Expr(x.expr).
			LegendFormat(x.legend).
			RefId(string(rune('A'+i))))
	}
	return t
}

func ts(l *layout, w, h uint32, title, desc, unit string, qs ...q) *timeseries.PanelBuilder {
	id, pos := l.next(w, h)
	return timeseries.NewPanelBuilder().Id(id).GridPos(pos).Title(title).Description(desc).
		Datasource(ds).Unit(unit).Targets(targets(qs)).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementBottom).Calcs([]string{"lastNotNull", "max"}))
}

func st(l *layout, w, h uint32, title, desc, unit string, qs ...q) *stat.PanelBuilder {
	id, pos := l.next(w, h)
	return stat.NewPanelBuilder().Id(id).GridPos(pos).Title(title).Description(desc).
		Datasource(ds).Unit(unit).Targets(targets(qs)).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		GraphMode(common.BigValueGraphModeNone)
}

func upDown(zero, one string) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: cog.ToPtr(zero), Color: cog.ToPtr("red"), Index: cog.ToPtr[int32](0)},
			"1": {Text: cog.ToPtr(one), Color: cog.ToPtr("green"), Index: cog.ToPtr[int32](1)},
		},
	}}}
}

func timeline(l *layout, w, h uint32, title, desc string, m []dashboard.ValueMapping, qs ...q) *statetimeline.PanelBuilder {
	id, pos := l.next(w, h)
	return statetimeline.NewPanelBuilder().Id(id).GridPos(pos).Title(title).Description(desc).
		Datasource(ds).Unit("none").Targets(targets(qs)).Mappings(m).
		ShowValue(common.VisibilityModeNever).MergeValues(true)
}

// labelTable is a table of the labels of the series that qs return now
// (instant queries, table format): one row per series, a column per label
// in columns, in that order; the value and the time are hidden. It is for
// info-style series whose value is 1 and whose meaning is a label.
func labelTable(l *layout, w, h uint32, title, desc string, columns []string, qs ...q) *table.PanelBuilder {
	id, pos := l.next(w, h)
	var t []cog.Builder[variants.Dataquery]
	for i, x := range qs {
		t = append(t, prometheus.NewDataqueryBuilder().
			Datasource(ds).
			Expr(x.expr).
			Instant().
			Format(prometheus.PromQueryFormatTable).
			LegendFormat(x.legend).
			RefId(string(rune('A'+i))))
	}
	index := map[string]int{}
	for i, c := range columns {
		index[c] = i
	}
	return table.NewPanelBuilder().Id(id).GridPos(pos).Title(title).Description(desc).
		Datasource(ds).Unit("none").Targets(t).
		// Grafana's own default footer: a null reducer is not one.
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})).
		Transformations([]dashboard.DataTransformerConfig{{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true, "Value": true},
			"indexByName":   index,
		}}})
}

func queryVar(name, label, query string, hide bool, multi bool) *dashboard.QueryVariableBuilder {
	v := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(ds).
		Query(dashboard.StringOrMap{Map: map[string]any{"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1}}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		IncludeAll(true).
		AllValue(".*").
		Multi(multi).
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("All")}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")}})
	if hide {
		v.Hide(dashboard.VariableHideHideVariable)
	}
	return v
}

// base is a dashboard with the variables every dashboard has: datasource,
// site (hidden unless configured), job and instance.
func base(o Options, uid, title, desc string) *dashboard.DashboardBuilder {
	site := `label_values(ipvs_up, ` + o.SiteLabel + `)`
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(desc).
		Tags([]string{"lvs-sidecar", "ipvs"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time("now-1h", "now").
		Refresh("30s").
		Timezone("utc").
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(queryVar("site", o.SiteLabel, site, !o.ShowSite, true)).
		WithVariable(queryVar("job", "job", `label_values(ipvs_up{`+o.SiteLabel+`=~"$site"}, job)`, false, true)).
		WithVariable(queryVar("instance", "director", `label_values(ipvs_up{`+o.SiteLabel+`=~"$site", job=~"$job"}, instance)`, false, true))
}
