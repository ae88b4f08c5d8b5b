package collector

import (
	"slices"
	"strconv"
	"strings"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// counterValue converts a kernel counter to the float64 every Prometheus sample
// is. float64 holds every integer up to 2^53 exactly (9e15: a 100 Gbit/s
// director needs about 23 years of bytes to get there), so the value is
// exact in practice; above that it is rounded to the nearest float64, never
// wrapped.
func counterValue(v uint64) float64 { return float64(v) }

// statValue returns counter k of s (0 connections, 1 packets in, 2 packets
// out, 3 bytes in, 4 bytes out): the order of the families of a level, so
// that a level's connections family plus k is the family of value k.
func statValue(s *ipvs.Stats, k familyID) float64 {
	switch k {
	case 0:
		return counterValue(s.Connections)
	case 1:
		return counterValue(s.PacketsIn)
	case 2:
		return counterValue(s.PacketsOut)
	case 3:
		return counterValue(s.BytesIn)
	}
	return counterValue(s.BytesOut)
}

// view is one scrape: the snapshot read, its services sorted by their
// label values (the order in which a registry sorts every service family)
// and each one's real servers by server (the order of every real-server
// family), repeated entries dropped, and the outcome of the scrape itself.
// It is the one place that knows which samples a scrape makes (the value
// methods below); the registry path (Collect) and the text writer
// (text.go) both only render them. It holds what the samples are made of,
// not the samples: the text writer writes each family from it straight
// into the response, so a scrape of 10,000 destinations holds 1.6 MB
// beside the snapshot (this and the text writer's pieces of label sets;
// BenchmarkScrape) instead of the 9.4 MB of every sample and label set.
type view struct {
	snap     *ipvs.Snapshot // nil when the table could not be read
	addrs    ipvs.LocalAddrs
	services []serviceView
	dests    []destView // every service's, in order; serviceView.dests are windows of it

	up, complete bool
	duration     float64 // seconds
}

// serviceView is one service of a view with its label values.
type serviceView struct {
	svc   *ipvs.Service
	dests []destView // sorted by server
	first int        // the index of dests[0] in view.dests

	// The serviceLabels values; protocol, address and port are empty for
	// a firewall-mark service, fwmark for the others.
	name, family, protocol, address, port, fwmark string
	// Its info's.
	scheduler, flags, pe string
}

// destView is one real server of a view.
type destView struct {
	dst    *ipvs.Destination
	server string // the server label's value
}

// newView orders snap for the exposition. A netlink dump that races with
// changes to the table can repeat an entry; a repeated series would fail
// the whole scrape, so only the first of each service (and of each real
// server in it) is kept. addrs, when not nil, are the addresses the
// namespace holds: each service with an address gets
// ipvs_service_vip_local.
func newView(snap *ipvs.Snapshot, addrs ipvs.LocalAddrs) *view {
	v := &view{snap: snap, addrs: addrs, up: true}
	seen := make(map[string]struct{}, len(snap.Services))
	v.services = make([]serviceView, 0, len(snap.Services))
	for i := range snap.Services {
		s := &snap.Services[i]
		sv := serviceView{svc: s, name: s.ServiceKey.String()}
		if _, dup := seen[sv.name]; dup {
			continue
		}
		seen[sv.name] = struct{}{}
		sv.family = ipvs.FamilyName(s.Family)
		if s.FWMark != 0 {
			sv.fwmark = strconv.FormatUint(uint64(s.FWMark), 10)
		} else {
			sv.protocol = s.Protocol.String()
			sv.address = s.Address.String()
			sv.port = strconv.FormatUint(uint64(s.Port), 10)
		}
		sv.scheduler, sv.flags, sv.pe = labelValue(s.Scheduler), flagsLabel(s.Flags), labelValue(s.PEName)
		v.services = append(v.services, sv)
	}
	slices.SortFunc(v.services, compareServices)

	// The server labels of every real server in one string: two
	// allocations instead of one per real server. ends[k] is where the
	// k-th ends.
	n := snap.Destinations()
	buf := make([]byte, 0, n*len("[2001:db8::1]:65535"))
	ends := make([]int32, 0, n)
	for i := range v.services {
		for j := range v.services[i].svc.Destinations {
			buf = v.services[i].svc.Destinations[j].AppendServer(buf)
			ends = append(ends, int32(len(buf)))
		}
	}
	servers := string(buf)
	v.dests = make([]destView, 0, n)
	from := int32(0)
	for i := range v.services {
		sv := &v.services[i]
		start := len(v.dests)
		for j := range sv.svc.Destinations {
			to := ends[0]
			ends = ends[1:]
			v.dests = append(v.dests, destView{dst: &sv.svc.Destinations[j], server: servers[from:to]})
			from = to
		}
		ds := v.dests[start:]
		// Stable, so that of repeated entries the first is kept.
		slices.SortStableFunc(ds, func(a, b destView) int { return strings.Compare(a.server, b.server) })
		ds = slices.CompactFunc(ds, func(a, b destView) bool { return a.server == b.server })
		v.dests = v.dests[:start+len(ds)]
		sv.dests, sv.first = v.dests[start:len(v.dests):len(v.dests)], start
	}
	return v
}

// compareServices orders services by their label values in the order of
// the label names (address, family, fwmark, port, protocol, service): the
// order of a registry's service families. The real-server families, whose
// "server" sorts between protocol and service, come out in the same order
// service by service, since services that agree up to protocol are one
// service.
func compareServices(a, b serviceView) int {
	return cmpStrings(
		a.address, b.address, a.family, b.family, a.fwmark, b.fwmark,
		a.port, b.port, a.protocol, b.protocol, a.name, b.name)
}

// compareServiceInfo is the order of ipvs_service_info, whose extra labels
// (flags, pe, scheduler) sort between the identifying ones.
func compareServiceInfo(a, b *serviceView) int {
	return cmpStrings(
		a.address, b.address, a.family, b.family, a.flags, b.flags, a.fwmark, b.fwmark,
		a.pe, b.pe, a.port, b.port, a.protocol, b.protocol, a.scheduler, b.scheduler, a.name, b.name)
}

// compareDestInfo is the order of ipvs_real_server_info, whose forward
// label sorts after family.
func compareDestInfo(a *serviceView, da *destView, b *serviceView, db *destView) int {
	return cmpStrings(
		a.address, b.address, a.family, b.family, forwardName(da.dst.Forward), forwardName(db.dst.Forward),
		a.fwmark, b.fwmark, a.port, b.port, a.protocol, b.protocol, da.server, db.server, a.name, b.name)
}

// cmpStrings compares pairs of strings in turn: the first pair that
// differs decides.
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// serviceValue returns the sample of service family f for s, and false
// when s has none (ipvs_service_vip_local of a firewall-mark service, or
// of any service when the addresses are not known).
func (v *view) serviceValue(f familyID, s *serviceView) (float64, bool) {
	switch f {
	case serviceRealServers:
		return float64(len(s.dests)), true
	case servicePersistence:
		if s.svc.Persistent() {
			return float64(s.svc.Timeout), true
		}
		return 0, true
	case serviceInfo:
		return 1, true
	case serviceVIPLocal:
		if v.addrs == nil || s.svc.FWMark != 0 {
			return 0, false
		}
		return boolValue(v.addrs.Has(s.svc.Address)), true
	}
	return statValue(&s.svc.Stats, f-serviceConnections), true
}

// destValue returns the sample of real-server family f for d.
func destValue(f familyID, d *ipvs.Destination) float64 {
	switch f {
	case realServerActive:
		return float64(d.ActiveConns)
	case realServerInactive:
		return float64(d.InactiveConns)
	case realServerPersistent:
		return float64(d.PersistConns)
	case realServerWeight:
		return float64(d.Weight)
	case realServerUpper:
		return float64(d.UpperThreshold)
	case realServerLower:
		return float64(d.LowerThreshold)
	case realServerInfo:
		return 1
	}
	return statValue(&d.Stats, f-realServerConnections)
}

// hostSample is one sample of a host-wide family: at most one extra
// label (label empty: none).
type hostSample struct {
	label *string // one of the label name variables of labels.go
	value string
	v     float64
}

// hostSamples appends the samples of host-wide family f (the scrape's own
// families included) to out.
func (v *view) hostSamples(out []hostSample, f familyID) []hostSample {
	one := func(x float64) []hostSample { return append(out, hostSample{v: x}) }
	switch f {
	case scrapeUp:
		return one(boolValue(v.up))
	case scrapeSuccess:
		return one(boolValue(v.complete))
	case scrapeDuration:
		return one(v.duration)
	}
	snap := v.snap
	if snap == nil {
		return out
	}
	switch f {
	case hostServices:
		return one(float64(len(v.services)))
	case hostRealServers:
		return one(float64(len(v.dests)))
	case hostInfo:
		if snap.Info != nil {
			return append(out, hostSample{label: &lVersion, value: snap.Info.VersionString(), v: 1})
		}
	case hostConnTableSize:
		if snap.Info != nil {
			return one(float64(snap.Info.ConnTableSize))
		}
	case hostTimeout:
		if t := snap.Timeouts; t != nil {
			return append(out,
				hostSample{label: &lProtocol, value: "tcp", v: float64(t.TCP)},
				hostSample{label: &lProtocol, value: "tcpfin", v: float64(t.TCPFin)},
				hostSample{label: &lProtocol, value: "udp", v: float64(t.UDP)})
		}
	default:
		if snap.Totals != nil && f >= hostConnections && f <= hostOutgoingBytes {
			return one(statValue(snap.Totals, f-hostConnections))
		}
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
