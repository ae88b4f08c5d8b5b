package web

import (
	"sync"
	"time"
)

// RatesView are rates computed from the kernel's cumulative counters
// between two reads of the table.
type RatesView struct {
	// ConnsPerSecond is new connections per second.
	ConnsPerSecond float64 `json:"conns_per_second"`
	// BytesInPerSecond and BytesOutPerSecond are bytes per second from
	// the clients and to them.
	BytesInPerSecond  float64 `json:"bytes_in_per_second"`
	BytesOutPerSecond float64 `json:"bytes_out_per_second"`
}

// counters are the cumulative counters rates are computed from.
type counters struct {
	conns, bytesIn, bytesOut uint64
}

func countersOf(s *StatsView) counters {
	return counters{conns: s.Connections, bytesIn: s.BytesIn, bytesOut: s.BytesOut}
}

// rateSample is the counters of one read of the table, per service key
// and per service key and real server.
type rateSample struct {
	at       time.Time
	services map[string]counters
	servers  map[[2]string]counters
}

// sampleOf keeps the counters of v's rows that are in the table.
func sampleOf(at time.Time, services []ServiceView) *rateSample {
	s := &rateSample{at: at, services: make(map[string]counters, len(services)), servers: map[[2]string]counters{}}
	for i := range services {
		sv := &services[i]
		if sv.Stats != nil {
			s.services[sv.Key] = countersOf(sv.Stats)
		}
		for j := range sv.RealServers {
			r := &sv.RealServers[j]
			if r.Stats != nil {
				s.servers[[2]string{sv.Key, r.Server}] = countersOf(r.Stats)
			}
		}
	}
	return s
}

// rate is the rate from prev to cur over dt; nil without a previous
// value, for an interval that is not positive, and when a counter went
// backwards (the destination or service was deleted and created again,
// or ip_vs reloaded): a reset is no negative traffic.
func rate(cur counters, prev counters, hasPrev bool, dt time.Duration) *RatesView {
	if !hasPrev || dt <= 0 || cur.conns < prev.conns || cur.bytesIn < prev.bytesIn || cur.bytesOut < prev.bytesOut {
		return nil
	}
	sec := dt.Seconds()
	return &RatesView{
		ConnsPerSecond:    float64(cur.conns-prev.conns) / sec,
		BytesInPerSecond:  float64(cur.bytesIn-prev.bytesIn) / sec,
		BytesOutPerSecond: float64(cur.bytesOut-prev.bytesOut) / sec,
	}
}

// minRateInterval is the shortest interval rates are computed over: two
// answers a moment apart (two browsers, a script beside a page) would
// otherwise give rates of a few milliseconds' traffic.
const minRateInterval = time.Second

// rateTracker keeps the samples that rates are computed against: the
// newest one at least minRateInterval old, so that every answer's rates
// cover at least that long and at most about twice the time between
// answers. Safe for concurrent use.
type rateTracker struct {
	mu           sync.Mutex
	older, newer *rateSample
}

// baseline returns the sample cur's rates are computed against (nil: none
// yet) and keeps cur if it is at least minRateInterval newer than the
// newest kept.
func (t *rateTracker) baseline(cur *rateSample) *rateSample {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.newer != nil && cur.at.Before(t.newer.at) {
		// The clock went back: the kept samples measure nothing now.
		t.older, t.newer = nil, nil
	}
	var base *rateSample
	switch {
	case t.newer != nil && cur.at.Sub(t.newer.at) >= minRateInterval:
		base = t.newer
	case t.older != nil:
		base = t.older
	}
	if t.newer == nil || cur.at.Sub(t.newer.at) >= minRateInterval {
		t.older, t.newer = t.newer, cur
	}
	return base
}
