package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// SourceText is what src writes now, through promtext: the text a
// /metrics scrape has of it.
func SourceText(t testing.TB, src promtext.Source) string {
	t.Helper()
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	w := promtext.NewWriter(bw)
	src.Snapshot()(w)
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// MatchesRegistry checks that text, written by a fast path, is what the
// registry path gives for the same state: want, gathered by a pedantic
// registry from the reference collector. The text must parse into the
// same families (help, type, label sets, values, order), and be the same
// bytes expfmt writes for want.
func MatchesRegistry(t testing.TB, want []*dto.MetricFamily, text string) {
	t.Helper()
	if diff := FamiliesDiff(want, ParseText(t, text)); len(diff) > 0 {
		t.Fatalf("the text writer and the registry disagree:\n%s", strings.Join(diff, "\n"))
	}
	var enc bytes.Buffer
	for _, mf := range want {
		if _, err := expfmt.MetricFamilyToText(&enc, mf); err != nil {
			t.Fatal(err)
		}
	}
	if text != enc.String() {
		i := FirstDifference(text, enc.String())
		t.Errorf("the text writer's bytes differ from expfmt's; first difference at byte %d: %q, want %q",
			i, excerpt(text, i), excerpt(enc.String(), i))
	}
}

// Gather gathers g, failing the test on an error (a pedantic registry's
// checks included).
func Gather(t testing.TB, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return mfs
}

func excerpt(s string, i int) string {
	start := max(0, i-40)
	return s[start:min(len(s), i+40)]
}

// ParseText parses a text exposition with expfmt's parser, which rejects
// what Prometheus would reject, and returns its families sorted by name.
func ParseText(t testing.TB, text string) []*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	byName, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse the text exposition: %v", err)
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

// FamiliesDiff lists how got differs from want: families present in one
// only, and for those in both, help, type and the samples (label sets and
// values, in order). It reads counters, gauges and histograms.
func FamiliesDiff(want, got []*dto.MetricFamily) []string {
	var diff []string
	gotByName := map[string]*dto.MetricFamily{}
	for _, mf := range got {
		gotByName[mf.GetName()] = mf
	}
	for _, w := range want {
		name := w.GetName()
		g, ok := gotByName[name]
		if !ok {
			diff = append(diff, "missing family "+name)
			continue
		}
		delete(gotByName, name)
		if w.GetHelp() != g.GetHelp() {
			diff = append(diff, fmt.Sprintf("%s: help %q, want %q", name, g.GetHelp(), w.GetHelp()))
		}
		if w.GetType() != g.GetType() {
			diff = append(diff, fmt.Sprintf("%s: type %s, want %s", name, g.GetType(), w.GetType()))
			continue
		}
		ws, gs := w.GetMetric(), g.GetMetric()
		for i := range max(len(ws), len(gs)) {
			switch {
			case i >= len(gs):
				diff = append(diff, fmt.Sprintf("%s: sample %d missing: want %s", name, i, sample(w, ws[i])))
			case i >= len(ws):
				diff = append(diff, fmt.Sprintf("%s: sample %d extra: %s", name, i, sample(g, gs[i])))
			case sample(w, ws[i]) != sample(g, gs[i]):
				diff = append(diff, fmt.Sprintf("%s: sample %d is %s, want %s", name, i, sample(g, gs[i]), sample(w, ws[i])))
			}
		}
	}
	for name := range gotByName {
		diff = append(diff, "extra family "+name)
	}
	slices.Sort(diff)
	return diff
}

// sample renders a sample as its label set and the exact bits of its
// value (a histogram: its count, sum and buckets).
func sample(mf *dto.MetricFamily, m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.GetLabel() {
		fmt.Fprintf(&b, "%s=%q,", l.GetName(), l.GetValue())
	}
	bits := func(v float64) string { return fmt.Sprintf("%v (%#x)", v, math.Float64bits(v)) }
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		fmt.Fprintf(&b, " %s", bits(m.GetCounter().GetValue()))
	case dto.MetricType_GAUGE:
		fmt.Fprintf(&b, " %s", bits(m.GetGauge().GetValue()))
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		fmt.Fprintf(&b, " count %d sum %s buckets", h.GetSampleCount(), bits(h.GetSampleSum()))
		for _, bk := range h.GetBucket() {
			// A registry's histogram has no +Inf bucket, the text
			// format's has: its count is the histogram's, compared.
			if !math.IsInf(bk.GetUpperBound(), 1) {
				fmt.Fprintf(&b, " %v:%d", bk.GetUpperBound(), bk.GetCumulativeCount())
			}
		}
	default:
		fmt.Fprintf(&b, " (a %s, not compared)", mf.GetType())
	}
	return b.String()
}

// FirstDifference returns the index of the first byte at which a and b
// differ (the length of the shorter when one is a prefix of the other).
func FirstDifference(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
