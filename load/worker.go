package load

import (
	"context"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// worker polls one real server every interval, with its own client.
type worker struct {
	key  key
	addr netip.Addr
	cfg  *config.LoadWeight
	opts *Options

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}

	mu sync.Mutex
	// value, seq and good are the last good answer, how many there were
	// and when the last came (monotonic); started is when the worker
	// started, the start of the first stale window.
	value   float64
	seq     uint64
	good    time.Duration
	hasGood bool
	started time.Duration
	stale   bool
	errors  uint64
	// notified is the value and freshness OnChange was last called for.
	notifiedValue float64
	notifiedFresh bool
}

func newWorker(k key, addr netip.Addr, l *config.LoadWeight, opts *Options) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{key: k, addr: addr, cfg: l, opts: opts, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), started: opts.Clock.Monotonic(), notifiedValue: math.NaN()}
}

func (w *worker) stop() { w.cancel() }

// inherit takes the answers of old, the worker of the same real server
// under the block a reload replaced, before w starts.
func (w *worker) inherit(old *worker) {
	old.mu.Lock()
	defer old.mu.Unlock()
	w.value, w.seq, w.good, w.hasGood, w.stale, w.errors = old.value, old.seq, old.good, old.hasGood, old.stale, old.errors
	w.started = old.started
	w.notifiedValue, w.notifiedFresh = old.notifiedValue, old.notifiedFresh
}

// window is how long without a good answer makes the load stale.
func (w *worker) window() time.Duration {
	return time.Duration(w.cfg.StaleAfter) * w.cfg.Interval
}

// sample returns the last good value, the count of good answers and
// whether the load is fresh.
func (w *worker) sample() (float64, uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A worker that stopped polling (it cannot: every poll has a
	// deadline) would not keep its load fresh for ever.
	late := w.opts.Clock.Monotonic()-w.good > w.window()+w.cfg.Interval+w.cfg.Timeout
	return w.value, w.seq, w.hasGood && !w.stale && !late
}

// run polls until the worker is stopped: at once, then every interval.
func (w *worker) run() {
	var c client
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	var timer interface{ Reset(time.Duration) bool }
	for {
		start := w.opts.Clock.Monotonic()
		var err error
		if c == nil {
			c, err = w.opts.dial(w.addr, w.cfg, w.opts.Do)
		}
		var v float64
		if err == nil {
			ctx, cancel := w.opts.Clock.WithTimeout(w.ctx, w.cfg.Timeout)
			v, err = c.poll(ctx)
			cancel()
		}
		if w.ctx.Err() != nil {
			return
		}
		w.record(v, err)
		if err != nil && c != nil {
			// A fresh socket for the next poll: it follows a re-opened
			// network namespace, and SNMPv3 discovers the agent's engine
			// again after a restart of snmpd.
			c.close()
			c = nil
		}
		// The next poll an interval after this one started, whatever it
		// took (it took at most the timeout, shorter than the interval).
		next := max(w.cfg.Interval-(w.opts.Clock.Monotonic()-start), 0)
		if timer == nil {
			t := w.opts.Clock.AfterFunc(next, w.tick)
			defer t.Stop()
			timer = t
		} else {
			timer.Reset(next)
		}
		if w.opts.afterPoll != nil {
			w.opts.afterPoll()
		}
		select {
		case <-w.ctx.Done():
			return
		case <-w.wake:
		}
	}
}

func (w *worker) tick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// record keeps the result of one poll, logs the start and the end of a
// stale episode, and calls OnChange when the controller has news.
func (w *worker) record(v float64, err error) {
	now := w.opts.Clock.Monotonic()
	log := w.opts.Logger
	w.mu.Lock()
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0) || v < 0) {
		err = errNotALoad
	}
	if err != nil {
		w.errors++
		log.Debug("load poll failed", "service", w.key.service, "server", w.key.server, "err", err)
		since := w.started
		if w.hasGood {
			since = w.good
		}
		if !w.stale && now-since >= w.window() {
			w.stale = true
			log.Warn("real server load is stale: no good answer for stale_after intervals; its declared weight is used until it answers again",
				"service", w.key.service, "server", w.key.server, "snmp", netip.AddrPortFrom(w.addr, w.cfg.Port).String(),
				"stale_after", w.cfg.StaleAfter, "interval", w.cfg.Interval, "err", err)
		}
	} else {
		if w.stale {
			log.Info("real server load is fresh again: load weights apply", "service", w.key.service, "server", w.key.server, "load", v)
		}
		w.stale = false
		w.value, w.good, w.hasGood = v, now, true
		w.seq++
	}
	fresh := w.hasGood && !w.stale
	notify := fresh != w.notifiedFresh ||
		(fresh && (math.IsNaN(w.notifiedValue) || math.Abs(w.value-w.notifiedValue) >= max(w.cfg.Hysteresis, 1e-9)))
	if notify {
		w.notifiedFresh, w.notifiedValue = fresh, w.value
	}
	w.mu.Unlock()
	if notify {
		w.opts.OnChange()
	}
}
