package health

import (
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

var buildUpdate = flag.Bool("update", false, "rewrite the golden files in testdata/build")

// buildSnapshot is a kernel table beside config/testdata/valid/full.yml:
// the declared web service with one destination more than the file lists,
// and services the file does not declare (udp, sctp, fwmark, IPv6).
func buildSnapshot() *ipvs.Snapshot {
	v4 := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	dst := func(addr string, port uint16) ipvs.Destination {
		a := v4(addr)
		fam := ipvs.FamilyIPv4
		if a.Is6() {
			fam = ipvs.FamilyIPv6
		}
		return ipvs.Destination{Family: fam, Address: a, Port: port, Forward: ipvs.ForwardMasq, Weight: 1}
	}
	return &ipvs.Snapshot{Services: []ipvs.Service{
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: v4("192.0.2.10"), Port: 80},
			Destinations: []ipvs.Destination{dst("10.0.0.1", 8080), dst("10.0.0.2", 8080), dst("10.0.0.3", 8080), dst("10.0.0.4", 8080)}},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: v4("192.0.2.20"), Port: 443},
			Destinations: []ipvs.Destination{dst("10.0.3.1", 443)}},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: v4("192.0.2.20"), Port: 514},
			Destinations: []ipvs.Destination{dst("10.0.3.1", 514), dst("10.0.3.2", 514)}},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.SCTP, Address: v4("192.0.2.20"), Port: 3868},
			Destinations: []ipvs.Destination{dst("10.0.3.1", 3868)}},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 7},
			Destinations: []ipvs.Destination{dst("10.0.4.1", 0)}},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Address: v4("2001:db8::20"), Port: 80},
			Destinations: []ipvs.Destination{dst("2001:db8:2::1", 80)}},
	}}
}

func loadConfig(t *testing.T, path string) *config.Config {
	t.Helper()
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parseConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(text), "test.yml")
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return c
}

// renderTargets writes one line per check, every field Build sets.
func renderTargets(targets []Target) string {
	var b strings.Builder
	for _, t := range targets {
		fmt.Fprintf(&b, "%s %s combine=%s\n", t.Service, t.Server, t.Combine)
		for _, c := range t.Checks {
			fmt.Fprintf(&b, "  %-22s type=%-5s %q schedule=%s timeout=%s rise=%d fall=%d fast=%s down=%s jitter=%s%s\n",
				c.Name, c.Type, c.Checker.String(), renderSchedule(c), c.Timeout, c.Rise, c.Fall, c.FastInterval, c.DownInterval, c.Jitter,
				renderTLS(c.Checker))
		}
	}
	return b.String()
}

// renderTLS shows what an https checker verifies and presents: the CAs
// of ca_file (by subject) and the client certificate of cert_file.
func renderTLS(c Checker) string {
	h, ok := c.(*HTTP)
	if !ok || h.tls == nil {
		return ""
	}
	out := ""
	if h.tls.InsecureSkipVerify {
		out += " skip-verify"
	}
	if h.tls.RootCAs != nil {
		//lint:ignore SA1019 the pool holds only ca_file's certificates, no system roots
		for _, s := range h.tls.RootCAs.Subjects() {
			var name pkix.RDNSequence
			if _, err := asn1.Unmarshal(s, &name); err == nil {
				out += fmt.Sprintf(" ca=%q", name.String())
			}
		}
	}
	for _, cert := range h.tls.Certificates {
		out += fmt.Sprintf(" client-cert=%q", cert.Leaf.Subject.String())
	}
	return out
}

// renderSchedule shows an Every as written and a cron schedule by its
// first firings after a fixed time.
func renderSchedule(c CheckSpec) string {
	if e, ok := c.Schedule.(Every); ok {
		return strings.ReplaceAll(e.String(), " ", "_")
	}
	t := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []string
	for range 3 {
		t = c.Schedule.Next(t)
		out = append(out, t.Format("15:04:05"))
	}
	return "cron[" + strings.Join(out, ",") + "]"
}

// TestBuildGolden maps every kind of service and check of the full
// example, plus the undeclared destinations of a kernel table, and checks
// that the scheduler accepts the result.
func TestBuildGolden(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		snap         *ipvs.Snapshot
	}{
		{"full", "../config/testdata/valid/full.yml", buildSnapshot()},
		{"full-no-table", "../config/testdata/valid/full.yml", nil},
		{"discovery", "../config/testdata/valid/discovery.yml", buildSnapshot()},
		{"minimal", "../config/testdata/valid/minimal.yml", buildSnapshot()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targets, err := Build(loadConfig(t, tc.config), tc.snap, BuildDeps{})
			if err != nil {
				t.Fatal(err)
			}
			s := NewScheduler(SchedulerOptions{})
			if err := s.Update(targets); err != nil {
				t.Fatalf("the scheduler rejects the targets: %v", err)
			}
			got := renderTargets(targets)
			golden := filepath.Join("testdata", "build", tc.name+".golden")
			if *buildUpdate {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./health -run TestBuildGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("targets differ from %s (rerun with -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

// targetNames lists "service server check,check" per target.
func targetNames(targets []Target) []string {
	var out []string
	for _, t := range targets {
		var names []string
		for _, c := range t.Checks {
			names = append(names, c.Name)
		}
		out = append(out, t.Service+" "+t.Server+" "+strings.Join(names, ","))
	}
	return out
}

// TestBuildDiscovery: which destinations of the table get which checks.
func TestBuildDiscovery(t *testing.T) {
	const declared = `
services:
  - name: web
    address: 192.0.2.10:80
    real_servers: [{address: 10.0.0.1:8080, forward: nat}]
    checks: [{type: http, path: /healthz}]
`
	snap := buildSnapshot()
	for _, tc := range []struct {
		name   string
		config string
		snap   *ipvs.Snapshot
		want   []string
	}{
		{"off", declared, snap, []string{"tcp/192.0.2.10:80 10.0.0.1:8080 http:8080/healthz"}},
		{"no table read", declared + "discovery: {enabled: true}\n", nil, []string{"tcp/192.0.2.10:80 10.0.0.1:8080 http:8080/healthz"}},
		{"empty table", declared + "discovery: {enabled: true}\n", &ipvs.Snapshot{}, []string{"tcp/192.0.2.10:80 10.0.0.1:8080 http:8080/healthz"}},
		{"default checks", declared + "discovery: {enabled: true}\n", snap, []string{
			"tcp/192.0.2.10:80 10.0.0.1:8080 http:8080/healthz", // declared: its own checks, not discovery's
			"tcp/192.0.2.10:80 10.0.0.2:8080 tcp:8080",          // in the kernel only
			"tcp/192.0.2.10:80 10.0.0.3:8080 tcp:8080",
			"tcp/192.0.2.10:80 10.0.0.4:8080 tcp:8080",
			"tcp/192.0.2.20:443 10.0.3.1:443 tcp:443",
			"udp/192.0.2.20:514 10.0.3.1:514 icmp", // a tcp check cannot test udp: ping instead
			"udp/192.0.2.20:514 10.0.3.2:514 icmp",
			"sctp/192.0.2.20:3868 10.0.3.1:3868 icmp",
			"fwmark/7/ipv4 10.0.4.1:0 icmp", // no port to check
			"tcp/[2001:db8::20]:80 [2001:db8:2::1]:80 tcp:80",
		}},
		{"per protocol", declared + `
discovery:
  enabled: true
  checks:
    - {type: tcp}
    - {type: udp, payload: "x"}
    - {type: icmp}
    - {type: tcp, port: 22}
`, snap, []string{
			"tcp/192.0.2.10:80 10.0.0.1:8080 http:8080/healthz",
			"tcp/192.0.2.10:80 10.0.0.2:8080 tcp:8080,icmp,tcp:22",
			"tcp/192.0.2.10:80 10.0.0.3:8080 tcp:8080,icmp,tcp:22",
			"tcp/192.0.2.10:80 10.0.0.4:8080 tcp:8080,icmp,tcp:22",
			"tcp/192.0.2.20:443 10.0.3.1:443 tcp:443,icmp,tcp:22",
			"udp/192.0.2.20:514 10.0.3.1:514 udp:514,icmp",
			"udp/192.0.2.20:514 10.0.3.2:514 udp:514,icmp",
			"sctp/192.0.2.20:3868 10.0.3.1:3868 icmp",
			"fwmark/7/ipv4 10.0.4.1:0 icmp,tcp:22", // only the checks with a port of their own
			"tcp/[2001:db8::20]:80 [2001:db8:2::1]:80 tcp:80,icmp,tcp:22",
		}},
		{"only discovery", "discovery: {enabled: true, checks: [{type: syn}]}\n", &ipvs.Snapshot{Services: snap.Services[:1]}, []string{
			"tcp/192.0.2.10:80 10.0.0.1:8080 syn:8080",
			"tcp/192.0.2.10:80 10.0.0.2:8080 syn:8080",
			"tcp/192.0.2.10:80 10.0.0.3:8080 syn:8080",
			"tcp/192.0.2.10:80 10.0.0.4:8080 syn:8080",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targets, err := Build(parseConfig(t, tc.config), tc.snap, BuildDeps{})
			if err != nil {
				t.Fatal(err)
			}
			if got := targetNames(targets); !slices.Equal(got, tc.want) {
				t.Errorf("targets:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if err := NewScheduler(SchedulerOptions{}).Update(targets); err != nil {
				t.Errorf("the scheduler rejects the targets: %v", err)
			}
		})
	}
}

// TestBuildFallbackTiming: the ping that replaces inapplicable discovery
// checks runs on the first discovery check's timing.
func TestBuildFallbackTiming(t *testing.T) {
	c := parseConfig(t, `
discovery:
  enabled: true
  checks: [{type: tcp, schedule: "@every 3s", timeout: 700ms, rise: 4, fall: 5, down_interval: 10s}]
`)
	snap := &ipvs.Snapshot{Services: buildSnapshot().Services[2:3]} // udp
	targets, err := Build(c, snap, BuildDeps{})
	if err != nil {
		t.Fatal(err)
	}
	got := renderTargets(targets[:1])
	want := "udp/192.0.2.20:514 10.0.3.1:514 combine=all\n" +
		"  icmp                   type=icmp  \"icmp 10.0.3.1\" schedule=@every_3s timeout=700ms rise=4 fall=5 fast=0s down=10s jitter=0s\n"
	if got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

// TestBuildNamesAndJitter: names stay unique per real server, and a jitter
// the config allows but the scheduler does not is kept below each interval.
func TestBuildNamesAndJitter(t *testing.T) {
	c := parseConfig(t, `
services:
  - name: web
    address: 192.0.2.10:80
    real_servers: [{address: 10.0.0.1:80}]
    checks:
      - {type: tcp, jitter: 100%}
      - {type: tcp, schedule: "@every 4s", jitter: 3s, fast_interval: 1500ms}
      - {type: http, path: /a}
      - {type: http, path: /a, host: example.com}
      - {type: https, path: /a}
      - {type: icmp}
      - {type: icmp, count: 2}
`)
	targets, err := Build(c, nil, BuildDeps{})
	if err != nil {
		t.Fatal(err)
	}
	type nj struct {
		name   string
		jitter time.Duration
	}
	var got []nj
	for _, c := range targets[0].Checks {
		got = append(got, nj{c.Name, c.Jitter})
	}
	want := []nj{
		{"tcp:80", 2*time.Second - 1},
		{"tcp:80#2", 1500*time.Millisecond - 1},
		{"http:80/a", 0},
		{"http:80/a#2", 0},
		{"https:80/a", 0},
		{"icmp", 0},
		{"icmp#2", 0},
	}
	if !slices.Equal(got, want) {
		t.Errorf("names and jitters %v, want %v", got, want)
	}
	if err := NewScheduler(SchedulerOptions{}).Update(targets); err != nil {
		t.Errorf("the scheduler rejects the targets: %v", err)
	}
}

// TestBuildRunsChecks runs the checkers Build makes against loopback
// servers, so the options reach them: HTTP method, path, Host, status and
// body; UDP payload and expected reply (text and bytes).
func TestBuildRunsChecks(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead && r.URL.RequestURI() == "/healthz?full=1" && r.Host == "www.example.com" {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"status": "ok"}`)
			return
		}
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer web.Close()
	webPort := netip.MustParseAddrPort(web.Listener.Addr().String()).Port()

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	go func() { // answers "ping\n" with "pong", a DNS-like query with bytes
		buf := make([]byte, 512)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			switch string(buf[:n]) {
			case "ping\n":
				_, _ = udp.WriteTo([]byte("xpongx"), from)
			case "\x00\x01":
				_, _ = udp.WriteTo([]byte("\x00\x01\x81\x80\xff"), from)
			default:
				_, _ = udp.WriteTo([]byte("what?"), from)
			}
		}
	}()
	udpPort := netip.MustParseAddrPort(udp.LocalAddr().String()).Port()

	for _, tc := range []struct {
		name  string
		check string
		port  uint16
		want  Class
	}{
		{"http match", `{type: http, path: "/healthz?full=1", host: www.example.com, expect_status: [202], expect_body: '"status":\s*"ok"'}`, webPort, ClassOpen},
		{"http wrong status", `{type: http, path: "/healthz?full=1", host: www.example.com, expect_status: [200]}`, webPort, ClassError},
		{"http wrong body", `{type: http, path: "/healthz?full=1", host: www.example.com, expect_status: [200-299], expect_body: down}`, webPort, ClassError},
		{"http wrong host", `{type: http, path: "/healthz?full=1", expect_status: [202]}`, webPort, ClassError},
		{"http method", `{type: http, method: HEAD, path: "/healthz?full=1", host: www.example.com, expect_status: [404]}`, webPort, ClassOpen},
		{"tcp", `{type: tcp}`, webPort, ClassOpen},
		{"udp expect text", `{type: udp, payload: "ping\n", expect: pong}`, udpPort, ClassOpen},
		{"udp expect other text", `{type: udp, payload: "ping\n", expect: pang}`, udpPort, ClassError},
		{"udp expect bytes", `{type: udp, payload_hex: "00 01", expect_hex: "00 01 81"}`, udpPort, ClassOpen},
		{"udp expect other bytes", `{type: udp, payload_hex: "00 01", expect_hex: "00 02 81"}`, udpPort, ClassError},
		{"udp any reply", `{type: udp, payload: "?"}`, udpPort, ClassOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proto := "tcp"
			if strings.HasPrefix(tc.check, "{type: udp") {
				proto = "udp"
			}
			c := parseConfig(t, fmt.Sprintf(`
services:
  - name: s
    address: 192.0.2.10:%d
    protocol: %s
    real_servers: [{address: 127.0.0.1:%d, forward: nat}]
    checks: [%s]
`, tc.port, proto, tc.port, tc.check))
			targets, err := Build(c, nil, BuildDeps{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r := targets[0].Checks[0].Checker.Check(ctx)
			if r.Class != tc.want {
				t.Errorf("%s: %s (%s), want %s", targets[0].Checks[0].Checker, r.Class, r.Reason, tc.want)
			}
		})
	}
}

// BenchmarkBuildDiscovery builds the targets of a discovered table of
// 10,000 destinations, what a discovery refresh or a reload costs when the
// table changed.
func BenchmarkBuildDiscovery(b *testing.B) {
	cfg, err := config.Parse([]byte("discovery: {enabled: true, checks: [{type: tcp}, {type: http, path: /healthz}]}\n"), "bench.yml")
	if err != nil {
		b.Fatal(err)
	}
	snap := &ipvs.Snapshot{}
	for s := range 100 {
		svc := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP,
			Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(s)}), Port: 80}}
		for d := range 100 {
			svc.Destinations = append(svc.Destinations, ipvs.Destination{Family: ipvs.FamilyIPv4,
				Address: netip.AddrFrom4([4]byte{10, 1, byte(s), byte(d)}), Port: 8080})
		}
		snap.Services = append(snap.Services, svc)
	}
	b.ReportAllocs()
	for b.Loop() {
		targets, err := Build(cfg, snap, BuildDeps{})
		if err != nil || len(targets) != 10000 {
			b.Fatal(len(targets), err)
		}
	}
}

// TestBuildDiscoverySource: a discovery check's source_address applies to
// destinations of its family; the others are checked from the route's
// source, not refused.
func TestBuildDiscoverySource(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.250")
	checks := []config.Check{{Type: config.CheckTCP, Source: src}}
	key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP}
	for _, tc := range []struct {
		dest netip.Addr
		want netip.Addr
	}{
		{netip.MustParseAddr("10.0.0.1"), src},
		{netip.MustParseAddr("2001:db8::1"), netip.Addr{}},
	} {
		got := discoveryChecks(checks, key, tc.dest, 80)
		if len(got) != 1 || got[0].Source != tc.want {
			t.Errorf("destination %s: checks %+v, want one with source %v", tc.dest, got, tc.want)
		}
	}
	if checks[0].Source != src {
		t.Error("discoveryChecks changed the configuration's check")
	}
}
