package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// fakeTable is a kernel table the test edits; this machine has no IPVS.
// The lab VM proves discovery on the real one.
type fakeTable struct {
	mu    sync.Mutex
	snap  *ipvs.Snapshot
	err   error
	reads int
}

func (f *fakeTable) Snapshot(context.Context) (*ipvs.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.snap, f.err
}

func (f *fakeTable) set(snap *ipvs.Snapshot, err error) {
	f.mu.Lock()
	f.snap, f.err = snap, err
	f.mu.Unlock()
}

// tableOf is a table with one TCP service on 192.0.2.10:80 whose
// destinations are servers.
func tableOf(servers ...string) *ipvs.Snapshot {
	svc := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP,
		Address: netip.MustParseAddr("192.0.2.10"), Port: 80}}
	for _, s := range servers {
		ap := netip.MustParseAddrPort(s)
		svc.Destinations = append(svc.Destinations, ipvs.Destination{Family: ipvs.FamilyIPv4, Address: ap.Addr(), Port: ap.Port()})
	}
	return &ipvs.Snapshot{Services: []ipvs.Service{svc}}
}

// servers lists the real servers the scheduler checks, and their states.
func servers(c *checks) map[string]health.State {
	out := map[string]health.State{}
	for _, st := range c.sched.Status() {
		out[st.Server] = st.State
	}
	return out
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	testutil.Poll(t, within, 10*time.Millisecond, func() error {
		if !cond() {
			return errors.New(what)
		}
		return nil
	})
}

// TestDiscoveryRefresh: destinations added to and removed from the table
// are checked and dropped at the next refresh; an unreadable table keeps
// the discovered servers (and is logged once); a server's state survives
// refreshes and reloads, which run concurrently without a race.
func TestDiscoveryRefresh(t *testing.T) {
	a := newListener(t, "127.0.0.1:0")
	b := newListener(t, "127.0.0.1:0")
	const discovery = `
discovery:
  enabled: true
  checks: [{type: tcp, schedule: "@every 100ms", timeout: 50ms, rise: 1, fall: 1}]
`
	path := writeFile(t, t.TempDir(), "lvs.yml", discovery)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	table := &fakeTable{snap: tableOf(a.addr)}
	var log testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	c, err := newChecks(context.Background(), path, cfg, table, options{discoveryRefresh: 20 * time.Millisecond}, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := c.stop(context.Background()); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	})

	waitFor(t, "a up", 3*time.Second, func() bool { return servers(c)[a.addr] == health.StateUp })

	table.set(tableOf(a.addr, b.addr), nil)
	waitFor(t, "b discovered and up", 3*time.Second, func() bool { return servers(c)[b.addr] == health.StateUp })

	// Reloads while the table changes under the refresh: -race watches.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if err := c.reload(context.Background(), "test"); err != nil {
				t.Error(err)
			}
		}
	}()
	for i := range 20 {
		if i%2 == 0 {
			table.set(tableOf(a.addr), nil)
		} else {
			table.set(tableOf(a.addr, b.addr), nil)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()

	table.set(tableOf(a.addr), nil)
	waitFor(t, "b dropped", 3*time.Second, func() bool { _, ok := servers(c)[b.addr]; return !ok })
	if got := servers(c)[a.addr]; got != health.StateUp {
		t.Errorf("a is %s after refreshes and reloads, want up", got)
	}
	var aUp int
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, `msg="real server up"`) && strings.Contains(line, "server="+a.addr) {
			aUp++
		}
	}
	if aUp != 1 {
		t.Errorf("a went up %d times, want once: refreshes and reloads must keep its state", aUp)
	}

	// An unreadable table keeps what was discovered, and says so once.
	table.set(nil, errors.New("read IPVS table: boom"))
	table.mu.Lock()
	reads := table.reads
	table.mu.Unlock()
	waitFor(t, "three more reads", 3*time.Second, func() bool {
		table.mu.Lock()
		defer table.mu.Unlock()
		return table.reads >= reads+3
	})
	if _, ok := servers(c)[a.addr]; !ok {
		t.Errorf("a dropped while the table is unreadable")
	}
	if n := strings.Count(log.String(), "boom"); n != 1 {
		t.Errorf("the read error is logged %d times, want 1", n)
	}
	table.set(tableOf(a.addr, b.addr), nil)
	waitFor(t, "b back", 3*time.Second, func() bool { _, ok := servers(c)[b.addr]; return ok })
	if !strings.Contains(log.String(), "the IPVS table is readable again") {
		t.Errorf("recovery not logged")
	}
}

// TestDiscoveryDeclaredWins: a destination that the file declares keeps
// the file's checks, not discovery's.
func TestDiscoveryDeclaredWins(t *testing.T) {
	a := newListener(t, "127.0.0.1:0")
	text := fmt.Sprintf(`
services:
  - name: web
    address: 192.0.2.10:80
    real_servers: [{address: %s, forward: nat}]
    checks: [{type: tcp, schedule: "@every 1s", timeout: 50ms}]
discovery:
  enabled: true
  checks: [{type: icmp, schedule: "@every 1s", timeout: 500ms}]
`, a.addr)
	path := writeFile(t, t.TempDir(), "lvs.yml", text)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newChecks(context.Background(), path, cfg, &fakeTable{snap: tableOf(a.addr)}, options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop(context.Background())
	st := c.sched.Status()
	if len(st) != 1 || len(st[0].Checks) != 1 || st[0].Checks[0].Name != "tcp:"+a.port() {
		t.Errorf("status %+v, want one server with the declared tcp check", st)
	}
}
