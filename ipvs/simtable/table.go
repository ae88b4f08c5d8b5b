// Package simtable is an IPVS table in memory, for trying lvs-sidecar and
// a configuration where the kernel has no IPVS (a laptop, a container, a
// browser test) and for demos. It answers the reads the collector, the
// checks and the services view make (Snapshot) and the writes the
// controller makes (CreateService, UpdateService, CreateDestination,
// UpdateDestination, DeleteDestination, and DeleteService) with the
// kernel's semantics: the same checks and the same errors as ipvs.Writer,
// wrapping the same sentinels (ipvs.ErrExists, ipvs.ErrNotFound). Its
// counters move with simulated traffic (see traffic.go). Nothing in it
// touches the kernel.
//
// A Table is safe for concurrent use. Every Snapshot is a deep copy: no
// caller shares memory with the table or with another caller.
package simtable

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// schedulers are the scheduler modules of a current kernel (ip_vs_*.ko):
// a service with another is refused as the kernel refuses it.
var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// persistenceEngines are the kernel's persistence engines (ip_vs_pe_*.ko).
var persistenceEngines = []string{"sip"}

// The kernel's IPVS version (1.2.1, what every kernel since 2.6 reports),
// connection table size and connection timeouts (ipvsadm --set defaults).
var (
	info     = ipvs.Info{Version: 1<<16 | 2<<8 | 1, ConnTableSize: 4096}
	timeouts = ipvs.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}
)

// Options configure a Table.
type Options struct {
	// Rate is how many new connections per second each virtual service
	// gets, spread over its real servers in proportion to their weights
	// (DefaultRate is what the command-line flag defaults to). 0: no
	// traffic, the counters stay as they are.
	Rate float64
	// Now is the clock the traffic follows; nil is time.Now. Tests give a
	// fake one.
	Now func() time.Time
}

// Table is an IPVS table in memory. Create one with New.
type Table struct {
	rate float64
	now  func() time.Time

	mu       sync.Mutex
	last     time.Time // when the traffic was last advanced
	services []*service
	totals   ipvs.Stats // host-wide counters: what left with deleted entries stays in
}

// service is one virtual service: what the kernel keeps of it (without
// destinations, which are in dests) and its traffic.
type service struct {
	ipvs.Service
	dests []*dest
}

// dest is one real server: what the kernel keeps of it, with its
// counters and connection counts, and the exact state of the traffic
// they are derived from.
type dest struct {
	ipvs.Destination
	traffic
}

// New returns a table holding seed, as if each service and real server of
// seed had been created in order (ipvs.Writer's checks and the kernel's
// refusals apply: a seed the kernel would refuse is an error). The seed's
// counters and connection counts, if any, are the starting values.
func New(seed []ipvs.Service, opts Options) (*Table, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rate < 0 {
		return nil, fmt.Errorf("simulated IPVS table: the connection rate %g is negative", opts.Rate)
	}
	// The seed is written at one instant: no traffic runs between its
	// writes, so its counters are exactly the seed's.
	start := opts.Now()
	t := &Table{rate: opts.Rate, now: func() time.Time { return start }, last: start}
	defer func() { t.now = opts.Now }()
	ctx := context.Background()
	for i := range seed {
		s := &seed[i]
		if err := t.CreateService(ctx, s); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		for j := range s.Destinations {
			d := &s.Destinations[j]
			if err := t.CreateDestination(ctx, s.ServiceKey, d); err != nil {
				return nil, fmt.Errorf("seed: %w", err)
			}
			t.seedCounts(s.ServiceKey, d)
		}
		t.seedStats(s)
	}
	return t, nil
}

// seedCounts gives the real server d of service k, just created, the
// seed's counters and connection counts.
func (t *Table) seedCounts(k ipvs.ServiceKey, d *ipvs.Destination) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, _ = ipvs.CheckServiceKey(k)
	_, id, _ := ipvs.CheckServer(k, netip.AddrPortFrom(d.Address, d.Port))
	x := t.service(k).dest(id)
	x.Stats = d.Stats
	x.ActiveConns, x.InactiveConns, x.PersistConns = d.ActiveConns, d.InactiveConns, d.PersistConns
	x.active, x.inactive, x.persist = float64(d.ActiveConns), float64(d.InactiveConns), float64(d.PersistConns)
}

// seedStats gives service s, just created, the seed's counters, and adds
// them to the host-wide ones.
func (t *Table) seedStats(s *ipvs.Service) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, _ := ipvs.CheckServiceKey(s.ServiceKey)
	t.service(k).Stats = s.Stats
	add(&t.totals, s.Stats)
}

// Snapshot returns the whole table, advanced to now: a deep copy, with the
// host-wide counters, the IPVS version and the connection timeouts.
func (t *Table) Snapshot(ctx context.Context) (*ipvs.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read IPVS table: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance()
	snap := &ipvs.Snapshot{Services: make([]ipvs.Service, len(t.services))}
	for i, s := range t.services {
		out := s.Service
		// The kernel marks every service in its table hashed.
		out.Flags |= ipvs.FlagHashed
		out.Destinations = make([]ipvs.Destination, len(s.dests))
		for j, d := range s.dests {
			out.Destinations[j] = d.Destination
		}
		snap.Services[i] = out
	}
	in, to, totals := info, timeouts, t.totals
	snap.Info, snap.Timeouts, snap.Totals = &in, &to, &totals
	return snap, nil
}

// CreateService adds a virtual service, as ipvs.Writer.CreateService does
// (s.Destinations are ignored); it fails with ipvs.ErrExists if the
// service is there already.
func (t *Table) CreateService(ctx context.Context, s *ipvs.Service) error {
	what := "create service " + s.String()
	return t.write(ctx, what, s, func() error {
		svc, err := ipvs.CheckService(s)
		if err != nil {
			return err
		}
		if t.service(svc.ServiceKey) != nil {
			return syscall.EEXIST
		}
		if err := checkModules(&svc); err != nil {
			return err
		}
		t.services = append(t.services, &service{Service: svc})
		return nil
	})
}

// UpdateService changes a service's scheduler, persistence engine, flags,
// timeout and netmask to those of s, keeping its real servers and
// counters; it fails with ipvs.ErrNotFound if there is no such service.
func (t *Table) UpdateService(ctx context.Context, s *ipvs.Service) error {
	what := "update service " + s.String()
	return t.write(ctx, what, s, func() error {
		svc, err := ipvs.CheckService(s)
		if err != nil {
			return err
		}
		old := t.service(svc.ServiceKey)
		if old == nil {
			return syscall.ESRCH
		}
		if err := checkModules(&svc); err != nil {
			return err
		}
		svc.Stats = old.Stats
		old.Service = svc
		return nil
	})
}

// DeleteService removes a service and its real servers; it fails with
// ipvs.ErrNotFound if there is no such service. The host-wide counters
// keep what it counted.
func (t *Table) DeleteService(ctx context.Context, k ipvs.ServiceKey) error {
	what := "delete service " + k.String()
	return t.write(ctx, what, nil, func() error {
		k, err := ipvs.CheckServiceKey(k)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(t.services, func(s *service) bool { return s.ServiceKey == k })
		if i < 0 {
			return syscall.ESRCH
		}
		t.services = slices.Delete(t.services, i, i+1)
		return nil
	})
}

// CreateDestination adds real server d to service k, as
// ipvs.Writer.CreateDestination does; it fails with ipvs.ErrNotFound
// without the service and with ipvs.ErrExists if the real server is there
// already. It starts with no connections.
func (t *Table) CreateDestination(ctx context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error {
	what := fmt.Sprintf("add real server %s to %s", d.Server(), k)
	return t.write(ctx, what, nil, func() error {
		k, nd, err := ipvs.CheckDestination(k, d)
		if err != nil {
			return err
		}
		s := t.service(k)
		if s == nil {
			return syscall.ESRCH
		}
		if err := checkThresholds(&nd); err != nil {
			return err
		}
		if s.dest(nd) != nil {
			return syscall.EEXIST
		}
		s.dests = append(s.dests, &dest{Destination: nd})
		return nil
	})
}

// UpdateDestination sets a real server's weight, forwarding method,
// thresholds and tunnel settings to those of d, keeping its counters and
// connections (weight 0 drains it: it gets no new connections, and those
// it has end); it fails with ipvs.ErrNotFound without the service or the
// real server.
func (t *Table) UpdateDestination(ctx context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error {
	what := fmt.Sprintf("update real server %s of %s", d.Server(), k)
	return t.write(ctx, what, nil, func() error {
		k, nd, err := ipvs.CheckDestination(k, d)
		if err != nil {
			return err
		}
		s := t.service(k)
		if s == nil {
			return syscall.ESRCH
		}
		if err := checkThresholds(&nd); err != nil {
			return err
		}
		old := s.dest(nd)
		if old == nil {
			return syscall.ENOENT
		}
		nd.ActiveConns, nd.InactiveConns, nd.PersistConns, nd.Stats = old.ActiveConns, old.InactiveConns, old.PersistConns, old.Stats
		old.Destination = nd
		return nil
	})
}

// DeleteDestination removes real server server from service k; it fails
// with ipvs.ErrNotFound without the service or the real server. The
// service's counters keep what the real server counted, as the kernel's
// do.
func (t *Table) DeleteDestination(ctx context.Context, k ipvs.ServiceKey, server netip.AddrPort) error {
	what := fmt.Sprintf("delete real server %s from %s", server, k)
	return t.write(ctx, what, nil, func() error {
		k, id, err := ipvs.CheckServer(k, server)
		if err != nil {
			return err
		}
		s := t.service(k)
		if s == nil {
			return syscall.ESRCH
		}
		i := slices.IndexFunc(s.dests, func(x *dest) bool { return sameDest(&x.Destination, &id) })
		if i < 0 {
			return syscall.ENOENT
		}
		s.dests = slices.Delete(s.dests, i, i+1)
		return nil
	})
}

// write runs one write under the lock, after the traffic is advanced to
// now (so that what the table held until now counts at its old weights).
// apply returns a check's error, or the errno the kernel would answer,
// which becomes ipvs.Writer's error for it. svc is the service a create
// or update sends, nil otherwise. A context that has ended fails the
// write, as it fails the kernel's.
func (t *Table) write(ctx context.Context, what string, svc *ipvs.Service, apply func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance()
	err := apply()
	if errno, ok := err.(syscall.Errno); ok {
		return ipvs.KernelWriteError(what, svc, errno)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// checkModules refuses a scheduler or persistence engine the kernel has
// no module for, with its ENOENT.
func checkModules(s *ipvs.Service) error {
	if !slices.Contains(schedulers, s.Scheduler) || (s.PEName != "" && !slices.Contains(persistenceEngines, s.PEName)) {
		return syscall.ENOENT
	}
	if s.Family == ipvs.FamilyIPv6 && (s.Netmask < 1 || s.Netmask > 128) {
		// ip_vs_genl_parse_service: an IPv6 netmask is a prefix length.
		return syscall.EINVAL
	}
	return nil
}

// checkThresholds refuses a lower threshold above the upper one, as
// ip_vs_add_dest and ip_vs_edit_dest do (ERANGE).
func checkThresholds(d *ipvs.Destination) error {
	if d.LowerThreshold > d.UpperThreshold {
		return syscall.ERANGE
	}
	return nil
}

// service returns the service of key k (checked), or nil.
func (t *Table) service(k ipvs.ServiceKey) *service {
	for _, s := range t.services {
		if s.ServiceKey == k {
			return s
		}
	}
	return nil
}

// dest returns the real server with d's identity, or nil.
func (s *service) dest(d ipvs.Destination) *dest {
	for _, x := range s.dests {
		if sameDest(&x.Destination, &d) {
			return x
		}
	}
	return nil
}

// sameDest reports whether a and b are the same real server: the kernel
// tells them by family, address and port.
func sameDest(a, b *ipvs.Destination) bool {
	return a.Family == b.Family && a.Address == b.Address && a.Port == b.Port
}

func add(s *ipvs.Stats, d ipvs.Stats) {
	s.Connections += d.Connections
	s.PacketsIn += d.PacketsIn
	s.PacketsOut += d.PacketsOut
	s.BytesIn += d.BytesIn
	s.BytesOut += d.BytesOut
}
