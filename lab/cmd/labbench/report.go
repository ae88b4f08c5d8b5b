package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// results is everything one run measured.
type results struct {
	meta    meta
	scrapes []scrapeRow
	checks  []checkRow
	drains  []drainRow
	mem     []memRow
}

type meta struct {
	commit, date, kernel              string
	sidecar, nodeExporter, keepalived string
}

type memRow struct {
	phase, process string
	mem            mem
	heap           *goHeap // nil: not known (not a Go exporter, or not read)
}

// goHeap is a Go process's heap, in kB: in use, and idle but not yet
// returned to the kernel (which RssAnon counts too).
type goHeap struct {
	inuse, idle int64
}

// markdown writes the results as the tables BENCHMARKS.md shows.
func (r *results) markdown(o options) string {
	var b strings.Builder
	m := r.meta
	fmt.Fprintf(&b, "Commit %s, %s; kernel %s (qemu TCG, 1 vCPU).\n", or(m.commit, "?"), or(m.date, "?"), or(m.kernel, "?"))
	if len(o.sidecarEnv) > 0 {
		fmt.Fprintf(&b, "lvs-sidecar's environment: %s.\n", strings.Join(o.sidecarEnv, " "))
	}
	fmt.Fprintf(&b, "lvs-sidecar: %s; node_exporter: %s; keepalived: %s.\n", or(m.sidecar, "?"), or(m.nodeExporter, "?"), or(m.keepalived, "?"))
	if len(r.scrapes) > 0 {
		r.scrapeTable(&b, o)
	}
	if len(r.checks) > 0 {
		r.checkTable(&b, o)
	}
	if len(r.drains) > 0 {
		r.drainTable(&b, o)
	}
	if len(r.mem) > 0 {
		b.WriteString("\n#### Memory (kB, each process at the end of its measurement: VmRSS, peak VmHWM; of VmRSS, RssAnon is the process's own, RssFile the pages of its binary and libraries; the Go heap, in use and idle but kept, is lvs-sidecar's go_memstats just after)\n\n")
		b.WriteString("| phase | process | VmRSS | VmHWM | RssAnon | RssFile | Go heap in use | heap idle, kept |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range r.mem {
			var inuse, idle string
			if x.heap != nil {
				inuse, idle = strconv.FormatInt(x.heap.inuse, 10), strconv.FormatInt(x.heap.idle, 10)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %s | %s |\n", x.phase, x.process, x.mem.rss, x.mem.hwm, x.mem.anon, x.mem.file, inuse, idle)
		}
	}
	return b.String()
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func (r *results) scrapeTable(b *strings.Builder, o options) {
	fmt.Fprintf(b, "\n#### Scrape: CPU per scrape (ms, utime+stime minus the process's CPU when not scraped; %d rounds of at least %d scrapes and %s per exporter and encoding)\n\n",
		o.rounds, o.scrapes, o.scrapeMin)
	fmt.Fprintf(b, "lvs-sidecar+checks: one TCP check per real server, run until every real server is up, then every %s (a reload) while measured; the three exporters run side by side, measured in turns.\n\n",
		o.checkIv)
	b.WriteString("| destinations | exporter | encoding | CPU/scrape | user | sys | bytes | CPU vs node_exporter | CPU vs table-only |\n")
	b.WriteString("|---:|---|---|---:|---:|---:|---:|---:|---:|\n")
	find := func(n int, exp string, gz bool) (scrapeRow, bool) {
		for _, x := range r.scrapes {
			if x.dests == n && x.exporter == exp && x.gzip == gz {
				return x, true
			}
		}
		return scrapeRow{}, false
	}
	for _, x := range r.scrapes {
		p := x.perScrape()
		vsNE, vsTable := "", ""
		if ne, ok := find(x.dests, "node_exporter", x.gzip); ok && x.exporter != "node_exporter" {
			vsNE = ratio(p.total(), ne.perScrape().total())
		}
		if t, ok := find(x.dests, "lvs-sidecar", x.gzip); ok && x.exporter == "lvs-sidecar+checks" {
			vsTable = ratio(p.total(), t.perScrape().total())
		}
		fmt.Fprintf(b, "| %d | %s | %s | %.2f | %.2f | %.2f | %d | %s | %s |\n",
			x.dests, x.exporter, x.encoding, ms(p.total()), ms(p.user), ms(p.sys), x.bytes, vsNE, vsTable)
	}
}

func (r *results) checkTable(b *strings.Builder, o options) {
	fmt.Fprintf(b, "\n#### Checks: CPU per check (µs: utime+stime per second over %d rounds of %s per program, divided by checks per second = TCP SYNs, for icmp echo requests, the director sent to the real servers; keepalived runs TCP_CHECK, and icmp is compared with it too)\n\n",
		o.rounds, o.checkDuration)
	b.WriteString("| real servers | interval | program | checks/s | own count/s | CPU/check | user | sys | vs keepalived | all up | VmRSS kB |\n")
	b.WriteString("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|\n")
	for _, x := range r.checks {
		p := x.perCheck()
		vs := ""
		for _, k := range r.checks {
			if k.set == x.set && k.program == "keepalived" && x.program != "keepalived" {
				vs = ratio(p.total(), k.perCheck().total())
			}
		}
		own := "—"
		if x.own >= 0 {
			own = fmt.Sprintf("%.1f", float64(x.own)/x.ownWall.Seconds())
		}
		fmt.Fprintf(b, "| %d | %s | %s | %.1f | %s | %.1f | %.1f | %.1f | %s | %v | %d |\n",
			x.set.servers, x.set.interval, x.program, x.rate(), own,
			us(p.total()), us(p.user), us(p.sys), vs, yes(x.allUp), x.mem.rss)
	}
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func (r *results) drainTable(b *strings.Builder, o options) {
	fmt.Fprintf(b, "\n#### Kill → weight 0 (ms; %d rounds of %d kills per program, each right after the killed server accepted a check; /proc/net/ip_vs read every %s)\n\n",
		o.rounds, o.drainTrials, o.drainPoll)
	b.WriteString("| program | settings | min | median | p90 | max | failed checks (median) | median vs keepalived | p90 vs keepalived |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	var ka *drainRow
	for i := range r.drains {
		if r.drains[i].program == "keepalived" {
			ka = &r.drains[i]
		}
	}
	for _, x := range r.drains {
		s := summarize(x.times)
		vsMed, vsP90 := "", ""
		if ka != nil && x.program != "keepalived" {
			k := summarize(ka.times)
			// Three decimals: the drains differ by milliseconds in
			// seconds, and "1.00×" would hide which one is ahead.
			vsMed = fmt.Sprintf("%s (%+.1f ms)", ratioPrec(s.median, k.median, 3), ms(s.median-k.median))
			vsP90 = fmt.Sprintf("%s (%+.1f ms)", ratioPrec(s.p90, k.p90, 3), ms(s.p90-k.p90))
		}
		f := slices.Clone(x.failed)
		slices.Sort(f)
		fmt.Fprintf(b, "| %s | %s | %.1f | %.1f | %.1f | %.1f | %d | %s | %s |\n",
			x.program, x.settings, ms(s.min), ms(s.median), ms(s.p90), ms(s.max), f[(len(f)-1)/2], vsMed, vsP90)
	}
	b.WriteString("\nEvery kill, ms:\n\n")
	for _, x := range r.drains {
		parts := make([]string, len(x.times))
		for i, t := range x.times {
			parts[i] = fmt.Sprintf("%.1f", ms(t))
		}
		fmt.Fprintf(b, "- %s: %s\n", x.program, strings.Join(parts, ", "))
	}
}

// summary is the spread of a sample.
type summary struct {
	min, median, p90, max time.Duration
}

// summarize takes the median (the lower middle one of an even count) and
// the 90th percentile by nearest rank.
func summarize(d []time.Duration) summary {
	if len(d) == 0 {
		return summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := (9*len(s) + 9) / 10 // ceil(0.9 n)
	return summary{min: s[0], median: s[(len(s)-1)/2], p90: s[rank-1], max: s[len(s)-1]}
}

// ratio writes a/b as "0.93×".
func ratio(a, b time.Duration) string { return ratioPrec(a, b, 2) }

// ratioPrec writes a/b with prec decimals, "0.998×" for 3.
func ratioPrec(a, b time.Duration, prec int) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.*f×", prec, float64(a)/float64(b))
}
