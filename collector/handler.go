package collector

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// ContentType is what Handler serves: the Prometheus text exposition
// format, version 0.0.4, which every Prometheus version scrapes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// gzipLevel is the compression Handler applies when the scraper accepts
// gzip (Prometheus does), with klauspost/compress's gzip: on a
// 10,000-destination table its BestSpeed costs half the CPU of the
// standard library's BestSpeed and a seventh of its DefaultCompression,
// for a body between the two (BENCHMARKS.md, "Compression"): a
// director's CPU is better spent forwarding packets than squeezing the
// last bytes out of a scrape.
const gzipLevel = gzip.BestSpeed

// HandlerOpts tune Handler.
type HandlerOpts struct {
	// Logger gets what goes wrong while serving a scrape; nil discards.
	Logger *slog.Logger
	// MaxRequestsInFlight is how many scrapes may run at once; beyond it
	// the handler answers 503 Service Unavailable at once. 0 means no
	// limit.
	MaxRequestsInFlight int
	// Sources are families written after the table's by their own text
	// writers (the health checks', the controller's): as cheap per
	// series as the table's. No two may have a family of one name, nor
	// one of the table's (Handler panics: that is a programming error);
	// a family the registry returns under one of their names is left out
	// (and logged).
	Sources []promtext.Source
}

// Handler returns the handler of /metrics: the families g gathers (the
// exporter's own: build info, Go runtime, process, promhttp) encoded by
// expfmt, then those of c written by the text writer, which costs a
// fraction of what gathering c through a registry does (BENCHMARKS.md),
// then those of opts.Sources. c must not be registered in g: a family g
// returns under one of c's names, or of a source's, is left out (and
// logged), so that no family appears twice.
//
// The handler serves the text format only (every Prometheus parses it,
// whichever format it asks for first), compressed with gzip when the
// request accepts it. It streams: the samples are kept in memory, their
// text (22.5 MB for 10,000 real servers) is not, it goes out as written.
func Handler(g prometheus.Gatherer, c *Collector, opts HandlerOpts) http.Handler {
	h := &handler{g: g, c: c, logger: opts.Logger, sources: opts.Sources, names: maps.Clone(tableNames)}
	for _, src := range opts.Sources {
		for _, name := range src.Families() {
			if h.names[name] {
				panic("collector: two sources of /metrics have a family " + name)
			}
			h.names[name] = true
		}
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRequestsInFlight > 0 {
		h.inFlight = make(chan struct{}, opts.MaxRequestsInFlight)
	}
	return h
}

type handler struct {
	g        prometheus.Gatherer
	c        *Collector
	sources  []promtext.Source
	names    map[string]bool // of the families of c and the sources
	logger   *slog.Logger
	inFlight chan struct{} // one token per scrape running; nil: no limit
	gzips    sync.Pool     // *gzip.Writer at gzipLevel, reused across scrapes
	buffers  sync.Pool     // *bufio.Writer of textBufferSize, reused too
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.inFlight != nil {
		select {
		case h.inFlight <- struct{}{}:
			defer func() { <-h.inFlight }()
		default:
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", cap(h.inFlight)),
				http.StatusServiceUnavailable)
			return
		}
	}

	// Everything is read before the first byte is sent: once the status
	// line is out, a failure can no longer be reported.
	mfs, err := h.g.Gather()
	if err != nil {
		// Like promhttp's ContinueOnError: serve what could be gathered.
		h.logger.Error("gather the exporter's own metrics; serving those that could be", "err", err)
	}
	mfs = h.withoutOwn(mfs)
	table := h.c.table(r.Context())
	writes := make([]func(*promtext.Writer), len(h.sources))
	for i, src := range h.sources {
		writes[i] = src.Snapshot()
	}

	w.Header().Set("Content-Type", ContentType)
	w.Header().Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	if acceptsGzip(r.Header) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := h.gzips.Get().(*gzip.Writer)
		if gz == nil {
			gz, _ = gzip.NewWriterLevel(w, gzipLevel) // the level is valid
		} else {
			gz.Reset(w)
		}
		defer func() {
			if err := gz.Close(); err != nil {
				h.logger.Debug("finish the gzip stream of a scrape", "err", err)
			}
			h.gzips.Put(gz)
		}()
		out = gz
	}
	bw, _ := h.buffers.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(out, textBufferSize)
	} else {
		bw.Reset(out)
	}
	defer func() {
		bw.Reset(nil) // let go of the response
		h.buffers.Put(bw)
	}()
	if err := writeBody(bw, mfs, table, writes); err != nil {
		// Most likely the scraper hung up (its timeout).
		h.logger.Debug("send a scrape", "err", err)
	}
}

// writeBody writes the gathered families, then the table's, then the
// sources', and flushes.
func writeBody(w *bufio.Writer, mfs []*dto.MetricFamily, table *textTable, writes []func(*promtext.Writer)) error {
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("write %s: %w", mf.GetName(), err)
		}
	}
	if err := table.writeTo(w); err != nil {
		return fmt.Errorf("write the IPVS metrics: %w", err)
	}
	pw := promtext.NewWriter(w)
	for _, write := range writes {
		if write(pw); pw.Err() != nil {
			return fmt.Errorf("write the health and controller metrics: %w", pw.Err())
		}
	}
	return w.Flush()
}

// tableNames holds the name of every family the collector emits.
var tableNames = func() map[string]bool {
	m := make(map[string]bool, numFamilies)
	for i := range families {
		m[families[i].name] = true
	}
	return m
}()

// withoutOwn drops (and logs) the families that clash with the
// collector's or a source's: a second family of one name makes the whole
// scrape invalid.
func (h *handler) withoutOwn(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	out := mfs[:0]
	var clash []string
	for _, mf := range mfs {
		if h.names[mf.GetName()] {
			clash = append(clash, mf.GetName())
			continue
		}
		out = append(out, mf)
	}
	if clash != nil {
		h.logger.Error("the registry of the metrics handler has families of the IPVS collector or of another source of the handler; serving theirs (register them nowhere else)",
			"families", strings.Join(clash, ","))
	}
	return out
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip: named,
// with a quality above 0 ("gzip;q=0" refuses it).
func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			name, value, _ := strings.Cut(strings.TrimSpace(params), "=")
			if strings.EqualFold(strings.TrimSpace(name), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
				return err == nil && q > 0
			}
			return true
		}
	}
	return false
}
