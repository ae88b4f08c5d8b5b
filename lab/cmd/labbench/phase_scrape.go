package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// scrapeRow is one exporter's scrapes of one table, in one encoding.
type scrapeRow struct {
	dests    int
	exporter string // node_exporter, lvs-sidecar, lvs-sidecar+checks
	gzip     bool
	scrapes  int
	wall     time.Duration // of all the scrapes
	raw      cpu           // the process's CPU over them
	idle     cpu           // its CPU over the same time when not scraped (from the background rate)
	bytes    int64         // per scrape (the last one)
	encoding string
}

// perScrape is the scrapes' CPU minus the process's own background, per
// scrape.
func (r scrapeRow) perScrape() cpu {
	n := time.Duration(r.scrapes)
	c := r.raw.sub(r.idle)
	return cpu{c.user / n, c.sys / n}
}

// exporter is a process being scraped.
type exporter struct {
	name string
	d    *daemon
	s    *scraper
	pids []int
	idle [2]float64 // CPU seconds per second when not scraped, this round: user, sys
}

func (b *bench) scrapePhase(ctx context.Context) error {
	for _, n := range b.o.sizes {
		if err := b.scrapeSize(ctx, n); err != nil {
			return fmt.Errorf("%d destinations: %w", n, err)
		}
	}
	return ipvsadm("", "-C")
}

// scrapeSize measures the three exporters on a table of n destinations.
// They run side by side (only the checking lvs-sidecar writes, and it has
// nothing to change), and their scrapes are measured in turns, in an
// order that is reversed every other round, so that a change in the
// VM's speed during the run weighs on all of them alike.
func (b *bench) scrapeSize(ctx context.Context, n int) error {
	l := layout{vip: vipSidecar, dests: n, perService: b.o.perService, rs: b.o.rs}
	svcs := l.table()
	if err := b.loadTable(svcs); err != nil {
		return err
	}
	b.logf("scrape: table of %d destinations in %d services", n, len(svcs))

	ne, nes, err := b.startNodeExporter(9100)
	if err != nil {
		return err
	}
	sc, scs, err := b.startSidecar(fmt.Sprintf("lvs-sidecar-table-%d", n), 9960, "")
	if err != nil {
		return err
	}
	// With a TCP check per real server that has run: first every
	// size/-scrape-check-rate (or -scrape-check-min-interval), until every
	// real server is up, and all of their series exist; then, reloaded,
	// every -scrape-check-interval, so that the checks' own CPU is small
	// beside the scrapes'. A reload keeps the verdicts and counters.
	iv := max(b.o.checkMinIv, time.Duration(n)*time.Second/time.Duration(b.o.checkRate))
	settings := checkSettings{kind: "tcp", interval: iv, timeout: b.o.timeout, fall: b.o.drainRetry + 1, retryDelay: iv}
	cfg, err := b.writeFile(fmt.Sprintf("scrape-%d.yml", n), sidecarConfig(svcs, settings))
	if err != nil {
		return err
	}
	scc, sccs, err := b.startSidecar(fmt.Sprintf("lvs-sidecar-checks-%d", n), 9961, cfg)
	if err != nil {
		return err
	}
	if err := b.waitHealthUp(scc, sccs, n, 3*iv+2*time.Minute); err != nil {
		return err
	}
	settings.interval, settings.retryDelay, settings.period = b.o.checkIv, b.o.checkIv, b.o.checkIv
	if _, err := b.writeFile(fmt.Sprintf("scrape-%d.yml", n), sidecarConfig(svcs, settings)); err != nil {
		return err
	}
	if err := b.reload(scc, sccs); err != nil {
		return err
	}
	// The reload's own work (the old checks' state freed, the new
	// schedule) must be over before the idle windows, or they would take
	// it for the process's background and subtract it from every scrape.
	settled, rate, err := settle(scc, 90*time.Second)
	if err != nil {
		return err
	}
	b.logf("scrape: lvs-sidecar+checks checked the %d real servers every %s, all up; now every %s (%.1f%% of a CPU %s after the reload)",
		n, iv, b.o.checkIv, 100*rate, settled.Round(time.Second))
	exps := []*exporter{
		{name: "node_exporter", d: ne, s: nes},
		{name: "lvs-sidecar", d: sc, s: scs},
		{name: "lvs-sidecar+checks", d: scc, s: sccs},
	}
	if err := b.measureScrapes(ctx, n, exps); err != nil {
		return err
	}
	for _, e := range exps {
		if err := b.stopDaemon(e.d); err != nil {
			return err
		}
	}
	return nil
}

// measureScrapes warms the exporters up, then runs -rounds rounds of: a
// window measuring each one's CPU when not scraped, and a block of
// scrapes of each without and with gzip. Their memory is read at the end.
func (b *bench) measureScrapes(ctx context.Context, n int, exps []*exporter) error {
	type key struct {
		exp string
		gz  bool
	}
	rows := map[key]*scrapeRow{}
	var order []key
	for _, gz := range []bool{false, true} {
		for _, e := range exps {
			for range 2 {
				if _, err := e.s.get(ctx, gz, false); err != nil {
					return err
				}
			}
			k := key{e.name, gz}
			rows[k] = &scrapeRow{dests: n, exporter: e.name, gzip: gz}
			order = append(order, k)
		}
	}
	byName := map[string]*exporter{}
	for _, e := range exps {
		byName[e.name] = e
		e.pids = e.d.tree()
	}
	for round := range b.o.rounds {
		if err := b.idleRates(exps); err != nil {
			return err
		}
		for i := range order {
			k := inTurn(order, round, i)
			if err := b.scrapeBlock(ctx, byName[k.exp], rows[k]); err != nil {
				return err
			}
		}
	}
	for _, k := range order {
		r := *rows[k]
		b.res.scrapes = append(b.res.scrapes, r)
		p := r.perScrape()
		b.logf("scrape: %s, %d destinations, %s: %d scrapes in %s, %.2f ms CPU each (%.2f user, %.2f sys; %.3f s background), %d bytes",
			r.exporter, n, r.encoding, r.scrapes, r.wall.Round(time.Millisecond), ms(p.total()), ms(p.user), ms(p.sys),
			r.idle.total().Seconds(), r.bytes)
	}
	for _, e := range exps {
		m, err := memOf(e.pids)
		if err != nil {
			return err
		}
		row := memRow{phase: fmt.Sprintf("scrape, %d destinations", n), process: e.name, mem: m}
		if strings.HasPrefix(e.name, "lvs-sidecar") {
			// The Go heap, from the exporter's own go_memstats, which it
			// reads before the table: what of RssAnon is heap.
			sc, err := e.s.get(ctx, false, true) // kept as sent: not gzip
			if err != nil {
				return err
			}
			row.heap = goHeapOf(sc.body)
		}
		b.res.mem = append(b.res.mem, row)
	}
	return nil
}

// goHeapOf reads the Go heap of a Go exporter from its scrape: in use,
// and idle but not returned to the kernel, in kB.
func goHeapOf(body []byte) *goHeap {
	inuse, ok1 := sample(body, "go_memstats_heap_inuse_bytes")
	idle, ok2 := sample(body, "go_memstats_heap_idle_bytes")
	released, ok3 := sample(body, "go_memstats_heap_released_bytes")
	if !ok1 || !ok2 || !ok3 {
		return nil
	}
	return &goHeap{inuse: int64(inuse) / 1024, idle: int64(idle-released) / 1024}
}

// idleRates measures each exporter's CPU over -background while nothing
// scrapes it.
func (b *bench) idleRates(exps []*exporter) error {
	c0 := make([]cpu, len(exps))
	for i, e := range exps {
		var err error
		if c0[i], err = cpuOf(e.pids); err != nil {
			return err
		}
	}
	t0 := time.Now()
	time.Sleep(b.o.background)
	el := time.Since(t0).Seconds()
	for i, e := range exps {
		c1, err := cpuOf(e.pids)
		if err != nil {
			return err
		}
		idle := c1.sub(c0[i])
		e.idle = [2]float64{idle.user.Seconds() / el, idle.sys.Seconds() / el}
	}
	return nil
}

// scrapeBlock scrapes e at least -scrapes times and for -scrape-min, and
// adds the block to r.
func (b *bench) scrapeBlock(ctx context.Context, e *exporter, r *scrapeRow) error {
	c0, err := cpuOf(e.pids)
	if err != nil {
		return err
	}
	t0 := time.Now()
	var last scrape
	k := 0
	for k < b.o.scrapes || time.Since(t0) < b.o.scrapeMin {
		if last, err = e.s.get(ctx, r.gzip, false); err != nil {
			return err
		}
		k++
	}
	wall := time.Since(t0)
	c1, err := cpuOf(e.pids)
	if err != nil {
		return err
	}
	w := wall.Seconds()
	r.scrapes += k
	r.wall += wall
	r.raw = r.raw.add(c1.sub(c0))
	r.idle = r.idle.add(cpu{time.Duration(e.idle[0] * w * float64(time.Second)), time.Duration(e.idle[1] * w * float64(time.Second))})
	r.bytes, r.encoding = last.bytes, last.encoding
	return nil
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// settle waits until d's processes use less than 2% of a CPU over a
// two-second window, for at most limit, and returns how long it took and
// the last window's rate (the idle windows measure what is left).
func settle(d *daemon, limit time.Duration) (time.Duration, float64, error) {
	t0 := time.Now()
	for {
		pids := d.tree()
		c0, err := cpuOf(pids)
		if err != nil {
			return 0, 0, err
		}
		w0 := time.Now()
		time.Sleep(2 * time.Second)
		c1, err := cpuOf(pids)
		if err != nil {
			return 0, 0, err
		}
		rate := c1.sub(c0).total().Seconds() / time.Since(w0).Seconds()
		if rate < 0.02 || time.Since(t0) > limit {
			return time.Since(t0), rate, nil
		}
	}
}
