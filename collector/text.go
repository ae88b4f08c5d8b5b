package collector

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// textSink is the sink of the /metrics fast path: it keeps each family's
// samples apart while the emit code goes service by service, then writes
// the Prometheus text exposition format (version 0.0.4) family by family.
// Each label set is rendered to `{k="v",...}` once, when the emit code
// makes it, and copied into the output by every sample that shares it. The
// output is byte for byte what a registry gathering Collect and expfmt
// encoding it would write (the tests compare both), without the registry's
// per-series allocations, checks, hashing and sorting.
type textSink struct {
	samples [numFamilies][]textSample
	sets    []textLabels // sets[0] is the empty set
	chunk   []byte       // where label sets are rendered; a new chunk when full
}

// textSample is one sample of a family.
type textSample struct {
	set   int32 // index in textSink.sets
	value float64
}

// textLabels is one label set, rendered.
type textLabels struct {
	pairs []*dto.LabelPair // to sort by, as the registry does
	text  []byte           // `{k="v",...}`, empty for no labels
}

// labelChunk is the size of one block of rendered label sets: small enough
// to waste little, large enough for hundreds of label sets.
const labelChunk = 64 << 10

func (t *textSink) reserve(services, realServers int) {
	for f := range numFamilies {
		t.samples[f] = make([]textSample, 0, expected(f, services, realServers))
	}
	// A service makes two label sets (its own and its info's), a real
	// server two, the host a few.
	sets := 2*(services+realServers) + 8
	t.sets = slices.Grow(t.sets, sets)
	// Most label sets render to less than 256 bytes: a small table needs
	// no full chunk.
	t.chunk = make([]byte, 0, min(labelChunk, 256*sets))
}

func (t *textSink) labels(pairs []*dto.LabelPair) labelSet {
	if len(t.sets) == 0 {
		t.sets = append(t.sets, textLabels{})
	}
	if len(pairs) == 0 {
		return labelSet{}
	}
	need := 1 // at most: '{' or ',' before each pair, `="` and '"' around
	// its value, every byte of the value escaped, and '}'
	for _, p := range pairs {
		need += len(p.GetName()) + 2*len(p.GetValue()) + 4
	}
	if cap(t.chunk)-len(t.chunk) < need {
		t.chunk = make([]byte, 0, max(labelChunk, need))
	}
	start := len(t.chunk)
	t.chunk = appendLabels(t.chunk, pairs)
	// Full slice expression: nothing appended later can reach into it.
	t.sets = append(t.sets, textLabels{pairs: pairs, text: t.chunk[start:len(t.chunk):len(t.chunk)]})
	return labelSet{set: int32(len(t.sets) - 1)}
}

func (t *textSink) sample(f familyID, v float64, ls labelSet) {
	t.samples[f] = append(t.samples[f], textSample{set: ls.set, value: v})
}

// sort puts the samples of each family in the registry's order: by label
// values, in the order of the label names. The emit code emits services
// and real servers in that order already, which is the order of every
// family without extra labels; those with (the info families: forward,
// scheduler and the like sort between the identifying labels) are checked
// and sorted when needed.
func (t *textSink) sort() {
	cmp := func(a, b textSample) int { return comparePairs(t.sets[a.set].pairs, t.sets[b.set].pairs) }
	for f := range numFamilies {
		if len(families[f].extra) == 0 || slices.IsSortedFunc(t.samples[f], cmp) {
			continue
		}
		slices.SortStableFunc(t.samples[f], cmp)
	}
}

// maxValueLen bounds the length of a formatted sample value
// (promtext.AppendValue: "-1.2345678901234567e-308" is 24 bytes).
const maxValueLen = 32

// writeTo writes every family that has samples, sorted by name, to w. The
// caller flushes w.
func (t *textSink) writeTo(w *bufio.Writer) error {
	for _, f := range familiesByName {
		samples := t.samples[f]
		if len(samples) == 0 {
			continue
		}
		if _, err := w.WriteString(headers[f]); err != nil {
			return err
		}
		name := families[f].name
		for _, s := range samples {
			labels := t.sets[s.set].text
			// Build the whole line in the writer's buffer: no copy, no
			// allocation (a line longer than the buffer still works, it
			// only allocates).
			if w.Available() < len(name)+len(labels)+maxValueLen+2 {
				if err := w.Flush(); err != nil {
					return err
				}
			}
			b := w.AvailableBuffer()
			b = append(b, name...)
			b = append(b, labels...)
			b = append(b, ' ')
			b = promtext.AppendValue(b, s.value)
			b = append(b, '\n')
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// headers are the "# HELP" and "# TYPE" lines of each family, indexed by
// familyID, escaped as the text format wants.
var headers = func() [numFamilies]string {
	var out [numFamilies]string
	for i := range families {
		f := &families[i]
		typ := promtext.Gauge
		if f.typ == prometheus.CounterValue {
			typ = promtext.Counter
		}
		out[i] = promtext.NewFamily(f.name, f.help, typ).Header()
	}
	return out
}()

// textBufferSize is the buffer between the text writer and the network (or
// gzip): large enough that a write is rarely smaller than a TCP window.
const textBufferSize = 64 << 10

// table reads one snapshot and keeps its samples, and those of the scrape
// itself, ready to write.
func (c *Collector) table(ctx context.Context) *textSink {
	t := &textSink{}
	c.collect(ctx, t)
	t.sort()
	return t
}

// WriteText reads one snapshot, within ctx, and writes the IPVS metric
// families in the Prometheus text exposition format (version 0.0.4) to w:
// exactly the text a registry gathering Collect and encoding it with expfmt
// would write, at a fraction of the cost. Like Collect it never fails for
// an unreadable table (ipvs_up is 0); the error is w's.
func (c *Collector) WriteText(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, textBufferSize)
	if err := c.table(ctx).writeTo(bw); err != nil {
		return fmt.Errorf("write the IPVS metrics: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write the IPVS metrics: %w", err)
	}
	return nil
}
