package health

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricsSample is a constant prometheus.Metric whose label pairs are
// shared with the other samples of its real server (and whose constant
// pairs, such as state="up", are shared by all), where
// prometheus.MustNewConstMetric would build and allocate every pair for
// every sample. A registry only reads what Write fills in (the dto.Metric
// contract), so sharing is safe. Samples come from slabs, and each embeds
// its dto value, so that a sample costs no allocation of its own.
type metricsSample struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair // sorted by name, as the registry wants them
	counter bool
	value   float64
	gauge   dto.Gauge
	count   dto.Counter
}

// Desc implements prometheus.Metric.
func (s *metricsSample) Desc() *prometheus.Desc { return s.desc }

// Write implements prometheus.Metric.
func (s *metricsSample) Write(out *dto.Metric) error {
	out.Label = s.labels
	if s.counter {
		s.count.Value = &s.value
		out.Counter = &s.count
	} else {
		s.gauge.Value = &s.value
		out.Gauge = &s.gauge
	}
	return nil
}

// Label names, addressable so that pairs can point at them.
var (
	labelService = "service"
	labelServer  = "server"
	labelCheck   = "check"
	labelState   = "state"
	labelResult  = "result"
)

// Pairs whose value is one of a few constants, shared by every sample.
var (
	pairStates  = constPairs(&labelState, numStates, func(i int) string { return State(i).String() })
	pairResults = constPairs(&labelResult, len(Classes), func(i int) string { return Classes[i].String() })
)

func constPairs(name *string, n int, value func(int) string) []*dto.LabelPair {
	out := make([]*dto.LabelPair, n)
	for i := range out {
		v := value(i)
		out[i] = &dto.LabelPair{Name: name, Value: &v}
	}
	return out
}

// metricsEmitter carves samples, pairs and pair lists out of slabs and
// sends the samples to a registry's channel.
type metricsEmitter struct {
	ch      chan<- prometheus.Metric
	samples []metricsSample
	pairs   []dto.LabelPair
	lists   []*dto.LabelPair
}

const metricsSlab = 1024

func (e *metricsEmitter) emit(desc *prometheus.Desc, counter bool, value float64, labels []*dto.LabelPair) {
	if len(e.samples) == 0 {
		e.samples = make([]metricsSample, metricsSlab)
	}
	s := &e.samples[0]
	e.samples = e.samples[1:]
	s.desc, s.labels, s.counter, s.value = desc, labels, counter, value
	e.ch <- s
}

// pair returns a label pair pointing at name and value, which must not
// change (fields of a server or check that never change).
func (e *metricsEmitter) pair(name, value *string) *dto.LabelPair {
	if len(e.pairs) == 0 {
		e.pairs = make([]dto.LabelPair, metricsSlab)
	}
	p := &e.pairs[0]
	e.pairs = e.pairs[1:]
	p.Name, p.Value = name, value
	return p
}

// list returns the pairs as one slice; the caller passes them sorted by
// name.
func (e *metricsEmitter) list(pairs ...*dto.LabelPair) []*dto.LabelPair {
	if len(e.lists) < len(pairs) {
		e.lists = make([]*dto.LabelPair, metricsSlab)
	}
	out := e.lists[:len(pairs):len(pairs)]
	e.lists = e.lists[len(pairs):]
	copy(out, pairs)
	return out
}
