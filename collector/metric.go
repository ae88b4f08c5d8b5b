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

// emitter is the registry path (Collect): it sends samples carved out of
// slabs to the registry's channel, one allocation per slab instead of one
// per sample, with label pairs built once per service and real server.
type emitter struct {
	ch       chan<- prometheus.Metric
	descs    *descs
	counters []counterSample
	gauges   []gaugeSample
}

// minSlab is the size of a slab when the view had fewer samples than
// announced (never, but for a host-wide family with several).
const minSlab = 32

// emit sends every sample of v. The order does not matter to the registry,
// which sorts each family; service by service it is the sorted one, which
// the registry's sort only confirms.
func (e *emitter) emit(v *view) {
	var counters, gauges int
	for f := range numFamilies {
		n := 3 // host-wide families: a few
		switch families[f].scope {
		case scopeService:
			n = len(v.services)
		case scopeRealServer:
			n = len(v.dests)
		}
		if families[f].typ == prometheus.CounterValue {
			counters += n
		} else {
			gauges += n
		}
	}
	e.counters = make([]counterSample, counters)
	e.gauges = make([]gaugeSample, gauges)

	// Each real server has a server pair, its label pairs (its service's
	// and the server's) and its info's (those and forward).
	arena := newPairArena(len(v.dests), len(v.dests)*(2*len(realServerLabels)+1))
	for i := range v.services {
		s := &v.services[i]
		pairs := withPairs(nil,
			newPair(&lService, s.name),
			newPair(&lFamily, s.family),
			newPair(&lProtocol, s.protocol),
			newPair(&lAddress, s.address),
			newPair(&lPort, s.port),
			newPair(&lFWMark, s.fwmark),
		)
		for j := range s.dests {
			d := &s.dests[j]
			dp := arena.withPairs(pairs, arena.newPair(&lServer, d.server))
			for f := realServerConnections; f <= realServerLower; f++ {
				e.sample(f, destValue(f, d.dst), dp)
			}
			e.sample(realServerInfo, destValue(realServerInfo, d.dst), arena.withPairs(dp, forwardPair(d.dst.Forward)))
		}
		for f := serviceConnections; f <= serviceVIPLocal; f++ {
			x, ok := v.serviceValue(f, s)
			if !ok {
				continue
			}
			ls := pairs
			if f == serviceInfo {
				ls = withPairs(pairs,
					newPair(&lScheduler, s.scheduler),
					newPair(&lFlags, s.flags),
					newPair(&lPE, s.pe))
			}
			e.sample(f, x, ls)
		}
	}
	var hs []hostSample
	for f := hostConnections; f < numFamilies; f++ {
		hs = v.hostSamples(hs[:0], f)
		for _, h := range hs {
			var ls []*dto.LabelPair
			if h.label != nil {
				ls = []*dto.LabelPair{newPair(h.label, h.value)}
			}
			e.sample(f, h.v, ls)
		}
	}
}

func (e *emitter) sample(f familyID, v float64, labels []*dto.LabelPair) {
	if families[f].typ == prometheus.CounterValue {
		if len(e.counters) == 0 {
			e.counters = make([]counterSample, minSlab)
		}
		s := &e.counters[0]
		e.counters = e.counters[1:]
		s.desc, s.labels, s.value = e.descs[f], labels, v
		s.dto.Value = &s.value
		e.ch <- s
		return
	}
	if len(e.gauges) == 0 {
		e.gauges = make([]gaugeSample, minSlab)
	}
	s := &e.gauges[0]
	e.gauges = e.gauges[1:]
	s.desc, s.labels, s.value = e.descs[f], labels, v
	s.dto.Value = &s.value
	e.ch <- s
}
