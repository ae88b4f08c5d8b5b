package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReloadHandler: POST /-/reload answers by what the reload says (200,
// 400 for an invalid file or none, 500 for anything else, with the
// reason), tells the reload which administrator asked, and does not let
// a client that hangs up cancel it; other methods get 405.
func TestReloadHandler(t *testing.T) {
	policy, err := NewPolicy(Options{EnableLifecycle: true, ConfigFile: webConfig(t, "", "admin"), AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	invalid := fmt.Errorf("lvs.yml is invalid (1 problem): %w", ErrInvalidConfig)
	for _, tc := range []struct {
		name   string
		method string
		err    error
		none   bool
		status int
		body   string
	}{
		{"applied", "POST", nil, false, 200, "configuration reloaded"},
		{"invalid file", "POST", invalid, false, 400, "lvs.yml is invalid (1 problem)"},
		{"unreadable file", "POST", errors.New("open lvs.yml: permission denied"), false, 500, "configuration reload failed; the previous configuration stays in use: open lvs.yml: permission denied"},
		{"no --config.file", "POST", nil, true, 400, "no configuration to reload"},
		{"GET", "GET", nil, false, 405, "POST to reload the configuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			reload := Reloader(func(ctx context.Context, trigger string) error {
				if ctx.Err() != nil {
					t.Errorf("the reload's context is done: %v", ctx.Err())
				}
				calls = append(calls, trigger)
				return tc.err
			})
			if tc.none {
				reload = nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the client has hung up
			req := httptest.NewRequestWithContext(ctx, tc.method, ReloadPath, nil)
			req.SetBasicAuth("admin", "admin-pw")
			w := httptest.NewRecorder()
			policy.Guard(LifecycleAPI, reloadHandler(reload, nil)).ServeHTTP(w, req)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("%d %q, want %d with %q", w.Code, w.Body, tc.status, tc.body)
			}
			wantCalls := 0
			if tc.method == "POST" && !tc.none {
				wantCalls = 1
			}
			if len(calls) != wantCalls || (wantCalls == 1 && calls[0] != "POST /-/reload by admin") {
				t.Errorf("reloads %q, want %d by admin", calls, wantCalls)
			}
			if tc.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow %q", w.Header().Get("Allow"))
			}
		})
	}
}
