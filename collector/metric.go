package collector

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterSample and gaugeSample are constant prometheus.Metrics whose label
// pairs are built once per service or real server and shared by all of its
// samples, where prometheus.MustNewConstMetric would build (and allocate)
// the same seven label pairs again for each of a real server's thirteen
// samples. Sharing is safe because a registry only reads what Write fills
// in (the dto.Metric contract). Each embeds its dto value, so that Write,
// called once per sample by the registry, allocates nothing. BENCHMARKS.md
// has the numbers.
type counterSample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair // sorted by name, as the registry wants them
	value  float64
	dto    dto.Counter // dto.Value points at value
}

// Desc implements prometheus.Metric.
func (s *counterSample) Desc() *prometheus.Desc { return s.desc }

// Write implements prometheus.Metric.
func (s *counterSample) Write(out *dto.Metric) error {
	out.Label = s.labels
	out.Counter = &s.dto
	return nil
}

// gaugeSample is counterSample for gauges.
type gaugeSample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
	dto    dto.Gauge
}

// Desc implements prometheus.Metric.
func (s *gaugeSample) Desc() *prometheus.Desc { return s.desc }

// Write implements prometheus.Metric.
func (s *gaugeSample) Write(out *dto.Metric) error {
	out.Label = s.labels
	out.Gauge = &s.dto
	return nil
}

// emitter is the sink of Collect: it sends samples carved out of slabs to
// the registry's channel, one allocation per slab instead of one per
// sample.
type emitter struct {
	ch       chan<- prometheus.Metric
	descs    *descs
	counters []counterSample
	gauges   []gaugeSample
}

// minSlab is the size of a slab when reserve was not told enough.
const minSlab = 32

func (e *emitter) reserve(services, realServers int) {
	var counters, gauges int
	for f := range numFamilies {
		n := expected(f, services, realServers)
		if families[f].typ == prometheus.CounterValue {
			counters += n
		} else {
			gauges += n
		}
	}
	e.counters = make([]counterSample, counters)
	e.gauges = make([]gaugeSample, gauges)
}

func (e *emitter) labels(pairs []*dto.LabelPair) labelSet { return labelSet{pairs: pairs} }

func (e *emitter) sample(f familyID, v float64, ls labelSet) {
	if families[f].typ == prometheus.CounterValue {
		if len(e.counters) == 0 {
			e.counters = make([]counterSample, minSlab)
		}
		s := &e.counters[0]
		e.counters = e.counters[1:]
		s.desc, s.labels, s.value = e.descs[f], ls.pairs, v
		s.dto.Value = &s.value
		e.ch <- s
		return
	}
	if len(e.gauges) == 0 {
		e.gauges = make([]gaugeSample, minSlab)
	}
	s := &e.gauges[0]
	e.gauges = e.gauges[1:]
	s.desc, s.labels, s.value = e.descs[f], ls.pairs, v
	s.dto.Value = &s.value
	e.ch <- s
}
