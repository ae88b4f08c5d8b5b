package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// ErrInvalidConfig marks a reload that failed because the new file is
// invalid (as opposed to unreadable, or not applicable): POST /-/reload
// answers 400 for it.
var ErrInvalidConfig = errors.New("invalid configuration")

// Reloader re-reads --config.file and applies it; trigger says who asked,
// for the log. An error for which errors.Is(err, ErrInvalidConfig) holds
// is the file's fault.
type Reloader func(ctx context.Context, trigger string) error

// reloadHandler serves /-/reload: POST re-reads --config.file (200 when
// it applied, 400 when the file is invalid or there is none, 500 when it
// could not be read or applied, with the reason in the body); other
// methods get 405. reload is nil without --config.file. It runs behind
// Policy.Guard, which lets a POST through only from an administrator
// while --web.enable-lifecycle is on.
func reloadHandler(reload Reloader, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprintln(w, "POST to reload the configuration")
			return
		}
		by, ok := Admin(r)
		if !ok {
			// Only a handler wired without the guard gets here.
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintln(w, "the sidecar refuses writes: no authenticated administrator")
			return
		}
		if reload == nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, "no configuration to reload: lvs-sidecar runs without --config.file")
			return
		}
		logger.Info("configuration reload requested", "trigger", "POST "+ReloadPath, "by", by, "remote", r.RemoteAddr)
		// A client that hangs up must not cut a reload short halfway.
		err := reload(context.WithoutCancel(r.Context()), "POST "+ReloadPath+" by "+by)
		switch {
		case err == nil:
			fmt.Fprintln(w, "configuration reloaded")
		case errors.Is(err, ErrInvalidConfig):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, err)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "configuration reload failed; the previous configuration stays in use: %v\n", err)
		}
	})
}
