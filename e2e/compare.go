package e2e

// The comparison harness of the e2e tests: parsers for what the kernel's own
// tools print (ipvsadm, /proc/net/ip_vs, /proc/net/ip_vs_stats), for
// lvs-sidecar's and node_exporter's scrapes, and Diff, which names every
// difference between a scrape and a reference. It carries no build tag: its
// tests (compare_test.go) run on any host and prove that the comparisons
// can fail.

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Stats are the five IPVS counters of a service, a real server or the
// whole host.
type Stats struct {
	Conns    uint64
	InPkts   uint64
	OutPkts  uint64
	InBytes  uint64
	OutBytes uint64
}

// Table is an IPVS table as one source reports it, keyed by lvs-sidecar's
// label values: services by their "service" label ("tcp/192.0.2.1:80",
// "fwmark/7/ipv6"), real servers by their "server" label ("10.0.0.1:80",
// "[2001:db8::1]:80"). A source fills only the fields it knows (see the
// Parse functions); Diff compares the Fields it is asked to.
type Table struct {
	Services map[string]*Service
	// Totals are the host-wide counters (/proc/net/ip_vs_stats), nil when
	// the source has none.
	Totals *Stats
	// Order lists the services in the order /proc/net/ip_vs prints them
	// (the kernel's hash order; ParseProcIPVS only).
	Order []string
}

// Service is one virtual service of a Table.
type Service struct {
	Scheduler string
	Stats     Stats
	Servers   map[string]*Server
}

// Server is one real server of a Service.
type Server struct {
	// Forward is lvs-sidecar's name of the forwarding method: masq, route,
	// tunnel, local, bypass.
	Forward  string
	Weight   int64
	Active   int64
	Inactive int64
	Stats    Stats
}

// Fields selects what Diff compares. The sets of services and real servers
// are always compared.
type Fields uint

// The fields Diff can compare.
const (
	FieldStats     Fields = 1 << iota // the five counters of services and real servers
	FieldScheduler                    // a service's scheduler
	FieldForward                      // a real server's forwarding method
	FieldWeight                       // a real server's weight
	FieldConns                        // a real server's active and inactive connections
	FieldTotals                       // the host-wide counters
)

// newTable returns an empty Table.
func newTable() *Table { return &Table{Services: map[string]*Service{}} }

// service returns the named service of t, adding it when missing.
func (t *Table) service(name string) *Service {
	s := t.Services[name]
	if s == nil {
		s = &Service{Servers: map[string]*Server{}}
		t.Services[name] = s
	}
	return s
}

// RealServers counts the real servers over all services.
func (t *Table) RealServers() int {
	n := 0
	for _, s := range t.Services {
		n += len(s.Servers)
	}
	return n
}

// Diff compares a scrape with a reference table and returns one line per
// difference, sorted; none when they agree on fields f. It also checks the
// scrape's count gauges (ipvs_services, ipvs_real_servers,
// ipvs_service_real_servers) against the reference.
func Diff(got *Scrape, want *Table, f Fields) []string {
	var d []string
	add := func(format string, args ...any) { d = append(d, fmt.Sprintf(format, args...)) }

	if got.ServiceCount != len(want.Services) {
		add("ipvs_services = %d, want %d", got.ServiceCount, len(want.Services))
	}
	if n := want.RealServers(); got.RealServerCount != n {
		add("ipvs_real_servers = %d, want %d", got.RealServerCount, n)
	}
	for _, name := range sortedKeys(got.Services) {
		if want.Services[name] == nil {
			add("%s: exported, but not in the reference", name)
		}
	}
	for _, name := range sortedKeys(want.Services) {
		ws, gs := want.Services[name], got.Services[name]
		if gs == nil {
			add("%s: in the reference, but not exported", name)
			continue
		}
		if n, ok := got.ServiceServerCount[name]; !ok || n != len(ws.Servers) {
			add("%s: ipvs_service_real_servers = %d (present: %t), want %d", name, n, ok, len(ws.Servers))
		}
		if f&FieldScheduler != 0 && gs.Scheduler != ws.Scheduler {
			add("%s: scheduler = %q, want %q", name, gs.Scheduler, ws.Scheduler)
		}
		if f&FieldStats != 0 {
			d = append(d, diffStats(name, gs.Stats, ws.Stats)...)
		}
		for _, server := range sortedKeys(gs.Servers) {
			if ws.Servers[server] == nil {
				add("%s %s: exported, but not in the reference", name, server)
			}
		}
		for _, server := range sortedKeys(ws.Servers) {
			w, g := ws.Servers[server], gs.Servers[server]
			what := name + " " + server
			if g == nil {
				add("%s: in the reference, but not exported", what)
				continue
			}
			if f&FieldForward != 0 && g.Forward != w.Forward {
				add("%s: forward = %q, want %q", what, g.Forward, w.Forward)
			}
			if f&FieldWeight != 0 && g.Weight != w.Weight {
				add("%s: weight = %d, want %d", what, g.Weight, w.Weight)
			}
			if f&FieldConns != 0 && g.Active != w.Active {
				add("%s: active connections = %d, want %d", what, g.Active, w.Active)
			}
			if f&FieldConns != 0 && g.Inactive != w.Inactive {
				add("%s: inactive connections = %d, want %d", what, g.Inactive, w.Inactive)
			}
			if f&FieldStats != 0 {
				d = append(d, diffStats(what, g.Stats, w.Stats)...)
			}
		}
	}
	if f&FieldTotals != 0 {
		switch {
		case want.Totals == nil:
			add("host totals: the reference has none")
		case got.Totals == nil:
			add("host totals: not exported")
		default:
			d = append(d, diffStats("host totals", *got.Totals, *want.Totals)...)
		}
	}
	slices.Sort(d)
	return d
}

// diffStats names each counter of got that differs from want.
func diffStats(what string, got, want Stats) []string {
	var d []string
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"connections", got.Conns, want.Conns},
		{"incoming packets", got.InPkts, want.InPkts},
		{"outgoing packets", got.OutPkts, want.OutPkts},
		{"incoming bytes", got.InBytes, want.InBytes},
		{"outgoing bytes", got.OutBytes, want.OutBytes},
	} {
		if c.got != c.want {
			d = append(d, fmt.Sprintf("%s: %s = %d, want %d", what, c.name, c.got, c.want))
		}
	}
	return d
}

// sortedKeys returns the keys of m in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Equal reports whether two tables hold the same services, real servers
// and values in every field (used to see that a source has settled).
func (t *Table) Equal(u *Table) bool {
	if (t.Totals == nil) != (u.Totals == nil) || (t.Totals != nil && *t.Totals != *u.Totals) {
		return false
	}
	return maps.EqualFunc(t.Services, u.Services, func(a, b *Service) bool {
		return a.Scheduler == b.Scheduler && a.Stats == b.Stats &&
			maps.EqualFunc(a.Servers, b.Servers, func(x, y *Server) bool { return *x == *y })
	})
}

// String renders the table, one line per service and real server, for
// failure messages.
func (t *Table) String() string {
	var b strings.Builder
	for _, name := range sortedKeys(t.Services) {
		s := t.Services[name]
		fmt.Fprintf(&b, "%s %s %+v\n", name, s.Scheduler, s.Stats)
		for _, server := range sortedKeys(s.Servers) {
			fmt.Fprintf(&b, "  -> %s %+v\n", server, *s.Servers[server])
		}
	}
	if t.Totals != nil {
		fmt.Fprintf(&b, "totals %+v\n", *t.Totals)
	}
	return b.String()
}

// ParseIpvsadmStats parses `ipvsadm -Ln --stats --exact` into a Table with
// Stats filled. ipvsadm prints services as `TCP  192.0.2.1:80`,
// `UDP  [2001:db8::1]:53`, `SCTP 192.0.2.1:3868`, `FWM  7` and
// `FWM  7 IPv6`, then the five counters in decimal; real servers as
// `  -> 10.0.0.1:80` with theirs.
func ParseIpvsadmStats(text string) (*Table, error) {
	t := newTable()
	var cur *Service
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "IP" || f[0] == "Prot" || (f[0] == "->" && len(f) == 2 && f[1] == "RemoteAddress:Port") {
			continue
		}
		bad := func(err error) error { return fmt.Errorf("ipvsadm line %d %q: %w", i+1, line, err) }
		if f[0] == "->" {
			if cur == nil || len(f) != 7 {
				return nil, bad(errors.New("not a real server of a service"))
			}
			server, err := serverLabel(f[1])
			if err != nil {
				return nil, bad(err)
			}
			st, err := parseCounters(f[2:], 10)
			if err != nil {
				return nil, bad(err)
			}
			if cur.Servers[server] != nil {
				return nil, bad(errors.New("real server listed twice"))
			}
			cur.Servers[server] = &Server{Stats: st}
			continue
		}
		var name string
		var rest []string
		var err error
		switch {
		case f[0] == "FWM" && len(f) == 8 && f[2] == "IPv6":
			name, err = fwmarkLabel(f[1], 10, "ipv6")
			rest = f[3:]
		case f[0] == "FWM" && len(f) == 7:
			name, err = fwmarkLabel(f[1], 10, "ipv4")
			rest = f[2:]
		case len(f) == 7:
			name, err = serviceLabel(f[0], f[1])
			rest = f[2:]
		default:
			return nil, bad(errors.New("not a service line"))
		}
		if err != nil {
			return nil, bad(err)
		}
		if t.Services[name] != nil {
			return nil, bad(errors.New("service listed twice"))
		}
		cur = t.service(name)
		if cur.Stats, err = parseCounters(rest, 10); err != nil {
			return nil, bad(err)
		}
	}
	return t, nil
}

// ParseProcIPVS parses /proc/net/ip_vs into a Table with Scheduler,
// Forward, Weight, Active and Inactive filled. The kernel prints addresses
// and ports in hex (`TCP  C0000201:0050 rr`, IPv6 as
// `[2001:0db8:...:0001]:0050`) and fwmark services as `FWM  00000007 rr`
// without their family: it is taken from their real servers' addresses.
func ParseProcIPVS(text string) (*Table, error) {
	t := newTable()
	type fwm struct {
		mark   string
		svc    *Service
		line   int
		family string
	}
	var marks []*fwm
	var order []*Service
	var cur *Service
	var curMark *fwm
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "IP" || f[0] == "Prot" || (len(f) > 1 && f[1] == "RemoteAddress:Port") {
			continue
		}
		bad := func(err error) error { return fmt.Errorf("/proc/net/ip_vs line %d %q: %w", i+1, line, err) }
		switch {
		case f[0] == "->":
			if cur == nil || len(f) != 6 {
				return nil, bad(errors.New("not a real server of a service"))
			}
			addr, err := parseProcAddrPort(f[1])
			if err != nil {
				return nil, bad(err)
			}
			var n [3]int64
			for j := range n {
				if n[j], err = strconv.ParseInt(f[3+j], 10, 64); err != nil {
					return nil, bad(err)
				}
			}
			server := addr.String()
			if cur.Servers[server] != nil {
				return nil, bad(errors.New("real server listed twice"))
			}
			cur.Servers[server] = &Server{Forward: strings.ToLower(f[2]), Weight: n[0], Active: n[1], Inactive: n[2]}
			if curMark != nil {
				family := familyName(addr.Addr())
				if curMark.family != "" && curMark.family != family {
					return nil, bad(errors.New("fwmark service with real servers of both families: cannot tell its family"))
				}
				curMark.family = family
			}
		case len(f) >= 3 && f[0] == "FWM":
			// Named once its real servers tell the family.
			cur = &Service{Scheduler: f[2], Servers: map[string]*Server{}}
			curMark = &fwm{mark: f[1], svc: cur, line: i + 1}
			marks = append(marks, curMark)
			order = append(order, cur)
		case len(f) >= 3:
			addr, err := parseProcAddrPort(f[1])
			if err != nil {
				return nil, bad(err)
			}
			name, err := serviceLabel(f[0], addr.String())
			if err != nil {
				return nil, bad(err)
			}
			if t.Services[name] != nil {
				return nil, bad(errors.New("service listed twice"))
			}
			cur, curMark = t.service(name), nil
			cur.Scheduler = f[2]
			order = append(order, cur)
		default:
			return nil, bad(errors.New("not a service line"))
		}
	}
	for _, m := range marks {
		if m.family == "" {
			return nil, fmt.Errorf("/proc/net/ip_vs line %d: fwmark service %s has no real servers: cannot tell its family", m.line, m.mark)
		}
		name, err := fwmarkLabel(m.mark, 16, m.family)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/ip_vs line %d: %w", m.line, err)
		}
		if t.Services[name] != nil {
			return nil, fmt.Errorf("/proc/net/ip_vs line %d: service %s listed twice", m.line, name)
		}
		t.Services[name] = m.svc
	}
	names := map[*Service]string{}
	for name, svc := range t.Services {
		names[svc] = name
	}
	for _, svc := range order {
		t.Order = append(t.Order, names[svc])
	}
	return t, nil
}

// ParseProcStats parses /proc/net/ip_vs_stats: the host totals, in hex on
// the third line.
func ParseProcStats(text string) (*Stats, error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "Total") {
		return nil, fmt.Errorf("/proc/net/ip_vs_stats: unexpected format %q", text)
	}
	st, err := parseCounters(strings.Fields(lines[2]), 16)
	if err != nil {
		return nil, fmt.Errorf("/proc/net/ip_vs_stats line 3 %q: %w", lines[2], err)
	}
	return &st, nil
}

// parseCounters parses the five counters in base.
func parseCounters(f []string, base int) (Stats, error) {
	if len(f) != 5 {
		return Stats{}, fmt.Errorf("want 5 counters, got %d", len(f))
	}
	var n [5]uint64
	for i, s := range f {
		v, err := strconv.ParseUint(s, base, 64)
		if err != nil {
			return Stats{}, err
		}
		n[i] = v
	}
	return Stats{Conns: n[0], InPkts: n[1], OutPkts: n[2], InBytes: n[3], OutBytes: n[4]}, nil
}

// parseProcAddrPort parses /proc/net/ip_vs's `C0000201:0050` or
// `[2001:0db8:...]:0050`.
func parseProcAddrPort(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	port, err := strconv.ParseUint(s[i+1:], 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port of %q: %w", s, err)
	}
	host := s[:i]
	var addr netip.Addr
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		addr, err = netip.ParseAddr(host[1 : len(host)-1])
	} else {
		var v uint64
		if len(host) != 8 {
			return netip.AddrPort{}, fmt.Errorf("address of %q is not 8 hex digits", s)
		}
		v, err = strconv.ParseUint(host, 16, 32)
		addr = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address of %q: %w", s, err)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// serviceLabel makes the "service" label of a protocol (any case) and an
// address:port as ipvsadm prints it.
func serviceLabel(proto, addrPort string) (string, error) {
	p := strings.ToLower(proto)
	if p != "tcp" && p != "udp" && p != "sctp" {
		return "", fmt.Errorf("unknown protocol %q", proto)
	}
	ap, err := netip.ParseAddrPort(addrPort)
	if err != nil {
		return "", err
	}
	return p + "/" + ap.String(), nil
}

// fwmarkLabel makes the "service" label of a mark written in base.
func fwmarkLabel(mark string, base int, family string) (string, error) {
	m, err := strconv.ParseUint(mark, base, 32)
	if err != nil {
		return "", fmt.Errorf("fwmark %q: %w", mark, err)
	}
	return "fwmark/" + strconv.FormatUint(m, 10) + "/" + family, nil
}

// serverLabel makes the "server" label of an address:port as ipvsadm
// prints it.
func serverLabel(addrPort string) (string, error) {
	ap, err := netip.ParseAddrPort(addrPort)
	if err != nil {
		return "", err
	}
	return ap.String(), nil
}

// familyName is "ipv4" or "ipv6", as in the "family" label.
func familyName(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// Scrape is lvs-sidecar's /metrics parsed: the table with every field
// filled, plus the gauges that describe it.
type Scrape struct {
	Table
	// Up is ipvs_up; -1 when the scrape has none.
	Up float64
	// ServiceCount and RealServerCount are ipvs_services and
	// ipvs_real_servers; -1 when absent.
	ServiceCount, RealServerCount int
	// ServiceServerCount is ipvs_service_real_servers by service.
	ServiceServerCount map[string]int
	// Families holds every metric family of the scrape by name.
	Families map[string]*dto.MetricFamily
}

// Series returns how many series of the named family the scrape holds.
func (s *Scrape) Series(name string) int {
	if mf := s.Families[name]; mf != nil {
		return len(mf.GetMetric())
	}
	return 0
}

// The per-service and per-real-server metrics every service and real server
// of a scrape must have, and where ParseScrape puts them.
var (
	serviceMetrics = map[string]func(*Service, *Scrape, string, *dto.Metric, float64) error{
		"ipvs_service_connections_total":      statSetter(func(s *Service) *uint64 { return &s.Stats.Conns }),
		"ipvs_service_incoming_packets_total": statSetter(func(s *Service) *uint64 { return &s.Stats.InPkts }),
		"ipvs_service_outgoing_packets_total": statSetter(func(s *Service) *uint64 { return &s.Stats.OutPkts }),
		"ipvs_service_incoming_bytes_total":   statSetter(func(s *Service) *uint64 { return &s.Stats.InBytes }),
		"ipvs_service_outgoing_bytes_total":   statSetter(func(s *Service) *uint64 { return &s.Stats.OutBytes }),
		"ipvs_service_real_servers": func(_ *Service, sc *Scrape, name string, _ *dto.Metric, v float64) error {
			n, err := toUint(v)
			sc.ServiceServerCount[name] = int(n)
			return err
		},
		"ipvs_service_info": func(s *Service, _ *Scrape, _ string, m *dto.Metric, _ float64) error {
			s.Scheduler = label(m, "scheduler")
			return nil
		},
	}
	serverMetrics = map[string]func(*Server, *dto.Metric, float64) error{
		"ipvs_real_server_connections_total":      uintSetter(func(s *Server) *uint64 { return &s.Stats.Conns }),
		"ipvs_real_server_incoming_packets_total": uintSetter(func(s *Server) *uint64 { return &s.Stats.InPkts }),
		"ipvs_real_server_outgoing_packets_total": uintSetter(func(s *Server) *uint64 { return &s.Stats.OutPkts }),
		"ipvs_real_server_incoming_bytes_total":   uintSetter(func(s *Server) *uint64 { return &s.Stats.InBytes }),
		"ipvs_real_server_outgoing_bytes_total":   uintSetter(func(s *Server) *uint64 { return &s.Stats.OutBytes }),
		"ipvs_real_server_active_connections":     intSetter(func(s *Server) *int64 { return &s.Active }),
		"ipvs_real_server_inactive_connections":   intSetter(func(s *Server) *int64 { return &s.Inactive }),
		"ipvs_real_server_weight":                 intSetter(func(s *Server) *int64 { return &s.Weight }),
		"ipvs_real_server_info": func(s *Server, m *dto.Metric, _ float64) error {
			s.Forward = label(m, "forward")
			return nil
		},
	}
	totalMetrics = map[string]func(*Stats) *uint64{
		"ipvs_connections_total":      func(s *Stats) *uint64 { return &s.Conns },
		"ipvs_incoming_packets_total": func(s *Stats) *uint64 { return &s.InPkts },
		"ipvs_outgoing_packets_total": func(s *Stats) *uint64 { return &s.OutPkts },
		"ipvs_incoming_bytes_total":   func(s *Stats) *uint64 { return &s.InBytes },
		"ipvs_outgoing_bytes_total":   func(s *Stats) *uint64 { return &s.OutBytes },
	}
)

func statSetter(field func(*Service) *uint64) func(*Service, *Scrape, string, *dto.Metric, float64) error {
	return func(s *Service, _ *Scrape, _ string, _ *dto.Metric, v float64) error {
		n, err := toUint(v)
		*field(s) = n
		return err
	}
}

func uintSetter(field func(*Server) *uint64) func(*Server, *dto.Metric, float64) error {
	return func(s *Server, _ *dto.Metric, v float64) error {
		n, err := toUint(v)
		*field(s) = n
		return err
	}
}

func intSetter(field func(*Server) *int64) func(*Server, *dto.Metric, float64) error {
	return func(s *Server, _ *dto.Metric, v float64) error {
		n, err := toUint(v)
		*field(s) = int64(n)
		return err
	}
}

// ParseScrape parses lvs-sidecar's /metrics (text format). It fails when a
// value is not an exact non-negative integer where one is due, or when a
// service or real server lacks one of its metrics.
func ParseScrape(r io.Reader) (*Scrape, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse scrape: %w", err)
	}
	s := &Scrape{Table: *newTable(), Up: -1, ServiceCount: -1, RealServerCount: -1,
		ServiceServerCount: map[string]int{}, Families: families}
	seen := map[string]int{} // service or "service server" -> metrics found
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			v := value(m)
			svc := label(m, "service")
			switch {
			case serviceMetrics[name] != nil:
				err = serviceMetrics[name](s.service(svc), s, svc, m, v)
				seen[svc]++
			case serverMetrics[name] != nil:
				server := label(m, "server")
				sv := s.service(svc)
				if sv.Servers[server] == nil {
					sv.Servers[server] = &Server{}
				}
				err = serverMetrics[name](sv.Servers[server], m, v)
				seen[svc+" "+server]++
			case totalMetrics[name] != nil:
				if s.Totals == nil {
					s.Totals = &Stats{}
				}
				*totalMetrics[name](s.Totals), err = toUint(v)
				seen[""]++
			case name == "ipvs_up":
				s.Up = v
			case name == "ipvs_services":
				var n uint64
				n, err = toUint(v)
				s.ServiceCount = int(n)
			case name == "ipvs_real_servers":
				var n uint64
				n, err = toUint(v)
				s.RealServerCount = int(n)
			}
			if err != nil {
				return nil, fmt.Errorf("scrape: %s %v: %w", name, m.GetLabel(), err)
			}
		}
	}
	var missing []string
	for _, name := range sortedKeys(s.Services) {
		if seen[name] != len(serviceMetrics) {
			missing = append(missing, fmt.Sprintf("service %s has %d of its %d metrics", name, seen[name], len(serviceMetrics)))
		}
		for _, server := range sortedKeys(s.Services[name].Servers) {
			if n := seen[name+" "+server]; n != len(serverMetrics) {
				missing = append(missing, fmt.Sprintf("real server %s %s has %d of its %d metrics", name, server, n, len(serverMetrics)))
			}
		}
	}
	if s.Totals != nil && seen[""] != len(totalMetrics) {
		missing = append(missing, fmt.Sprintf("%d of the %d host totals", seen[""], len(totalMetrics)))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("scrape: %s", strings.Join(missing, "; "))
	}
	return s, nil
}

// value returns the sample of a gauge, counter or untyped metric.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

// label returns the value of the named label of m ("" when it has none).
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// toUint converts a sample to the integer it must be exactly: a float64
// holds every integer up to 2^53.
func toUint(v float64) (uint64, error) {
	if v < 0 || v > 1<<53 || v != math.Trunc(v) {
		return 0, fmt.Errorf("%v is not an exact non-negative integer", v)
	}
	return uint64(v), nil
}

// PeerBackend is one backend as node_exporter's ipvs collector labels it
// (from /proc/net/ip_vs: the mark in hex, as the kernel prints it).
type PeerBackend struct {
	Proto, LocalAddress, LocalPort, LocalMark, RemoteAddress, RemotePort string
}

// String renders the labels as node_exporter has them.
func (b PeerBackend) String() string {
	return fmt.Sprintf("{proto=%q local_address=%q local_port=%q local_mark=%q remote_address=%q remote_port=%q}",
		b.Proto, b.LocalAddress, b.LocalPort, b.LocalMark, b.RemoteAddress, b.RemotePort)
}

// PeerValues are node_exporter's gauges of one backend.
type PeerValues struct {
	Active, Inactive, Weight int64
}

// ParseNodeExporter parses node_exporter's /metrics and returns its
// node_ipvs_backend_connections_active, _inactive and _weight by backend.
// Every backend must have all three.
func ParseNodeExporter(r io.Reader) (map[PeerBackend]PeerValues, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse node_exporter scrape: %w", err)
	}
	out := map[PeerBackend]PeerValues{}
	seen := map[PeerBackend]int{}
	metrics := map[string]func(*PeerValues) *int64{
		"node_ipvs_backend_connections_active":   func(p *PeerValues) *int64 { return &p.Active },
		"node_ipvs_backend_connections_inactive": func(p *PeerValues) *int64 { return &p.Inactive },
		"node_ipvs_backend_weight":               func(p *PeerValues) *int64 { return &p.Weight },
	}
	for name, field := range metrics {
		for _, m := range families[name].GetMetric() {
			b := PeerBackend{
				Proto: label(m, "proto"), LocalAddress: label(m, "local_address"), LocalPort: label(m, "local_port"),
				LocalMark: label(m, "local_mark"), RemoteAddress: label(m, "remote_address"), RemotePort: label(m, "remote_port"),
			}
			n, err := toUint(value(m))
			if err != nil {
				return nil, fmt.Errorf("node_exporter %s %s: %w", name, b, err)
			}
			v := out[b]
			*field(&v) = int64(n)
			out[b] = v
			seen[b]++
		}
	}
	for b, n := range seen {
		if n != len(metrics) {
			return nil, fmt.Errorf("node_exporter backend %s has %d of its %d metrics", b, n, len(metrics))
		}
	}
	return out, nil
}

// peerLabels returns node_exporter's labels of a service (without the
// remote ones): the protocol in capitals, the address and port in decimal,
// or "FWM" and the mark as /proc/net/ip_vs prints it (8 hex digits).
func peerLabels(service string) (PeerBackend, error) {
	proto, rest, _ := strings.Cut(service, "/")
	switch proto {
	case "tcp", "udp":
		ap, err := netip.ParseAddrPort(rest)
		if err != nil {
			return PeerBackend{}, fmt.Errorf("service %s: %w", service, err)
		}
		return PeerBackend{Proto: strings.ToUpper(proto), LocalAddress: ap.Addr().String(), LocalPort: strconv.Itoa(int(ap.Port()))}, nil
	case "fwmark":
		mark, _, _ := strings.Cut(rest, "/")
		m, err := strconv.ParseUint(mark, 10, 32)
		if err != nil {
			return PeerBackend{}, fmt.Errorf("service %s: %w", service, err)
		}
		return PeerBackend{Proto: "FWM", LocalPort: "0", LocalMark: fmt.Sprintf("%08X", m)}, nil
	}
	return PeerBackend{}, fmt.Errorf("service %s: node_exporter has no labels for it", service)
}

// ComparePeer compares node_exporter's backends with lvs-sidecar's real
// servers on weight and active and inactive connections, and returns the
// differences and what it did not compare with the reason. procOrder is
// the order of the services in /proc/net/ip_vs (Table.Order).
//
// node_exporter (1.5, Debian's, through prometheus/procfs) reads
// /proc/net/ip_vs and labels a backend with its service's protocol,
// address, port or mark and its real server; it adds up backends whose
// labels are equal. Its labels have two blind spots:
//   - SCTP services: their lines are not recognised, so their real servers
//     get the labels of the service printed before them (empty ones when
//     none is), and are added to that service's real servers with the same
//     address and port. The order follows the kernel's hash table and
//     changes from boot to boot.
//   - fwmark services carry no address family (the kernel keys them by
//     family and mark): fwmark/7/ipv4 and fwmark/7/ipv6 share labels, and
//     are told apart only by their real servers' addresses.
//
// ComparePeer works out which of lvs-sidecar's real servers end up under
// each label set. Where that is exactly one, and not an SCTP one, the
// values must be equal. The others are listed as skipped; node_exporter
// must still report their label sets, and nothing else.
func ComparePeer(ours *Scrape, peer map[PeerBackend]PeerValues, procOrder []string) PeerComparison {
	var diffs, skipped []string
	compared := 0
	type member struct {
		what string // "service server"
		sctp bool
		v    PeerValues
	}
	expect := map[PeerBackend][]member{}
	labels := PeerBackend{LocalPort: "0"} // of the last service that is not SCTP
	for _, name := range procOrder {
		s := ours.Services[name]
		if s == nil {
			diffs = append(diffs, name+": in /proc/net/ip_vs, not exported")
			continue
		}
		sctp := strings.HasPrefix(name, "sctp/")
		if sctp {
			skipped = append(skipped, name+": node_exporter does not parse SCTP services")
		} else {
			l, err := peerLabels(name)
			if err != nil {
				diffs = append(diffs, err.Error())
				continue
			}
			labels = l
		}
		for server, rs := range s.Servers {
			ap, err := netip.ParseAddrPort(server)
			if err != nil {
				diffs = append(diffs, fmt.Sprintf("%s %s: %v", name, server, err))
				continue
			}
			k := labels
			k.RemoteAddress, k.RemotePort = ap.Addr().String(), strconv.Itoa(int(ap.Port()))
			expect[k] = append(expect[k], member{name + " " + server, sctp, PeerValues{Active: rs.Active, Inactive: rs.Inactive, Weight: rs.Weight}})
		}
	}
	if len(procOrder) != len(ours.Services) {
		diffs = append(diffs, fmt.Sprintf("/proc/net/ip_vs lists %d services, lvs-sidecar exports %d", len(procOrder), len(ours.Services)))
	}

	for k, ms := range expect {
		p, ok := peer[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: node_exporter has no backend %s", ms[0].what, k))
			continue
		}
		if len(ms) > 1 || ms[0].sctp {
			var whats []string
			for _, m := range ms {
				whats = append(whats, m.what)
			}
			slices.Sort(whats)
			skipped = append(skipped, fmt.Sprintf("node_exporter backend %s stands for %s", k, strings.Join(whats, " + ")))
			continue
		}
		compared++
		g, what := ms[0].v, ms[0].what
		if p.Weight != g.Weight {
			diffs = append(diffs, fmt.Sprintf("%s: weight %d, node_exporter %d", what, g.Weight, p.Weight))
		}
		if p.Active != g.Active {
			diffs = append(diffs, fmt.Sprintf("%s: active connections %d, node_exporter %d", what, g.Active, p.Active))
		}
		if p.Inactive != g.Inactive {
			diffs = append(diffs, fmt.Sprintf("%s: inactive connections %d, node_exporter %d", what, g.Inactive, p.Inactive))
		}
	}
	for k := range peer {
		if expect[k] == nil {
			diffs = append(diffs, fmt.Sprintf("node_exporter backend %s: lvs-sidecar has no real server for it", k))
		}
	}
	slices.Sort(diffs)
	slices.Sort(skipped)
	return PeerComparison{Compared: compared, Diffs: diffs, Skipped: skipped}
}

// PeerComparison is the outcome of ComparePeer.
type PeerComparison struct {
	Compared int      // real servers compared one to one
	Diffs    []string // differences, sorted
	Skipped  []string // what was not compared, and why, sorted
}
