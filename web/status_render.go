package web

import (
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// pageData is what the template renders.
type pageData struct {
	V *StatusView
	Q pageQuery
	// Self is the page with this query.
	Self string
	// ServiceOptions, StateOptions and SortOptions fill the filter form.
	ServiceOptions []option
	StateOptions   []option
	SortOptions    []option
	// Services are the sections shown; Hidden counts those the filter
	// leaves out.
	Services []pageService
	Hidden   int
	// Events are the recent events shown (those of the filtered service).
	Events []EventView
	// Writer is the administrator who sees the maintenance buttons ("":
	// none), Token their forms' token. Action is the forms' action up to
	// the row's id: the query and anchor to come back to.
	Writer, Token, Action string
	// WritesNote says why there are no buttons, for those who may read.
	WritesNote string
	// Refresh is the auto-refresh interval in seconds (0: off).
	Refresh int
	// Now is the view's time, for "ago".
	Now time.Time
}

// option is one choice of a filter.
type option struct {
	Value, Label string
	Selected     bool
}

// pageService is one service's section.
type pageService struct {
	*StatusService
	// ID is the section's element id.
	ID string
	// Open: the section starts expanded (a problem, or asked for).
	Open bool
	// Rows are the rows of this page; Matched counts the rows the filter
	// keeps.
	Rows    []pageRow
	Matched int
	// Page of Pages; PrevURL and NextURL are "" at the ends.
	Page, Pages      int
	PrevURL, NextURL string
	// First and Last number the rows shown (from 1).
	First, Last int
}

// pageRow is one real server's row.
type pageRow struct {
	*StatusRealServer
	// ID is the row's element id (the forms' anchor).
	ID string
	// CanMaintain: the row gets a maintenance button (the server is
	// declared or checked, so the maintenance API knows it).
	CanMaintain bool
}

func (p *StatusPage) pageData(r *http.Request, v *StatusView, q pageQuery) *pageData {
	d := &pageData{V: v, Q: q, Self: q.url(), Now: v.GeneratedAt, Refresh: int(p.o.Refresh / time.Second)}
	if q.Refresh != nil {
		d.Refresh = *q.Refresh
	}
	if p.o.SetMaintenance != nil {
		if user, ok := p.o.Policy.MayWrite(AdminAPI, r); ok {
			d.Writer, d.Token = user, p.tokenAt(user, v.GeneratedAt)
		} else if !p.o.Policy.Enabled(AdminAPI) {
			d.WritesNote = "Maintenance buttons are off: " + p.o.Policy.Describe(AdminAPI) + "."
		} else {
			d.WritesNote = "Maintenance buttons are for the administrators (" + strings.Join(p.o.Policy.Admins(), ", ") + "); log in as one of them to see them."
		}
	}
	d.Action = StatusMaintenancePath + "?" + url.Values{"return": {q.values().Encode()}}.Encode() + "&anchor="

	d.ServiceOptions = append(d.ServiceOptions, option{Value: "", Label: "every service", Selected: q.Service == ""})
	for i := range v.Services {
		s := &v.Services[i]
		label := s.Key
		if s.Name != "" {
			label = s.Name + " (" + s.Key + ")"
		}
		d.ServiceOptions = append(d.ServiceOptions, option{Value: s.Key, Label: label, Selected: q.Service == s.Key || q.Service == s.Name})
	}
	for _, st := range ServerStates {
		d.StateOptions = append(d.StateOptions, option{Value: string(st), Label: string(st), Selected: len(q.States) > 0 && q.matchesState(st)})
	}
	for _, k := range sortKeys {
		d.SortOptions = append(d.SortOptions, option{Value: k.key, Label: k.label, Selected: q.Sort == k.key})
	}

	for i := range v.Services {
		s := &v.Services[i]
		if !q.matchesService(s) {
			d.Hidden++
			continue
		}
		ps := pageService{StatusService: s, ID: "s" + strconv.Itoa(s.Index)}
		var rows []*StatusRealServer
		for j := range s.RealServers {
			if q.matchesState(s.RealServers[j].State) {
				rows = append(rows, &s.RealServers[j])
			}
		}
		if len(q.States) > 0 && len(rows) == 0 {
			d.Hidden++
			continue
		}
		q.sortRows(rows)
		ps.Matched = len(rows)
		ps.Pages = max(1, (len(rows)+q.PerPage-1)/q.PerPage)
		ps.Page = min(q.Page, ps.Pages)
		lo := (ps.Page - 1) * q.PerPage
		hi := min(lo+q.PerPage, len(rows))
		ps.First, ps.Last = lo+1, hi
		for _, r := range rows[lo:hi] {
			ps.Rows = append(ps.Rows, pageRow{StatusRealServer: r, ID: ps.ID + "-r" + strconv.Itoa(r.Index),
				CanMaintain: d.Writer != "" && (r.Declared || r.src.verdict != nil || r.Maintenance)})
		}
		if ps.Pages > 1 {
			nav := q
			nav.Service = s.Key
			if ps.Page > 1 {
				nav.Page = ps.Page - 1
				ps.PrevURL = nav.url()
			}
			if ps.Page < ps.Pages {
				nav.Page = ps.Page + 1
				ps.NextURL = nav.url()
			}
		}
		ps.Open = q.Service != "" || len(q.States) > 0 || s.Panic || s.StateCounts[ServerUp] != len(s.RealServers)
		d.Services = append(d.Services, ps)
	}
	for _, e := range v.Events {
		if q.Service == "" || e.Service == q.Service || (e.ServiceName != "" && e.ServiceName == q.Service) {
			d.Events = append(d.Events, e)
		}
	}
	return d
}

var pageFuncs = template.FuncMap{
	"ago":       ago,
	"utc":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"rfc3339":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"share":     share,
	"perSecond": perSecond,
	"bytesRate": bytesRate,
	"latency":   func(s float64) string { return shortDuration(time.Duration(s * float64(time.Second))) },
	"weight": func(w *int) string {
		if w == nil {
			return "–"
		}
		return strconv.Itoa(*w)
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"stateCount": func(s *StatusService, st ServerState) int { return s.StateCounts[st] },
	"problems": func(s *StatusService) []option {
		var out []option
		for _, st := range ServerStates {
			if n := s.StateCounts[st]; n > 0 && st != ServerUp {
				out = append(out, option{Value: string(st), Label: strconv.Itoa(n) + " " + string(st)})
			}
		}
		return out
	},
	"verdictUp": func(v string) bool { return v == health.StateUp.String() },
}

// ago says how long before now t was: "45s ago", "3m ago", "2h5m ago",
// "4d ago".
func ago(t time.Time, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m ago"
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h ago"
		}
		return strconv.Itoa(h) + "h" + strconv.Itoa(m) + "m ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d ago"
}

// share formats a share (0 to 1) as a percentage; "–" for none.
func share(s *float64) string {
	if s == nil {
		return "–"
	}
	return percent(*s*100) + "%"
}

// perSecond formats a rate: 0, 0.5, 5, 12, 12.3k.
func perSecond(r float64) string {
	switch {
	case r >= 1e6:
		return strconv.FormatFloat(r/1e6, 'f', 1, 64) + "M"
	case r >= 1e4:
		return strconv.FormatFloat(r/1e3, 'f', 1, 64) + "k"
	case r >= 10:
		return strconv.FormatFloat(math.Round(r), 'f', 0, 64)
	}
	return strconv.FormatFloat(math.Round(r*10)/10, 'f', -1, 64)
}

// bytesRate formats bytes per second in SI units: 950 B/s, 1.2 MB/s.
func bytesRate(r float64) string {
	for _, u := range []struct {
		div  float64
		unit string
	}{{1e9, "GB/s"}, {1e6, "MB/s"}, {1e3, "kB/s"}} {
		if r >= u.div {
			return strconv.FormatFloat(r/u.div, 'f', 1, 64) + " " + u.unit
		}
	}
	return strconv.FormatFloat(math.Round(r), 'f', 0, 64) + " B/s"
}
