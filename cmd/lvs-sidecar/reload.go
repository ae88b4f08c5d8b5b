package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

// reloadHandler serves /-/reload: POST re-reads --config.file (200 when it
// applied, 400 when the file is invalid, 500 when it could not be read or
// applied, with the reason in the body); other methods get 405.
func reloadHandler(c *checks) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprintln(w, "POST to reload the configuration")
			return
		}
		if c == nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, "no configuration to reload: lvs-sidecar runs without --config.file")
			return
		}
		// A client that hangs up must not cut a reload short halfway.
		err := c.reload(context.WithoutCancel(r.Context()), "POST /-/reload")
		var invalid *reloadError
		switch {
		case err == nil:
			fmt.Fprintln(w, "configuration reloaded")
		case errors.As(err, &invalid):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, err)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "configuration reload failed; the previous configuration stays in use: %v\n", err)
		}
	})
}

// reloadOnSIGHUP reloads the configuration on every SIGHUP until ctx ends.
// Without --config.file a SIGHUP is logged and ignored (rather than ending
// the process, Go's default).
func reloadOnSIGHUP(ctx context.Context, c *checks, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
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
