package actuator

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// fakeTable is an in-memory IPVS table: a TableReader and a TableWriter
// that behaves like the kernel (ErrExists, ErrNotFound) and records every
// write.
type fakeTable struct {
	mu       sync.Mutex
	services []ipvs.Service
	writes   []string
	reads    int
	// fail makes writes whose record contains the key fail with the
	// error.
	fail map[string]error
	// readErr makes Snapshot fail.
	readErr error
	// sysctls are the net.ipv4.vs.* values Sysctl returns.
	sysctls map[string]int
	// onWrite, when set, is called with each write's record, under the
	// table's lock.
	onWrite func(string)
	// gate, when set, blocks Snapshot until it is closed; entered gets a
	// value when a Snapshot waits at the gate.
	gate    chan struct{}
	entered chan struct{}
}

func newFakeTable(services ...ipvs.Service) *fakeTable {
	return &fakeTable{services: services, fail: map[string]error{}}
}

func (f *fakeTable) Snapshot(ctx context.Context) (*ipvs.Snapshot, error) {
	f.mu.Lock()
	gate, entered := f.gate, f.entered
	f.mu.Unlock()
	if gate != nil {
		if entered != nil {
			entered <- struct{}{}
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.readErr != nil {
		return nil, f.readErr
	}
	return &ipvs.Snapshot{Services: f.copyLocked()}, nil
}

// readCount returns how many Snapshots were taken.
func (f *fakeTable) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// table returns a copy of the services, for comparisons.
func (f *fakeTable) table() []ipvs.Service {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.copyLocked()
}

func (f *fakeTable) copyLocked() []ipvs.Service {
	out := make([]ipvs.Service, len(f.services))
	for i, s := range f.services {
		s.Destinations = slices.Clone(s.Destinations)
		out[i] = s
	}
	return out
}

// takeWrites returns the writes recorded since the last call.
func (f *fakeTable) takeWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes
	f.writes = nil
	return w
}

func (f *fakeTable) setFail(key string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, key)
	} else {
		f.fail[key] = err
	}
}

func (f *fakeTable) setReadErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readErr = err
}

// record logs a write and returns the injected failure, if any.
func (f *fakeTable) recordLocked(w string) error {
	if f.onWrite != nil {
		f.onWrite(w)
	}
	for k, err := range f.fail {
		if strings.Contains(w, k) {
			return err
		}
	}
	f.writes = append(f.writes, w)
	return nil
}

func (f *fakeTable) findLocked(k ipvs.ServiceKey) int {
	for i := range f.services {
		if f.services[i].ServiceKey == k {
			return i
		}
	}
	return -1
}

func (f *fakeTable) findDestLocked(s *ipvs.Service, a netip.AddrPort) int {
	for i := range s.Destinations {
		d := &s.Destinations[i]
		if d.Address == a.Addr() && d.Port == a.Port() {
			return i
		}
	}
	return -1
}

func svcText(s *ipvs.Service) string {
	return fmt.Sprintf("%s %s flags=%d timeout=%d netmask=%#x", s.ServiceKey, s.Scheduler, s.Flags, s.Timeout, s.Netmask)
}

func destText(d *ipvs.Destination) string {
	text := fmt.Sprintf("%s w=%d fwd=%s th=%d/%d", d.Server(), d.Weight, d.Forward, d.UpperThreshold, d.LowerThreshold)
	if d.TunnelType != 0 || d.TunnelPort != 0 || d.TunnelFlags != 0 {
		text += fmt.Sprintf(" tun=%s:%d:%s", d.TunnelType, d.TunnelPort, d.TunnelFlags)
	}
	return text
}

func (f *fakeTable) CreateService(_ context.Context, s *ipvs.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("create_service " + svcText(s)); err != nil {
		return err
	}
	if f.findLocked(s.ServiceKey) >= 0 {
		return ipvs.ErrExists
	}
	n := *s
	n.Destinations = nil
	if n.Netmask == 0 {
		n.Netmask = 0xffffffff
	}
	f.services = append(f.services, n)
	return nil
}

func (f *fakeTable) UpdateService(_ context.Context, s *ipvs.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("update_service " + svcText(s)); err != nil {
		return err
	}
	i := f.findLocked(s.ServiceKey)
	if i < 0 {
		return ipvs.ErrNotFound
	}
	old := &f.services[i]
	old.Scheduler, old.Flags, old.Timeout, old.Netmask, old.PEName = s.Scheduler, s.Flags, s.Timeout, s.Netmask, s.PEName
	return nil
}

func (f *fakeTable) CreateDestination(_ context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("create " + k.String() + " " + destText(d)); err != nil {
		return err
	}
	i := f.findLocked(k)
	if i < 0 {
		return ipvs.ErrNotFound
	}
	s := &f.services[i]
	if f.findDestLocked(s, netip.AddrPortFrom(d.Address, d.Port)) >= 0 {
		return ipvs.ErrExists
	}
	n := *d
	n.Family = k.Family
	s.Destinations = append(s.Destinations, n)
	return nil
}

func (f *fakeTable) UpdateDestination(_ context.Context, k ipvs.ServiceKey, d *ipvs.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("update " + k.String() + " " + destText(d)); err != nil {
		return err
	}
	i := f.findLocked(k)
	if i < 0 {
		return ipvs.ErrNotFound
	}
	s := &f.services[i]
	j := f.findDestLocked(s, netip.AddrPortFrom(d.Address, d.Port))
	if j < 0 {
		return ipvs.ErrNotFound
	}
	// Like the kernel's, an update sets every field it carries: a write
	// without the tunnel settings would turn the tunnel into ipip.
	old := &s.Destinations[j]
	old.Weight, old.Forward, old.UpperThreshold, old.LowerThreshold = d.Weight, d.Forward, d.UpperThreshold, d.LowerThreshold
	old.TunnelType, old.TunnelPort, old.TunnelFlags = d.TunnelType, d.TunnelPort, d.TunnelFlags
	return nil
}

func (f *fakeTable) DeleteDestination(_ context.Context, k ipvs.ServiceKey, a netip.AddrPort) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("delete " + k.String() + " " + a.String()); err != nil {
		return err
	}
	i := f.findLocked(k)
	if i < 0 {
		return ipvs.ErrNotFound
	}
	s := &f.services[i]
	j := f.findDestLocked(s, a)
	if j < 0 {
		return ipvs.ErrNotFound
	}
	s.Destinations = slices.Delete(s.Destinations, j, j+1)
	return nil
}

// handEdit changes a destination as `ipvsadm -e` would (weight), or
// deletes it (`ipvsadm -d`) when weight is negative, without recording a
// write.
func (f *fakeTable) handEdit(k ipvs.ServiceKey, server string, weight int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := netip.MustParseAddrPort(server)
	s := &f.services[f.findLocked(k)]
	j := f.findDestLocked(s, a)
	if weight < 0 {
		s.Destinations = slices.Delete(s.Destinations, j, j+1)
		return
	}
	s.Destinations[j].Weight = weight
}

// handEditTunnel changes a destination's tunnel settings as `ipvsadm -e
// --tun-type ...` would, without recording a write.
func (f *fakeTable) handEditTunnel(k ipvs.ServiceKey, server string, typ ipvs.TunnelType, port uint16, flags ipvs.TunnelFlags) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &f.services[f.findLocked(k)]
	d := &s.Destinations[f.findDestLocked(s, netip.MustParseAddrPort(server))]
	d.TunnelType, d.TunnelPort, d.TunnelFlags = typ, port, flags
}

// dest returns a copy of a destination of the table; ok is false when
// it is absent.
func (f *fakeTable) dest(k ipvs.ServiceKey, server string) (ipvs.Destination, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.findLocked(k)
	if i < 0 {
		return ipvs.Destination{}, false
	}
	s := &f.services[i]
	j := f.findDestLocked(s, netip.MustParseAddrPort(server))
	if j < 0 {
		return ipvs.Destination{}, false
	}
	return s.Destinations[j], true
}

// weight returns a destination's weight in the table, -1 when absent.
func (f *fakeTable) weight(k ipvs.ServiceKey, server string) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.findLocked(k)
	if i < 0 {
		return -1
	}
	s := &f.services[i]
	j := f.findDestLocked(s, netip.MustParseAddrPort(server))
	if j < 0 {
		return -1
	}
	return s.Destinations[j].Weight
}

// Sysctl returns what setSysctl set, ipvs.ErrNoSysctl for the others.
func (f *fakeTable) Sysctl(name string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.sysctls[name]
	if !ok {
		return 0, fmt.Errorf("sysctl net.ipv4.vs.%s: %w", name, ipvs.ErrNoSysctl)
	}
	return v, nil
}

func (f *fakeTable) setSysctl(name string, v int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sysctls == nil {
		f.sysctls = map[string]int{}
	}
	f.sysctls[name] = v
}

// totalWeight returns the sum of a service's destination weights, -1
// when the table lacks the service.
func (f *fakeTable) totalWeight(k ipvs.ServiceKey) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.findLocked(k)
	if i < 0 {
		return -1
	}
	var sum int32
	for _, d := range f.services[i].Destinations {
		sum += d.Weight
	}
	return sum
}

// fakeVerdicts is a VerdictSource whose states the test sets.
type fakeVerdicts struct {
	mu     sync.Mutex
	seq    int
	states map[destKey]health.ServerStatus
	subs   map[int]func(health.Event)
	nsub   int
	// statusCalls counts the calls of Status (not StatusOf),
	// verdictCalls those of Verdicts.
	statusCalls, verdictCalls int
	// now, when set, stamps the events' Time (the verdict's time).
	now func() time.Time
}

func newFakeVerdicts() *fakeVerdicts {
	return &fakeVerdicts{states: map[destKey]health.ServerStatus{}, subs: map[int]func(health.Event){}}
}

// set gives a real server a state and tells subscribers; a down state
// names a failing check.
// set changes a real server's verdict. Unless at says otherwise
// (setAt), each change happens an hour after the one before: verdicts
// of independent failures, never a fleet-wide one.
func (v *fakeVerdicts) set(service, server string, state health.State) {
	v.mu.Lock()
	v.seq++
	since := time.Unix(0, 0).Add(time.Duration(v.seq) * time.Hour)
	v.mu.Unlock()
	v.setAt(service, server, state, since)
}

// localError sets (or, with "", clears) a real server's local error.
func (v *fakeVerdicts) localError(service, server, reason string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := destKey{service, server}
	st := v.states[k]
	st.LocalError = reason
	v.states[k] = st
}

// setAt changes a real server's verdict as of since.
func (v *fakeVerdicts) setAt(service, server string, state health.State, since time.Time) {
	v.mu.Lock()
	k := destKey{service, server}
	old := v.states[k].State
	st := health.ServerStatus{Service: service, Server: server, State: state, Since: since}
	if state == health.StateDown {
		st.Checks = []health.CheckStatus{{Name: "tcp:80", State: health.StateDown,
			Last: health.Result{Class: health.ClassClosed, Reason: "connection refused (RST)"}}}
	}
	v.states[k] = st
	subs := make([]func(health.Event), 0, len(v.subs))
	for _, fn := range v.subs {
		subs = append(subs, fn)
	}
	var at time.Time
	if v.now != nil {
		at = v.now()
	}
	v.mu.Unlock()
	for _, fn := range subs {
		fn(health.Event{Time: at, Service: service, Server: server, Old: old, New: state})
	}
}

func (v *fakeVerdicts) Status() []health.ServerStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.statusCalls++
	return v.sortedLocked(true)
}

// Verdicts returns the statuses without their checks, as
// health.Scheduler's.
func (v *fakeVerdicts) Verdicts() []health.ServerStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.verdictCalls++
	return v.sortedLocked(false)
}

// sortedLocked returns the statuses in Status's order, with their checks
// or without; v.mu is held.
func (v *fakeVerdicts) sortedLocked(checks bool) []health.ServerStatus {
	out := make([]health.ServerStatus, 0, len(v.states))
	for _, s := range v.states {
		if !checks {
			s.Checks = nil
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b health.ServerStatus) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.Server, b.Server))
	})
	return out
}

// StatusOf returns one real server's status, as health.Scheduler's.
func (v *fakeVerdicts) StatusOf(service, server string) (health.ServerStatus, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st, ok := v.states[destKey{service, server}]
	return st, ok
}

// verdictCount returns how many times Verdicts was called.
func (v *fakeVerdicts) verdictCount() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.verdictCalls
}

// statusCount returns how many times Status was called.
func (v *fakeVerdicts) statusCount() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.statusCalls
}

func (v *fakeVerdicts) Subscribe(fn func(health.Event)) func() {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := v.nsub
	v.nsub++
	v.subs[id] = fn
	return func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		delete(v.subs, id)
	}
}

func (v *fakeVerdicts) subscribers() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.subs)
}

// fakeAdmin is the real maintenance store, saved to a file of the
// test's, with a shorthand for the tests that change it.
type fakeAdmin struct{ *Maintenance }

func (a *fakeAdmin) put(service, server string, on bool) {
	if _, _, err := a.Apply(MaintenanceChange{Service: service, Server: server, Enabled: on}); err != nil {
		panic(err)
	}
}

// LabeledServers lists the real servers with a state, as the scheduler
// does (*health.Scheduler.LabeledServers).
func (v *fakeVerdicts) LabeledServers() []health.LabeledServer {
	var out []health.LabeledServer
	for _, st := range v.Status() {
		out = append(out, health.LabeledServer{Service: st.Service, Server: st.Server})
	}
	slices.SortFunc(out, func(a, b health.LabeledServer) int { return compareServer(a, b.Service, b.Server) })
	return out
}
