package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReady: /-/ready is 200 for scraping whatever holds the checks, and
// says when the sidecar is not ready for acting; ?for=acting is 503 then,
// with the reason: no configuration, checks that cannot run here, or the
// controller's own reason.
func TestReady(t *testing.T) {
	count := func(n int) func() int { return func() int { return n } }
	ctl := func(ok bool, why string) func() (bool, string) { return func() (bool, string) { return ok, why } }
	for _, tc := range []struct {
		name       string
		rd         Readiness
		ready      string
		actingCode int
		acting     string
	}{
		{"no --config.file", Readiness{}, "Ready\n", 503, "Not ready for acting: no --config.file: lvs-sidecar only exports the table\n"},
		{"all well", Readiness{LocalErrors: count(0), Controller: ctl(true, "")}, "Ready\n", 200, "Ready for acting\n"},
		{"no controller", Readiness{LocalErrors: count(0)}, "Ready\n", 200, "Ready for acting\n"},
		{"one local error", Readiness{LocalErrors: count(1), Controller: ctl(true, "")},
			"Ready for scraping; not ready for acting: 1 real server has checks that cannot run on this director (local_error), so their verdicts are frozen; see ipvs_health_local_error_real_servers and the log\n",
			503, "Not ready for acting: 1 real server(s) have checks that cannot run on this director (local_error)\n"},
		{"three local errors", Readiness{LocalErrors: count(3)}, "Ready for scraping; not ready for acting: 3 real servers have checks", 503, "3 real server(s)"},
		{"controller not ready", Readiness{LocalErrors: count(0), Controller: ctl(false, "the controller has not made a pass yet")}, "Ready\n", 503,
			"Not ready for acting: the controller has not made a pass yet\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := readyHandler(tc.rd)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", ReadyPath, nil))
			if w.Code != 200 || !strings.HasPrefix(w.Body.String(), tc.ready) {
				t.Errorf("%s: %d %q, want 200 %q", ReadyPath, w.Code, w.Body, tc.ready)
			}
			w = httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", ReadyPath+"?for=acting", nil))
			if w.Code != tc.actingCode || !strings.Contains(w.Body.String(), tc.acting) {
				t.Errorf("?for=acting: %d %q, want %d %q", w.Code, w.Body, tc.actingCode, tc.acting)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	w := httptest.NewRecorder()
	healthyHandler().ServeHTTP(w, httptest.NewRequest("GET", HealthyPath, nil))
	if w.Code != 200 || w.Body.String() != "Healthy\n" {
		t.Errorf("%s: %d %q", HealthyPath, w.Code, w.Body)
	}
}
