package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/collector"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// snapshotSource is a kernel table of one service.
type snapshotSource struct{}

func (snapshotSource) Snapshot(context.Context) (*ipvs.Snapshot, error) {
	return &ipvs.Snapshot{Services: []ipvs.Service{kernelService("tcp/192.0.2.1:80", "10.0.0.5:80")}}, nil
}

func handlerOptions(t *testing.T) HandlerOptions {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	policy, err := NewPolicy(Options{}, logger)
	if err != nil {
		t.Fatal(err)
	}
	return HandlerOptions{
		Name:          "lvs-sidecar",
		TelemetryPath: "/metrics",
		Table:         collector.New(snapshotSource{}, logger, collector.Options{}),
		Policy:        policy,
		Gather: func(ctx context.Context) ServicesInput {
			snap, err := snapshotSource{}.Snapshot(ctx)
			return ServicesInput{Snapshot: snap, SnapshotErr: err}
		},
		Director: func() string { return "lvs1.example" },
		Logger:   logger,
	}
}

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// TestNewHandlerRoutes: every path of the surface answers, from the
// handler it belongs to; the landing page links each of them; without
// --config.file the maintenance API has nothing to act on and reload
// nothing to read.
func TestNewHandlerRoutes(t *testing.T) {
	extra := prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvs_sidecar_test_extra", Help: "A collector the command passes."})
	extra.Set(7)
	o := handlerOptions(t)
	o.Collectors = []prometheus.Collector{extra}
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/metrics", 200, "lvs_sidecar_test_extra 7"},
		{"GET", "/metrics", 200, "lvs_sidecar_build_info{"},
		{"GET", "/metrics", 200, `ipvs_service_connections_total{`},
		{"GET", HealthyPath, 200, "Healthy"},
		{"GET", ReadyPath, 200, "Ready"},
		{"GET", ReadyPath + "?for=acting", 503, "no --config.file"},
		{"POST", ReloadPath, 403, "--web.enable-lifecycle"},
		{"GET", ReloadPath, 405, "POST to reload"},
		{"GET", MaintenancePath, 404, "runs without --config.file"},
		{"POST", MaintenancePath, 403, "--web.enable-admin-api"},
		{"GET", ServicesPath, 200, `"key": "tcp/192.0.2.1:80"`},
		{"GET", StatusPath, 200, "lvs1.example"},
		{"GET", StatusAPIPath, 200, `"director":"lvs1.example"`},
		{"GET", "/", 200, "Linux IPVS (LVS) table exporter"},
	} {
		w := get(t, h, tc.method, tc.path)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s %s: %d, want %d with %q:\n%.400s", tc.method, tc.path, w.Code, tc.status, tc.body, w.Body)
		}
	}
	landing := get(t, h, "GET", "/").Body.String()
	for _, path := range []string{"/metrics", HealthyPath, ReadyPath, MaintenancePath, StatusPath, StatusAPIPath, ServicesPath} {
		if !strings.Contains(landing, `href="`+path+`"`) {
			t.Errorf("the landing page does not link %s", path)
		}
	}
	if !strings.Contains(landing, `<div id="writes">`) {
		t.Error("the landing page lacks the write endpoints' section")
	}
}

// TestNewHandlerWithConfig: with a store and a resolver the maintenance
// API lists the store, and the status page has buttons to set it; with
// a reloader, POST /-/reload reaches it (behind the guard).
func TestNewHandlerWithConfig(t *testing.T) {
	cfg := mustConfig(t, twoServices)
	store := actuator.NewMaintenance()
	if _, _, err := store.Apply(actuator.MaintenanceChange{Service: "tcp/192.0.2.1:80", Server: "10.0.0.5:80", Enabled: true, Reason: "disk"}); err != nil {
		t.Fatal(err)
	}
	o := handlerOptions(t)
	o.Maintenance, o.Names = store, actuator.NewResolver(func() *config.Config { return cfg }, knownServers{})
	o.Gather = func(ctx context.Context) ServicesInput {
		snap, err := snapshotSource{}.Snapshot(ctx)
		return ServicesInput{Snapshot: snap, SnapshotErr: err, Config: cfg, Maintenance: store.List()}
	}
	policy, err := NewPolicy(Options{EnableAdminAPI: true, EnableLifecycle: true, ConfigFile: webConfig(t, "", "admin"), AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	o.Policy = policy
	reloads := 0
	o.Reload = func(context.Context, string) error { reloads++; return nil }
	o.Events = NewEvents(0)
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	if w := get(t, h, "GET", MaintenancePath); w.Code != 200 || !strings.Contains(w.Body.String(), `"service_name": "a"`) || !strings.Contains(w.Body.String(), `"reason": "disk"`) {
		t.Errorf("GET %s: %d %s", MaintenancePath, w.Code, w.Body)
	}
	req := httptest.NewRequest("GET", StatusPath, nil)
	req.SetBasicAuth("admin", "admin-pw")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<input type="hidden" name="token"`) {
		t.Errorf("GET %s as the administrator: %d, no maintenance form", StatusPath, w.Code)
	}
	req = httptest.NewRequest("POST", ReloadPath, nil)
	req.SetBasicAuth("admin", "admin-pw")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || reloads != 1 {
		t.Errorf("POST %s: %d %s, %d reloads", ReloadPath, w.Code, w.Body, reloads)
	}

	// Maintenance changes reach the recent events, with who made them;
	// a request that changes nothing does not.
	for _, body := range []string{
		`{"service": "a", "server": "10.0.0.5:80", "enabled": false}`,
		`{"service": "a", "server": "10.0.0.5:80", "enabled": false}`,
		`{"service": "a", "server": "10.0.0.5:80", "enabled": true, "reason": "kernel update"}`,
	} {
		req = httptest.NewRequest("POST", MaintenancePath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("admin", "admin-pw")
		w = httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("POST %s %s: %d %s", MaintenancePath, body, w.Code, w.Body)
		}
	}
	ev := o.Events.List()
	if len(ev) != 2 {
		t.Fatalf("recent events %+v, want the two changes", ev)
	}
	enter, leave := ev[0], ev[1]
	if enter.Kind != EventMaintenance || enter.Code != "maintenance_enter" || enter.Service != "tcp/192.0.2.1:80" || enter.ServiceName != "a" ||
		enter.Server != "10.0.0.5:80" || !strings.Contains(enter.What, "admin") || !strings.Contains(enter.Why, "kernel update") {
		t.Errorf("maintenance enabled: %+v", enter)
	}
	if leave.Kind != EventMaintenance || leave.Code != "maintenance_leave" || !strings.Contains(leave.What, "lifted by admin") {
		t.Errorf("maintenance lifted: %+v", leave)
	}
}

// TestNewHandlerOptions: the telemetry path "/" serves metrics there and
// no landing page; a missing requirement and a collector registered twice
// are errors.
func TestNewHandlerOptions(t *testing.T) {
	o := handlerOptions(t)
	o.TelemetryPath = "/"
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	if w := get(t, h, "GET", "/"); w.Code != 200 || !strings.Contains(w.Body.String(), "lvs_sidecar_build_info{") {
		t.Errorf("GET / with the telemetry path /: %d %.200s", w.Code, w.Body)
	}

	o = handlerOptions(t)
	o.Gather = nil
	if _, err := NewHandler(o); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("no Gather: %v", err)
	}
	o = handlerOptions(t)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvs_sidecar_twice", Help: "Registered twice."})
	o.Collectors = []prometheus.Collector{g, g}
	if _, err := NewHandler(o); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("a collector twice: %v", err)
	}
}
