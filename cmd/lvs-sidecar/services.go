package main

import (
	"context"
	"os"
	"time"

	"github.com/prometheus/common/version"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

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
