package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// errorMessage extracts the message of an error answer of the API, or the
// body as text for answers from elsewhere (exporter-toolkit's 401).
func errorMessage(body []byte) string {
	var e web.APIError
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
