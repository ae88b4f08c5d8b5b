package web

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// ServicesPath is the read-only JSON view of the virtual services and
// their real servers: kernel table, configuration, verdicts and the
// controller's wishes joined in one answer, with the indexes of
// LVS-SIDECAR-MIB's tables (the snmp-pass-persist command reads it).
const ServicesPath = "/api/v1/services"

// ServicesView is the body of GET /api/v1/services.
//
// Indexes: services declared in --config.file come first, numbered from
// 1 in file order; services only the kernel table has follow, sorted by
// key. Within a service, declared real servers come first in file order,
// then the table's other destinations sorted by address. An index is
// therefore the same from one request to the next while the
// configuration and the table keep their services and real servers; a
// reload that adds, removes or reorders them renumbers those after the
// change. The key (service) and the address and port (real server) say
// which row is which.
type ServicesView struct {
	Version string `json:"version"`
	// IPVSReadable: the kernel table could be read for this answer; when
	// not, IPVSError says why and the kernel columns are empty.
	IPVSReadable bool   `json:"ipvs_readable"`
	IPVSError    string `json:"ipvs_error,omitempty"`
	// Controller is null without --config.file.
	Controller *ControllerView `json:"controller"`
	Services   []ServiceView   `json:"services"`
}

// ControllerView is the controller's last reconcile pass.
type ControllerView struct {
	Mode        string    `json:"mode"`
	Passes      uint64    `json:"passes"`
	LastPass    time.Time `json:"last_pass,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// ReadyForActing is /-/ready?for=acting; NotReadyReason says why not.
	ReadyForActing bool   `json:"ready_for_acting"`
	NotReadyReason string `json:"not_ready_reason,omitempty"`
}

// ServiceView is one virtual service.
type ServiceView struct {
	Index int    `json:"index"`
	Key   string `json:"key"` // "tcp/192.0.2.1:80", "fwmark/42/ipv4"
	Name  string `json:"name,omitempty"`
	// Declared: --config.file lists it; InTable: the kernel has it.
	Declared bool `json:"declared"`
	InTable  bool `json:"in_table"`
	// Protocol is the IP protocol number (6 tcp, 17 udp, 132 sctp), 0
	// for a firewall-mark service.
	Protocol int    `json:"protocol"`
	Family   string `json:"family"`            // "ipv4", "ipv6"
	Address  string `json:"address,omitempty"` // "" for a firewall-mark service
	Port     int    `json:"port"`
	FWMark   uint32 `json:"fwmark"`
	// Scheduler is the kernel's, or the configuration's while the kernel
	// does not have the service.
	Scheduler string `json:"scheduler"`
	// Panic: too little of the service's weighted capacity is healthy,
	// so nothing is drained (actuator's panic mode).
	Panic bool `json:"panic"`
	// RealServersUp counts the real servers with verdict up that are not
	// in maintenance; RealServersTotal counts them all (the rows).
	RealServersUp    int              `json:"real_servers_up"`
	RealServersTotal int              `json:"real_servers_total"`
	Stats            *StatsView       `json:"stats"` // null when not in the table
	RealServers      []RealServerView `json:"real_servers"`

	// src are the inputs the row was joined from, for views that show
	// more of them (StatusView); never serialized.
	src serviceSources
}

// serviceSources are the inputs a ServiceView was joined from; any may be
// nil.
type serviceSources struct {
	config *config.Service
	status *actuator.ServiceStatus
	kernel *ipvs.Service
}

// serverSources are the inputs a RealServerView was joined from; any may
// be nil.
type serverSources struct {
	verdict     *health.ServerStatus
	status      *actuator.RealServerStatus
	maintenance *actuator.MaintenanceEntry
}

// RealServerView is one real server of a service.
type RealServerView struct {
	Index   int    `json:"index"`
	Server  string `json:"server"` // "10.0.0.1:80", "[2001:db8::1]:80"
	Family  string `json:"family"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	// Declared: --config.file lists it; InTable: the kernel has it.
	Declared bool `json:"declared"`
	InTable  bool `json:"in_table"`
	// Verdict is the checks' verdict: unknown, up or down.
	Verdict string `json:"verdict"`
	// State is why the controller wants what it wants: one of
	// actuator.Reasons ("up", "drain", "maintenance", ...), or
	// "undeclared" for a destination the configuration does not list
	// (left alone).
	State string `json:"state"`
	// Maintenance: an operator put the server into maintenance (it is in
	// ServicesInput.Maintenance, or was at the controller's last pass).
	Maintenance bool `json:"maintenance"`
	// WeightDeclared is the configuration's weight (0 when undeclared),
	// WeightDesired the controller's (null while it wants nothing: no
	// verdict yet, undeclared, or no controller; 0 with state remove
	// means out of the table), WeightKernel the table's (0 when not in
	// it).
	WeightDeclared int  `json:"weight_declared"`
	WeightDesired  *int `json:"weight_desired"`
	WeightKernel   int  `json:"weight_kernel"`

	ActiveConns   uint32     `json:"active_conns"`
	InactiveConns uint32     `json:"inactive_conns"`
	PersistConns  uint32     `json:"persist_conns"`
	Stats         *StatsView `json:"stats"` // null when not in the table

	src serverSources
}

// StatsView are a service's or real server's cumulative kernel counters.
type StatsView struct {
	Connections uint64 `json:"connections"`
	PacketsIn   uint64 `json:"packets_in"`
	PacketsOut  uint64 `json:"packets_out"`
	BytesIn     uint64 `json:"bytes_in"`
	BytesOut    uint64 `json:"bytes_out"`
}

// StateUndeclared is the State of a destination the configuration does
// not list.
const StateUndeclared = "undeclared"

// ServicesInput is what BuildServices joins; any part may be nil.
type ServicesInput struct {
	Version string
	// Config is the configuration in use (nil: exporter only).
	Config *config.Config
	// Status is the controller's last pass (nil: no controller).
	Status *actuator.Status
	// Verdicts are the scheduler's servers (discovered ones included).
	Verdicts []health.ServerStatus
	// Snapshot is the kernel table, or SnapshotErr why it is missing.
	Snapshot    *ipvs.Snapshot
	SnapshotErr error
	// Maintenance are the real servers in maintenance now (the store,
	// which the controller's last pass may not have seen yet).
	Maintenance []actuator.MaintenanceEntry
}

// BuildServices joins in into the view, indexes assigned as ServicesView
// says.
func BuildServices(in ServicesInput) ServicesView {
	v := ServicesView{Version: in.Version, IPVSReadable: in.Snapshot != nil && in.SnapshotErr == nil, Services: []ServiceView{}}
	if in.SnapshotErr != nil {
		v.IPVSError = in.SnapshotErr.Error()
	}
	kernel := map[string]*ipvs.Service{}
	if v.IPVSReadable {
		for i := range in.Snapshot.Services {
			s := &in.Snapshot.Services[i]
			kernel[s.ServiceKey.String()] = s
		}
	}
	verdicts := map[[2]string]*health.ServerStatus{}
	for i := range in.Verdicts {
		verdicts[[2]string{in.Verdicts[i].Service, in.Verdicts[i].Server}] = &in.Verdicts[i]
	}
	maintenance := map[[2]string]*actuator.MaintenanceEntry{}
	for i := range in.Maintenance {
		maintenance[[2]string{in.Maintenance[i].Service, in.Maintenance[i].Server}] = &in.Maintenance[i]
	}
	status := map[string]*actuator.ServiceStatus{}
	if in.Status != nil {
		st := in.Status
		v.Controller = &ControllerView{Mode: st.Mode.String(), Passes: st.Passes, LastPass: st.LastPass, LastSuccess: st.LastSuccess, LastError: st.LastError}
		v.Controller.ReadyForActing, v.Controller.NotReadyReason = st.ReadyForActing()
		for i := range st.Services {
			status[st.Services[i].Service] = &st.Services[i]
		}
	}

	seen := map[string]bool{}
	if in.Config != nil {
		for i := range in.Config.Services {
			cs := &in.Config.Services[i]
			key := cs.Key.String()
			seen[key] = true
			sv := newService(cs.Key, kernel[key])
			sv.Name, sv.Declared = cs.Name, true
			if sv.Scheduler == "" {
				sv.Scheduler = cs.Scheduler
			}
			ss := status[key]
			if ss != nil {
				sv.Panic = ss.Panic
			}
			sv.src.config, sv.src.status = cs, ss
			declared := make(map[string]bool, len(cs.RealServers))
			dests, statuses := destIndex(kernel[key]), statusIndex(ss)
			for j := range cs.RealServers {
				rs := &cs.RealServers[j]
				server := rs.Address.String()
				declared[server] = true
				r := newRealServer(rs.Address, dests[rs.Address])
				r.Declared, r.WeightDeclared = true, rs.Weight
				r.Verdict, r.State = verdictOf(verdicts, key, server), string(actuator.ReasonNoVerdict)
				r.src.verdict = verdicts[[2]string{key, server}]
				if rst := statuses[server]; rst != nil {
					r.src.status = rst
					r.Verdict, r.Maintenance = rst.Verdict.String(), rst.Maintenance
					if rst.Decided {
						r.State = string(rst.ReasonCode)
						w := rst.DesiredWeight
						if !rst.DesiredInTable {
							w = 0
						}
						r.WeightDesired = &w
					} else if rst.ReasonCode != "" {
						r.State = string(rst.ReasonCode)
					}
				}
				sv.RealServers = append(sv.RealServers, r)
			}
			sv.RealServers = append(sv.RealServers, undeclared(kernel[key], declared, verdicts, key)...)
			v.Services = append(v.Services, sv)
		}
	}
	var rest []string
	for key := range kernel {
		if !seen[key] {
			rest = append(rest, key)
		}
	}
	slices.Sort(rest)
	for _, key := range rest {
		ks := kernel[key]
		sv := newService(ks.ServiceKey, ks)
		sv.RealServers = undeclared(ks, nil, verdicts, key)
		v.Services = append(v.Services, sv)
	}
	for i := range v.Services {
		sv := &v.Services[i]
		sv.Index = i + 1
		if sv.RealServers == nil {
			sv.RealServers = []RealServerView{}
		}
		for j := range sv.RealServers {
			r := &sv.RealServers[j]
			r.Index = j + 1
			if e := maintenance[[2]string{sv.Key, r.Server}]; e != nil {
				r.Maintenance, r.src.maintenance = true, e
			}
			if r.Verdict == health.StateUp.String() && !r.Maintenance {
				sv.RealServersUp++
			}
		}
		sv.RealServersTotal = len(sv.RealServers)
	}
	return v
}

func newService(k ipvs.ServiceKey, ks *ipvs.Service) ServiceView {
	sv := ServiceView{Key: k.String(), Protocol: int(k.Protocol), Family: ipvs.FamilyName(k.Family), Port: int(k.Port), FWMark: k.FWMark}
	if k.FWMark != 0 {
		sv.Protocol, sv.Port = 0, 0
	} else {
		sv.Address = k.Address.String()
	}
	if ks != nil {
		sv.InTable, sv.Scheduler, sv.Stats = true, ks.Scheduler, stats(&ks.Stats)
		sv.src.kernel = ks
	}
	return sv
}

func newRealServer(ap netip.AddrPort, d *ipvs.Destination) RealServerView {
	family := ipvs.FamilyIPv4
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		family = ipvs.FamilyIPv6
	}
	r := RealServerView{Server: ap.String(), Family: ipvs.FamilyName(family), Address: ap.Addr().String(), Port: int(ap.Port())}
	if d != nil {
		r.InTable, r.WeightKernel = true, int(d.Weight)
		r.ActiveConns, r.InactiveConns, r.PersistConns = d.ActiveConns, d.InactiveConns, d.PersistConns
		r.Stats = stats(&d.Stats)
	}
	return r
}

// undeclared lists the destinations of ks the configuration does not
// declare, sorted by address and port.
func undeclared(ks *ipvs.Service, declared map[string]bool, verdicts map[[2]string]*health.ServerStatus, key string) []RealServerView {
	if ks == nil {
		return nil
	}
	var out []RealServerView
	for i := range ks.Destinations {
		d := &ks.Destinations[i]
		ap := netip.AddrPortFrom(d.Address, d.Port)
		if declared[ap.String()] {
			continue
		}
		r := newRealServer(ap, d)
		r.Verdict, r.State = verdictOf(verdicts, key, ap.String()), StateUndeclared
		r.src.verdict = verdicts[[2]string{key, ap.String()}]
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b RealServerView) int {
		x, _ := netip.ParseAddrPort(a.Server)
		y, _ := netip.ParseAddrPort(b.Server)
		return cmp.Or(x.Addr().Compare(y.Addr()), cmp.Compare(x.Port(), y.Port()))
	})
	return out
}

// destIndex maps the destinations of ks by address and port: one
// lookup per declared real server, not a scan of its service (a service
// of 10,000 made that 10^8 comparisons per page).
func destIndex(ks *ipvs.Service) map[netip.AddrPort]*ipvs.Destination {
	if ks == nil {
		return nil
	}
	m := make(map[netip.AddrPort]*ipvs.Destination, len(ks.Destinations))
	for i := range ks.Destinations {
		d := &ks.Destinations[i]
		m[netip.AddrPortFrom(d.Address, d.Port)] = d
	}
	return m
}

// statusIndex maps the controller's real servers of ss by server.
func statusIndex(ss *actuator.ServiceStatus) map[string]*actuator.RealServerStatus {
	if ss == nil {
		return nil
	}
	m := make(map[string]*actuator.RealServerStatus, len(ss.RealServers))
	for i := range ss.RealServers {
		m[ss.RealServers[i].Server] = &ss.RealServers[i]
	}
	return m
}

func verdictOf(verdicts map[[2]string]*health.ServerStatus, key, server string) string {
	if st := verdicts[[2]string{key, server}]; st != nil {
		return st.State.String()
	}
	return health.StateUnknown.String()
}

func stats(s *ipvs.Stats) *StatsView {
	return &StatsView{Connections: s.Connections, PacketsIn: s.PacketsIn, PacketsOut: s.PacketsOut, BytesIn: s.BytesIn, BytesOut: s.BytesOut}
}
