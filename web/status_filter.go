package web

import (
	"cmp"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Limits of the page's query parameters.
const (
	defaultPerPage = 100
	maxPerPage     = 5000
	maxRefresh     = 3600
)

// pageQuery is the status page's query string: which services and states
// to show, the order of the rows, which page of them, and how often the
// page refreshes itself. Every link and form of the page is built from
// it, so the page works the same without JavaScript.
type pageQuery struct {
	// Service is a service key or name; "" shows every service.
	Service string
	// States are the states to show; none shows every state.
	States []ServerState
	// Sort is one of sortKeys, "" for the view's order; Desc reverses.
	Sort string
	Desc bool
	// Page (from 1) and PerPage paginate each service's rows.
	Page, PerPage int
	// Refresh is the auto-refresh interval in seconds, 0 for off; nil
	// for the page's default.
	Refresh *int
}

// sortKeys are the orders of the rows, with their labels; each has a
// natural direction (problems, big numbers and recent changes first).
var sortKeys = []struct{ key, label string }{
	{"", "configuration order"},
	{"server", "address"},
	{"state", "state (problems first)"},
	{"since", "last change (recent first)"},
	{"weight", "kernel weight (highest first)"},
	{"conns", "active connections (most first)"},
	{"rate", "connections/s (most first)"},
	{"latency", "check latency (slowest first)"},
}

// parseQuery reads q leniently: a value it does not know is left out,
// so that an old bookmark still shows the page.
func parseQuery(q url.Values) pageQuery {
	p := pageQuery{Service: q.Get("service"), Page: 1, PerPage: defaultPerPage}
	for _, s := range q["state"] {
		if st, ok := parseServerState(s); ok && !slices.Contains(p.States, st) {
			p.States = append(p.States, st)
		}
	}
	slices.SortFunc(p.States, func(a, b ServerState) int { return cmp.Compare(stateRank(a), stateRank(b)) })
	if s := q.Get("sort"); slices.ContainsFunc(sortKeys, func(k struct{ key, label string }) bool { return k.key == s }) {
		p.Sort = s
	}
	p.Desc = q.Get("order") == "reverse" && p.Sort != ""
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		p.Page = n
	}
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		p.PerPage = min(n, maxPerPage)
	}
	if n, err := strconv.Atoi(q.Get("refresh")); err == nil && n >= 0 {
		n = min(n, maxRefresh)
		p.Refresh = &n
	}
	return p
}

// values is p as a query, without the defaults: parseQuery(p.values())
// is p.
func (p pageQuery) values() url.Values {
	q := url.Values{}
	if p.Service != "" {
		q.Set("service", p.Service)
	}
	for _, s := range p.States {
		q.Add("state", string(s))
	}
	if p.Sort != "" {
		q.Set("sort", p.Sort)
		if p.Desc {
			q.Set("order", "reverse")
		}
	}
	if p.Page > 1 {
		q.Set("page", strconv.Itoa(p.Page))
	}
	if p.PerPage != defaultPerPage {
		q.Set("per_page", strconv.Itoa(p.PerPage))
	}
	if p.Refresh != nil {
		q.Set("refresh", strconv.Itoa(*p.Refresh))
	}
	return q
}

// url is the status page with p's query.
func (p pageQuery) url() string {
	if q := p.values().Encode(); q != "" {
		return StatusPath + "?" + q
	}
	return StatusPath
}

// matchesService reports whether s is the service p asks for.
func (p pageQuery) matchesService(s *StatusService) bool {
	return p.Service == "" || p.Service == s.Key || p.Service == s.Name
}

// matchesState reports whether a row in state st is shown.
func (p pageQuery) matchesState(st ServerState) bool {
	return len(p.States) == 0 || slices.Contains(p.States, st)
}

// sortRows orders rows as p says; ties keep the view's order.
func (p pageQuery) sortRows(rows []*StatusRealServer) {
	var by func(a, b *StatusRealServer) int
	switch p.Sort {
	case "server":
		by = func(a, b *StatusRealServer) int { return compareServers(a.Server, b.Server) }
	case "state":
		by = func(a, b *StatusRealServer) int { return cmp.Compare(stateRank(a.State), stateRank(b.State)) }
	case "since":
		by = func(a, b *StatusRealServer) int { return -cmp.Compare(timeOrZero(a.Since), timeOrZero(b.Since)) }
	case "weight":
		by = func(a, b *StatusRealServer) int { return -cmp.Compare(a.WeightKernel, b.WeightKernel) }
	case "conns":
		by = func(a, b *StatusRealServer) int { return -cmp.Compare(a.ActiveConns, b.ActiveConns) }
	case "rate":
		by = func(a, b *StatusRealServer) int { return -cmp.Compare(connRate(a.Rates), connRate(b.Rates)) }
	case "latency":
		by = func(a, b *StatusRealServer) int {
			return -cmp.Compare(checkLatency(a.LastCheck), checkLatency(b.LastCheck))
		}
	default:
		by = func(a, b *StatusRealServer) int { return cmp.Compare(a.Index, b.Index) }
	}
	slices.SortStableFunc(rows, func(a, b *StatusRealServer) int {
		c := by(a, b)
		if p.Desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.Index, b.Index))
	})
}

func compareServers(a, b string) int {
	x, errX := netip.ParseAddrPort(a)
	y, errY := netip.ParseAddrPort(b)
	if errX != nil || errY != nil {
		return cmp.Compare(a, b)
	}
	return cmp.Or(x.Addr().Compare(y.Addr()), cmp.Compare(x.Port(), y.Port()))
}

func timeOrZero(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixNano()
}

func connRate(r *RatesView) float64 {
	if r == nil {
		return -1
	}
	return r.ConnsPerSecond
}

func checkLatency(c *CheckView) float64 {
	if c == nil {
		return -1
	}
	return c.LatencySeconds
}
