package load

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// fakeAgents answers polls with the value or error set per address.
type fakeAgents struct {
	mu     sync.Mutex
	values map[netip.Addr]float64
	errs   map[netip.Addr]error
	dials  map[netip.Addr]int
	open   int
}

func newFakeAgents() *fakeAgents {
	return &fakeAgents{values: map[netip.Addr]float64{}, errs: map[netip.Addr]error{}, dials: map[netip.Addr]int{}}
}

func (f *fakeAgents) set(addr string, v float64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := netip.MustParseAddr(addr)
	f.values[a], f.errs[a] = v, err
}

func (f *fakeAgents) dial(addr netip.Addr, _ *config.LoadWeight, _ func(func() error) error) (client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dials[addr]++
	f.open++
	return &fakeClient{f: f, addr: addr}, nil
}

type fakeClient struct {
	f    *fakeAgents
	addr netip.Addr
}

func (c *fakeClient) poll(context.Context) (float64, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return c.f.values[c.addr], c.f.errs[c.addr]
}

func (c *fakeClient) close() {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.open--
}

// rig is a poller on a FakeClock with fake agents; polls counts the
// recorded polls.
type rig struct {
	t       *testing.T
	clock   *health.FakeClock
	agents  *fakeAgents
	p       *Poller
	log     *testutil.SyncBuffer
	mu      sync.Mutex
	polls   int
	changes int
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, clock: health.NewFakeClock(time.Unix(1e9, 0)), agents: newFakeAgents(), log: &testutil.SyncBuffer{}}
	r.p = New(Options{
		Logger:    slog.New(slog.NewTextHandler(r.log, nil)),
		Clock:     r.clock,
		OnChange:  func() { r.mu.Lock(); r.changes++; r.mu.Unlock() },
		dial:      r.agents.dial,
		afterPoll: func() { r.mu.Lock(); r.polls++; r.mu.Unlock() },
	})
	t.Cleanup(func() {
		if err := r.p.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return r
}

func (r *rig) count() (polls, changes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.polls, r.changes
}

// step advances the clock by d and waits until want polls in all were
// recorded.
func (r *rig) step(d time.Duration, want int) {
	r.t.Helper()
	r.clock.Advance(d)
	testutil.Poll(r.t, 5*time.Second, time.Millisecond, func() error {
		if n, _ := r.count(); n < want {
			return errors.New("waiting for polls")
		}
		return nil
	})
}

func loadConfig(t *testing.T, servers ...string) *config.Config {
	t.Helper()
	src := "defaults: {load: {community: c, interval: 1s, timeout: 500ms, stale_after: 3, start: 2, full: 6, hysteresis: 0.5}}\n" +
		"services: [{name: web, address: 192.0.2.1:80, real_servers: ["
	for i, s := range servers {
		if i > 0 {
			src += ", "
		}
		src += "{address: '" + s + ":80', weight: 10}"
	}
	c, err := config.Parse([]byte(src+"]}]\n"), "load.yml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPollerSamplesAndStale: a worker polls at once and every interval;
// a server that stops answering is fresh until stale_after intervals
// have passed without a good answer, logged once, and fresh again on its
// next answer.
func TestPollerSamplesAndStale(t *testing.T) {
	r := newRig(t)
	r.agents.set("10.0.0.1", 3.5, nil)
	r.p.Update(loadConfig(t, "10.0.0.1"))
	r.step(0, 1)
	v, seq, fresh := r.p.Load("tcp/192.0.2.1:80", "10.0.0.1:80")
	if v != 3.5 || seq != 1 || !fresh {
		t.Fatalf("after the first poll: %g %d %v, want 3.5 1 true", v, seq, fresh)
	}
	r.step(time.Second, 2)
	if _, seq, _ := r.p.Load("tcp/192.0.2.1:80", "10.0.0.1:80"); seq != 2 {
		t.Errorf("second poll: seq %d", seq)
	}
	r.agents.set("10.0.0.1", 0, errors.New("request timeout (after 0 retries)"))
	for i := 3; i <= 4; i++ {
		r.step(time.Second, i)
		if _, _, fresh := r.p.Load("tcp/192.0.2.1:80", "10.0.0.1:80"); !fresh {
			t.Fatalf("stale after %d failed polls, stale_after is 3", i-2)
		}
	}
	r.step(time.Second, 5)
	v, _, fresh = r.p.Load("tcp/192.0.2.1:80", "10.0.0.1:80")
	if fresh || v != 3.5 {
		t.Fatalf("after 3 failed polls: %g fresh %v, want the last value, not fresh", v, fresh)
	}
	r.step(time.Second, 6)
	if n := strings.Count(r.log.String(), "load is stale"); n != 1 {
		t.Errorf("the stale episode was logged %d times, want once:\n%s", n, r.log)
	}
	r.agents.set("10.0.0.1", 1, nil)
	r.step(time.Second, 7)
	if v, _, fresh := r.p.Load("tcp/192.0.2.1:80", "10.0.0.1:80"); !fresh || v != 1 {
		t.Errorf("after an answer: %g fresh %v", v, fresh)
	}
	if !strings.Contains(r.log.String(), "fresh again") {
		t.Errorf("the end of the episode is not logged:\n%s", r.log)
	}
	// Each failure re-opens the client: one dial at start, one after each
	// of the four failed polls.
	if d := r.agents.dials[netip.MustParseAddr("10.0.0.1")]; d != 5 {
		t.Errorf("%d dials, want 5", d)
	}
}

// TestPollerNeverAnswered: a server that never answers is not fresh and
// becomes stale after stale_after intervals from the start.
func TestPollerNeverAnswered(t *testing.T) {
	r := newRig(t)
	r.agents.set("10.0.0.9", 0, errors.New("request timeout"))
	r.p.Update(loadConfig(t, "10.0.0.9"))
	r.step(0, 1)
	if _, _, fresh := r.p.Load("tcp/192.0.2.1:80", "10.0.0.9:80"); fresh {
		t.Fatal("fresh without an answer")
	}
	if strings.Contains(r.log.String(), "stale") {
		t.Errorf("stale before stale_after intervals:\n%s", r.log)
	}
	for i := 2; i <= 4; i++ {
		r.step(time.Second, i)
	}
	if !strings.Contains(r.log.String(), "stale") {
		t.Errorf("not logged stale after 3 intervals:\n%s", r.log)
	}
}

// TestPollerOnChange: OnChange is called for the first value, for moves
// of at least the hysteresis and for freshness changes, not for noise.
func TestPollerOnChange(t *testing.T) {
	r := newRig(t)
	r.agents.set("10.0.0.1", 3, nil)
	r.p.Update(loadConfig(t, "10.0.0.1"))
	r.step(0, 1)
	if _, c := r.count(); c != 1 {
		t.Fatalf("%d changes after the first value, want 1", c)
	}
	r.agents.set("10.0.0.1", 3.4, nil) // within the hysteresis 0.5
	r.step(time.Second, 2)
	if _, c := r.count(); c != 1 {
		t.Errorf("%d changes after noise, want 1", c)
	}
	r.agents.set("10.0.0.1", 3.6, nil)
	r.step(time.Second, 3)
	if _, c := r.count(); c != 2 {
		t.Errorf("%d changes after a move of 0.6, want 2", c)
	}
}

// TestPollerUpdate: reloads add and remove workers, keep those whose
// block is the same (with their samples) and restart changed ones.
func TestPollerUpdate(t *testing.T) {
	r := newRig(t)
	r.agents.set("10.0.0.1", 1, nil)
	r.agents.set("10.0.0.2", 2, nil)
	r.p.Update(loadConfig(t, "10.0.0.1"))
	r.step(0, 1)
	r.p.Update(loadConfig(t, "10.0.0.1", "10.0.0.2"))
	r.step(0, 2)
	if _, seq, _ := r.p.Load("tcp/192.0.2.1:80", "10.0.0.1:80"); seq != 1 {
		t.Errorf("the kept worker lost its samples: seq %d", seq)
	}
	if v, _, fresh := r.p.Load("tcp/192.0.2.1:80", "10.0.0.2:80"); v != 2 || !fresh {
		t.Errorf("the added worker: %g %v", v, fresh)
	}
	// A changed block: a new worker, which starts from the last answer.
	changed := loadConfig(t, "10.0.0.1", "10.0.0.2")
	changed.Services[0].RealServers[1].Load = &config.LoadWeight{}
	*changed.Services[0].RealServers[1].Load = *changed.Services[0].Load
	changed.Services[0].RealServers[1].Load.Start = 1
	r.agents.set("10.0.0.2", 0, errors.New("request timeout"))
	r.p.Update(changed)
	if v, seq, fresh := r.p.Load("tcp/192.0.2.1:80", "10.0.0.2:80"); v != 2 || seq != 1 || !fresh {
		t.Errorf("after a change of its block: %g %d %v, want the last answer 2, 1, fresh", v, seq, fresh)
	}
	r.step(0, 3)
	r.agents.mu.Lock()
	dials := r.agents.dials[netip.MustParseAddr("10.0.0.2")]
	r.agents.mu.Unlock()
	if dials != 2 {
		t.Errorf("%d dials of 10.0.0.2: the changed block did not make a new client", dials)
	}
	r.agents.set("10.0.0.2", 2, nil)
	r.step(time.Second, 4)
	r.p.Update(loadConfig(t, "10.0.0.2"))
	if _, _, fresh := r.p.Load("tcp/192.0.2.1:80", "10.0.0.1:80"); fresh {
		t.Errorf("a removed server still has a load")
	}
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		r.agents.mu.Lock()
		defer r.agents.mu.Unlock()
		if r.agents.open != 1 {
			return errors.New("the removed worker's client is still open")
		}
		return nil
	})
}

// TestScrub: an error that would hold a secret is rewritten.
func TestScrub(t *testing.T) {
	c := &snmpClient{cfg: &config.LoadWeight{SNMP: config.SNMPCredentials{Community: config.Secret("s3cret-community")}}}
	err := c.scrub(errors.New("bad community s3cret-community"))
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "<secret>") {
		t.Errorf("scrub: %v", err)
	}
}
