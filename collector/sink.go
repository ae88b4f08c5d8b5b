package collector

import dto "github.com/prometheus/client_model/go"

// sink receives the samples of one scrape. The emit code (emit.go) is the
// only place that knows which samples a snapshot makes; a sink only
// renders them. Two sinks exist: emitter hands them to a prometheus
// registry (Collect), textSink writes the text exposition format directly
// (the /metrics handler), which is several times cheaper for a large table
// (BENCHMARKS.md).
type sink interface {
	// reserve tells how many services and real servers the samples that
	// follow describe, so that the sink can size its buffers once.
	reserve(services, realServers int)
	// labels prepares the label pairs (sorted by name) shared by the
	// samples of one service, real server or host-wide sample, once.
	labels(pairs []*dto.LabelPair) labelSet
	// sample adds one sample of family f.
	sample(f familyID, v float64, ls labelSet)
}

// labelSet is a set of label pairs as a sink wants it: the dto pairs for
// the registry, an index into the rendered label sets for the text writer.
// The zero labelSet has no labels.
type labelSet struct {
	pairs []*dto.LabelPair
	set   int32 // index in textSink.sets; 0 is the empty set
}

// expected returns how many samples of family f a scrape of this many
// services and real servers makes, at most (host-wide families: a few).
func expected(f familyID, services, realServers int) int {
	switch families[f].scope {
	case scopeService:
		return services
	case scopeRealServer:
		return realServers
	}
	return 3 // ipvs_timeout_seconds has the most: tcp, tcpfin, udp
}
