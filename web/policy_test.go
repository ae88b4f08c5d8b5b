package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// webConfig writes a web configuration with a basic-auth user for each
// name (password: name + "-pw") and returns its path.
func webConfig(t testing.TB, extra string, users ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(extra)
	if len(users) > 0 {
		b.WriteString("basic_auth_users:\n")
	}
	for _, u := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("  " + u + ": " + string(hash) + "\n")
	}
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

// TestNewPolicy: a write endpoint that is on refuses to start without
// authentication and administrators that the web configuration has, with
// a message saying what to add; off, nothing is required.
func TestNewPolicy(t *testing.T) {
	users := webConfig(t, "", "admin", "prometheus")
	noUsers := webConfig(t, "http_server_config:\n  http2: true\n")
	for _, tc := range []struct {
		name string
		o    Options
		want string // "": accepted
		warn string // a warning the log must have
	}{
		{"all off", Options{}, "", ""},
		{"all off, with a web config", Options{ConfigFile: users}, "", ""},
		{"admin user without a write endpoint", Options{ConfigFile: users, AdminUsers: []string{"admin"}}, "",
			"--web.admin-user does nothing while every write endpoint is off"},
		{"admin API without a web config", Options{EnableAdminAPI: true, AdminUsers: []string{"admin"}},
			"--web.enable-admin-api turns on writes, which need authentication: add --web.config.file=FILE with basic_auth_users, and --web.admin-user=NAME", ""},
		{"both without a web config", Options{EnableAdminAPI: true, EnableLifecycle: true},
			"--web.enable-admin-api and --web.enable-lifecycle turn on writes, which need authentication", ""},
		{"lifecycle, web config without users", Options{EnableLifecycle: true, ConfigFile: noUsers, AdminUsers: []string{"admin"}},
			"--web.enable-lifecycle turns on writes, which need authentication: --web.config.file " + noUsers + " has no basic_auth_users", ""},
		{"no admin user", Options{EnableAdminAPI: true, ConfigFile: users},
			"name at least one with --web.admin-user=NAME, a user of basic_auth_users in " + users + " (admin, prometheus)", ""},
		{"admin user not in the web config", Options{EnableAdminAPI: true, ConfigFile: users, AdminUsers: []string{"admin", "root"}},
			`--web.admin-user=root: no user "root" in basic_auth_users of ` + users, ""},
		{"empty admin user", Options{EnableAdminAPI: true, ConfigFile: users, AdminUsers: []string{""}}, "--web.admin-user: empty user name", ""},
		{"unreadable web config", Options{EnableAdminAPI: true, ConfigFile: users + ".missing", AdminUsers: []string{"admin"}},
			"--web.config.file " + users + ".missing", ""},
		{"on, plain HTTP", Options{EnableAdminAPI: true, ConfigFile: users, AdminUsers: []string{"admin"}}, "",
			"write endpoints are on without TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			p, err := NewPolicy(tc.o, newLogger(&log))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
			if tc.warn != "" && !strings.Contains(log.String(), tc.warn) {
				t.Errorf("log lacks %q:\n%s", tc.warn, log.String())
			}
			if tc.warn == "" && strings.Contains(log.String(), "level=WARN") {
				t.Errorf("unexpected warning:\n%s", log.String())
			}
			if p != nil && (p.Enabled(AdminAPI) != tc.o.EnableAdminAPI || p.Enabled(LifecycleAPI) != tc.o.EnableLifecycle) {
				t.Errorf("Enabled: admin API %v, lifecycle %v; want %v, %v", p.Enabled(AdminAPI), p.Enabled(LifecycleAPI), tc.o.EnableAdminAPI, tc.o.EnableLifecycle)
			}
		})
	}
}

// recorder is the guarded handler: it records whether it ran and which
// administrator it was given.
type recorder struct {
	ran   bool
	admin string
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.ran = true
	h.admin, _ = Admin(r)
	w.WriteHeader(http.StatusOK)
}

// TestGuard: reads pass; writes are refused while off (403 naming the
// flag), need an administrator's password while on (401, 403 for a
// reader), and the handler sees the administrator, whatever headers claim.
func TestGuard(t *testing.T) {
	cfg := webConfig(t, "", "admin", "ops", "prometheus")
	on, err := NewPolicy(Options{EnableAdminAPI: true, EnableLifecycle: true, ConfigFile: cfg, AdminUsers: []string{"ops", "admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	lifecycleOnly, err := NewPolicy(Options{EnableLifecycle: true, ConfigFile: cfg, AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	off, err := NewPolicy(Options{ConfigFile: cfg}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	type auth struct{ user, pass string }
	for _, tc := range []struct {
		name    string
		p       *Policy
		api     API
		method  string
		auth    *auth
		header  map[string]string
		code    int
		body    string // in the answer
		json    bool   // the answer is {"error": ...}
		ranWith string // the handler ran and saw this administrator; "-": it ran as a read
	}{
		{"read while off", off, AdminAPI, "GET", nil, nil, 200, "", false, "-"},
		{"HEAD while off", off, AdminAPI, "HEAD", nil, nil, 200, "", false, "-"},
		{"read with an admin's password", on, AdminAPI, "GET", &auth{"admin", "admin-pw"}, nil, 200, "", false, "-"},
		{"write while off", off, AdminAPI, "POST", &auth{"admin", "admin-pw"}, nil, 403,
			"the sidecar refuses writes: POST /x is off; start lvs-sidecar with --web.enable-admin-api", true, ""},
		{"reload while off", off, LifecycleAPI, "POST", &auth{"admin", "admin-pw"}, nil, 403,
			"the sidecar refuses writes: POST /x is off; start lvs-sidecar with --web.enable-lifecycle", false, ""},
		{"DELETE while off", off, AdminAPI, "DELETE", nil, nil, 403, "--web.enable-admin-api", true, ""},
		{"admin API off, lifecycle on", lifecycleOnly, AdminAPI, "POST", &auth{"admin", "admin-pw"}, nil, 403, "--web.enable-admin-api", true, ""},
		{"lifecycle on", lifecycleOnly, LifecycleAPI, "POST", &auth{"admin", "admin-pw"}, nil, 200, "", false, "admin"},
		{"no credentials", on, AdminAPI, "POST", nil, nil, 401, "needs the user and password of an administrator", true, ""},
		{"wrong password", on, AdminAPI, "POST", &auth{"admin", "guess"}, nil, 401, "administrator", true, ""},
		{"unknown user", on, AdminAPI, "POST", &auth{"root", "root-pw"}, nil, 401, "administrator", true, ""},
		{"reader", on, AdminAPI, "POST", &auth{"prometheus", "prometheus-pw"}, nil, 403,
			`user "prometheus" is not an admin: POST /x is for the users named with --web.admin-user; "prometheus" may only read`, true, ""},
		{"reader reloads", on, LifecycleAPI, "POST", &auth{"prometheus", "prometheus-pw"}, nil, 403, `user "prometheus" is not an admin`, false, ""},
		{"admin", on, AdminAPI, "POST", &auth{"admin", "admin-pw"}, nil, 200, "", false, "admin"},
		{"second admin", on, AdminAPI, "PUT", &auth{"ops", "ops-pw"}, nil, 200, "", false, "ops"},
		{"headers claim another user", on, AdminAPI, "POST", &auth{"ops", "ops-pw"},
			map[string]string{"X-Forwarded-User": "admin", "X-Remote-User": "admin", "Remote-User": "admin", "X-WEBAUTH-USER": "admin"}, 200, "", false, "ops"},
		{"headers without credentials", on, AdminAPI, "POST", nil,
			map[string]string{"X-Forwarded-User": "admin", "X-Remote-User": "admin"}, 401, "administrator", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &recorder{}
			req := httptest.NewRequest(tc.method, "/x", nil)
			if tc.auth != nil {
				req.SetBasicAuth(tc.auth.user, tc.auth.pass)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			tc.p.Guard(tc.api, h).ServeHTTP(w, req)
			msg := w.Body.String()
			if tc.code >= 400 {
				ct := w.Header().Get("Content-Type")
				if tc.json != (ct == "application/json") || !tc.json && !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type %q, want JSON: %v", ct, tc.json)
				}
				if tc.json {
					var e struct{ Error string }
					if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
						t.Errorf("body %q is not {\"error\": ...}", msg)
					}
					msg = e.Error
				}
			}
			if w.Code != tc.code || !strings.Contains(msg, tc.body) {
				t.Errorf("status %d, body %q; want %d with %q", w.Code, msg, tc.code, tc.body)
			}
			if tc.code == 401 && w.Header().Get("WWW-Authenticate") != "Basic" {
				t.Errorf("401 without WWW-Authenticate: Basic")
			}
			switch {
			case tc.ranWith == "" && h.ran:
				t.Errorf("the handler ran for a refused request")
			case tc.ranWith == "-" && (!h.ran || h.admin != ""):
				t.Errorf("read: handler ran %v with administrator %q; want it to run with none", h.ran, h.admin)
			case tc.ranWith != "" && tc.ranWith != "-" && (!h.ran || h.admin != tc.ranWith):
				t.Errorf("handler ran %v with administrator %q, want %q", h.ran, h.admin, tc.ranWith)
			}
		})
	}
}

// TestGuardWebConfigChanged: exporter-toolkit re-reads the web
// configuration on every request, so removing basic_auth_users turns its
// authentication off while the process runs; the guard must not open
// writes then, whatever Authorization header a request carries, and it
// follows password changes at once.
func TestGuardWebConfigChanged(t *testing.T) {
	cfg := webConfig(t, "", "admin")
	p, err := NewPolicy(Options{EnableAdminAPI: true, ConfigFile: cfg, AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	try := func(user, pass string) (int, string, bool) {
		h := &recorder{}
		req := httptest.NewRequest("POST", MaintenancePath, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		p.Guard(AdminAPI, h).ServeHTTP(w, req)
		return w.Code, w.Body.String(), h.ran
	}
	if code, body, ran := try("admin", "admin-pw"); code != 200 || !ran {
		t.Fatalf("before the change: %d %s", code, body)
	}
	if err := os.WriteFile(cfg, []byte("http_server_config:\n  http2: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"admin", "admin-pw"}, {"admin", "anything"}, {"", ""}} {
		if code, body, ran := try(c[0], c[1]); code != 403 || ran || !strings.Contains(body, "has no basic_auth_users any more") {
			t.Errorf("users removed, credentials %q: %d %s (handler ran: %v); want 403 saying so", c, code, body, ran)
		}
	}
	// Back with another password: the old one is refused at once.
	hash, err := bcrypt.GenerateFromPassword([]byte("new-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("basic_auth_users:\n  admin: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body, ran := try("admin", "admin-pw"); code != 401 || ran {
		t.Errorf("the old password after a change: %d %s (handler ran: %v), want 401", code, body, ran)
	}
	if code, body, ran := try("admin", "new-pw"); code != 200 || !ran {
		t.Errorf("the new password: %d %s (handler ran: %v), want 200", code, body, ran)
	}
}

// TestLandingHTML: the landing page names each write endpoint, whether it
// is on and for whom, with the names escaped.
func TestLandingHTML(t *testing.T) {
	cfg := webConfig(t, "", "admin", "<b>ops</b>")
	p, err := NewPolicy(Options{EnableLifecycle: true, ConfigFile: cfg, AdminUsers: []string{"admin", "<b>ops</b>"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	got := p.LandingHTML()
	for _, want := range []string{
		"<li>POST /api/v1/maintenance: off (--web.enable-admin-api turns it on)</li>",
		"<li>POST /-/reload: on, for the administrators &lt;b&gt;ops&lt;/b&gt;, admin</li>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("landing HTML lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "<b>") {
		t.Errorf("a user name is not escaped:\n%s", got)
	}
}

// TestMayWrite: MayWrite says yes exactly when Guard would let a write
// through, so that a page never shows write controls to a user who would
// be refused, nor hides them from an administrator.
func TestMayWrite(t *testing.T) {
	cfg := webConfig(t, "", "admin", "prometheus")
	on, err := NewPolicy(Options{EnableAdminAPI: true, ConfigFile: cfg, AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	off, err := NewPolicy(Options{ConfigFile: cfg, AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		p          *Policy
		user, pass string
		want       string // "": may not
	}{
		{"admin", on, "admin", "admin-pw", "admin"},
		{"admin again (remembered match)", on, "admin", "admin-pw", "admin"},
		{"admin, wrong password after a match", on, "admin", "admin-pwx", ""},
		{"reader", on, "prometheus", "prometheus-pw", ""},
		{"no credentials", on, "", "", ""},
		{"admin while off", off, "admin", "admin-pw", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/status", nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			user, ok := tc.p.MayWrite(AdminAPI, req)
			if ok != (tc.want != "") || user != tc.want {
				t.Errorf("MayWrite = %q, %v; want %q", user, ok, tc.want)
			}
			post := httptest.NewRequest("POST", "/status", nil)
			post.Header = req.Header
			h := &recorder{}
			tc.p.Guard(AdminAPI, h).ServeHTTP(httptest.NewRecorder(), post)
			if h.ran != ok {
				t.Errorf("Guard let the write through: %v, MayWrite: %v", h.ran, ok)
			}
		})
	}
}
