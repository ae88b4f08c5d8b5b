package collector

import (
	"log/slog"
	"sync"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// health remembers the outcome of the last read only to log changes: an
// operator reads one line when IPVS becomes unreadable (or the reason
// changes) and one when it is readable again, never one per scrape.
type health struct {
	logger *slog.Logger

	mu      sync.Mutex
	known   bool   // false until the first read
	problem string // "" when the last read was complete
}

// observe logs the outcome of one read if it differs from the previous one.
// err is the read error; when it is nil, snap is the snapshot read.
func (h *health) observe(snap *ipvs.Snapshot, err error) {
	var problem string
	switch {
	case err != nil:
		problem = err.Error()
	case snap.Partial != nil:
		problem = snap.Partial.Error()
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known && problem == h.problem {
		return
	}
	h.known = true
	h.problem = problem
	// Logged under the lock so that concurrent scrapes cannot log two
	// transitions in the wrong order.
	switch {
	case err != nil:
		h.logger.Warn("cannot read the IPVS table; ipvs_up is 0 until it can", "err", err)
	case snap.Partial != nil:
		h.logger.Warn("read the IPVS table, but not all of it; ipvs_scrape_success is 0 until it can",
			"err", snap.Partial, "services", len(snap.Services), "real_servers", snap.Destinations())
	default:
		h.logger.Info("IPVS table is readable", "services", len(snap.Services), "real_servers", snap.Destinations())
	}
}

// once logs a problem when it appears or changes, and its end once.
type once struct {
	logger *slog.Logger

	mu      sync.Mutex
	problem string
}

// set records the current problem ("" for none) and logs msg when it
// differs from the last: as a warning with the problem, or, when the
// problem is gone, as information.
func (o *once) set(problem, msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if problem == o.problem {
		return
	}
	o.problem = problem
	if problem != "" {
		o.logger.Warn(msg, "err", problem)
	} else {
		o.logger.Info(msg)
	}
}
