package actuator

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// Names of the test service and its real servers.
const (
	webVIP = "192.0.2.10:80"
	web    = "tcp/192.0.2.10:80"
	rs1    = "10.0.0.1:80"
	rs2    = "10.0.0.2:80"
	rs3    = "10.0.0.3:80"
	rs4    = "10.0.0.4:80"
)

var webKey = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}

// parseConfig parses a configuration the way the program does.
func parseConfig(t *testing.T, yml string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(yml), "test.yml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return c
}

// webConfig is one NAT service with four real servers of weight 2, 1, 3
// and 1 (the third with thresholds); extra is added to the service's
// keys and top is added at the top level.
func webConfig(t *testing.T, extra, top string) *config.Config {
	t.Helper()
	return parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
`+indent(extra, "    ")+`
    real_servers:
      - {address: `+rs1+`, weight: 2, forward: nat}
      - {address: `+rs2+`, weight: 1, forward: nat}
      - {address: `+rs3+`, weight: 3, forward: nat, upper_threshold: 100, lower_threshold: 50}
      - {address: `+rs4+`, weight: 1, forward: nat}
`+top)
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = prefix + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

// webTable is the kernel table of webConfig with every real server at
// its declared weight.
func webTable() ipvs.Service {
	return ipvs.Service{ServiceKey: webKey, Scheduler: "wrr", Netmask: 0xffffffff, Destinations: []ipvs.Destination{
		dest(rs1, 2), dest(rs2, 1), {Family: ipvs.FamilyIPv4, Address: netip.MustParseAddr("10.0.0.3"), Port: 80, Weight: 3, UpperThreshold: 100, LowerThreshold: 50},
		dest(rs4, 1),
	}}
}

func dest(server string, weight int32) ipvs.Destination {
	a := netip.MustParseAddrPort(server)
	return ipvs.Destination{Family: ipvs.FamilyIPv4, Address: a.Addr(), Port: a.Port(), Weight: weight, Forward: ipvs.ForwardMasq}
}

// syncBuffer is a log sink safe to read while the controller writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns how many log lines contain every one of parts.
func (b *syncBuffer) count(parts ...string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// rig is a controller with fakes around it.
type rig struct {
	t     *testing.T
	c     *Controller
	table *fakeTable
	v     *fakeVerdicts
	admin *fakeAdmin
	clock *health.FakeClock
	logs  *syncBuffer
	// actions records what the controller's OnAction hook received.
	actions []Action
	// load, when set before newController, is the controller's load
	// source.
	load *fakeLoad
	// rounds gets a value after each round of targeted writes of Run
	// (see running).
	rounds chan struct{}
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newRig(t *testing.T, cfg *config.Config, table *fakeTable) *rig {
	t.Helper()
	m, err := LoadMaintenance(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, table: table, v: newFakeVerdicts(), admin: &fakeAdmin{m}, clock: health.NewFakeClock(epoch), logs: &syncBuffer{}}
	r.c = r.newController(cfg)
	return r
}

// applied makes the rig's controller one restarted after a run that left
// recs in the state file: what it had applied to each real server.
func (r *rig) applied(recs ...AppliedDest) {
	r.t.Helper()
	if err := r.admin.SaveApplied(recs); err != nil {
		r.t.Fatal(err)
	}
	r.c = r.newController(r.c.config())
}

// drainedByUs is the record of a real server the controller drained.
func drainedByUs(service, server string) AppliedDest {
	return AppliedDest{Service: service, Server: server, Present: true, Weight: 0}
}

// newController makes another controller on the same fakes: a restart
// (the maintenance store is loaded again from its file, as a restarted
// program would).
func (r *rig) newController(cfg *config.Config) *Controller {
	r.t.Helper()
	return r.newControllerWith(cfg, nil)
}

// newControllerWith is newController with the options edited by edit
// (nil: none), for tests that give the controller another verdict source
// or action hook.
func (r *rig) newControllerWith(cfg *config.Config, edit func(*Options)) *Controller {
	r.t.Helper()
	if r.c != nil && r.admin.Path() != "" {
		m, err := LoadMaintenance(r.admin.Path())
		if err != nil {
			r.t.Fatal(err)
		}
		r.admin = &fakeAdmin{m}
	}
	opts := Options{Reader: r.table, Writer: r.table, Verdicts: r.v, Admin: r.admin, Clock: r.clock,
		OnAction: func(a Action) { r.actions = append(r.actions, a) },
		Logger:   slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if r.load != nil {
		opts.Load = r.load
	}
	if edit != nil {
		edit(&opts)
	}
	c, err := New(cfg, opts)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// subscribe gives the controller the verdict changes of r.v as Run
// does, for tests that make its targeted writes by hand (target).
func (r *rig) subscribe() {
	r.t.Cleanup(r.v.Subscribe(r.c.noteVerdict))
}

// target makes the targeted writes of the verdict changes queued since
// the last call, as Run does between passes, and returns the writes;
// full is true when it left them to a full pass.
func (r *rig) target() (writes []string, full bool) {
	r.t.Helper()
	full, _ = r.c.targeted(context.Background())
	return r.table.takeWrites(), full
}

// takeActions returns the actions the hook received since the last call.
func (r *rig) takeActions() []Action {
	a := r.actions
	r.actions = nil
	return a
}

// pass runs one pass and returns the writes it made.
func (r *rig) pass() []string {
	r.t.Helper()
	r.c.pass(context.Background())
	return r.table.takeWrites()
}

// all sets every real server of the web service to state.
func (r *rig) all(state health.State) {
	for _, s := range []string{rs1, rs2, rs3, rs4} {
		r.v.set(web, s, state)
	}
}

// rsStatus returns a real server's status from the last pass.
func (r *rig) rsStatus(service, server string) RealServerStatus {
	r.t.Helper()
	for _, s := range r.c.Status().Services {
		if s.Service != service {
			continue
		}
		for _, rs := range s.RealServers {
			if rs.Server == server {
				return rs
			}
		}
	}
	r.t.Fatalf("no status of %s %s", service, server)
	return RealServerStatus{}
}

func (r *rig) svcStatus(service string) ServiceStatus {
	r.t.Helper()
	for _, s := range r.c.Status().Services {
		if s.Service == service {
			return s
		}
	}
	r.t.Fatalf("no status of %s", service)
	return ServiceStatus{}
}

// wantWrites compares the writes of a pass with want, in order.
func wantWrites(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("writes:\n got %q\nwant %q", got, want)
	}
}
