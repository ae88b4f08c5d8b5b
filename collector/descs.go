package collector

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "ipvs"

// serviceLabels identify a virtual service. "service" alone is unique
// (ipvs.ServiceKey.String()); the others let queries select by part without
// parsing it. For firewall-mark services protocol, address and port are
// empty; for the others fwmark is empty.
var serviceLabels = []string{"service", "family", "protocol", "address", "port", "fwmark"}

// realServerLabels identify one real server of one virtual service: the same
// real server in two services is two series.
var realServerLabels = append(append([]string(nil), serviceLabels...), "server")

// familyID names one metric family the collector emits: an index into
// families. The emit code says which family each sample belongs to; the
// sinks look up its name, help and type here, so both exposition paths
// (registry and text writer) share one list of what exists.
type familyID int

// The families, in the order of the families table. The five counters of
// an ipvs.Stats come first at each level, in the order statValues returns
// them, so that a level's first counter plus k is its k-th counter.
const (
	serviceConnections familyID = iota
	serviceIncomingPackets
	serviceOutgoingPackets
	serviceIncomingBytes
	serviceOutgoingBytes
	serviceRealServers
	servicePersistence
	serviceInfo
	serviceVIPLocal

	realServerConnections
	realServerIncomingPackets
	realServerOutgoingPackets
	realServerIncomingBytes
	realServerOutgoingBytes
	realServerActive
	realServerInactive
	realServerPersistent
	realServerWeight
	realServerUpper
	realServerLower
	realServerInfo

	hostConnections
	hostIncomingPackets
	hostOutgoingPackets
	hostIncomingBytes
	hostOutgoingBytes
	hostServices
	hostRealServers
	hostInfo
	hostConnTableSize
	hostTimeout

	scrapeUp
	scrapeSuccess
	scrapeDuration

	numFamilies
)

// scope is the level of the table a family describes: it decides the
// family's identifying labels and how many samples a scrape has of it.
type scope int

const (
	scopeHost       scope = iota // one sample (or a few, told apart by extra labels)
	scopeService                 // one sample per virtual service
	scopeRealServer              // one sample per real server of a service
)

// labels returns the identifying labels of the scope.
func (s scope) labels() []string {
	switch s {
	case scopeService:
		return serviceLabels
	case scopeRealServer:
		return realServerLabels
	}
	return nil
}

// family is the fixed part of a metric family.
type family struct {
	name  string
	help  string
	typ   prometheus.ValueType // CounterValue or GaugeValue
	scope scope
	extra []string // labels beyond the scope's
}

// labels returns every label name of the family, in declaration order.
func (f *family) labels() []string {
	return append(append([]string(nil), f.scope.labels()...), f.extra...)
}

// bypass explains why the outgoing counters stay 0 for some real servers.
const bypass = " (0 for direct routing and tunnels: their replies bypass the director)"

// families is every metric family the collector emits, indexed by familyID.
// The names, help strings and labels are a published contract (README.md,
// "Metrics"): change them only on purpose.
var families = func() [numFamilies]family {
	var fs [numFamilies]family
	set := func(id familyID, sc scope, subsystem, name string, typ prometheus.ValueType, help string, extra ...string) {
		fs[id] = family{name: prometheus.BuildFQName(namespace, subsystem, name), help: help, typ: typ, scope: sc, extra: extra}
	}
	stats := func(first familyID, sc scope, subsystem string, help [5]string) {
		names := [5]string{"connections_total", "incoming_packets_total", "outgoing_packets_total", "incoming_bytes_total", "outgoing_bytes_total"}
		for k := range names {
			set(first+familyID(k), sc, subsystem, names[k], prometheus.CounterValue, help[k])
		}
	}
	const gauge = prometheus.GaugeValue

	stats(serviceConnections, scopeService, "service", [5]string{
		"Connections scheduled by the virtual service.",
		"Packets from clients through the virtual service.",
		"Packets from real servers to clients through the virtual service" + bypass + ".",
		"Bytes from clients through the virtual service.",
		"Bytes from real servers to clients through the virtual service" + bypass + ".",
	})
	set(serviceRealServers, scopeService, "service", "real_servers", gauge, "Number of real servers (destinations) of the virtual service.")
	set(servicePersistence, scopeService, "service", "persistence_timeout_seconds", gauge, "Persistence timeout of the virtual service (ipvsadm -p); 0 when it is not persistent.")
	set(serviceInfo, scopeService, "service", "info", gauge, "Configuration of the virtual service: scheduler, user-visible flags (persistent, ops, sched1, sched2, sched3) and persistence engine; always 1.",
		"scheduler", "flags", "pe")
	set(serviceVIPLocal, scopeService, "service", "vip_local", gauge, "Whether this director holds the address of the virtual service now: 1 when it is on one of the interfaces of the IPVS table's network namespace (IPv6: not tentative, not dadfailed), 0 when not. The active director of a VRRP pair has 1. None for fwmark services, which have no address.")

	stats(realServerConnections, scopeRealServer, "real_server", [5]string{
		"Connections scheduled by the virtual service to the real server.",
		"Packets from clients through the virtual service to the real server.",
		"Packets from the real server to clients through the virtual service" + bypass + ".",
		"Bytes from clients through the virtual service to the real server.",
		"Bytes from the real server to clients through the virtual service" + bypass + ".",
	})
	rs := func(id familyID, name, help string, extra ...string) {
		set(id, scopeRealServer, "real_server", name, gauge, help, extra...)
	}
	rs(realServerActive, "active_connections", "Active connections (TCP in state ESTABLISHED) from the virtual service to the real server.")
	rs(realServerInactive, "inactive_connections", "Inactive connections (TCP in any other state, and all UDP) from the virtual service to the real server.")
	rs(realServerPersistent, "persistent_connections", "Persistence templates of the virtual service that point at the real server.")
	rs(realServerWeight, "weight", "Scheduling weight of the real server; 0 means it gets no new connections (drained).")
	rs(realServerUpper, "upper_threshold", "Upper connection threshold of the real server (ipvsadm -x); 0 means no limit.")
	rs(realServerLower, "lower_threshold", "Lower connection threshold of the real server (ipvsadm -y); 0 means no limit.")
	rs(realServerInfo, "info", "Forwarding method of the real server (masq, route, tunnel, local, bypass); always 1.", "forward")

	stats(hostConnections, scopeHost, "", [5]string{
		"Connections scheduled by all virtual services of this host.",
		"Packets from clients through all virtual services of this host.",
		"Packets from real servers to clients through all virtual services of this host" + bypass + ".",
		"Bytes from clients through all virtual services of this host.",
		"Bytes from real servers to clients through all virtual services of this host" + bypass + ".",
	})
	host := func(id familyID, name, help string, extra ...string) {
		set(id, scopeHost, "", name, gauge, help, extra...)
	}
	host(hostServices, "services", "Number of virtual services in the IPVS table.")
	host(hostRealServers, "real_servers", "Number of real servers over all virtual services in the IPVS table.")
	host(hostInfo, "info", "Version of the kernel's IPVS; always 1.", "version")
	host(hostConnTableSize, "connection_table_size", "Number of buckets of the kernel's IPVS connection hash table.")
	host(hostTimeout, "timeout_seconds", "Global IPVS connection timeouts (ipvsadm --set) by protocol state: tcp, tcpfin, udp.", "protocol")

	host(scrapeUp, "up", "Whether the IPVS table could be read (1) or not (0).")
	host(scrapeSuccess, "scrape_success", "Whether every part of the IPVS state (table, totals, info, timeouts, local addresses) was read (1) or not (0).")
	host(scrapeDuration, "scrape_duration_seconds", "Time taken to read the IPVS state and emit its metrics.")
	return fs
}()

// descs are the registry's descriptors of families, indexed by familyID.
type descs [numFamilies]*prometheus.Desc

func newDescs() *descs {
	var d descs
	for i := range families {
		f := &families[i]
		d[i] = prometheus.NewDesc(f.name, f.help, f.labels(), nil)
	}
	return &d
}

// familiesByName lists every familyID sorted by family name: the order in
// which a registry's Gather returns families, and the text writer writes
// them.
var familiesByName = func() []familyID {
	ids := make([]familyID, numFamilies)
	for i := range ids {
		ids[i] = familyID(i)
	}
	slices.SortFunc(ids, func(a, b familyID) int { return strings.Compare(families[a].name, families[b].name) })
	return ids
}()
