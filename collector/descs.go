package collector

import "github.com/prometheus/client_golang/prometheus"

const namespace = "ipvs"

// serviceLabels identify a virtual service. "service" alone is unique
// (ipvs.ServiceKey.String()); the others let queries select by part without
// parsing it. For firewall-mark services protocol, address and port are
// empty; for the others fwmark is empty.
var serviceLabels = []string{"service", "family", "protocol", "address", "port", "fwmark"}

// realServerLabels identify one real server of one virtual service: the same
// real server in two services is two series.
var realServerLabels = append(append([]string(nil), serviceLabels...), "server")

// statDescs are the five cumulative counters of an ipvs.Stats, in the order
// statValues returns them.
type statDescs [5]*prometheus.Desc

// bypass explains why the outgoing counters stay 0 for some real servers.
const bypass = " (0 for direct routing and tunnels: their replies bypass the director)"

// newStatDescs builds the counters of one level of the table, with the help
// strings in statDescs order.
func newStatDescs(subsystem string, labels []string, help [5]string) statDescs {
	names := [5]string{"connections_total", "incoming_packets_total", "outgoing_packets_total", "incoming_bytes_total", "outgoing_bytes_total"}
	var out statDescs
	for i := range out {
		out[i] = prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, names[i]), help[i], labels, nil)
	}
	return out
}

// descs holds every descriptor the collector emits, built once in New.
type descs struct {
	serviceStats       statDescs
	serviceRealServers *prometheus.Desc
	servicePersistence *prometheus.Desc
	serviceInfo        *prometheus.Desc

	realServerStats      statDescs
	realServerActive     *prometheus.Desc
	realServerInactive   *prometheus.Desc
	realServerPersistent *prometheus.Desc
	realServerWeight     *prometheus.Desc
	realServerUpper      *prometheus.Desc
	realServerLower      *prometheus.Desc
	realServerInfo       *prometheus.Desc

	totals        statDescs
	services      *prometheus.Desc
	realServers   *prometheus.Desc
	info          *prometheus.Desc
	connTableSize *prometheus.Desc
	timeout       *prometheus.Desc

	up       *prometheus.Desc
	success  *prometheus.Desc
	duration *prometheus.Desc
}

func newDescs() *descs {
	svc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "service", name), help,
			append(append([]string(nil), serviceLabels...), extra...), nil)
	}
	rs := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "real_server", name), help,
			append(append([]string(nil), realServerLabels...), extra...), nil)
	}
	top := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &descs{
		serviceStats: newStatDescs("service", serviceLabels, [5]string{
			"Connections scheduled by the virtual service.",
			"Packets from clients through the virtual service.",
			"Packets from real servers to clients through the virtual service" + bypass + ".",
			"Bytes from clients through the virtual service.",
			"Bytes from real servers to clients through the virtual service" + bypass + ".",
		}),
		serviceRealServers: svc("real_servers", "Number of real servers (destinations) of the virtual service."),
		servicePersistence: svc("persistence_timeout_seconds", "Persistence timeout of the virtual service (ipvsadm -p); 0 when it is not persistent."),
		serviceInfo: svc("info", "Configuration of the virtual service: scheduler, user-visible flags (persistent, ops, sched1, sched2, sched3) and persistence engine; always 1.",
			"scheduler", "flags", "pe"),

		realServerStats: newStatDescs("real_server", realServerLabels, [5]string{
			"Connections scheduled by the virtual service to the real server.",
			"Packets from clients through the virtual service to the real server.",
			"Packets from the real server to clients through the virtual service" + bypass + ".",
			"Bytes from clients through the virtual service to the real server.",
			"Bytes from the real server to clients through the virtual service" + bypass + ".",
		}),
		realServerActive:     rs("active_connections", "Active connections (TCP in state ESTABLISHED) from the virtual service to the real server."),
		realServerInactive:   rs("inactive_connections", "Inactive connections (TCP in any other state, and all UDP) from the virtual service to the real server."),
		realServerPersistent: rs("persistent_connections", "Persistence templates of the virtual service that point at the real server."),
		realServerWeight:     rs("weight", "Scheduling weight of the real server; 0 means it gets no new connections (drained)."),
		realServerUpper:      rs("upper_threshold", "Upper connection threshold of the real server (ipvsadm -x); 0 means no limit."),
		realServerLower:      rs("lower_threshold", "Lower connection threshold of the real server (ipvsadm -y); 0 means no limit."),
		realServerInfo:       rs("info", "Forwarding method of the real server (masq, route, tunnel, local, bypass); always 1.", "forward"),

		totals: newStatDescs("", nil, [5]string{
			"Connections scheduled by all virtual services of this host.",
			"Packets from clients through all virtual services of this host.",
			"Packets from real servers to clients through all virtual services of this host" + bypass + ".",
			"Bytes from clients through all virtual services of this host.",
			"Bytes from real servers to clients through all virtual services of this host" + bypass + ".",
		}),
		services:      top("services", "Number of virtual services in the IPVS table."),
		realServers:   top("real_servers", "Number of real servers over all virtual services in the IPVS table."),
		info:          top("info", "Version of the kernel's IPVS; always 1.", "version"),
		connTableSize: top("connection_table_size", "Number of buckets of the kernel's IPVS connection hash table."),
		timeout:       top("timeout_seconds", "Global IPVS connection timeouts (ipvsadm --set) by protocol state: tcp, tcpfin, udp.", "protocol"),

		up:       top("up", "Whether the IPVS table could be read (1) or not (0)."),
		success:  top("scrape_success", "Whether every part of the IPVS state (table, totals, info, timeouts) was read (1) or not (0)."),
		duration: top("scrape_duration_seconds", "Time taken to read the IPVS state and emit its metrics."),
	}
}

// all lists every descriptor, for Describe.
func (d *descs) all() []*prometheus.Desc {
	out := []*prometheus.Desc{}
	out = append(out, d.serviceStats[:]...)
	out = append(out, d.serviceRealServers, d.servicePersistence, d.serviceInfo)
	out = append(out, d.realServerStats[:]...)
	out = append(out, d.realServerActive, d.realServerInactive, d.realServerPersistent,
		d.realServerWeight, d.realServerUpper, d.realServerLower, d.realServerInfo)
	out = append(out, d.totals[:]...)
	out = append(out, d.services, d.realServers, d.info, d.connTableSize, d.timeout,
		d.up, d.success, d.duration)
	return out
}
