package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
)

// MaxReasonLen bounds the reason an operator gives; it goes into logs and
// the state file.
const MaxReasonLen = 1024

// maintenanceBody is the body of POST /api/v1/maintenance.
type maintenanceBody struct {
	// Service is a service name from --config.file or a service key.
	Service string `json:"service"`
	// Server is "addr:port".
	Server string `json:"server"`
	// Enabled puts the server into maintenance (true) or lifts it
	// (false); required, so that a request cannot lift one by omission.
	Enabled *bool  `json:"enabled"`
	Reason  string `json:"reason"`
}

// MaintenanceEntry is one real server in an answer of the maintenance
// API.
type MaintenanceEntry struct {
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

// MaintenanceList is the body of GET /api/v1/maintenance.
type MaintenanceList struct {
	Entries []MaintenanceEntry `json:"entries"`
}

// APIError is the body of every error answer of the JSON APIs.
type APIError struct {
	Error string `json:"error"`
}

// MaintenanceStore is the admin state the maintenance API reads and
// changes; *actuator.Maintenance satisfies it.
type MaintenanceStore interface {
	List() []actuator.MaintenanceEntry
	Get(service, server string) (actuator.MaintenanceEntry, bool)
	Apply(actuator.MaintenanceChange) (actuator.MaintenanceEntry, bool, error)
}

// ServerResolver turns the names a request gives a real server into its
// labels; *actuator.Resolver satisfies it.
type ServerResolver interface {
	Resolve(service, server string) (actuator.ServerRef, error)
	ResolveStored(m actuator.MaintenanceLookup, service, server string) (actuator.ServerRef, bool)
	ServiceName(key string) string
}

// maintenanceAPI is the one maintenance code behind POST
// /api/v1/maintenance and the status page's buttons: the same resolution
// of names, the same store, the same log line. A nil *maintenanceAPI is
// a sidecar without --config.file: nothing to put into maintenance.
type maintenanceAPI struct {
	store  MaintenanceStore
	names  ServerResolver
	logger *slog.Logger
	// events hear every change that changed something; nil: none.
	events *Events
}

// newMaintenanceAPI returns the maintenance API over store, resolving
// names with names and telling events (nil: none) of each change; nil
// (no --config.file) when store or names is nil.
func newMaintenanceAPI(store MaintenanceStore, names ServerResolver, events *Events, logger *slog.Logger) *maintenanceAPI {
	if store == nil || names == nil {
		return nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &maintenanceAPI{store: store, names: names, logger: logger, events: events}
}

// handler serves /api/v1/maintenance: GET lists the real servers in
// maintenance, POST puts one into maintenance or lifts it. Without
// --config.file (m nil) there is nothing to act on: 404. It runs behind
// Policy.Guard, which lets a POST through only from an administrator
// while --web.enable-admin-api is on.
func (m *maintenanceAPI) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			writeJSON(w, http.StatusMethodNotAllowed, APIError{"GET lists the real servers in maintenance, POST changes one"})
			return
		}
		if m == nil {
			writeJSON(w, http.StatusNotFound, APIError{"no configuration: lvs-sidecar runs without --config.file, so it has no real servers to put into maintenance"})
			return
		}
		if r.Method != http.MethodPost {
			list := MaintenanceList{Entries: []MaintenanceEntry{}}
			for _, e := range m.store.List() {
				list.Entries = append(list.Entries, m.entry(e, true))
			}
			writeJSON(w, http.StatusOK, list)
			return
		}
		m.post(w, r)
	})
}

func (m *maintenanceAPI) post(w http.ResponseWriter, r *http.Request) {
	// The record names who did it: the administrator whose password the
	// guard checked, never a header or a field of the body.
	by, ok := Admin(r)
	if !ok {
		// Only a handler wired without the guard gets here.
		writeJSON(w, http.StatusForbidden, APIError{"the sidecar refuses writes: no authenticated administrator"})
		return
	}
	// Only JSON: a browser's cross-site form can post text/plain or
	// form-encoded bodies with the credentials it has cached, but not
	// application/json without a CORS preflight this server never grants.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, APIError{"send the request as JSON with Content-Type: application/json"})
		return
	}
	var req maintenanceBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, APIError{"invalid JSON: " + err.Error() + ` (want {"service": "NAME or KEY", "server": "ADDR:PORT", "enabled": true, "reason": "TEXT"})`})
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeJSON(w, http.StatusBadRequest, APIError{"invalid JSON: more than one object in the body"})
		return
	}
	if req.Enabled == nil {
		writeJSON(w, http.StatusBadRequest, APIError{`"enabled" is required: true puts the server into maintenance, false lifts it`})
		return
	}
	entry, changed, status, err := m.apply(MaintenanceRequest{Service: req.Service, Server: req.Server,
		Enabled: *req.Enabled, Reason: req.Reason, By: by, Remote: r.RemoteAddr})
	if err != nil {
		writeJSON(w, status, APIError{err.Error()})
		return
	}
	out := m.entry(entry, *req.Enabled)
	out.Changed = &changed
	writeJSON(w, http.StatusOK, out)
}

// apply makes the change req asks for, on behalf of the administrator
// req.By. It resolves the service (name or key) and server, applies the
// change to the store, logs it, and returns the entry and whether it
// changed anything; on failure the HTTP status and the error to answer
// (nothing changed, except for a 500: the change holds but the state
// file was not saved).
func (m *maintenanceAPI) apply(req MaintenanceRequest) (actuator.MaintenanceEntry, bool, int, error) {
	if len(req.Reason) > MaxReasonLen {
		return actuator.MaintenanceEntry{}, false, http.StatusBadRequest, fmt.Errorf("reason is %d bytes long, at most %d are kept", len(req.Reason), MaxReasonLen)
	}
	ref, err := m.names.Resolve(req.Service, req.Server)
	if err != nil && !req.Enabled {
		// A server that left the configuration can still leave
		// maintenance.
		if key, ok := m.names.ResolveStored(m.store, req.Service, req.Server); ok {
			ref, err = key, nil
		}
	}
	switch {
	case errors.Is(err, actuator.ErrUnknownServer):
		return actuator.MaintenanceEntry{}, false, http.StatusNotFound, err
	case err != nil:
		return actuator.MaintenanceEntry{}, false, http.StatusBadRequest, err
	}

	entry, changed, err := m.store.Apply(actuator.MaintenanceChange{Service: ref.Service, Server: ref.Server, Enabled: req.Enabled, Reason: req.Reason, By: req.By})
	if changed {
		what := "maintenance lifted: the controller restores the real server's weight as its checks allow"
		if req.Enabled {
			what = "maintenance enabled: the controller drains the real server whatever its checks say"
		}
		m.logger.Info(what, "service", ref.Service, "service_name", ref.Name, "server", ref.Server, "reason", req.Reason, "by", req.By, "remote", req.Remote)
		if m.events != nil {
			m.events.Maintenance(time.Now(), ref, req.Enabled, req.Reason, req.By)
		}
	}
	if err != nil {
		m.logger.Error("maintenance state not saved", "err", err)
		return entry, changed, http.StatusInternalServerError, err
	}
	return entry, changed, http.StatusOK, nil
}

// setter is apply for the status page's buttons; nil without
// --config.file (m nil).
func (m *maintenanceAPI) setter() MaintenanceSetter {
	if m == nil {
		return nil
	}
	return func(req MaintenanceRequest) (bool, int, error) {
		_, changed, status, err := m.apply(req)
		return changed, status, err
	}
}

func (m *maintenanceAPI) entry(e actuator.MaintenanceEntry, enabled bool) MaintenanceEntry {
	return MaintenanceEntry{Service: e.Service, ServiceName: m.names.ServiceName(e.Service), Server: e.Server, Enabled: enabled,
		Reason: e.Reason, By: e.By, Since: e.Since}
}

// writeJSON answers v as indented JSON: the answers of the maintenance
// API, small and read by people too.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
