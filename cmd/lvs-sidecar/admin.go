package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// maxReasonLen bounds the reason an operator gives; it goes into logs and
// the state file.
const maxReasonLen = 1024

// maintenanceRequest is the body of POST /api/v1/maintenance.
type maintenanceRequest struct {
	// Service is a service name from --config.file or a service key.
	Service string `json:"service"`
	// Server is "addr:port".
	Server string `json:"server"`
	// Enabled puts the server into maintenance (true) or lifts it
	// (false); required, so that a request cannot lift one by omission.
	Enabled *bool  `json:"enabled"`
	Reason  string `json:"reason"`
}

// maintenanceEntry is one real server in an answer of the API.
type maintenanceEntry struct {
	Service     string `json:"service"`
	ServiceName string `json:"service_name,omitempty"`
	Server      string `json:"server"`
	Enabled     bool   `json:"enabled"`
	// Changed is set in answers to POST: whether the request changed the
	// state (false when the server already was as asked).
	Changed *bool     `json:"changed,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	By      string    `json:"by,omitempty"`
	Since   time.Time `json:"since,omitzero"`
}

// maintenanceList is the body of GET /api/v1/maintenance.
type maintenanceList struct {
	Entries []maintenanceEntry `json:"entries"`
}

// apiError is the body of every error answer of the API.
type apiError struct {
	Error string `json:"error"`
}

// maintenanceHandler serves /api/v1/maintenance: GET lists the real
// servers in maintenance, POST puts one into maintenance or lifts it.
// c is nil without --config.file: then there is nothing to act on (404).
// It runs behind web.Policy.Guard, which lets a POST through only from an
// administrator while --web.enable-admin-api is on.
func maintenanceHandler(c *checks, store *actuator.Maintenance, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			writeJSON(w, http.StatusMethodNotAllowed, apiError{"GET lists the real servers in maintenance, POST changes one"})
			return
		}
		if c == nil || store == nil {
			writeJSON(w, http.StatusNotFound, apiError{"no configuration: lvs-sidecar runs without --config.file, so it has no real servers to put into maintenance"})
			return
		}
		if r.Method != http.MethodPost {
			list := maintenanceList{Entries: []maintenanceEntry{}}
			for _, e := range store.List() {
				list.Entries = append(list.Entries, apiEntry(c, e, true))
			}
			writeJSON(w, http.StatusOK, list)
			return
		}
		setMaintenance(w, r, c, store, logger)
	})
}

func setMaintenance(w http.ResponseWriter, r *http.Request, c *checks, store *actuator.Maintenance, logger *slog.Logger) {
	// The record names who did it: the administrator whose password the
	// guard checked, never a header or a field of the body.
	by, ok := web.Admin(r)
	if !ok {
		// Only a handler wired without the guard gets here.
		writeJSON(w, http.StatusForbidden, apiError{"the sidecar refuses writes: no authenticated administrator"})
		return
	}
	// Only JSON: a browser's cross-site form can post text/plain or
	// form-encoded bodies with the credentials it has cached, but not
	// application/json without a CORS preflight this server never grants.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{"send the request as JSON with Content-Type: application/json"})
		return
	}
	var req maintenanceRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid JSON: " + err.Error() + ` (want {"service": "NAME or KEY", "server": "ADDR:PORT", "enabled": true, "reason": "TEXT"})`})
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid JSON: more than one object in the body"})
		return
	}
	if req.Enabled == nil {
		writeJSON(w, http.StatusBadRequest, apiError{`"enabled" is required: true puts the server into maintenance, false lifts it`})
		return
	}
	entry, changed, status, err := applyMaintenance(c, store, logger, web.MaintenanceRequest{Service: req.Service, Server: req.Server,
		Enabled: *req.Enabled, Reason: req.Reason, By: by, Remote: r.RemoteAddr})
	if err != nil {
		writeJSON(w, status, apiError{err.Error()})
		return
	}
	out := apiEntry(c, entry, *req.Enabled)
	out.Changed = &changed
	writeJSON(w, http.StatusOK, out)
}

// applyMaintenance makes the change req asks for, on behalf of the
// administrator req.By: the one maintenance code behind POST
// /api/v1/maintenance and the status page's buttons. It resolves the
// service (name or key) and server, applies the change to the store,
// logs it, and returns the entry and whether it changed anything; on
// failure the HTTP status and the error to answer (nothing changed,
// except for a 500: the change holds but the state file was not saved).
func applyMaintenance(c *checks, store *actuator.Maintenance, logger *slog.Logger, req web.MaintenanceRequest) (actuator.MaintenanceEntry, bool, int, error) {
	if len(req.Reason) > maxReasonLen {
		return actuator.MaintenanceEntry{}, false, http.StatusBadRequest, fmt.Errorf("reason is %d bytes long, at most %d are kept", len(req.Reason), maxReasonLen)
	}
	ref, err := c.names.Resolve(req.Service, req.Server)
	if err != nil && !req.Enabled {
		// A server that left the configuration can still leave
		// maintenance.
		if key, ok := c.names.ResolveStored(store, req.Service, req.Server); ok {
			ref, err = key, nil
		}
	}
	switch {
	case errors.Is(err, actuator.ErrUnknownServer):
		return actuator.MaintenanceEntry{}, false, http.StatusNotFound, err
	case err != nil:
		return actuator.MaintenanceEntry{}, false, http.StatusBadRequest, err
	}

	entry, changed, err := store.Apply(actuator.MaintenanceChange{Service: ref.Service, Server: ref.Server, Enabled: req.Enabled, Reason: req.Reason, By: req.By})
	if changed {
		what := "maintenance lifted: the controller restores the real server's weight as its checks allow"
		if req.Enabled {
			what = "maintenance enabled: the controller drains the real server whatever its checks say"
		}
		logger.Info(what, "service", ref.Service, "service_name", ref.Name, "server", ref.Server, "reason", req.Reason, "by", req.By, "remote", req.Remote)
	}
	if err != nil {
		logger.Error("maintenance state not saved", "err", err)
		return entry, changed, http.StatusInternalServerError, err
	}
	return entry, changed, http.StatusOK, nil
}

// maintenanceSetter is applyMaintenance for the status page's buttons;
// nil without --config.file.
func maintenanceSetter(c *checks, store *actuator.Maintenance, logger *slog.Logger) web.MaintenanceSetter {
	if c == nil || store == nil {
		return nil
	}
	return func(req web.MaintenanceRequest) (bool, int, error) {
		_, changed, status, err := applyMaintenance(c, store, logger, req)
		return changed, status, err
	}
}

func apiEntry(c *checks, e actuator.MaintenanceEntry, enabled bool) maintenanceEntry {
	return maintenanceEntry{Service: e.Service, ServiceName: c.names.ServiceName(e.Service), Server: e.Server, Enabled: enabled,
		Reason: e.Reason, By: e.By, Since: e.Since}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// errorMessage extracts the message of an error answer of the API, or the
// body as text for answers from elsewhere (exporter-toolkit's 401).
func errorMessage(body []byte) string {
	var e apiError
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(body))
}

// openMaintenance returns the maintenance store: saved to path, or in
// memory only when path is "". A state file that exists but cannot be
// read, or a directory that does not exist, is an error at start rather
// than servers silently put back into service or a save that fails later.
func openMaintenance(path string, logger *slog.Logger) (*actuator.Maintenance, error) {
	if path == "" {
		return actuator.NewMaintenance(), nil
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("--state.file %s: its directory: %w", path, err)
	}
	m, err := actuator.LoadMaintenance(path)
	if err != nil {
		return nil, fmt.Errorf("--state.file: %w", err)
	}
	for _, e := range m.List() {
		logger.Info("real server in maintenance (from --state.file): drained until lifted", "service", e.Service, "server", e.Server,
			"since", e.Since.Format(time.RFC3339), "by", e.By, "reason", e.Reason)
	}
	return m, nil
}
