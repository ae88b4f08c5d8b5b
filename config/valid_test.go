package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return c
}

func every(d time.Duration, spec string) Schedule {
	return Schedule{Spec: spec, Interval: d}
}

func cronSchedule(t *testing.T, spec string, gap time.Duration) Schedule {
	t.Helper()
	s, err := cronParser.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return Schedule{Spec: spec, Interval: gap, Cron: s}
}

func vip(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// compareConfig reports differences service by service, real server by real
// server and check by check, so a failure names the field.
func compareConfig(t *testing.T, got, want *Config) {
	t.Helper()
	if !reflect.DeepEqual(got.Defaults, want.Defaults) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got.Defaults, want.Defaults)
	}
	compareChecks(t, "discovery", got.Discovery.Checks, want.Discovery.Checks)
	if got.Controller != want.Controller {
		t.Errorf("controller = %+v, want %+v", got.Controller, want.Controller)
	}
	if got.Discovery.Enabled != want.Discovery.Enabled {
		t.Errorf("discovery.enabled = %v, want %v", got.Discovery.Enabled, want.Discovery.Enabled)
	}
	if len(got.Services) != len(want.Services) {
		t.Fatalf("%d services, want %d", len(got.Services), len(want.Services))
	}
	for i := range want.Services {
		g, w := got.Services[i], want.Services[i]
		compareChecks(t, w.Name+" checks", g.Checks, w.Checks)
		if len(g.RealServers) != len(w.RealServers) {
			t.Errorf("%s: %d real servers, want %d", w.Name, len(g.RealServers), len(w.RealServers))
			continue
		}
		for j := range w.RealServers {
			compareChecks(t, w.RealServers[j].Address.String()+" checks", g.RealServers[j].Checks, w.RealServers[j].Checks)
			g.RealServers[j].Checks, w.RealServers[j].Checks = nil, nil
			if !reflect.DeepEqual(g.RealServers[j], w.RealServers[j]) {
				t.Errorf("%s real server %d:\n got %+v\nwant %+v", w.Name, j, g.RealServers[j], w.RealServers[j])
			}
		}
		g.Checks, w.Checks, g.RealServers, w.RealServers = nil, nil, nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("service %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func compareChecks(t *testing.T, what string, got, want []Check) {
	t.Helper()
	if (got == nil) != (want == nil) || len(got) != len(want) {
		t.Errorf("%s: %d checks (nil %v), want %d (nil %v)", what, len(got), got == nil, len(want), want == nil)
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		for _, sub := range []struct {
			name string
			g, w any
		}{{"udp", g.UDP, w.UDP}, {"icmp", g.ICMP, w.ICMP}, {"http", g.HTTP, w.HTTP}} {
			if !reflect.DeepEqual(sub.g, sub.w) {
				t.Errorf("%s[%d].%s:\n got %+v\nwant %+v", what, i, sub.name, sub.g, sub.w)
			}
		}
		g.UDP, g.ICMP, g.HTTP, w.UDP, w.ICMP, w.HTTP = nil, nil, nil, nil, nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s[%d]:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

// TestFullExample checks every key of the README's full example lands in
// the model with its value.
func TestFullExample(t *testing.T) {
	c := mustLoad(t, "testdata/valid/full.yml")
	base := Check{
		Type: CheckTCP, Schedule: every(2*time.Second, "@every 2s"), Timeout: 800 * time.Millisecond,
		Rise: 2, Fall: 3, FastInterval: time.Second, DownInterval: 5 * time.Second, Jitter: Jitter{Percent: 10},
	}
	with := func(mod func(*Check)) Check {
		c := base
		mod(&c)
		return c
	}
	httpDefaults := func(h HTTPCheck) *HTTPCheck {
		if h.Method == "" {
			h.Method = "GET"
		}
		if h.Path == "" {
			h.Path = "/"
		}
		if h.ExpectStatus == nil {
			h.ExpectStatus = []StatusRange{{200, 200}}
		}
		return &h
	}
	want := &Config{
		Defaults: Defaults{Check: base, OnFailure: Drain, SlowStart: 30 * time.Second, PanicThreshold: 50, PanicHysteresis: 10},
		Services: []Service{
			{
				Name:               "web",
				Key:                ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80},
				Scheduler:          "wrr",
				Persistence:        300 * time.Second,
				PersistenceNetmask: 24,
				PanicThreshold:     25,
				PanicHysteresis:    5,
				OnFailure:          Remove,
				SlowStart:          time.Minute,
				Combine:            CombineAll,
				RealServers: []RealServer{
					{Address: vip("10.0.0.1:8080"), Weight: 2, Forward: ipvs.ForwardMasq},
					{Address: vip("10.0.0.2:8080"), Weight: 1, Forward: ipvs.ForwardMasq, UpperThreshold: 1000, LowerThreshold: 800},
					{Address: vip("10.0.0.3:8080"), Weight: 0, Forward: ipvs.ForwardMasq, Checks: []Check{
						with(func(c *Check) { c.Type, c.Port, c.HTTP = CheckHTTP, 8081, httpDefaults(HTTPCheck{Path: "/ready"}) }),
					}},
				},
				Checks: []Check{
					base,
					with(func(c *Check) {
						c.Type, c.Timeout = CheckHTTP, 900*time.Millisecond
						c.HTTP = httpDefaults(HTTPCheck{
							Path: "/healthz?full=1", Host: "www.example.com",
							ExpectStatus: []StatusRange{{200, 200}, {300, 399}},
							ExpectBody:   regexp.MustCompile(`"status":\s*"ok"`),
						})
						c.Source = netip.MustParseAddr("192.0.2.250")
					}),
				},
			},
			{
				Name:           "shop",
				Key:            ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Address: netip.MustParseAddr("2001:db8::10"), Port: 443},
				Scheduler:      "sh",
				PanicThreshold: 50, PanicHysteresis: 10, SlowStart: 30 * time.Second,
				RealServers: []RealServer{
					{Address: vip("[2001:db8:1::1]:443"), Weight: 1, Forward: ipvs.ForwardRoute},
					{Address: vip("[2001:db8:1::2]:443"), Weight: 1, Forward: ipvs.ForwardRoute},
					{Address: vip("10.0.0.9:443"), Weight: 1, Forward: ipvs.ForwardTunnel, Checks: []Check{
						with(func(c *Check) {
							c.Type, c.Schedule, c.Timeout, c.FastInterval = CheckSYN, cronSchedule(t, "*/5 * * * * *", 5*time.Second), 2*time.Second, 3*time.Second
						}),
						with(func(c *Check) {
							c.Type, c.HTTP = CheckHTTPS, httpDefaults(HTTPCheck{Path: "/health", TLSSkipVerify: true})
						}),
					}},
					{Address: vip("[2001:db8:1::3]:443"), Weight: 1, Forward: ipvs.ForwardTunnel,
						Tunnel: Tunnel{Type: ipvs.TunnelGUE, Port: 6080, Flags: ipvs.TunnelRemoteChecksum}},
				},
				Checks: []Check{
					with(func(c *Check) {
						c.Type, c.Schedule, c.Timeout, c.FastInterval = CheckSYN, cronSchedule(t, "*/5 * * * * *", 5*time.Second), 2*time.Second, 3*time.Second
						c.Source = netip.MustParseAddr("2001:db8::fe")
					}),
					with(func(c *Check) {
						c.Type, c.HTTP = CheckHTTPS, httpDefaults(HTTPCheck{Path: "/health",
							CAFile: "testdata/valid/tls/ca.pem", CA: readFile(t, "testdata/valid/tls/ca.pem"),
							CertFile: "testdata/valid/tls/check.pem", Cert: readFile(t, "testdata/valid/tls/check.pem"),
							KeyFile: "testdata/valid/tls/check-key.pem", Key: readFile(t, "testdata/valid/tls/check-key.pem")})
					}),
				},
			},
			{
				Name:           "dns",
				Key:            ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: netip.MustParseAddr("192.0.2.53"), Port: 53},
				Scheduler:      "rr",
				PanicThreshold: 50, PanicHysteresis: 10, SlowStart: 30 * time.Second,
				RealServers: []RealServer{
					{Address: vip("10.0.1.1:53"), Weight: 1, Forward: ipvs.ForwardRoute},
					{Address: vip("10.0.1.2:53"), Weight: 1, Forward: ipvs.ForwardRoute},
				},
				Checks: []Check{with(func(c *Check) {
					c.Type, c.Schedule, c.Timeout, c.Rise, c.Fall = CheckUDP, every(time.Second, "@every 1s"), 500*time.Millisecond, 1, 2
					c.UDP = &UDPCheck{
						Payload: []byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1},
						Expect:  []byte{0, 1, 0x81},
					}
				})},
			},
			{
				Name:           "mail",
				Key:            ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 42},
				Scheduler:      "lc",
				PanicThreshold: 50, PanicHysteresis: 10, SlowStart: 30 * time.Second,
				Combine: CombineAny,
				RealServers: []RealServer{
					{Address: vip("10.0.2.1:0"), Weight: 1, Forward: ipvs.ForwardRoute},
					{Address: vip("10.0.2.2:0"), Weight: 1, Forward: ipvs.ForwardRoute},
				},
				Checks: []Check{
					with(func(c *Check) {
						c.Type, c.Timeout = CheckICMP, 900*time.Millisecond
						c.ICMP = &ICMPCheck{Count: 3, Interval: 100 * time.Millisecond, MaxLoss: 34}
					}),
					with(func(c *Check) { c.Port = 25 }),
					with(func(c *Check) {
						c.Type, c.Port = CheckUDP, 4789
						c.UDP = &UDPCheck{Payload: []byte("ping\n"), Expect: []byte("pong")}
					}),
				},
			},
		},
		Discovery:  Discovery{Enabled: true, Checks: []Check{with(func(c *Check) { c.Schedule = every(5*time.Second, "@every 5s") })}},
		Controller: Controller{Mode: ControllerManaged, Period: 5 * time.Second},
	}
	compareConfig(t, c, want)
}

// TestDefaultsMerge checks what a service and a check inherit from the
// defaults section, and that each key they set wins.
func TestDefaultsMerge(t *testing.T) {
	c := mustLoad(t, "testdata/valid/defaults.yml")
	def := c.Defaults
	wantDef := Check{
		Type: CheckHTTP, Schedule: every(5*time.Second, "@every 5s"), Timeout: 2 * time.Second, Rise: 3, Fall: 4,
		DownInterval: 10 * time.Second, Jitter: Jitter{Max: 250 * time.Millisecond},
		HTTP: &HTTPCheck{Method: "GET", Path: "/", ExpectStatus: []StatusRange{{200, 200}}},
	}
	compareChecks(t, "defaults.check", []Check{def.Check}, []Check{wantDef})
	if def.OnFailure != Remove || def.SlowStart != 10*time.Second || def.PanicThreshold != 30 {
		t.Errorf("defaults: %+v", def)
	}

	inherits := c.Services[0]
	if inherits.OnFailure != Remove || inherits.SlowStart != 10*time.Second || inherits.PanicThreshold != 30 ||
		inherits.Scheduler != "wlc" || inherits.Combine != CombineAll {
		t.Errorf("service without settings did not inherit: %+v", inherits)
	}
	compareChecks(t, "inherited checks", inherits.Checks, []Check{wantDef})

	over := c.Services[1]
	if over.OnFailure != Drain || over.SlowStart != 0 || over.PanicThreshold != 0 {
		t.Errorf("service settings did not win over defaults: %+v", over)
	}
	tcp := wantDef
	tcp.Type, tcp.Timeout, tcp.Rise, tcp.HTTP = CheckTCP, time.Second, 1, nil
	fast := wantDef
	fast.Schedule, fast.Timeout, fast.DownInterval = every(500*time.Millisecond, "@every 500ms"), 400*time.Millisecond, 0
	fast.HTTP = &HTTPCheck{Method: "GET", Path: "/healthz", ExpectStatus: []StatusRange{{200, 200}}}
	compareChecks(t, "overriding checks", over.Checks, []Check{tcp, fast})
	ping := wantDef
	ping.HTTP = &HTTPCheck{Method: "GET", Path: "/ping", ExpectStatus: []StatusRange{{200, 200}}}
	compareChecks(t, "real server override", over.RealServers[1].Checks, []Check{ping})
	if over.RealServers[0].Checks != nil {
		t.Errorf("real server without checks has its own: %+v", over.RealServers[0].Checks)
	}
}

// TestMinimal checks the built-in defaults.
func TestMinimal(t *testing.T) {
	c := mustLoad(t, "testdata/valid/minimal.yml")
	want := &Config{
		Defaults: Defaults{Check: Check{Type: CheckTCP, Schedule: every(2*time.Second, "@every 2s"), Timeout: time.Second, Rise: 2, Fall: 3},
			PanicHysteresis: DefaultPanicHysteresis},
		Services: []Service{{
			Name: "web", Key: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80},
			Scheduler: "wlc", PanicHysteresis: DefaultPanicHysteresis,
			RealServers: []RealServer{
				{Address: vip("10.0.0.1:80"), Weight: 1, Forward: ipvs.ForwardMasq},
				{Address: vip("10.0.0.2:80"), Weight: 1, Forward: ipvs.ForwardMasq},
			},
		}},
		Controller: Controller{Mode: ControllerManaged, Period: DefaultControllerPeriod},
	}
	want.Services[0].Checks = []Check{want.Defaults.Check}
	compareConfig(t, c, want)
}

// TestDiscoveryOnly checks a file without services and the discovery
// checks' default.
func TestDiscoveryOnly(t *testing.T) {
	c := mustLoad(t, "testdata/valid/discovery.yml")
	if len(c.Services) != 0 || !c.Discovery.Enabled {
		t.Fatalf("services %d, discovery %v", len(c.Services), c.Discovery.Enabled)
	}
	check := Check{Type: CheckTCP, Schedule: cronSchedule(t, "*/2 * * * * *", 2*time.Second), Timeout: 1500 * time.Millisecond, Rise: 1, Fall: 2}
	compareChecks(t, "discovery", c.Discovery.Checks, []Check{check})
	got := ResolvePorts(c.Discovery.Checks, 8080)
	if got[0].Port != 8080 || c.Discovery.Checks[0].Port != 0 {
		t.Errorf("ResolvePorts: port %d, original changed to %d", got[0].Port, c.Discovery.Checks[0].Port)
	}
}

// TestChecksFor checks the per-real-server check list: the override or the
// service's checks, ports resolved, icmp without a port.
func TestChecksFor(t *testing.T) {
	c := mustLoad(t, "testdata/valid/full.yml")
	web := &c.Services[0]
	for i, want := range [][]uint16{{8080, 8080}, {8080, 8080}, {8081}} {
		got := web.ChecksFor(&web.RealServers[i])
		if len(got) != len(want) {
			t.Fatalf("real server %d: %d checks, want %d", i, len(got), len(want))
		}
		for j := range want {
			if got[j].Port != want[j] {
				t.Errorf("real server %d check %d: port %d, want %d", i, j, got[j].Port, want[j])
			}
		}
	}
	if web.Checks[0].Port != 0 {
		t.Errorf("ChecksFor changed the service's checks")
	}
	mail := &c.Services[3]
	got := mail.ChecksFor(&mail.RealServers[0])
	if got[0].Port != 0 || got[1].Port != 25 || got[2].Port != 4789 {
		t.Errorf("fwmark real server checks: ports %d %d %d, want 0 25 4789", got[0].Port, got[1].Port, got[2].Port)
	}
}

// TestRoundTrip writes every valid file back with Marshal and parses it
// again: the model must not change.
func TestRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := mustLoad(t, f)
			roundTrip(t, c)
		})
	}
}

// TestAliases checks that YAML anchors and aliases work (a shared list of
// real servers) and that an alias bomb is stopped.
func TestAliases(t *testing.T) {
	c, err := Parse([]byte(`
services:
  - name: web
    address: 192.0.2.1:80
    real_servers: &pool
      - {address: 10.0.0.1, forward: dr}
      - {address: 10.0.0.2, forward: dr}
  - name: web-tls
    address: 192.0.2.1:443
    real_servers: *pool
`), "aliases.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Services[1].RealServers[1].Address; got != vip("10.0.0.2:443") {
		t.Errorf("aliased dr real server: %s, want 10.0.0.2:443", got)
	}

	// Aliases multiply: 1,000 real servers x 300 checks x 300 status codes
	// is 90 million values from a file of 40 kilobytes, all valid. The
	// decoder must stop, not expand them.
	aliases := func(name string) string {
		return "[" + strings.TrimSuffix(strings.Repeat("*"+name+", ", 300), ", ") + "]"
	}
	var b strings.Builder
	b.WriteString("x-anchors:\n  - &code 200\n  - &codes " + aliases("code") + "\n" +
		"  - &chk {type: http, expect_status: *codes}\n  - &checks " + aliases("chk") + "\n" +
		"services:\n  - name: web\n    address: 192.0.2.1:80\n    real_servers:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "      - {address: 10.0.%d.%d:80, forward: nat, checks: *checks}\n", i/250, i%250+1)
	}
	bomb := b.String()
	_, err = Parse([]byte(bomb), "bomb.yml")
	if err == nil {
		t.Fatal("alias bomb accepted")
	}
	if !strings.Contains(err.Error(), "bomb.yml:1: x-anchors: unknown key") ||
		!strings.Contains(err.Error(), "the file expands to more than 1000000 values (nested aliases?)") {
		t.Errorf("alias bomb: unexpected error:\n%v", err)
	}
}

// TestScheduleParse covers sub-second intervals and the smallest gap of
// cron specs.
func TestScheduleParse(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		interval time.Duration
		cron     bool
	}{
		{"@every 500ms", 500 * time.Millisecond, false},
		{"@every 1m30s", 90 * time.Second, false},
		{"*/5 * * * * *", 5 * time.Second, true},
		{"0,1 * * * * *", time.Second, true},
		{"*/10 * * * *", 10 * time.Minute, true}, // five fields: minutes
		{"@hourly", time.Hour, true},
		{"0 0 0 * * MON-FRI", 24 * time.Hour, true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := parseSchedule(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if s.Interval != tc.interval || (s.Cron != nil) != tc.cron {
				t.Errorf("interval %s cron %v, want %s %v", s.Interval, s.Cron != nil, tc.interval, tc.cron)
			}
		})
	}
}

// TestParseConcurrently checks Parse can run concurrently (the race
// detector watches the shared tables).
func TestParseConcurrently(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for range 4 {
		go func() {
			_, err := Parse(data, "testdata/valid/full.yml")
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestRoundTripEdgeCases writes values that need quoting, escaping or hex
// and checks Marshal and Parse keep them.
func TestRoundTripEdgeCases(t *testing.T) {
	for _, tc := range []struct{ name, yaml string }{
		{"quoted name", `services: [{name: "wéb \"1\": #x", address: 192.0.2.1:80}]`},
		{"numeric name", `services: [{name: "0x10", address: 192.0.2.1:80}]`},
		{"binary payload", `services: [{name: d, address: 192.0.2.1:53, protocol: udp, checks: [{type: udp, payload: "\x01\u0080é\r", expect: "\t\n"}]}]`},
		{"regexp with newline", `services: [{name: w, address: 192.0.2.1:80, checks: [{type: http, expect_body: "a\nb|'c'"}]}]`},
		{"ipv6 host header", `services: [{name: w, address: 192.0.2.1:80, checks: [{type: https, host: "[::1]:8443", path: "/é?x=1&y"}]}]`},
		{"jitter reset", `{defaults: {check: {jitter: 10%}}, services: [{name: w, address: 192.0.2.1:80, checks: [{type: tcp, jitter: 0%}]}]}`},
		{"netmask 1", `services: [{name: w, address: 192.0.2.1:80, persistence: 60s, persistence_netmask: 1}]`},
		{"ipv6 netmask", `services: [{name: w, address: "[2001:db8::1]:80", persistence: 1h, persistence_netmask: 64}]`},
		{"status range", `services: [{name: w, address: 192.0.2.1:80, checks: [{type: http, expect_status: "200-204"}]}]`},
		{"fast interval reset", `{defaults: {check: {fast_interval: 1500ms}}, services: [{name: w, address: 192.0.2.1:80, checks: [{type: tcp, fast_interval: 0}]}]}`},
		{"discovery off with checks", `{services: [{name: w, address: 192.0.2.1:80}], discovery: {enabled: false, checks: [{type: icmp}]}}`},
		{"controller observe", `{services: [{name: w, address: 192.0.2.1:80}], controller: {mode: observe}}`},
		{"controller dry run", `{services: [{name: w, address: 192.0.2.1:80}], controller: {mode: dry_run, period: 1m30s}}`},
		{"controller period", `{services: [{name: w, address: 192.0.2.1:80}], controller: {period: 250ms}}`},
		{"icmp defaults", `{defaults: {check: {type: icmp}}, services: [{name: w, fwmark: 1, family: ipv6, real_servers: [{address: "2001:db8::1"}]}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, c)
		})
	}
}

// TestProtocolDefaultCheck checks what a service without checks gets:
// defaults.check when its type fits the protocol, else the protocol's own
// type (tcp for TCP, icmp for UDP and SCTP) with defaults.check's generic
// settings. Firewall-mark services take defaults.check whatever its type.
func TestProtocolDefaultCheck(t *testing.T) {
	icmp := func(base Check) Check {
		base.Type, base.HTTP, base.UDP = CheckICMP, nil, nil
		base.ICMP = &ICMPCheck{Count: 1, Interval: 200 * time.Millisecond}
		return base
	}
	for _, tc := range []struct {
		name     string
		defaults string // defaults.check
		service  string // one service without checks
		want     func(def Check) Check
	}{
		{"tcp service, tcp default", `{}`, `{name: s, address: 192.0.2.1:80}`, func(d Check) Check { return d }},
		{"udp service, tcp default", `{}`, `{name: s, address: 192.0.2.1:53, protocol: udp}`, icmp},
		{"sctp service, tcp default", `{}`, `{name: s, address: 192.0.2.1:3868, protocol: sctp}`, icmp},
		{"udp service keeps generic settings", `{schedule: "@every 7s", timeout: 3s, rise: 4, fall: 5, jitter: 10%}`,
			`{name: s, address: "[2001:db8::1]:53", protocol: udp}`, icmp},
		{"udp service, udp default", `{type: udp}`, `{name: s, address: 192.0.2.1:53, protocol: udp}`, func(d Check) Check { return d }},
		{"tcp service, udp default", `{type: udp}`, `{name: s, address: 192.0.2.1:80}`, func(d Check) Check {
			d.Type, d.UDP = CheckTCP, nil
			return d
		}},
		{"sctp service, http default", `{type: http}`, `{name: s, address: 192.0.2.1:3868, protocol: sctp}`, icmp},
		{"any service, icmp default", `{type: icmp}`, `{name: s, address: 192.0.2.1:53, protocol: udp}`, func(d Check) Check { return d }},
		{"fwmark service, tcp default", `{}`, `{name: s, fwmark: 7, real_servers: [{address: "10.0.0.1:80"}]}`, func(d Check) Check { return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf("defaults: {check: %s}\nservices: [%s]\n", tc.defaults, tc.service)
			c, err := Parse([]byte(src), "x.yml")
			if err != nil {
				t.Fatal(err)
			}
			compareChecks(t, "checks", c.Services[0].Checks, []Check{tc.want(c.Defaults.Check)})
			roundTrip(t, c)
		})
	}
}

// TestTunnels checks the tunnel settings of tun real servers, mixed
// families included, and that they survive Marshal.
func TestTunnels(t *testing.T) {
	src := `services:
  - name: t
    address: 192.0.2.1:80
    real_servers:
      - {address: 10.0.0.1:80, forward: tun}
      - {address: 10.0.0.2:80, forward: tun, tunnel: {type: gue, port: 6080}}
      - {address: 10.0.0.3:80, forward: tun, tunnel: {type: gue, port: 6081, checksum: remcsum}}
      - {address: 10.0.0.4:80, forward: tun, tunnel: {type: gre, checksum: csum}}
      - {address: "[2001:db8::5]:80", forward: tun, tunnel: {type: gre}}
      - {address: 10.0.0.6:80, forward: tun, tunnel: {type: ipip, checksum: none}}
`
	c, err := Parse([]byte(src), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Tunnel{
		{},
		{Type: ipvs.TunnelGUE, Port: 6080},
		{Type: ipvs.TunnelGUE, Port: 6081, Flags: ipvs.TunnelRemoteChecksum},
		{Type: ipvs.TunnelGRE, Flags: ipvs.TunnelChecksum},
		{Type: ipvs.TunnelGRE},
		{},
	}
	for i, rs := range c.Services[0].RealServers {
		if rs.Tunnel != want[i] {
			t.Errorf("%s: tunnel %+v, want %+v", rs.Address, rs.Tunnel, want[i])
		}
	}
	roundTrip(t, c)
}

// TestSecretNotPrinted: a client key read from key_file never prints in
// clear, however the configuration is formatted.
func TestSecretNotPrinted(t *testing.T) {
	c := mustLoad(t, "testdata/valid/full.yml")
	key := c.Services[1].Checks[1].HTTP.Key
	if len(key) == 0 {
		t.Fatal("the https check of shop has no key")
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, c.Services[1].Checks[1].HTTP)
		if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, string(key[30:60])) {
			t.Errorf("%s prints the key:\n%s", format, out)
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("%s does not show the key as <secret>:\n%s", format, out)
		}
	}
}
