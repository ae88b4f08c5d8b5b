package collector

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// Label names, addressable so that every label pair can point at the same
// string. They must match serviceLabels, realServerLabels and the extra
// labels in descs.go (the pedantic registry in the tests checks that).
var (
	lService   = "service"
	lFamily    = "family"
	lProtocol  = "protocol"
	lAddress   = "address"
	lPort      = "port"
	lFWMark    = "fwmark"
	lServer    = "server"
	lScheduler = "scheduler"
	lFlags     = "flags"
	lPE        = "pe"
	lForward   = "forward"
	lVersion   = "version"
)

// labelPair is a dto.LabelPair allocated together with its value.
type labelPair struct {
	pair  dto.LabelPair
	value string
}

// newPair returns a label pair; name must point to one of the label name
// variables above.
func newPair(name *string, value string) *dto.LabelPair {
	p := &labelPair{value: value}
	p.pair.Name = name
	p.pair.Value = &p.value
	return &p.pair
}

// withPairs returns base (sorted by name) plus extra, sorted by name, in a
// new slice: base is shared and never modified.
func withPairs(base []*dto.LabelPair, extra ...*dto.LabelPair) []*dto.LabelPair {
	return insertPairs(make([]*dto.LabelPair, len(base), len(base)+len(extra)), base, extra)
}

// insertPairs copies base into out (of base's length, with room for
// extra) and inserts extra in name order.
func insertPairs(out, base, extra []*dto.LabelPair) []*dto.LabelPair {
	copy(out, base)
	for _, p := range extra {
		i := len(out)
		for i > 0 && *out[i-1].Name > *p.Name {
			i--
		}
		out = slices.Insert(out, i, p)
	}
	return out
}

// pairArena hands out the label pairs and pair slices of the real servers
// of one snapshot from two blocks sized for them, instead of three
// allocations per real server (30,000 per scrape at 10,000). Nothing
// writes to a pair or a slice once handed out; a block lives as long as
// one of its pairs is in use (the scrape). When a block runs out (a
// snapshot larger than announced) the pairs come from the heap.
type pairArena struct {
	pairs []labelPair
	ptrs  []*dto.LabelPair
}

// newPairArena returns an arena for pairs label pairs and ptrs slots of
// pair slices.
func newPairArena(pairs, ptrs int) *pairArena {
	return &pairArena{pairs: make([]labelPair, pairs), ptrs: make([]*dto.LabelPair, ptrs)}
}

// newPair is newPair from the arena.
func (a *pairArena) newPair(name *string, value string) *dto.LabelPair {
	if len(a.pairs) == 0 {
		return newPair(name, value)
	}
	p := &a.pairs[0]
	a.pairs = a.pairs[1:]
	p.value = value
	p.pair.Name = name
	p.pair.Value = &p.value
	return &p.pair
}

// withPairs is withPairs from the arena.
func (a *pairArena) withPairs(base []*dto.LabelPair, extra ...*dto.LabelPair) []*dto.LabelPair {
	n := len(base) + len(extra)
	if len(a.ptrs) < n {
		return withPairs(base, extra...)
	}
	// Full slice expression: the slice cannot grow into the next one.
	out := a.ptrs[:len(base):n]
	a.ptrs = a.ptrs[n:]
	return insertPairs(out, base, extra)
}

// labelValue makes a string from the kernel a valid label value: the
// registry rejects the whole scrape for one value that is not UTF-8.
func labelValue(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// userFlags are the service flags an operator sets, in the order the
// flags label lists them. FlagHashed is internal and never shown.
var userFlags = []struct {
	bit  uint32
	name string
}{
	{ipvs.FlagPersistent, "persistent"},
	{ipvs.FlagOnePacket, "ops"},
	{ipvs.FlagSched1, "sched1"},
	{ipvs.FlagSched2, "sched2"},
	{ipvs.FlagSched3, "sched3"},
}

// flagsLabel renders the user-visible flags as "persistent,ops" ("" if none).
func flagsLabel(flags uint32) string {
	var b strings.Builder
	for _, f := range userFlags {
		if flags&f.bit == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f.name)
	}
	return b.String()
}

// forwardPairs are the forward label pairs of the known methods, shared by
// every scrape: nothing writes to a label pair once built.
var forwardPairs = func() []*dto.LabelPair {
	var out []*dto.LabelPair
	for m := ipvs.ForwardMasq; m <= ipvs.ForwardBypass; m++ {
		out = append(out, newPair(&lForward, m.String()))
	}
	return out
}()

// forwardPair returns the forward label pair of m.
func forwardPair(m ipvs.ForwardMethod) *dto.LabelPair {
	if int(m) < len(forwardPairs) {
		return forwardPairs[m]
	}
	return newPair(&lForward, forwardName(m))
}

// forwardName returns the forward label value of m.
func forwardName(m ipvs.ForwardMethod) string {
	if int(m) < len(forwardPairs) {
		return *forwardPairs[m].Value
	}
	return m.String()
}
