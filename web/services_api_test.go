package web

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestServicesHandler: GET answers the view of what gather read for the
// request (read once per request, with the request's context); other
// methods than GET and HEAD get 405.
func TestServicesHandler(t *testing.T) {
	type ctxKey struct{}
	reads := 0
	h := servicesHandler(func(ctx context.Context) ServicesInput {
		reads++
		if ctx.Value(ctxKey{}) != "request" {
			t.Error("gather did not get the request's context")
		}
		return ServicesInput{Version: "1.2.3", Config: mustConfig(t, twoServices),
			Snapshot: &ipvs.Snapshot{Services: []ipvs.Service{kernelService("tcp/192.0.2.1:80", "10.0.0.5:80")}}}
	})
	req := httptest.NewRequest("GET", ServicesPath, nil)
	req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, "request"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var v ServicesView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != 200 || reads != 1 {
		t.Fatalf("GET: %d %v (reads %d) %s", w.Code, err, reads, w.Body)
	}
	want := []string{"01 tcp/192.0.2.2:80", "01.01 10.0.0.9:80 no_verdict", "01.02 10.0.0.1:80 no_verdict", "02 tcp/192.0.2.1:80", "02.01 10.0.0.5:80 no_verdict"}
	if got := rows(v); !slices.Equal(got, want) || v.Version != "1.2.3" {
		t.Errorf("rows %q (version %q), want %q", got, v.Version, want)
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", ServicesPath, nil))
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" || reads != 1 {
		t.Errorf("POST: %d Allow %q, reads %d", w.Code, w.Header().Get("Allow"), reads)
	}
}
