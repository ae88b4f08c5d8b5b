package promtext

import (
	"bufio"
	"fmt"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Type is the type of a metric family written sample by sample.
type Type int

// The types of families written sample by sample; histograms are written
// from a registry's dto.MetricFamily (Writer.MetricFamily).
const (
	Gauge Type = iota
	Counter
)

// Family is the fixed part of a metric family: its name, and its HELP and
// TYPE lines rendered once.
type Family struct {
	name   string
	header string
}

// NewFamily returns family name of type t. help is escaped as the text
// format wants it.
func NewFamily(name, help string, t Type) *Family {
	typ := "gauge"
	if t == Counter {
		typ = "counter"
	}
	help = strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help)
	return &Family{name: name, header: fmt.Sprintf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)}
}

// Name returns the family's name.
func (f *Family) Name() string { return f.name }

// Header returns the family's HELP and TYPE lines.
func (f *Family) Header() string { return f.header }

// maxValueLen bounds the length of a formatted sample value
// ("-1.2345678901234567e-308" is 24 bytes).
const maxValueLen = 32

// Writer writes metric families to a bufio.Writer, sample by sample. It
// keeps the first error and does nothing after it (Err returns it).
type Writer struct {
	w       *bufio.Writer
	family  *Family
	started bool // the current family's header is out
	err     error
}

// NewWriter returns a Writer to w; the caller flushes w.
func NewWriter(w *bufio.Writer) *Writer { return &Writer{w: w} }

// Err returns the first error writing met.
func (w *Writer) Err() error { return w.err }

// Begin starts family f. Its HELP and TYPE lines go out with its first
// sample: a family without samples leaves no trace, as in a registry's
// output.
func (w *Writer) Begin(f *Family) {
	w.family, w.started = f, false
}

// Sample writes one sample of the current family: its name, the label set
// made of labels concatenated (`{`, rendered pairs, separators and `}`,
// or nothing for no labels), and v. The line is built in the bufio
// buffer: no copy, no allocation.
func (w *Writer) Sample(v float64, labels ...string) {
	if w.err != nil {
		return
	}
	if !w.started {
		w.started = true
		w.str(w.family.header)
	}
	name := w.family.name
	n := len(name) + maxValueLen + 2
	for _, l := range labels {
		n += len(l)
	}
	if w.w.Available() < n {
		if w.err = w.w.Flush(); w.err != nil {
			return
		}
	}
	if w.w.Available() < n {
		// Longer than the whole buffer: piece by piece.
		w.str(name)
		for _, l := range labels {
			w.str(l)
		}
		w.str(string(AppendValue([]byte{' '}, v)) + "\n")
		return
	}
	b := w.w.AvailableBuffer()
	b = append(b, name...)
	for _, l := range labels {
		b = append(b, l...)
	}
	b = append(b, ' ')
	b = AppendValue(b, v)
	b = append(b, '\n')
	_, w.err = w.w.Write(b)
}

// ServerSample writes a sample of a real server: head (`{`, or `{` and
// the pairs that sort before server, with their comma), the pairs
// server="server",service="service", then tail (`}`, or the pairs that
// sort after service, from their comma, and `}`). server and service are
// label values as written: escaped by the caller when they need it. A
// real server's label set is thus written from its two strings instead
// of being kept rendered (80 bytes a real server at 10,000).
func (w *Writer) ServerSample(v float64, head, server, service, tail string) {
	w.Sample(v, head, `server="`, server, `",service="`, service, `"`, tail)
}

// MetricFamily writes mf with expfmt: for the few small families that
// come from a registry (histograms).
func (w *Writer) MetricFamily(mf *dto.MetricFamily) {
	if w.err != nil {
		return
	}
	_, w.err = expfmt.MetricFamilyToText(w.w, mf)
}

func (w *Writer) str(s string) {
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
	}
}

// Source is a set of metric families written by a Writer beside a
// registry's (collector.Handler serves them). Its methods must be safe
// for concurrent use: scrapes can run at once.
type Source interface {
	// Families returns the name of every family the source may write.
	Families() []string
	// Snapshot reads what the families show now, and returns what writes
	// them: the handler reads every source before it sends the first
	// byte (a failure can no longer be reported after it), then writes
	// each. The write must not wait for anything but w, and is called
	// once.
	Snapshot() func(w *Writer)
}
