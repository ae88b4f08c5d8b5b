package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// knownServers is the checks' list of real servers.
type knownServers []health.ServerStatus

func (k knownServers) Status() []health.ServerStatus { return k }

// maintenanceEnv is the maintenance API over a real store and resolver,
// behind the policy of a web configuration with the administrator admin
// and the reader prometheus, the admin API on.
type maintenanceEnv struct {
	api   *maintenanceAPI
	store *actuator.Maintenance
	mux   *http.ServeMux
	log   *bytes.Buffer
}

func newMaintenanceEnv(t *testing.T, store *actuator.Maintenance) *maintenanceEnv {
	t.Helper()
	cfg := mustConfig(t, `
services:
  - name: web
    address: 192.0.2.10:80
    real_servers:
      - {address: 10.0.0.1:80}
      - {address: 10.0.0.2:80}
`)
	policy, err := NewPolicy(Options{EnableAdminAPI: true, ConfigFile: webConfig(t, "", "admin", "prometheus"), AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	e := &maintenanceEnv{store: store, log: &bytes.Buffer{}, mux: http.NewServeMux()}
	names := actuator.NewResolver(func() *config.Config { return cfg }, knownServers{})
	e.api = newMaintenanceAPI(store, names, nil, newLogger(e.log))
	e.mux.Handle(MaintenancePath, policy.Guard(AdminAPI, e.api.handler()))
	return e
}

func (e *maintenanceEnv) do(t *testing.T, method string, who *creds, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, MaintenancePath, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if who != nil {
		req.SetBasicAuth(who.user, who.pass)
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, req)
	return w
}

// TestMaintenanceAPIRequests: what POST /api/v1/maintenance accepts and
// refuses (each refusal a JSON error that says what to send, nothing
// changed), and that a change is recorded as the administrator the
// password proved and logged once.
func TestMaintenanceAPIRequests(t *testing.T) {
	e := newMaintenanceEnv(t, actuator.NewMaintenance())
	const jsonType = "application/json"
	for _, tc := range []struct {
		name, method, contentType, body string
		status                          int
		msg                             string
	}{
		{"not JSON", "POST", "text/plain", `{"service": "web", "server": "10.0.0.1:80", "enabled": true}`, 415, "Content-Type: application/json"},
		{"unknown field", "POST", jsonType, `{"service": "web", "server": "10.0.0.1:80", "enabled": true, "by": "mallory"}`, 400, `unknown field "by"`},
		{"two objects", "POST", jsonType, `{"service": "web", "server": "10.0.0.1:80", "enabled": true} {}`, 400, "more than one object"},
		{"no enabled", "POST", jsonType, `{"service": "web", "server": "10.0.0.1:80"}`, 400, `"enabled" is required`},
		{"long reason", "POST", jsonType, `{"service": "web", "server": "10.0.0.1:80", "enabled": true, "reason": "` + strings.Repeat("x", MaxReasonLen+1) + `"}`, 400, "at most 1024 are kept"},
		{"unknown server", "POST", jsonType, `{"service": "web", "server": "10.0.0.3:80", "enabled": true}`, 404, "unknown real server 10.0.0.3:80"},
		{"not an address", "POST", jsonType, `{"service": "web", "server": "rs1", "enabled": true}`, 400, `invalid server "rs1"`},
		{"PUT", "PUT", jsonType, `{}`, 405, "GET lists the real servers in maintenance, POST changes one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, tc.method, asAdmin, tc.contentType, tc.body)
			var body APIError
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tc.status || !strings.Contains(body.Error, tc.msg) {
				t.Errorf("%d %s, want %d with %q", w.Code, w.Body, tc.status, tc.msg)
			}
			if got := w.Header().Get("Content-Type"); got != jsonType {
				t.Errorf("Content-Type %q", got)
			}
		})
	}
	if n := len(e.store.List()); n != 0 || e.log.Len() != 0 {
		t.Fatalf("refused requests changed %d entries or logged:\n%s", n, e.log)
	}

	for i, wantChanged := range []bool{true, false} {
		w := e.do(t, "POST", asAdmin, "application/json; charset=utf-8", `{"service": "web", "server": "10.0.0.1", "enabled": true, "reason": "disk"}`)
		var got MaintenanceEntry
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
			t.Fatalf("POST %d: %d %s", i, w.Code, w.Body)
		}
		if got.Service != "tcp/192.0.2.10:80" || got.ServiceName != "web" || got.Server != "10.0.0.1:80" || !got.Enabled ||
			got.By != "admin" || got.Reason != "disk" || got.Since.IsZero() || got.Changed == nil || *got.Changed != wantChanged {
			t.Errorf("POST %d: %s", i, w.Body)
		}
	}
	if n := strings.Count(e.log.String(), `msg="maintenance enabled: the controller drains the real server whatever its checks say" service=tcp/192.0.2.10:80 service_name=web server=10.0.0.1:80 reason=disk by=admin`); n != 1 {
		t.Errorf("the change is logged %d times, want once (the repeat changed nothing):\n%s", n, e.log)
	}

	// Any authenticated user may list.
	w := e.do(t, "GET", asReader, "", "")
	var list MaintenanceList
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 || len(list.Entries) != 1 ||
		list.Entries[0].Server != "10.0.0.1:80" || list.Entries[0].ServiceName != "web" || list.Entries[0].Changed != nil {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
}

// TestMaintenanceAPILiftDropped: a server that left the configuration
// while in maintenance can be lifted (not put into maintenance again).
func TestMaintenanceAPILiftDropped(t *testing.T) {
	store := actuator.NewMaintenance()
	if _, _, err := store.Apply(actuator.MaintenanceChange{Service: "tcp/192.0.2.10:80", Server: "10.0.0.9:80", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	e := newMaintenanceEnv(t, store)
	if w := e.do(t, "POST", asAdmin, "application/json", `{"service": "web", "server": "10.0.0.9:80", "enabled": true}`); w.Code != 404 {
		t.Errorf("enable a dropped server: %d %s, want 404", w.Code, w.Body)
	}
	if w := e.do(t, "POST", asAdmin, "application/json", `{"service": "web", "server": "10.0.0.9:80", "enabled": false}`); w.Code != 200 || !strings.Contains(w.Body.String(), `"changed": true`) {
		t.Errorf("lift a dropped server: %d %s", w.Code, w.Body)
	}
	if store.InMaintenance("tcp/192.0.2.10:80", "10.0.0.9:80") {
		t.Error("still in maintenance")
	}
}

// TestMaintenanceAPINotSaved: a change the state file could not keep is
// a 500 that says so, and holds in memory.
func TestMaintenanceAPINotSaved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := actuator.LoadMaintenance(filepath.Join(dir, "maintenance.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	e := newMaintenanceEnv(t, store)
	w := e.do(t, "POST", asAdmin, "application/json", `{"service": "web", "server": "10.0.0.2:80", "enabled": true}`)
	if w.Code != 500 || !store.InMaintenance("tcp/192.0.2.10:80", "10.0.0.2:80") || !strings.Contains(e.log.String(), "maintenance state not saved") {
		t.Errorf("%d %s; log:\n%s", w.Code, w.Body, e.log)
	}
}

// TestMaintenanceAPIWithoutConfig: without --config.file there is no API
// to act on (404, as JSON) and no setter for the status page's buttons;
// a handler wired without the guard refuses writes.
func TestMaintenanceAPIWithoutConfig(t *testing.T) {
	api := newMaintenanceAPI(nil, nil, nil, nil)
	if api != nil || api.setter() != nil {
		t.Fatal("an API without a store")
	}
	w := httptest.NewRecorder()
	api.handler().ServeHTTP(w, httptest.NewRequest("GET", MaintenancePath, nil))
	if w.Code != 404 || !strings.Contains(w.Body.String(), "runs without --config.file") {
		t.Errorf("GET without a configuration: %d %s", w.Code, w.Body)
	}

	e := newMaintenanceEnv(t, actuator.NewMaintenance())
	w = httptest.NewRecorder()
	req := httptest.NewRequest("POST", MaintenancePath, strings.NewReader(`{"service": "web", "server": "10.0.0.1:80", "enabled": true}`))
	req.Header.Set("Content-Type", "application/json")
	e.api.handler().ServeHTTP(w, req)
	if w.Code != 403 || len(e.store.List()) != 0 {
		t.Errorf("POST without the guard: %d %s", w.Code, w.Body)
	}
}
