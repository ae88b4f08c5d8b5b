package main

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/common/version"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// servicesHandler serves GET /api/v1/services: the kernel table joined
// with the configuration, the verdicts, the controller's last pass and
// the maintenance store (web.ServicesView). hc and store are nil without
// --config.file: then the view is the kernel table alone. Read-only; the
// kernel is read once per request, within timeout.
func servicesHandler(reader tableReader, hc *checks, store *actuator.Maintenance, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, web.APIError{Error: "GET only: the view is read-only"})
			return
		}
		writeJSON(w, http.StatusOK, web.BuildServices(gatherServices(r.Context(), reader, hc, store, timeout)))
	})
}

// gatherServices reads what the services view joins: the kernel table
// (within timeout) and, with --config.file, the configuration, the
// verdicts, the controller's last pass and the maintenance store.
func gatherServices(ctx context.Context, reader tableReader, hc *checks, store *actuator.Maintenance, timeout time.Duration) web.ServicesInput {
	in := web.ServicesInput{Version: version.Version}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	in.Snapshot, in.SnapshotErr = reader.Snapshot(ctx)
	if hc != nil {
		in.Config = hc.config()
		in.Verdicts = hc.sched.Status()
		if hc.ctl != nil {
			st := hc.ctl.Controller().Status()
			in.Status = &st
		}
	}
	if store != nil {
		in.Maintenance = store.List()
	}
	return in
}

// statusGather is the status page's input: the services view's and the
// director's name.
func statusGather(reader tableReader, hc *checks, store *actuator.Maintenance, timeout time.Duration) func(context.Context) web.StatusInput {
	return func(ctx context.Context) web.StatusInput {
		return web.StatusInput{ServicesInput: gatherServices(ctx, reader, hc, store, timeout), Director: directorName(hc)}
	}
}

// directorName is the name the notifications carry (notifications.director,
// or the host name), or the host name without --config.file.
func directorName(hc *checks) string {
	if hc != nil && hc.notifier != nil {
		return hc.notifier.Director()
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return programName
}

// config returns the configuration in use.
func (c *checks) config() *config.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}
