package main

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/common/version"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// servicesHandler serves GET /api/v1/services: the kernel table joined
// with the configuration, the verdicts and the controller's last pass
// (web.ServicesView). hc is nil without --config.file: then the view is
// the kernel table alone. Read-only; the kernel is read once per request,
// within timeout.
func servicesHandler(reader tableReader, hc *checks, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, apiError{"GET only: the view is read-only"})
			return
		}
		in := web.ServicesInput{Version: version.Version}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		in.Snapshot, in.SnapshotErr = reader.Snapshot(ctx)
		if hc != nil {
			in.Config = hc.config()
			in.Verdicts = hc.sched.Status()
			if hc.ctl != nil {
				st := hc.ctl.ctl.Status()
				in.Status = &st
			}
		}
		writeJSON(w, http.StatusOK, web.BuildServices(in))
	})
}

// config returns the configuration in use.
func (c *checks) config() *config.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}
