package web

import (
	"context"
	"net/http"
)

// servicesHandler serves GET /api/v1/services: BuildServices of what
// gather reads (the kernel table, and with --config.file the
// configuration, the verdicts, the controller's last pass and the
// maintenance store), once per request. Read-only.
func servicesHandler(gather func(context.Context) ServicesInput) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, APIError{"GET only: the view is read-only"})
			return
		}
		writeJSON(w, http.StatusOK, BuildServices(gather(r.Context())))
	})
}
