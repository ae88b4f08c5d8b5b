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

// statValues returns s in the order of statDescs.
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

// emitSnapshot sends the metrics of a snapshot that was read.
//
// Services are emitted sorted by their label values and real servers by
// server: the order in which the registry sorts each metric family. The
// registry's sort then only confirms the order (pdqsort checks for sorted
// input), which saves a sort of each family per scrape (see BENCHMARKS.md).
// Any order would be correct.
func (c *Collector) emitSnapshot(e *emitter, snap *ipvs.Snapshot) {
	d := c.descs
	nServices, nDestinations := len(snap.Services), snap.Destinations()
	e.reserve(5*(nServices+nDestinations)+5, 3*nServices+8*nDestinations+8)

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

	nServers := 0
	var dsts []destinationRow // reused for every service
	for _, row := range rows {
		s, labels := row.svc, row.labels
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
			c.emitDestination(e, r.dst, withPairs(labels, newPair(&lServer, r.server)))
		}
		nServers += n

		for k, v := range statValues(&s.Stats) {
			e.counter(d.serviceStats[k], v, labels)
		}
		e.gauge(d.serviceRealServers, float64(n), labels)
		var persistence float64
		if s.Persistent() {
			persistence = float64(s.Timeout)
		}
		e.gauge(d.servicePersistence, persistence, labels)
		e.gauge(d.serviceInfo, 1, withPairs(labels,
			newPair(&lScheduler, labelValue(s.Scheduler)),
			newPair(&lFlags, flagsLabel(s.Flags)),
			newPair(&lPE, labelValue(s.PEName)),
		))
	}
	e.gauge(d.services, float64(len(rows)), nil)
	e.gauge(d.realServers, float64(nServers), nil)

	if snap.Totals != nil {
		for k, v := range statValues(snap.Totals) {
			e.counter(d.totals[k], v, nil)
		}
	}
	if snap.Info != nil {
		e.gauge(d.info, 1, []*dto.LabelPair{newPair(&lVersion, snap.Info.VersionString())})
		e.gauge(d.connTableSize, float64(snap.Info.ConnTableSize), nil)
	}
	if t := snap.Timeouts; t != nil {
		e.gauge(d.timeout, float64(t.TCP), []*dto.LabelPair{newPair(&lProtocol, "tcp")})
		e.gauge(d.timeout, float64(t.TCPFin), []*dto.LabelPair{newPair(&lProtocol, "tcpfin")})
		e.gauge(d.timeout, float64(t.UDP), []*dto.LabelPair{newPair(&lProtocol, "udp")})
	}
}

// emitDestination sends the metrics of one real server; labels are its
// realServerLabels pairs.
func (c *Collector) emitDestination(e *emitter, dst *ipvs.Destination, labels []*dto.LabelPair) {
	d := c.descs
	for k, v := range statValues(&dst.Stats) {
		e.counter(d.realServerStats[k], v, labels)
	}
	e.gauge(d.realServerActive, float64(dst.ActiveConns), labels)
	e.gauge(d.realServerInactive, float64(dst.InactiveConns), labels)
	e.gauge(d.realServerPersistent, float64(dst.PersistConns), labels)
	e.gauge(d.realServerWeight, float64(dst.Weight), labels)
	e.gauge(d.realServerUpper, float64(dst.UpperThreshold), labels)
	e.gauge(d.realServerLower, float64(dst.LowerThreshold), labels)
	e.gauge(d.realServerInfo, 1, withPairs(labels, forwardPair(dst.Forward)))
}

// emitStatus sends the metrics that describe the scrape itself.
func (c *Collector) emitStatus(e *emitter, start time.Time, up, complete bool) {
	d := c.descs
	e.gauge(d.up, boolValue(up), nil)
	e.gauge(d.success, boolValue(complete), nil)
	e.gauge(d.duration, c.now().Sub(start).Seconds(), nil)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
