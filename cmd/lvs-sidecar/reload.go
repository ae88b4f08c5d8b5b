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

	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// reloadHandler serves /-/reload: POST re-reads --config.file (200 when it
// applied, 400 when the file is invalid, 500 when it could not be read or
// applied, with the reason in the body); other methods get 405. It runs
// behind web.Policy.Guard, which lets a POST through only from an
// administrator while --web.enable-lifecycle is on.
func reloadHandler(c *checks, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprintln(w, "POST to reload the configuration")
			return
		}
		by, ok := web.Admin(r)
		if !ok {
			// Only a handler wired without the guard gets here.
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintln(w, "the sidecar refuses writes: no authenticated administrator")
			return
		}
		if c == nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, "no configuration to reload: lvs-sidecar runs without --config.file")
			return
		}
		logger.Info("configuration reload requested", "trigger", "POST "+web.ReloadPath, "by", by, "remote", r.RemoteAddr)
		// A client that hangs up must not cut a reload short halfway.
		err := c.reload(context.WithoutCancel(r.Context()), "POST "+web.ReloadPath+" by "+by)
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
