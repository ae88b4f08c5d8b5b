package collector

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// textTable is a view ready for the /metrics fast path, which writes the
// Prometheus text exposition format (version 0.0.4) family by family,
// straight from the view into the response: exactly the text a registry
// gathering Collect and encoding it with expfmt would write (the tests
// compare both), without the registry's per-series allocations, checks,
// hashing and sorting, and without keeping a scrape's samples. Label sets
// are rendered in pieces once per service and real server: a real
// server's is its service's head, its own server pair and its service's
// tail.
type textTable struct {
	*view
	text []serviceText // by service, as view.services
	// The server pairs (`server="...",`) of the real servers, in the order
	// of view.dests, one after the other: the i-th is
	// mids[midEnds[i]:midEnds[i+1]].
	mids    []byte
	midEnds []int32

	// The orders of the two families whose extra labels sort between the
	// identifying ones, when they differ from the view's: indexes into
	// view.services, and (service, real server) pairs.
	infoOrder []int32
	destOrder [][2]int32
}

// serviceText is the rendered label set of a service, in pieces.
type serviceText struct {
	head string // `{address="...",family="...",fwmark="...",port="...",protocol="...",`
	tail string // `service="..."}`
	info string // the whole label set of its ipvs_service_info sample
}

// newTextTable renders the label sets of v's services and real servers
// and finds the order of its info families.
func newTextTable(v *view) *textTable {
	t := &textTable{view: v, text: make([]serviceText, len(v.services))}
	var b []byte
	for i := range v.services {
		s, txt := &v.services[i], &t.text[i]
		b = appendServiceLabels(b[:0], s)
		txt.head = string(b)
		b = append(appendLabel(b[:0], lService, s.name), '}')
		txt.tail = string(b)
		b = appendServiceLabels(b[:0], s, lFlags, s.flags, lPE, s.pe, lScheduler, s.scheduler)
		b = append(b, txt.tail...)
		txt.info = string(b)
	}
	// The server pairs of every real server in one block: one
	// allocation. midEnds[i+1] is where the i-th ends.
	t.mids = make([]byte, 0, len(v.dests)*len(`server="[2001:db8::1]:65535",`))
	t.midEnds = make([]int32, 1, len(v.dests)+1)
	for i := range v.dests {
		t.mids = append(appendLabel(t.mids, lServer, v.dests[i].server), ',')
		t.midEnds = append(t.midEnds, int32(len(t.mids)))
	}

	if !slices.IsSortedFunc(v.services, func(a, b serviceView) int { return compareServiceInfo(&a, &b) }) {
		t.infoOrder = make([]int32, len(v.services))
		for i := range t.infoOrder {
			t.infoOrder[i] = int32(i)
		}
		slices.SortFunc(t.infoOrder, func(a, b int32) int { return compareServiceInfo(&v.services[a], &v.services[b]) })
	}
	var prev [2]int32
	sorted, seen := true, false
	for si := range v.services {
		for di := range v.services[si].dests {
			cur := [2]int32{int32(si), int32(di)}
			if seen && t.compareDestInfo(prev, cur) > 0 {
				sorted = false
			}
			prev, seen = cur, true
		}
	}
	if !sorted {
		t.destOrder = make([][2]int32, 0, len(v.dests))
		for si := range v.services {
			for di := range v.services[si].dests {
				t.destOrder = append(t.destOrder, [2]int32{int32(si), int32(di)})
			}
		}
		slices.SortStableFunc(t.destOrder, t.compareDestInfo)
	}
	return t
}

func (t *textTable) compareDestInfo(a, b [2]int32) int {
	sa, sb := &t.services[a[0]], &t.services[b[0]]
	return compareDestInfo(sa, &sa.dests[a[1]], sb, &sb.dests[b[1]])
}

// mid returns the server pair of real server di of service si.
func (t *textTable) mid(si, di int) []byte {
	i := t.services[si].first + di
	return t.mids[t.midEnds[i]:t.midEnds[i+1]]
}

// appendLabel appends name="value" with the value escaped.
func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = promtext.AppendEscaped(b, value)
	return append(b, '"')
}

// appendServiceLabels appends '{' and the identifying labels of s but
// "service", each followed by a comma, with extra (name, value, name,
// value ..., sorted by name) merged in name order: a real server's label
// set up to its server pair, or, with the service's tail after it, a
// whole set.
func appendServiceLabels(b []byte, s *serviceView, extra ...string) []byte {
	ids := [...]string{lAddress, s.address, lFamily, s.family, lFWMark, s.fwmark, lPort, s.port, lProtocol, s.protocol}
	b = append(b, '{')
	for i := 0; i < len(ids); i += 2 {
		for len(extra) > 1 && extra[0] < ids[i] {
			b = append(appendLabel(b, extra[0], extra[1]), ',')
			extra = extra[2:]
		}
		b = append(appendLabel(b, ids[i], ids[i+1]), ',')
	}
	for ; len(extra) > 1; extra = extra[2:] {
		b = append(appendLabel(b, extra[0], extra[1]), ',')
	}
	return b
}

// maxValueLen bounds the length of a formatted sample value
// (promtext.AppendValue: "-1.2345678901234567e-308" is 24 bytes).
const maxValueLen = 32

// writeTo writes every family that has samples, sorted by name, to w. The
// caller flushes w.
func (t *textTable) writeTo(w *bufio.Writer) error {
	var hs []hostSample
	for _, f := range familiesByName {
		name := families[f].name
		switch families[f].scope {
		case scopeService:
			header := headers[f] // written before the first sample: vip_local can have none
			for i := range t.services {
				si := i
				if f == serviceInfo && t.infoOrder != nil {
					si = int(t.infoOrder[i])
				}
				x, ok := t.serviceValue(f, &t.services[si])
				if !ok {
					continue
				}
				if header != "" {
					if _, err := w.WriteString(header); err != nil {
						return err
					}
					header = ""
				}
				txt := &t.text[si]
				var err error
				if f == serviceInfo {
					err = writeLine(w, name, txt.info, "", "", x)
				} else {
					err = writeLine(w, name, txt.head, txt.tail, "", x)
				}
				if err != nil {
					return err
				}
			}
		case scopeRealServer:
			if len(t.dests) == 0 {
				continue
			}
			if _, err := w.WriteString(headers[f]); err != nil {
				return err
			}
			if f == realServerInfo {
				if err := t.writeDestInfo(w, name); err != nil {
					return err
				}
				continue
			}
			for si := range t.services {
				s, txt := &t.services[si], &t.text[si]
				for di := range s.dests {
					if err := writeLine(w, name, txt.head, t.mid(si, di), txt.tail, destValue(f, s.dests[di].dst)); err != nil {
						return err
					}
				}
			}
		default:
			hs = t.hostSamples(hs[:0], f)
			if len(hs) == 0 {
				continue
			}
			if _, err := w.WriteString(headers[f]); err != nil {
				return err
			}
			for _, h := range hs {
				var labels []byte
				if h.label != nil {
					labels = append(appendLabel([]byte{'{'}, *h.label, h.value), '}')
				}
				if err := writeLine(w, name, string(labels), "", "", h.v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// writeDestInfo writes the samples of ipvs_real_server_info, whose label
// set has forward after family: rendered sample by sample.
func (t *textTable) writeDestInfo(w *bufio.Writer, name string) error {
	var b []byte
	one := func(si, di int) error {
		s := &t.services[si]
		b = appendServiceLabels(b[:0], s, lForward, forwardName(s.dests[di].dst.Forward))
		// Written from b without a string copy: writeLine copies it into
		// the writer's buffer before b is reused.
		return writeLine(w, name, b, t.mid(si, di), t.text[si].tail, destValue(realServerInfo, s.dests[di].dst))
	}
	if t.destOrder != nil {
		for _, p := range t.destOrder {
			if err := one(int(p[0]), int(p[1])); err != nil {
				return err
			}
		}
		return nil
	}
	for si := range t.services {
		for di := range t.services[si].dests {
			if err := one(si, di); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeLine writes one sample: name, its label set in up to three pieces,
// and x. The whole line is built in the writer's buffer: no copy, no
// allocation (a line longer than the buffer still works, it only
// allocates).
func writeLine[A, B string | []byte](w *bufio.Writer, name string, l1 A, l2 B, l3 string, x float64) error {
	if w.Available() < len(name)+len(l1)+len(l2)+len(l3)+maxValueLen+2 {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	b := w.AvailableBuffer()
	b = append(b, name...)
	b = append(b, l1...)
	b = append(b, l2...)
	b = append(b, l3...)
	b = append(b, ' ')
	b = promtext.AppendValue(b, x)
	b = append(b, '\n')
	_, err := w.Write(b)
	return err
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

// table reads one snapshot and makes it ready to write.
func (c *Collector) table(ctx context.Context) *textTable {
	return newTextTable(c.collect(ctx))
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
