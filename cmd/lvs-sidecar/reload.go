package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// notifyHUP starts catching SIGHUP, so that one sent while the sidecar
// starts is queued for reloadOnSIGHUP instead of ending the process (Go's
// default). Call the returned func to stop.
func notifyHUP() (<-chan os.Signal, func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}

// reloadOnSIGHUP reloads the configuration on every signal from hup until
// ctx ends. Without --config.file (c nil) a SIGHUP is logged and ignored.
func reloadOnSIGHUP(ctx context.Context, hup <-chan os.Signal, c *checks, logger *slog.Logger) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if c == nil {
					logger.Info("SIGHUP ignored: no --config.file to reload")
					continue
				}
				_ = c.reload(ctx, "SIGHUP")
			}
		}
	}()
}
