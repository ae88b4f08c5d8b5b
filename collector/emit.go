package collector

import (
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// counterValue converts a kernel counter to the float64 every Prometheus sample
// is. float64 holds every integer up to 2^53 exactly (9e15: a 100 Gbit/s
// director needs about 23 years of bytes to get there), so the value is
// exact in practice; above that it is rounded to the nearest float64, never
// wrapped.
func counterValue(v uint64) float64 { return float64(v) }

// statValues returns the counters of s in the order of their families:
// a level's connections family plus k is the family of value k.
func statValues(s *ipvs.Stats) [5]float64 {
	return [5]float64{
		counterValue(s.Connections), counterValue(s.PacketsIn), counterValue(s.PacketsOut),
		counterValue(s.BytesIn), counterValue(s.BytesOut),
	}
}

// serviceRow is a service about to be emitted, with its label pairs.
type serviceRow struct {
	svc    *ipvs.Service
	labels []*dto.LabelPair
}

// destinationRow is a real server about to be emitted.
type destinationRow struct {
	dst    *ipvs.Destination
	server string
}

// emitSnapshot sends the metrics of a snapshot that was read to e.
//
// Services are emitted sorted by their label values and real servers by
// server: the order in which the registry sorts each metric family. The
// registry's sort then only confirms the order (pdqsort checks for sorted
// input), which saves a sort of each family per scrape (see BENCHMARKS.md),
// and the text writer, which does not sort, writes what the registry
// would.
//
// addrs, when not nil, are the addresses the namespace holds: each service
// with an address gets ipvs_service_vip_local.
func emitSnapshot(e sink, snap *ipvs.Snapshot, addrs ipvs.LocalAddrs) {
	nServices := len(snap.Services)
	e.reserve(nServices, snap.Destinations())

	// A netlink dump that races with changes to the table can repeat an
	// entry; a repeated series would fail the whole scrape, so only the
	// first of each service (and of each real server in it) is emitted.
	seen := make(map[string]struct{}, nServices)
	rows := make([]serviceRow, 0, nServices)
	for i := range snap.Services {
		s := &snap.Services[i]
		labels, name := servicePairs(s)
		if _, dup := seen[name]; dup {
			continue
		}
		seen[name] = struct{}{}
		rows = append(rows, serviceRow{svc: s, labels: labels})
	}
	slices.SortFunc(rows, func(a, b serviceRow) int { return comparePairs(a.labels, b.labels) })

	// Each real server has a server pair, its label pairs (its
	// service's and the server's) and its info's (those and forward).
	dests := snap.Destinations()
	arena := newPairArena(dests, dests*(2*len(realServerLabels)+1))
	nServers := 0
	var dsts []destinationRow // reused for every service
	for _, row := range rows {
		s, pairs := row.svc, row.labels
		dsts = dsts[:0]
		for j := range s.Destinations {
			dsts = append(dsts, destinationRow{dst: &s.Destinations[j], server: s.Destinations[j].Server()})
		}
		// Stable, so that of repeated entries the first is kept.
		slices.SortStableFunc(dsts, func(a, b destinationRow) int { return strings.Compare(a.server, b.server) })
		n := 0
		for j, r := range dsts {
			if j > 0 && r.server == dsts[j-1].server {
				continue
			}
			n++
			emitDestination(e, arena, r.dst, arena.withPairs(pairs, arena.newPair(&lServer, r.server)))
		}
		nServers += n

		ls := e.labels(pairs)
		for k, v := range statValues(&s.Stats) {
			e.sample(serviceConnections+familyID(k), v, ls)
		}
		e.sample(serviceRealServers, float64(n), ls)
		var persistence float64
		if s.Persistent() {
			persistence = float64(s.Timeout)
		}
		e.sample(servicePersistence, persistence, ls)
		e.sample(serviceInfo, 1, e.labels(withPairs(pairs,
			newPair(&lScheduler, labelValue(s.Scheduler)),
			newPair(&lFlags, flagsLabel(s.Flags)),
			newPair(&lPE, labelValue(s.PEName)),
		)))
		if addrs != nil && s.FWMark == 0 {
			e.sample(serviceVIPLocal, boolValue(addrs.Has(s.Address)), ls)
		}
	}
	none := e.labels(nil)
	e.sample(hostServices, float64(len(rows)), none)
	e.sample(hostRealServers, float64(nServers), none)

	if snap.Totals != nil {
		for k, v := range statValues(snap.Totals) {
			e.sample(hostConnections+familyID(k), v, none)
		}
	}
	if snap.Info != nil {
		e.sample(hostInfo, 1, e.labels([]*dto.LabelPair{newPair(&lVersion, snap.Info.VersionString())}))
		e.sample(hostConnTableSize, float64(snap.Info.ConnTableSize), none)
	}
	if t := snap.Timeouts; t != nil {
		e.sample(hostTimeout, float64(t.TCP), e.labels(timeoutPairs[0]))
		e.sample(hostTimeout, float64(t.TCPFin), e.labels(timeoutPairs[1]))
		e.sample(hostTimeout, float64(t.UDP), e.labels(timeoutPairs[2]))
	}
}

// timeoutPairs are the protocol label pairs of ipvs_timeout_seconds,
// shared by every scrape: nothing writes to a label pair once built.
var timeoutPairs = [3][]*dto.LabelPair{
	{newPair(&lProtocol, "tcp")},
	{newPair(&lProtocol, "tcpfin")},
	{newPair(&lProtocol, "udp")},
}

// emitDestination sends the metrics of one real server; pairs are its
// realServerLabels pairs, and arena has its info's.
func emitDestination(e sink, arena *pairArena, dst *ipvs.Destination, pairs []*dto.LabelPair) {
	ls := e.labels(pairs)
	for k, v := range statValues(&dst.Stats) {
		e.sample(realServerConnections+familyID(k), v, ls)
	}
	e.sample(realServerActive, float64(dst.ActiveConns), ls)
	e.sample(realServerInactive, float64(dst.InactiveConns), ls)
	e.sample(realServerPersistent, float64(dst.PersistConns), ls)
	e.sample(realServerWeight, float64(dst.Weight), ls)
	e.sample(realServerUpper, float64(dst.UpperThreshold), ls)
	e.sample(realServerLower, float64(dst.LowerThreshold), ls)
	e.sample(realServerInfo, 1, e.labels(arena.withPairs(pairs, forwardPair(dst.Forward))))
}

// emitStatus sends the metrics that describe the scrape itself.
func (c *Collector) emitStatus(e sink, start time.Time, up, complete bool) {
	none := e.labels(nil)
	e.sample(scrapeUp, boolValue(up), none)
	e.sample(scrapeSuccess, boolValue(complete), none)
	e.sample(scrapeDuration, c.now().Sub(start).Seconds(), none)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
