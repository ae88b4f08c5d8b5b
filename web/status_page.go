package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// defaultRefresh is how often the page refreshes itself (with
// JavaScript) unless the query says otherwise.
const defaultRefresh = 10 * time.Second

// MaintenanceRequest is a change of a real server's maintenance, asked
// by an administrator from the status page.
type MaintenanceRequest struct {
	// Service is the service key or name, Server "addr:port".
	Service, Server string
	// Enabled puts the server into maintenance (true) or lifts it.
	Enabled bool
	Reason  string
	// By is the administrator Guard authenticated; Remote the client's
	// address, for the log.
	By, Remote string
}

// MaintenanceSetter applies a change the way POST /api/v1/maintenance
// does (the same resolution of names, the same store, the same log
// line). It reports whether the state changed, or the HTTP status and
// the error the API would answer.
type MaintenanceSetter func(MaintenanceRequest) (changed bool, status int, err error)

// StatusOptions configure the status page.
type StatusOptions struct {
	// Gather reads what the view is made of (the table within ctx's
	// deadline, the configuration, verdicts, the controller's last pass,
	// the maintenance store); called once per answer. Required.
	Gather func(ctx context.Context) StatusInput
	// Events are the recent events; nil: none.
	Events *Events
	// Policy decides who sees and may use the maintenance buttons (the
	// admin API's rules). Required.
	Policy *Policy
	// SetMaintenance applies a button's change; nil: no buttons (no
	// --config.file).
	SetMaintenance MaintenanceSetter
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Refresh is how often the page refreshes itself; 0:
	// defaultRefresh.
	Refresh time.Duration
	Logger  *slog.Logger
}

// StatusPage serves /status, its assets and its maintenance forms, and
// /api/v1/status. Make one with NewStatusPage and mount it with
// Register.
type StatusPage struct {
	o     StatusOptions
	tmpl  *template.Template
	rates rateTracker
	// key signs the forms' tokens: random per process, so a token is good
	// for one administrator, for 12 to 24 hours (tokenWindow), and not
	// after the process restarts.
	key    []byte
	origin *http.CrossOriginProtection
}

// NewStatusPage returns the status page.
func NewStatusPage(o StatusOptions) (*StatusPage, error) {
	if o.Gather == nil || o.Policy == nil {
		return nil, fmt.Errorf("status page: Gather and Policy are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Refresh <= 0 {
		o.Refresh = defaultRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := template.New("status.html").Funcs(pageFuncs).ParseFS(assets, "assets/status.html")
	if err != nil {
		return nil, fmt.Errorf("status page template: %w", err)
	}
	p := &StatusPage{o: o, tmpl: tmpl, key: make([]byte, 32), origin: http.NewCrossOriginProtection()}
	if _, err := rand.Read(p.key); err != nil {
		return nil, fmt.Errorf("status page: token key: %w", err)
	}
	return p, nil
}

// Register mounts the page's handlers on mux: GET /status, its assets,
// POST /status/maintenance behind the policy's admin API rules, and GET
// /api/v1/status.
func (p *StatusPage) Register(mux *http.ServeMux) {
	mux.HandleFunc(StatusPath, p.servePage)
	mux.HandleFunc(StatusAPIPath, p.serveAPI)
	mux.Handle(StatusMaintenancePath, p.MaintenanceHandler())
	static, _ := fs.Sub(assets, "assets")
	files := http.StripPrefix(statusAssetsPath, http.FileServerFS(static))
	mux.Handle(statusAssetsPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".html") || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
}

// View builds the status view now.
func (p *StatusPage) View(ctx context.Context) StatusView {
	in := p.o.Gather(ctx)
	now := p.o.Now()
	var events []EventView
	if p.o.Events != nil {
		events = p.o.Events.List()
	}
	return buildStatus(in, events, now, &p.rates)
}

func (p *StatusPage) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONBody(w, http.StatusMethodNotAllowed, struct {
			Error string `json:"error"`
		}{"GET only: the status is read-only"})
		return
	}
	writeJSONBody(w, http.StatusOK, p.View(r.Context()))
}

// writeJSONBody answers v as JSON, not indented: at 1,000 real servers
// indenting doubles the time and adds 40 % to the size (jq indents).
func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// setPageHeaders forbids everything the page does not need: no resource
// from elsewhere, no inline script or style, no framing, forms posting
// only here.
func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}

func (p *StatusPage) servePage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "GET only; maintenance changes go to POST "+StatusMaintenancePath, http.StatusMethodNotAllowed)
		return
	}
	v := p.View(r.Context())
	data := p.pageData(r, &v, parseQuery(r.URL.Query()))
	var buf bytes.Buffer
	if err := p.tmpl.Execute(&buf, data); err != nil {
		p.o.Logger.Error("status page", "err", err)
		http.Error(w, "the status page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// tokenWindow is how long the forms' tokens are issued the same: a page
// rendered in one window posts its forms in that window or the next, so
// a token is good for 12 to 24 hours. The page re-renders its forms on
// every reload; a form kept open longer is refused with a request to
// reload, like a form from before a restart.
const tokenWindow = 12 * time.Hour

// tokenAt is the forms' CSRF token for user in the window of t: an HMAC
// of the name and the window's number under the process's key.
func (p *StatusPage) tokenAt(user string, t time.Time) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("lvs-sidecar status maintenance\x00" + user + "\x00" + strconv.FormatInt(t.Unix()/int64(tokenWindow/time.Second), 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validToken reports whether tok is user's token of the current window
// or of the one before it.
func (p *StatusPage) validToken(user, tok string) bool {
	now := p.o.Now()
	for _, t := range []time.Time{now, now.Add(-tokenWindow)} {
		if hmac.Equal([]byte(tok), []byte(p.tokenAt(user, t))) {
			return true
		}
	}
	return false
}

// MaintenanceHandler takes the page's maintenance forms: POST only, from
// the page's own origin (Sec-Fetch-Site, Origin), by an administrator
// while the admin API is on (Policy.GuardForm), with the token of the
// page that administrator was given; it applies the change through
// SetMaintenance and sends the browser back to the page (303).
func (p *StatusPage) MaintenanceHandler() http.Handler {
	guarded := p.o.Policy.GuardForm(AdminAPI, http.HandlerFunc(p.applyForm))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only: the status page's maintenance buttons post here", http.StatusMethodNotAllowed)
			return
		}
		if err := p.origin.Check(r); err != nil {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "the sidecar refuses writes from other sites: "+err.Error()+"; use the buttons of its own status page", http.StatusForbidden)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

func (p *StatusPage) applyForm(w http.ResponseWriter, r *http.Request) {
	user, ok := Admin(r)
	if !ok {
		http.Error(w, "the sidecar refuses writes: no authenticated administrator", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.formError(w, http.StatusBadRequest, "the form could not be read: "+err.Error(), "")
		return
	}
	f := r.PostForm
	// The query says where the page was (filters, the row): the form's
	// action carries it.
	back := parseQuery(parseReturn(r.URL.Query().Get("return"))).url()
	if !p.validToken(user, f.Get("token")) {
		p.formError(w, http.StatusForbidden, "the form's token is not valid for "+user+" (the sidecar restarted, the page is more than 12 hours old, or the form came from elsewhere): reload the status page and try again", back)
		return
	}
	enabled := f.Get("enabled")
	if enabled != "true" && enabled != "false" {
		p.formError(w, http.StatusBadRequest, `"enabled" must be true or false`, back)
		return
	}
	if p.o.SetMaintenance == nil {
		p.formError(w, http.StatusNotFound, "no configuration: lvs-sidecar runs without --config.file, so it has no real servers to put into maintenance", back)
		return
	}
	_, status, err := p.o.SetMaintenance(MaintenanceRequest{Service: f.Get("service"), Server: f.Get("server"), Enabled: enabled == "true",
		Reason: f.Get("reason"), By: user, Remote: r.RemoteAddr})
	if err != nil {
		p.formError(w, status, "maintenance not changed: "+err.Error(), back)
		return
	}
	if a := r.URL.Query().Get("anchor"); validAnchor(a) {
		back += "#" + a
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", back)
	w.WriteHeader(http.StatusSeeOther)
}

// parseReturn reads the form's return field, the page's query; anything
// else is no query.
func parseReturn(s string) url.Values {
	q, err := url.ParseQuery(s)
	if err != nil {
		return url.Values{}
	}
	return q
}

// validAnchor accepts the row ids the page makes (s1-r2).
func validAnchor(a string) bool {
	if a == "" || len(a) > 32 {
		return false
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// formError answers a form that changed nothing: a small page saying why,
// with a link back.
func (p *StatusPage) formError(w http.ResponseWriter, status int, msg, back string) {
	if back == "" {
		back = StatusPath
	}
	if status < 400 {
		status = http.StatusInternalServerError
	}
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "error", struct{ Status, Message, Back string }{http.StatusText(status), msg, back}); err != nil {
		http.Error(w, msg, status)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
