package load

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// memTable is an IPVS table in memory for the controller (this machine
// has no IPVS; the lab tests the kernel's): it keeps every weight each
// real server was given, in order.
type memTable struct {
	mu      sync.Mutex
	svc     *ipvs.Service
	history map[string][]int32
}

func (m *memTable) Snapshot(context.Context) (*ipvs.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := &ipvs.Snapshot{}
	if m.svc != nil {
		s := *m.svc
		s.Destinations = append([]ipvs.Destination(nil), m.svc.Destinations...)
		snap.Services = []ipvs.Service{s}
	}
	return snap, nil
}

func (m *memTable) CreateService(_ context.Context, s *ipvs.Service) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *s
	m.svc = &cp
	return nil
}

func (m *memTable) UpdateService(context.Context, *ipvs.Service) error { return nil }

func (m *memTable) CreateDestination(_ context.Context, _ ipvs.ServiceKey, d *ipvs.Destination) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.svc.Destinations = append(m.svc.Destinations, *d)
	m.record(d)
	return nil
}

func (m *memTable) UpdateDestination(_ context.Context, _ ipvs.ServiceKey, d *ipvs.Destination) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.svc.Destinations {
		if m.svc.Destinations[i].Server() == d.Server() {
			m.svc.Destinations[i] = *d
		}
	}
	m.record(d)
	return nil
}

func (m *memTable) DeleteDestination(context.Context, ipvs.ServiceKey, netip.AddrPort) error {
	return fmt.Errorf("not in this test")
}

func (m *memTable) record(d *ipvs.Destination) {
	m.history[d.Server()] = append(m.history[d.Server()], d.Weight)
}

func (m *memTable) weights(server string) []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.history[server]...)
}

func (m *memTable) weight(server string) int32 {
	w := m.weights(server)
	if len(w) == 0 {
		return -1
	}
	return w[len(w)-1]
}

// allUp is a verdict source with every real server up.
type allUp struct{ servers []health.ServerStatus }

func (a allUp) Status() []health.ServerStatus              { return a.servers }
func (allUp) Subscribe(func(health.Event)) (cancel func()) { return func() {} }

// TestSnmpdLoadWeights runs the poller and the controller against two
// real snmpd instances in their own network namespaces, one polled with
// SNMPv2c and one with SNMPv3 authPriv, whose laLoadInt.1 the test sets:
// the busy one's weight falls in steps of at most max_step to declared ×
// f(load), noise within the hysteresis moves nothing, it never goes below
// the floor, the idle one keeps its declared weight, and once its snmpd
// is stopped the busy one gets its declared weight back.
func TestSnmpdLoadWeights(t *testing.T) {
	bin := needTool(t, "snmpd", "snmpd")
	l := newLab(t, 2)
	busy := newSnmpd(t, bin, l.servers[0], l.serverAddr(0), l.directorAddr(0), 50, "")
	newSnmpd(t, bin, l.servers[1], l.serverAddr(1), l.directorAddr(1), 50, "")
	rsBusy := netip.AddrPortFrom(l.serverAddr(0), 80).String()
	rsIdle := netip.AddrPortFrom(l.serverAddr(1), 80).String()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
defaults:
  load: {community: director-only, interval: 300ms, timeout: 200ms, stale_after: 3,
         start: 1, full: 5, floor: 20%%, max_step: 20%%, hysteresis: 0.3}
services:
  - name: web
    address: 192.0.2.10:80
    real_servers:
      - {address: "%s", weight: 100, forward: nat}
      - address: "%s"
        weight: 100
        forward: nat
        load: {version: v3, user: lvsdirector, auth_protocol: SHA256, auth_passphrase: auth-passphrase-1,
               priv_protocol: AES, priv_passphrase: priv-passphrase-1}
controller: {period: 100ms}
`, rsBusy, rsIdle)), "load.yml")
	if err != nil {
		t.Fatal(err)
	}
	service := cfg.Services[0].Key.String()
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	table := &memTable{history: map[string][]int32{}}
	var ctl *actuator.Controller
	poller := New(Options{Logger: logger, Do: l.director.do, OnChange: func() {
		if ctl != nil {
			ctl.Trigger()
		}
	}})
	ctl, err = actuator.New(cfg, actuator.Options{Reader: table, Writer: table, Logger: logger, Load: poller,
		Verdicts: allUp{[]health.ServerStatus{{Service: service, Server: rsBusy, State: health.StateUp}, {Service: service, Server: rsIdle, State: health.StateUp}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ctl.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := poller.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("logs:\n%s", logs)
		}
	})
	poller.Update(cfg)

	waitFresh := func(server string, want float64) {
		t.Helper()
		testutil.Poll(t, 10*time.Second, 20*time.Millisecond, func() error {
			if v, _, fresh := poller.Load(service, server); !fresh || v != want {
				return fmt.Errorf("%s: load %g fresh %v, want %g", server, v, fresh, want)
			}
			return nil
		})
	}
	waitWeight := func(server string, want int32) time.Duration {
		t.Helper()
		start := time.Now()
		testutil.Poll(t, 15*time.Second, 10*time.Millisecond, func() error {
			if w := table.weight(server); w != want {
				return fmt.Errorf("%s: weight %d, want %d (history %v)", server, w, want, table.weights(server))
			}
			return nil
		})
		return time.Since(start)
	}
	waitFresh(rsBusy, 0.5)
	waitFresh(rsIdle, 0.5) // SNMPv3 authPriv answers too
	waitWeight(rsBusy, 100)
	waitWeight(rsIdle, 100)

	// Load 3.0: halfway from start 1 to full 5, factor 0.6, weight 60, in
	// steps of at most 20 (one per answer).
	mark := len(table.weights(rsBusy))
	busy.setLoad(300)
	took := waitWeight(rsBusy, 60)
	steps := table.weights(rsBusy)[mark:]
	if !stepsBounded(100, steps, 20) {
		t.Errorf("weights %v: a step larger than max_step 20", steps)
	}
	t.Logf("load 0.5 -> 3.0: weight 100 -> 60 in %s, steps %v", took.Round(10*time.Millisecond), steps)

	// Noise: 3.2 is within the hysteresis 0.3 of 3.0.
	busy.setLoad(320)
	waitFresh(rsBusy, 3.2)
	// Four more answers, counted by the poller's sequence, not by time.
	_, seq0, _ := poller.Load(service, rsBusy)
	testutil.Poll(t, 10*time.Second, 20*time.Millisecond, func() error {
		if _, seq, _ := poller.Load(service, rsBusy); seq < seq0+4 {
			return fmt.Errorf("%d answers since the noise, want 4", seq-seq0)
		}
		return nil
	})
	if w := table.weight(rsBusy); w != 60 {
		t.Errorf("noise within the hysteresis moved the weight to %d (history %v)", w, table.weights(rsBusy))
	}

	// Saturated: the floor, 20% of 100, never lower.
	mark = len(table.weights(rsBusy))
	busy.setLoad(2000)
	took = waitWeight(rsBusy, 20)
	steps = table.weights(rsBusy)[mark:]
	for _, w := range steps {
		if w < 20 {
			t.Errorf("weight %d below the floor: %v", w, steps)
		}
	}
	if !stepsBounded(60, steps, 20) {
		t.Errorf("weights %v: a step larger than max_step 20", steps)
	}
	t.Logf("load 3.2 -> 20: weight 60 -> 20 in %s, steps %v", took.Round(10*time.Millisecond), steps)
	if w := table.weight(rsIdle); w != 100 {
		t.Errorf("the idle server's weight is %d, want 100", w)
	}

	// snmpd stopped: stale after 3 intervals, declared weight at once.
	stopped := time.Now()
	busy.stop()
	waitWeight(rsBusy, 100)
	t.Logf("snmpd stopped: declared weight back after %s (stale_after 3 x 300ms)", time.Since(stopped).Round(10*time.Millisecond))
	if since := time.Since(stopped); since < 600*time.Millisecond {
		t.Errorf("declared weight back after %s: sooner than stale_after allows", since)
	}
	if n := strings.Count(logs.String(), "real server load is stale"); n != 1 {
		t.Errorf("the stale episode was logged %d times, want once", n)
	}
	for _, secret := range []string{"director-only", "auth-passphrase-1", "priv-passphrase-1"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs hold the secret %q", secret)
		}
	}
	st := ctl.Status().Services[0].RealServers[0]
	if st.ReasonCode != actuator.ReasonUp || st.Load == nil || st.Load.Fresh {
		t.Errorf("after the stop: reason %s load %+v", st.ReasonCode, st.Load)
	}

	// It answers again: load weights apply again.
	busy.start()
	waitWeight(rsBusy, 80)
}

// stepsBounded reports whether weights, starting from from, never move
// by more than step at once.
func stepsBounded(from int32, weights []int32, step int32) bool {
	prev := from
	for _, w := range weights {
		if d := w - prev; d > step || d < -step {
			return false
		}
		prev = w
	}
	return true
}

// TestSnmpdSources polls hrProcessorLoad (the average of its rows) and a
// custom OID holding a decimal string with a scale from a real snmpd.
func TestSnmpdSources(t *testing.T) {
	bin := needTool(t, "snmpd", "snmpd")
	l := newLab(t, 1)
	newSnmpd(t, bin, l.servers[0], l.serverAddr(0), l.directorAddr(0), 50, `
override .1.3.6.1.2.1.25.3.3.1.2.196608 integer 30
override .1.3.6.1.2.1.25.3.3.1.2.196609 integer 70
override .1.3.6.1.2.1.25.3.3.1.2.196610 integer 20
override .1.3.6.1.4.1.32473.1.1.0 octet_str "0.75"
`)
	for _, tc := range []struct {
		name, block string
		want        float64
	}{
		{"ucd_load", `{community: director-only, start: 1, full: 5}`, 0.5},
		{"hr_processor", `{community: director-only, source: hr_processor, start: 50, full: 90}`, 40},
		{"oid", `{community: director-only, source: oid, oid: 1.3.6.1.4.1.32473.1.1.0, scale: 2, start: 1, full: 5}`, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l0 := mustLoadBlock(t, tc.block)
			c, err := dialSNMP(l.serverAddr(0), l0, l.director.do)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			ctx, cancel := context.WithTimeout(context.Background(), l0.Timeout)
			defer cancel()
			v, err := c.poll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%.6f", v) != fmt.Sprintf("%.6f", tc.want) {
				t.Errorf("load %g, want %g", v, tc.want)
			}
		})
	}
	t.Run("ipv6", func(t *testing.T) {
		l0 := mustLoadBlock(t, `{community: director-only, start: 1, full: 5}`)
		c, err := dialSNMP(l.serverAddr6(0), l0, l.director.do)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		// The first request over a fresh IPv6 link may be lost (neighbour
		// discovery); the poller's next interval is its retry.
		testutil.Poll(t, 5*time.Second, 100*time.Millisecond, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), l0.Timeout)
			defer cancel()
			if v, err := c.poll(ctx); err != nil || v != 0.5 {
				return fmt.Errorf("over IPv6: %g, %v; want 0.5", v, err)
			}
			return nil
		})
	})
	t.Run("wrong community", func(t *testing.T) {
		l0 := mustLoadBlock(t, `{community: not-the-community, timeout: 300ms, start: 1, full: 5}`)
		c, err := dialSNMP(l.serverAddr(0), l0, l.director.do)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		start := time.Now()
		_, err = c.poll(context.Background())
		if err == nil {
			t.Fatal("a wrong community got an answer")
		}
		if strings.Contains(err.Error(), "not-the-community") {
			t.Errorf("the error holds the community: %v", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("the poll took %s, beyond its 300ms timeout", took)
		}
	})
	t.Run("no such object", func(t *testing.T) {
		l0 := mustLoadBlock(t, `{community: director-only, source: oid, oid: 1.3.6.1.4.1.32473.1.2.0, start: 1, full: 5}`)
		c, err := dialSNMP(l.serverAddr(0), l0, l.director.do)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		if _, err := c.poll(context.Background()); err == nil || !strings.Contains(err.Error(), "no such object") {
			t.Errorf("error %v, want no such object", err)
		}
	})
}

// TestSnmpdV3Protocols polls a real snmpd as a v3 user of each pair of
// protocols in a set that covers every authentication and every privacy
// protocol the configuration offers (SHA-224 with AES-256-C included,
// whose key must be extended the Reeder way), each written in lower
// case: the one mapping to gosnmp (snmp/credentials) agrees with
// net-snmp on every one. A wrong passphrase gets no answer.
func TestSnmpdV3Protocols(t *testing.T) {
	bin := needTool(t, "snmpd", "snmpd")
	type user struct {
		name string
		auth config.AuthProtocol
		priv config.PrivProtocol
	}
	var users []user
	var conf strings.Builder
	for i := range max(len(config.AuthProtocols), len(config.PrivProtocols)) {
		u := user{auth: config.AuthProtocols[i%len(config.AuthProtocols)], priv: config.PrivProtocols[i%len(config.PrivProtocols)]}
		u.name = strings.ToLower("u-" + u.auth.String() + "-" + u.priv.String())
		users = append(users, u)
		fmt.Fprintf(&conf, "createUser %s %s auth-passphrase-1 %s priv-passphrase-1\nrouser %s priv\n",
			u.name, netSNMPName(u.auth.String()), netSNMPName(u.priv.String()), u.name)
	}
	l := newLab(t, 1)
	newSnmpd(t, bin, l.servers[0], l.serverAddr(0), l.directorAddr(0), 50, conf.String())
	poll := func(block string) (float64, error) {
		l0 := mustLoadBlock(t, block)
		c, err := dialSNMP(l.serverAddr(0), l0, l.director.do)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		ctx, cancel := context.WithTimeout(context.Background(), l0.Timeout)
		defer cancel()
		return c.poll(ctx)
	}
	for _, u := range users {
		t.Run(u.name, func(t *testing.T) {
			v, err := poll(fmt.Sprintf("{version: v3, user: %s, auth_protocol: %s, auth_passphrase: auth-passphrase-1, "+
				"priv_protocol: %s, priv_passphrase: priv-passphrase-1, start: 1, full: 5}",
				u.name, strings.ToLower(u.auth.String()), strings.ToLower(u.priv.String())))
			if err != nil || v != 0.5 {
				t.Errorf("load %g, %v; want 0.5", v, err)
			}
		})
	}
	t.Run("wrong passphrase", func(t *testing.T) {
		u := users[0]
		_, err := poll(fmt.Sprintf("{version: v3, user: %s, auth_protocol: %s, auth_passphrase: auth-passphrase-1, "+
			"priv_protocol: %s, priv_passphrase: not-the-passphrase, timeout: 300ms, start: 1, full: 5}", u.name, u.auth, u.priv))
		if err == nil {
			t.Fatal("a wrong privacy passphrase got an answer")
		}
		if strings.Contains(err.Error(), "not-the-passphrase") || strings.Contains(err.Error(), "auth-passphrase-1") {
			t.Errorf("the error holds a passphrase: %v", err)
		}
	})
}

// netSNMPName spells a protocol the way net-snmp's createUser does:
// SHA224 is SHA-224, AES192C is AES-192-C, AES stays AES.
func netSNMPName(s string) string {
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return s
	}
	out := s[:i] + "-" + strings.TrimRight(s[i:], "C")
	if strings.HasSuffix(s, "C") {
		out += "-C"
	}
	return out
}

// mustLoadBlock parses a load block as a real server's.
func mustLoadBlock(t *testing.T, block string) *config.LoadWeight {
	t.Helper()
	c, err := config.Parse([]byte("services: [{name: w, address: 192.0.2.1:80, real_servers: [{address: 10.0.0.1, load: "+block+"}]}]"), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	return c.Services[0].RealServers[0].Load
}
