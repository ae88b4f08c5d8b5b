// Package collector exports the kernel's IPVS table to Prometheus. It reads
// one snapshot per scrape and emits constant metrics only, so a deleted
// service or real server disappears from the next scrape instead of
// leaving a stale series behind.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// DefaultTimeout bounds one snapshot when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Source is what the collector reads one snapshot from per scrape
// (ipvs.Reader satisfies it). It must be safe for concurrent use: two
// scrapes can run at once.
type Source interface {
	Snapshot(ctx context.Context) (*ipvs.Snapshot, error)
}

// AddrSource is what the collector reads the addresses held by the
// IPVS table's network namespace from, once per scrape (ipvs.AddrReader
// satisfies it). It must be safe for concurrent use.
type AddrSource interface {
	LocalAddrs(ctx context.Context) (ipvs.LocalAddrs, error)
}

// Options tune a Collector.
type Options struct {
	// Timeout bounds one Snapshot, and one read of Addrs; DefaultTimeout
	// when zero.
	Timeout time.Duration
	// Addrs, when set, gives ipvs_service_vip_local: whether the
	// namespace holds each service's address. Nil: no such series.
	Addrs AddrSource
}

// Collector is a prometheus.Collector for the IPVS table.
type Collector struct {
	src     Source
	logger  *slog.Logger
	timeout time.Duration
	descs   *descs
	health  health
	addrs   AddrSource
	addrLog once // problems reading addrs, logged when they change
	// now is time.Now except in tests, which make the scrape duration
	// deterministic for golden files.
	now func() time.Time
}

// New returns a Collector that reads src once per Collect. A nil logger
// discards log lines.
func New(src Source, logger *slog.Logger, opts Options) *Collector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Collector{
		src:     src,
		logger:  logger,
		timeout: opts.Timeout,
		descs:   newDescs(),
		health:  health{logger: logger},
		addrs:   opts.Addrs,
		addrLog: once{logger: logger},
		now:     time.Now,
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It never fails the scrape: when
// the table cannot be read it emits ipvs_up 0 and logs why (once).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	(&emitter{ch: ch, descs: c.descs}).emit(c.collect(context.Background()))
}

// collect reads one snapshot and returns it as a view, with the outcome
// of the scrape itself.
func (c *Collector) collect(ctx context.Context) *view {
	start := c.now()
	snap, err := c.snapshot(ctx)
	c.health.observe(snap, err)
	if err != nil {
		return &view{duration: c.now().Sub(start).Seconds()}
	}
	addrs, addrsOK := c.localAddrs(ctx)
	v := newView(snap, addrs)
	v.complete = snap.Partial == nil && addrsOK
	v.duration = c.now().Sub(start).Seconds()
	return v
}

// localAddrs reads the addresses held, within the timeout, when the
// collector has a source of them. It returns nil (no
// ipvs_service_vip_local series) without one or when the read fails, and
// false only for a failed read, which is logged when it starts and ends:
// a scrape without the series has ipvs_scrape_success 0, so a VIP can
// never look released because its address could not be read.
func (c *Collector) localAddrs(ctx context.Context) (ipvs.LocalAddrs, bool) {
	if c.addrs == nil {
		return nil, true
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	addrs, err := func() (a ipvs.LocalAddrs, err error) {
		// A panicking source costs this scrape its series, not the process.
		defer func() {
			if p := recover(); p != nil {
				a, err = nil, fmt.Errorf("read the local addresses: panicked: %v", p)
			}
		}()
		return c.addrs.LocalAddrs(ctx)
	}()
	if err != nil {
		c.addrLog.set(err.Error(), "cannot read the addresses of the network namespace; no ipvs_service_vip_local and ipvs_scrape_success 0 until it can")
		return nil, false
	}
	if addrs == nil {
		addrs = ipvs.LocalAddrs{}
	}
	c.addrLog.set("", "the addresses of the network namespace are readable again")
	return addrs, true
}

// Probe takes one snapshot and logs its outcome the way a scrape does, so
// that the log says at startup whether IPVS is readable. It returns the read
// error; a partial snapshot is not an error.
func (c *Collector) Probe(ctx context.Context) error {
	snap, err := c.snapshot(ctx)
	c.health.observe(snap, err)
	return err
}

// snapshot reads one snapshot within the timeout. The read runs in its own
// goroutine so that a Source that ignores its context, or panics, cannot
// hang or crash the scrape: the scrape reports ipvs_up 0 instead. The guard
// waits half a timeout longer than the Source's deadline, so that a Source
// that honours it always reports its own error: a timeout logs the same
// text each time, hence once.
func (c *Collector) snapshot(ctx context.Context) (*ipvs.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	type result struct {
		snap *ipvs.Snapshot
		err  error
	}
	done := make(chan result, 1) // buffered: a late reader must not block forever
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("read the IPVS table: reader panicked: %v", p)}
			}
		}()
		snap, err := c.src.Snapshot(ctx)
		if err == nil && snap == nil {
			err = errors.New("read the IPVS table: reader returned no snapshot and no error")
		}
		done <- result{snap, err}
	}()
	guard := time.NewTimer(c.timeout + c.timeout/2)
	defer guard.Stop()
	select {
	case r := <-done:
		return r.snap, r.err
	case <-guard.C:
		return nil, fmt.Errorf("read the IPVS table: no answer within %s", c.timeout)
	}
}
