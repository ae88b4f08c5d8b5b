package web

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pageEnv is a status page over the fixture, with the policy of a web
// configuration whose users are admin (admin-pw) and prometheus
// (prometheus-pw), admin the administrator; writes is
// --web.enable-admin-api.
type pageEnv struct {
	page   *StatusPage
	mux    *http.ServeMux
	setter *recordedSetter
}

func newPageEnv(t *testing.T, writes bool) *pageEnv {
	t.Helper()
	cfg := webConfig(t, "", "admin", "prometheus")
	policy, err := NewPolicy(Options{EnableAdminAPI: writes, ConfigFile: cfg, AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	g, c := &fakeGather{steps: []int{0, 1}}, &fakeClock{}
	env := &pageEnv{setter: &recordedSetter{}}
	events := NewEvents(0)
	for _, e := range fixtureEvents() {
		events.Add(e)
	}
	env.page, err = NewStatusPage(StatusOptions{Gather: g.gather(t), Events: events, Policy: policy, SetMaintenance: env.setter.set, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	env.mux = http.NewServeMux()
	env.page.Register(env.mux)
	return env
}

type creds struct{ user, pass string }

var (
	asAdmin  = &creds{"admin", "admin-pw"}
	asReader = &creds{"prometheus", "prometheus-pw"}
)

func (e *pageEnv) do(t *testing.T, method, target string, who *creds, body url.Values, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req := httptest.NewRequest(method, target, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if who != nil {
		req.SetBasicAuth(who.user, who.pass)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, req)
	return w
}

// TestStatusPageEscapes: every text an operator, a configuration or a
// real server can set (service name, director name, check reason,
// maintenance reason, event text) renders as text: no raw tag, the
// escaped form present.
func TestStatusPageEscapes(t *testing.T) {
	env := newPageEnv(t, true)
	for _, who := range []*creds{asAdmin, asReader} {
		w := env.do(t, "GET", StatusPath, who, nil, nil)
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("GET /status: %d %s", w.Code, body)
		}
		if strings.Contains(body, xss) || strings.Contains(body, "<script>alert") {
			i := strings.Index(body, "<script>alert")
			t.Fatalf("as %s: the raw tag is in the page: …%s…", who.user, body[max(0, i-200):i+40])
		}
		escaped := html.EscapeString(xss) // &lt;script&gt;alert(1)&lt;/script&gt;
		for _, where := range []string{
			"<title>lvs1." + escaped,                       // director
			`<h2 id="s2-h">` + escaped,                     // service name
			"want 200 " + escaped,                          // check reason (row and event)
			"“kernel upgrade " + escaped + "”",             // maintenance reason
			`<option value="udp/192.0.2.10:53">` + escaped, // filter
		} {
			if !strings.Contains(body, where) {
				t.Errorf("as %s: the page lacks the escaped %q", who.user, where)
			}
		}
		if n := strings.Count(body, "&lt;script&gt;"); n < 6 {
			t.Errorf("as %s: the escaped tag appears %d times, want every field (at least 6)", who.user, n)
		}
		for k, want := range map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'",
			"X-Frame-Options":         "DENY",
		} {
			if got := w.Header().Get(k); !strings.HasPrefix(got, want) {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
	}
	// No inline script or style that the CSP would block (and that an
	// injection could hide in): scripts and styles come from the assets.
	body := env.do(t, "GET", StatusPath, asAdmin, nil, nil).Body.String()
	for _, re := range []string{`<script>`, `<script[^>]*>[^<]`, `<style`, ` style=`, ` on[a-z]+=`} {
		if regexp.MustCompile(re).MatchString(body) {
			t.Errorf("the page has inline script or style matching %s", re)
		}
	}
}

// TestStatusPageContent: the header, a section per service (the healthy
// one collapsed, the other open), every row with its state as text and
// a state class for its colour, and the recent events.
func TestStatusPageContent(t *testing.T) {
	env := newPageEnv(t, false)
	env.do(t, "GET", StatusPath, asReader, nil, nil) // a first answer, for rates
	body := env.do(t, "GET", StatusPath, asReader, nil, nil).Body.String()
	for _, want := range []string{
		"lvs-sidecar 1.2.3",
		`<time datetime="2025-03-01T12:00:10Z">2025-03-01 12:00:10Z</time>`,
		"<dt>IPVS table</dt><dd>readable</dd>",
		"managed; last successful pass",
		"<code>/etc/lvs-sidecar/lvs.yml</code> SHA-256 <code title=\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\">9f86d081884c</code>",
		"<dt>Services in panic</dt><dd>none</dd>",
		`<details id="s1" open>`,
		`<details id="s2">`,
		"3/7 up · capacity 50%",
		`<th scope="col">Real server</th>`,
		`<th scope="row">10.0.0.9:80 <span class="tag">undeclared</span></th>`,
		"<dt>Persistence</dt><dd>300 s</dd>",
		"<dt>Connections/s</dt><dd>5</dd>",
		"load factor 75%",
		`<span class="st st-ramping">ramping</span> 33.3%`,
		"Recent events",
		"drained: weight 1 → 0",
		"Maintenance buttons are off: POST /api/v1/maintenance: off (--web.enable-admin-api turns it on).",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, st := range ServerStates {
		if st == ServerDown {
			continue // the fixture has none
		}
		if !strings.Contains(body, `<span class="st st-`+string(st)+`">`+string(st)+`</span>`) {
			t.Errorf("no row shows state %s as text with its class", st)
		}
	}
	if strings.Contains(body, "<form method=\"post\"") {
		t.Errorf("maintenance forms while the admin API is off")
	}
	if strings.Contains(body, `class="banner"`) {
		t.Errorf("a stale banner on fresh data")
	}
}

// TestStatusPageStale: an unreadable table shows the banner with the
// reason, and the header says so.
func TestStatusPageStale(t *testing.T) {
	env := newPageEnv(t, false)
	g := &fakeGather{steps: []int{0}, fail: errNoIPVS}
	env.page.o.Gather = g.gather(t)
	body := env.do(t, "GET", StatusPath, asReader, nil, nil).Body.String()
	for _, want := range []string{
		`<div class="banner" role="alert"><strong>Stale data:</strong> the IPVS table could not be read (` + errNoIPVS.Error(),
		`<strong class="bad">not readable</strong>: ` + errNoIPVS.Error(),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the stale page lacks %q", want)
		}
	}
}

// TestStatusPageButtons: the administrator sees a maintenance form per
// row that the maintenance API knows, with a labelled reason; a reader
// sees none and is told who may; with the admin API off nobody does.
func TestStatusPageButtons(t *testing.T) {
	on := newPageEnv(t, true)
	admin := on.do(t, "GET", StatusPath, asAdmin, nil, nil).Body.String()
	forms := strings.Count(admin, `<form method="post" action="/status/maintenance?`)
	// web's 7 rows (10.0.0.9 is checked) and the second service's 2.
	if forms != 9 {
		t.Errorf("the administrator sees %d maintenance forms, want 9", forms)
	}
	for _, want := range []string{
		`<label class="vh" for="s1-r1-why">Reason for 10.0.0.1:80</label><input id="s1-r1-why" name="reason"`,
		`<button name="enabled" value="false">End maintenance</button>`,
		`<button name="enabled" value="true">Maintenance</button>`,
		`<form method="post" action="/status/maintenance?return=&amp;anchor=s1-r1">`,
		`<input type="hidden" name="token" value="` + on.page.tokenAt("admin", t0) + `">`,
		"Logged in as <strong>admin</strong>",
		`<th scope="col">Maintenance</th>`,
	} {
		if !strings.Contains(admin, want) {
			t.Errorf("the administrator's page lacks %q", want)
		}
	}
	reader := on.do(t, "GET", StatusPath, asReader, nil, nil).Body.String()
	if strings.Contains(reader, "<form method=\"post\"") || strings.Contains(reader, `name="token"`) || strings.Contains(reader, `<th scope="col">Maintenance</th>`) {
		t.Errorf("a reader sees maintenance forms or a token")
	}
	if !strings.Contains(reader, "Maintenance buttons are for the administrators (admin); log in as one of them to see them.") {
		t.Errorf("the reader is not told who may")
	}
	wrong := on.do(t, "GET", StatusPath, &creds{"admin", "guess"}, nil, nil).Body.String()
	if strings.Contains(wrong, "<form method=\"post\"") {
		t.Errorf("a wrong password sees maintenance forms")
	}
	off := newPageEnv(t, false)
	if body := off.do(t, "GET", StatusPath, asAdmin, nil, nil).Body.String(); strings.Contains(body, "<form method=\"post\"") {
		t.Errorf("the administrator sees forms while the admin API is off")
	}
}

// formAction is the action of a row's form on a filtered page (with a
// parameter the page does not know).
var formAction = StatusMaintenancePath + "?" + url.Values{"return": {"state=drained&sort=since&bogus=1"}, "anchor": {"s1-r1"}}.Encode()

// form is a maintenance form as the administrator's page fills it.
func (e *pageEnv) form(enabled string) url.Values {
	return url.Values{"token": {e.page.tokenAt("admin", t0)}, "service": {"tcp/192.0.2.10:80"}, "server": {"10.0.0.1:80"},
		"enabled": {enabled}, "reason": {"disk " + xss}}
}

// TestStatusMaintenanceForm: the form's POST is a write like POST
// /api/v1/maintenance: off unless enabled, 401 without credentials, 403
// for a reader; cross-site requests and missing or bad tokens are
// refused; none of these reach the maintenance code. The administrator's
// goes through it once, with the authenticated name, and is sent back
// to the page with its filters (303).
func TestStatusMaintenanceForm(t *testing.T) {
	env := newPageEnv(t, true)
	good := env.form("true")
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		env    *pageEnv
		method string
		who    *creds
		body   url.Values
		header map[string]string
		code   int
		want   string
	}{
		{"no credentials", env, "POST", nil, good, nil, 401, "needs the user and password of an administrator"},
		{"wrong password", env, "POST", &creds{"admin", "nope"}, good, nil, 401, "administrator"},
		{"reader", env, "POST", asReader, good, nil, 403, `user "prometheus" is not an admin`},
		{"reader with the admin's token", env, "POST", asReader, good, nil, 403, "not an admin"},
		{"cross-site Origin", env, "POST", asAdmin, good, map[string]string{"Origin": "https://evil.example"}, 403, "the sidecar refuses writes from other sites"},
		{"Sec-Fetch-Site cross-site", env, "POST", asAdmin, good, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "from other sites"},
		{"Sec-Fetch-Site same-site (another host of the domain)", env, "POST", asAdmin, good, map[string]string{"Sec-Fetch-Site": "same-site"}, 403, "from other sites"},
		{"missing token", env, "POST", asAdmin, with("token", ""), nil, 403, "the form's token is not valid for admin"},
		{"bad token", env, "POST", asAdmin, with("token", "AAAA"), nil, 403, "token is not valid"},
		{"another user's token", env, "POST", asAdmin, with("token", env.page.tokenAt("prometheus", t0)), nil, 403, "token is not valid"},
		{"no enabled", env, "POST", asAdmin, with("enabled", ""), nil, 400, `"enabled" must be true or false`},
		{"GET", env, "GET", asAdmin, nil, nil, 405, "POST only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(env.setter.calls)
			w := tc.env.do(t, tc.method, formAction, tc.who, tc.body, tc.header)
			// The answer is HTML (quotes escaped) or text.
			if w.Code != tc.code || !strings.Contains(html.UnescapeString(w.Body.String()), tc.want) {
				t.Errorf("%d %s\nwant %d with %q", w.Code, w.Body.String(), tc.code, tc.want)
			}
			if len(env.setter.calls) != before {
				t.Errorf("a refused request reached the maintenance code: %v", env.setter.calls[before:])
			}
			if strings.Contains(w.Body.String(), xss) {
				t.Errorf("the answer has the raw tag: %s", w.Body.String())
			}
		})
	}

	off := newPageEnv(t, false)
	w := off.do(t, "POST", formAction, asAdmin, off.form("true"), nil)
	if w.Code != 403 || !strings.Contains(w.Body.String(), "--web.enable-admin-api") || len(off.setter.calls) != 0 {
		t.Errorf("admin API off: %d %s (calls %v)", w.Code, w.Body.String(), off.setter.calls)
	}

	// The administrator, from the page's own origin.
	for _, h := range []map[string]string{nil, {"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}} {
		w = env.do(t, "POST", formAction, asAdmin, good, h)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/status?sort=since&state=drained#s1-r1" {
			t.Errorf("headers %v: %d Location %q, want 303 to /status?sort=since&state=drained#s1-r1", h, w.Code, w.Header().Get("Location"))
		}
	}
	if len(env.setter.calls) != 2 {
		t.Fatalf("maintenance calls %v, want 2", env.setter.calls)
	}
	got := env.setter.calls[0]
	if got.Service != "tcp/192.0.2.10:80" || got.Server != "10.0.0.1:80" || !got.Enabled || got.Reason != "disk "+xss || got.By != "admin" || got.Remote == "" {
		t.Errorf("the maintenance code got %+v", got)
	}
	w = env.do(t, "POST", StatusMaintenancePath, asAdmin, env.form("false"), nil)
	if loc := w.Header().Get("Location"); loc != "/status" {
		t.Errorf("without a return query: back to %q, want /status", loc)
	}
	if w.Code != http.StatusSeeOther || len(env.setter.calls) != 3 || env.setter.calls[2].Enabled {
		t.Errorf("lifting: %d, calls %v", w.Code, env.setter.calls)
	}

	// The maintenance code refuses: its status and message, escaped, and
	// a way back.
	env.setter.err, env.setter.code = errors.New(`no real server 10.0.0.1:80 in "`+xss+`"`), http.StatusNotFound
	w = env.do(t, "POST", formAction, asAdmin, good, nil)
	body := w.Body.String()
	if w.Code != 404 || !strings.Contains(body, "maintenance not changed: no real server 10.0.0.1:80 in &#34;"+html.EscapeString(xss)) ||
		strings.Contains(body, xss) || !strings.Contains(body, `<a href="/status?sort=since&amp;state=drained">Back to the status page</a>`) {
		t.Errorf("a refusal of the maintenance code: %d %s", w.Code, body)
	}
}

// TestStatusPageQuery: filters, sort and pages are query parameters the
// server applies, so links and the filter form work without JavaScript.
func TestStatusPageQuery(t *testing.T) {
	env := newPageEnv(t, false)
	rowsOf := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<th scope="row">([^< ]+)`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, tc := range []struct {
		query string
		rows  []string
		also  string
	}{
		{"", []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80", "10.0.0.6:80", "10.0.0.9:80", "10.0.1.1:53", "10.0.1.2:53"}, ""},
		{"service=web", []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80", "10.0.0.6:80", "10.0.0.9:80"}, "1 left out by the filter"},
		{"service=udp%2F192.0.2.10%3A53", []string{"10.0.1.1:53", "10.0.1.2:53"}, `<details id="s2" open>`},
		{"state=drained&state=removed", []string{"10.0.0.2:80", "10.0.0.6:80", "10.0.0.9:80"}, `<input type="checkbox" name="state" value="drained" checked>`},
		{"state=up", []string{"10.0.0.1:80", "10.0.1.1:53", "10.0.1.2:53"}, ""},
		{"state=bogus", []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80", "10.0.0.6:80", "10.0.0.9:80", "10.0.1.1:53", "10.0.1.2:53"}, ""},
		{"service=web&sort=state", []string{"10.0.0.6:80", "10.0.0.2:80", "10.0.0.9:80", "10.0.0.3:80", "10.0.0.5:80", "10.0.0.4:80", "10.0.0.1:80"}, `<option value="state" selected>`},
		{"service=web&sort=since", []string{"10.0.0.5:80", "10.0.0.4:80", "10.0.0.2:80", "10.0.0.6:80", "10.0.0.3:80", "10.0.0.1:80", "10.0.0.9:80"}, ""},
		{"service=web&sort=latency", []string{"10.0.0.2:80", "10.0.0.1:80", "10.0.0.3:80", "10.0.0.9:80", "10.0.0.4:80", "10.0.0.6:80", "10.0.0.5:80"}, ""},
		// Ties (no connections) keep the configuration's order.
		{"service=web&sort=conns&order=reverse", []string{"10.0.0.6:80", "10.0.0.9:80", "10.0.0.5:80", "10.0.0.4:80", "10.0.0.3:80", "10.0.0.2:80", "10.0.0.1:80"}, ""},
		{"service=web&sort=server&order=reverse", []string{"10.0.0.9:80", "10.0.0.6:80", "10.0.0.5:80", "10.0.0.4:80", "10.0.0.3:80", "10.0.0.2:80", "10.0.0.1:80"}, ""},
		{"service=web&per_page=3", []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"},
			`Rows 1–3 of 7, page 1 of 3 · <a href="/status?page=2&amp;per_page=3&amp;service=tcp%2F192.0.2.10%3A80" rel="next">next</a>`},
		{"service=web&per_page=3&page=3", []string{"10.0.0.9:80"}, `rel="prev">previous</a></nav>`},
		{"service=web&per_page=3&page=99", []string{"10.0.0.9:80"}, "page 3 of 3"},
		{"refresh=0", nil, `<input type="checkbox" id="auto-refresh">`},
		{"refresh=30", nil, `data-refresh="30"`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			body := env.do(t, "GET", StatusPath+"?"+tc.query, asReader, nil, nil).Body.String()
			if tc.rows != nil {
				if got := rowsOf(body); strings.Join(got, " ") != strings.Join(tc.rows, " ") {
					t.Errorf("rows %v\nwant %v", got, tc.rows)
				}
			}
			if tc.also != "" && !strings.Contains(body, tc.also) {
				t.Errorf("the page lacks %q", tc.also)
			}
		})
	}
	// The filter's events: only the service's.
	body := env.do(t, "GET", StatusPath+"?service=udp/192.0.2.10:53", asReader, nil, nil).Body.String()
	if strings.Contains(body, "drained: weight 1 → 0") {
		t.Errorf("events of another service under a service filter")
	}
	// parseQuery(values()) is the same query.
	for _, q := range []string{"", "service=web&state=down&state=up&sort=rate&order=reverse&page=2&per_page=50&refresh=5"} {
		v, _ := url.ParseQuery(q)
		p := parseQuery(v)
		if again := parseQuery(p.values()); again.url() != p.url() {
			t.Errorf("%q: %s, again %s", q, p.url(), again.url())
		}
	}
}

// TestStatusAPI: GET /api/v1/status is the view as JSON; other methods
// get 405.
func TestStatusAPI(t *testing.T) {
	env := newPageEnv(t, true)
	w := env.do(t, "GET", StatusAPIPath, asReader, nil, nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || !strings.Contains(w.Body.String(), `"state":"maintenance"`) {
		t.Errorf("GET: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	w = env.do(t, "POST", StatusAPIPath, asAdmin, url.Values{}, nil)
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// TestStatusAssets: the CSS and JavaScript are served from the binary,
// with their types; the template is not.
func TestStatusAssets(t *testing.T) {
	env := newPageEnv(t, false)
	for path, ct := range map[string]string{"/status/assets/status.css": "text/css", "/status/assets/status.js": "text/javascript"} {
		w := env.do(t, "GET", path, nil, nil, nil)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), ct) || w.Body.Len() < 500 {
			t.Errorf("%s: %d %q %d bytes", path, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
	}
	for _, path := range []string{"/status/assets/status.html", "/status/assets/", "/status/assets/nope.js"} {
		if w := env.do(t, "GET", path, nil, nil, nil); w.Code != 404 {
			t.Errorf("%s: %d, want 404", path, w.Code)
		}
	}
	// No external resource: every src and href is local.
	body := env.do(t, "GET", StatusPath, asAdmin, nil, nil).Body.String()
	for _, m := range regexp.MustCompile(`(?:src|href|action)="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if !strings.HasPrefix(m[1], "/") && !strings.HasPrefix(m[1], "#") {
			t.Errorf("a non-local reference: %s", m[0])
		}
	}
	css := env.do(t, "GET", "/status/assets/status.css", nil, nil, nil).Body.String()
	if !strings.Contains(css, "prefers-color-scheme: dark") || strings.Contains(css, "url(") || strings.Contains(css, "@import") {
		t.Errorf("the CSS has no dark theme, or loads something")
	}
}

// TestStatusContrast: in both themes every text colour of the page has a
// contrast of at least 7:1 (WCAG AAA) on the background it is drawn on,
// the state badges included.
func TestStatusContrast(t *testing.T) {
	data, err := assets.ReadFile("assets/status.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(data)
	light, dark, ok := strings.Cut(css, "@media (prefers-color-scheme: dark)")
	if !ok {
		t.Fatal("no dark theme")
	}
	dark, _, _ = strings.Cut(dark, "}\n}")
	pairs := [][2]string{{"fg", "bg"}, {"fg", "panel"}, {"muted", "bg"}, {"muted", "panel"}, {"link", "bg"}, {"bad", "bg"}, {"bad", "panel"},
		{"banner-fg", "banner-bg"}, {"up-fg", "bg"}}
	for _, s := range []string{"up", "down", "drained", "removed", "maint", "ramp", "unknown"} {
		pairs = append(pairs, [2]string{s + "-fg", s + "-bg"})
	}
	varRE := regexp.MustCompile(`--([a-z-]+):\s*#([0-9a-f]{6})`)
	for name, block := range map[string]string{"light": light, "dark": dark} {
		vars := map[string]string{}
		for _, m := range varRE.FindAllStringSubmatch(block, -1) {
			vars[m[1]] = m[2]
		}
		for _, p := range pairs {
			fg, bg := vars[p[0]], vars[p[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s: --%s or --%s is not set", name, p[0], p[1])
				continue
			}
			if c := contrast(fg, bg); c < 7 {
				t.Errorf("%s: --%s on --%s has contrast %.1f:1, want at least 7:1", name, p[0], p[1], c)
			}
		}
	}
}

// contrast is WCAG 2's contrast ratio of two sRGB colours (hex rrggbb).
func contrast(a, b string) float64 {
	lum := func(hex string) float64 {
		var rgb [3]float64
		for i := range rgb {
			var v int
			fmt.Sscanf(hex[2*i:2*i+2], "%02x", &v)
			c := float64(v) / 255
			if c <= 0.03928 {
				rgb[i] = c / 12.92
			} else {
				rgb[i] = math.Pow((c+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
	}
	x, y := lum(a), lum(b)
	return (max(x, y) + 0.05) / (min(x, y) + 0.05)
}

// TestStatusFormTokenWindow: a form's token is good in the window its
// page was rendered in and the next one (12 to 24 hours), not later, and
// only for the user it was made for; an expired one is refused with a
// request to reload the page and reaches no maintenance code.
func TestStatusFormTokenWindow(t *testing.T) {
	env := newPageEnv(t, true)
	now := t0.Add(5 * time.Hour)
	env.page.o.Now = func() time.Time { return now }
	for _, tc := range []struct {
		name     string
		rendered time.Time
		user     string
		valid    bool
	}{
		{"this window", now.Add(-time.Hour), "admin", true},
		{"rendered just before the window began", t0.Add(-time.Second), "admin", true},
		{"the window before that one", t0.Add(-tokenWindow - time.Second), "admin", false},
		{"rendered in the future window", now.Add(tokenWindow), "admin", false},
		{"another user's, this window", now, "prometheus", false},
	} {
		if got := env.page.validToken("admin", env.page.tokenAt(tc.user, tc.rendered)); got != tc.valid {
			t.Errorf("%s: valid %v, want %v", tc.name, got, tc.valid)
		}
	}
	old := env.form("true")
	old.Set("token", env.page.tokenAt("admin", now.Add(-2*tokenWindow)))
	w := env.do(t, "POST", formAction, asAdmin, old, nil)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "more than 12 hours old") || len(env.setter.calls) != 0 {
		t.Errorf("a day-old token: %d %s (calls %v)", w.Code, w.Body.String(), env.setter.calls)
	}
	fresh := env.form("true")
	fresh.Set("token", env.page.tokenAt("admin", now))
	if w := env.do(t, "POST", formAction, asAdmin, fresh, nil); w.Code != http.StatusSeeOther || len(env.setter.calls) != 1 {
		t.Errorf("this window's token: %d %s (calls %v)", w.Code, w.Body.String(), env.setter.calls)
	}
}
