package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/collector"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// fixtureSidecar is the sidecar's HTTP surface served in this process
// (newHandler, exporter-toolkit's basic auth) over a fake kernel table,
// with real health checks and a dry_run controller when cfg is given.
type fixtureSidecar struct {
	addr  string
	store *actuator.Maintenance
	srv   *http.Server
	log   *testutil.SyncBuffer
}

func serveFixture(t *testing.T, cfgPath string, table *fakeTable, webConfig string) *fixtureSidecar {
	t.Helper()
	f := &fixtureSidecar{log: &testutil.SyncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.log, nil))
	noSocket := false
	o := options{ipvsTimeout: 2 * time.Second, discoveryRefresh: time.Hour, telemetryPath: "/metrics",
		web: &toolkitweb.FlagConfig{WebListenAddresses: &[]string{}, WebSystemdSocket: &noSocket, WebConfigFile: &webConfig}}
	policy, err := web.NewPolicy(web.Options{ConfigFile: webConfig}, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var hc *checks
	if cfgPath != "" {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		dry := config.ControllerDryRun // nothing to write to: the table is a fake
		o.controllerMode = &dry
		f.store = actuator.NewMaintenance()
		if hc, err = newChecks(ctx, cfgPath, cfg, table, o, logger); err != nil {
			t.Fatal(err)
		}
		if hc.ctl, err = newController(cfg, o, table, hc, f.store, logger); err != nil {
			t.Fatal(err)
		}
		hc.ctl.Start(ctx)
		go hc.run(ctx)
	}
	handler, err := newHandler(o, collector.New(table, logger, collector.Options{Timeout: o.ipvsTimeout}), table, hc, f.store, policy, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = toolkitweb.Serve(ln, f.srv, o.web, logger) }()
	t.Cleanup(func() {
		f.srv.Close()
		cancel()
		if hc != nil {
			stopCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = hc.ctl.Stop(stopCtx)
			_ = hc.stop(stopCtx)
		}
		if t.Failed() {
			t.Logf("sidecar log:\n%s", f.log.String())
		}
	})
	return f
}

// snmpAgent is a Debian snmpd run in the foreground on a loopback port,
// with lvs-sidecar snmp-pass-persist (the binary under test) as its
// pass_persist program.
type snmpAgent struct {
	addr, community string
	log             *testutil.SyncBuffer
}

func startSNMPD(t *testing.T, passArgs ...string) *snmpAgent {
	t.Helper()
	const community = "lvs-test-ro"
	conf := fmt.Sprintf("rocommunity %s 127.0.0.1\npass_persist %s %s %s\n",
		community, "."+mibObjects, binary, strings.Join(append([]string{"snmp-pass-persist"}, passArgs...), " "))
	return startSNMPDConf(t, conf, "127.0.0.1:"+strconv.Itoa(freeUDPPort(t)), community)
}

// startSNMPDConf runs snmpd with conf on addr; community is the one the
// tools use.
func startSNMPDConf(t *testing.T, conf, addr, community string) *snmpAgent {
	t.Helper()
	snmpd := lookSbin(t, "snmpd", "snmpd")
	dir := t.TempDir()
	a := &snmpAgent{addr: addr, community: community, log: &testutil.SyncBuffer{}}
	confPath := writeFile(t, dir, "snmpd.conf", "dontLogTCPWrappersConnects yes\n"+conf)
	args := []string{"-f", "-Lo", "-C", "-c", confPath, "-p", filepath.Join(dir, "snmpd.pid")}
	if !strings.Contains(conf, "agentaddress") {
		args = append(args, "udp:"+a.addr)
	}
	cmd := exec.Command(snmpd, args...)
	// snmpd keeps state in its persistent directory; MIBS="" spares it
	// the modules Debian main does not ship.
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir, "MIBS=")
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("snmpd log:\n%s", a.log.String())
		}
	})
	// Up once it answers sysUpTime, its own object.
	testutil.Poll(t, 15*time.Second, 100*time.Millisecond, func() error {
		select {
		case <-done:
			t.Fatalf("snmpd exited:\n%s", a.log.String())
		default:
		}
		_, err := a.run(t, "snmpget", "-On", ".1.3.6.1.2.1.1.3.0")
		return err
	})
	return a
}

// run runs a net-snmp command against the agent and returns its stdout.
func (a *snmpAgent) run(t *testing.T, tool string, args ...string) (string, error) {
	t.Helper()
	path := testutil.LookTool(t, tool, "snmp")
	all := append([]string{"-v2c", "-c", a.community, "-t", "3", "-r", "1"}, args[:len(args)-1]...)
	all = append(all, a.addr, args[len(args)-1])
	cmd := exec.Command(path, all...)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", tool, strings.Join(all, " "), err, stderr.String())
	}
	return string(out), nil
}

// walk runs snmpwalk -On and returns the objects, OID to "TYPE: value".
func (a *snmpAgent) walk(t *testing.T, args ...string) map[string]string {
	t.Helper()
	out, err := a.run(t, "snmpwalk", append([]string{"-On"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		oid, val, ok := strings.Cut(line, " = ")
		if !ok {
			t.Fatalf("snmpwalk line %q", line)
		}
		got[oid] = strings.TrimSpace(val)
	}
	return got
}

// lookSbin is LookTool that also looks in /usr/sbin, which a non-root
// PATH lacks.
func lookSbin(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	return testutil.LookTool(t, name, pkg)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

const mibObjects = "1.3.6.1.4.1.32473.9960.1"

// Column OIDs written out here, not taken from package mib, so that the
// test checks the numbers the MIB file publishes.
const (
	svcCol = ".1.3.6.1.4.1.32473.9960.1.2.1."
	rsCol  = ".1.3.6.1.4.1.32473.9960.1.3.1."
	scalar = ".1.3.6.1.4.1.32473.9960.1.4."
)

func ipHex(s string) string {
	a := netip.MustParseAddr(s)
	var b []byte
	if a.Is4() {
		v := a.As4()
		b = v[:]
	} else {
		v := a.As16()
		b = v[:]
	}
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return "Hex-STRING: " + strings.Join(parts, " ")
}

func addrPort(t *testing.T, s string) (string, int) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap.Addr().String(), int(ap.Port())
}

// TestSNMPWalk: snmpwalk against Debian's snmpd, whose pass_persist runs
// lvs-sidecar snmp-pass-persist against a sidecar with a fixture table,
// returns every service and real server with the right values, Counter64
// above 2^32 included, and nothing else; names resolve with the MIB; a
// set is refused; with the sidecar gone, snmpd answers at once with no
// such object and keeps running.
func TestSNMPWalk(t *testing.T) {
	up := newListener(t, "127.0.0.1:0")
	maint := newListener(t, "127.0.0.1:0")
	down := closedPort(t, "127.0.0.1")
	down6 := closedPort(t, "::1")
	undeclared := "10.0.0.9:80"
	cfgPath := writeFile(t, t.TempDir(), "lvs.yml", fmt.Sprintf(`services:
  - name: web
    address: 192.0.2.1:80
    protocol: tcp
    scheduler: wrr
    slow_start: 0s
    real_servers:
      - {address: %s, weight: 3, forward: nat}
      - {address: %s, weight: 2, forward: nat}
      - {address: %s, weight: 1, forward: nat}
    checks:
      - {type: tcp, schedule: "@every 200ms", timeout: 100ms, rise: 1, fall: 1}
  - name: dns6
    address: "[2001:db8::53]:53"
    protocol: tcp
    scheduler: rr
    panic_threshold: 50%%
    real_servers:
      - {address: "%s", weight: 4, forward: nat}
    checks:
      - {type: tcp, schedule: "@every 200ms", timeout: 100ms, rise: 1, fall: 1}
`, up.addr, down, maint.addr, down6))

	dest := func(s string, weight int32, st ipvs.Stats, active, inactive uint32) ipvs.Destination {
		ap := netip.MustParseAddrPort(s)
		return ipvs.Destination{Family: ipvs.FamilyIPv4, Address: ap.Addr(), Port: ap.Port(), Forward: ipvs.ForwardMasq, Weight: weight,
			ActiveConns: active, InactiveConns: inactive, Stats: st}
	}
	big := ipvs.Stats{Connections: 5_000_000_000, PacketsIn: 6_000_000_001, PacketsOut: 6_000_000_002, BytesIn: 1<<40 + 3, BytesOut: 1<<41 + 4}
	table := &fakeTable{snap: &ipvs.Snapshot{Services: []ipvs.Service{
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80}, Scheduler: "wrr",
			Stats: ipvs.Stats{Connections: 5_000_000_010, PacketsIn: 11, PacketsOut: 12, BytesIn: 13, BytesOut: 14},
			Destinations: []ipvs.Destination{
				dest(undeclared, 5, ipvs.Stats{Connections: 1}, 0, 0), // kernel order is not row order
				dest(up.addr, 3, big, 7, 8),
				dest(down, 2, ipvs.Stats{Connections: 9, PacketsIn: 9, PacketsOut: 9, BytesIn: 9, BytesOut: 9}, 0, 1),
				dest(maint.addr, 1, ipvs.Stats{}, 0, 0),
			}},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("198.51.100.7"), Port: 443}, Scheduler: "sh"},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 42}, Scheduler: "lc",
			Stats:        ipvs.Stats{Connections: 2},
			Destinations: []ipvs.Destination{dest("10.0.2.1:0", 1, ipvs.Stats{Connections: 2}, 1, 0)}},
	}}}
	dir := t.TempDir()
	webCfg := writeFile(t, dir, "web.yml", basicAuthUsers(t, "snmp", "poll-secret", "admin", "admin-secret"))
	side := serveFixture(t, cfgPath, table, webCfg)
	if _, _, err := side.store.Apply(actuator.MaintenanceChange{Service: "tcp/192.0.2.1:80", Server: maint.addr, Enabled: true, Reason: "test", By: "admin"}); err != nil {
		t.Fatal(err)
	}

	// Wait until every declared server has a verdict and the controller
	// has decided on each since.
	client := &http.Client{Timeout: 5 * time.Second}
	testutil.Poll(t, 15*time.Second, 50*time.Millisecond, func() error {
		_, body := get(t, client, "http://"+side.addr+web.ServicesPath, "snmp", "poll-secret")
		var v web.ServicesView
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return err
		}
		for _, s := range v.Services {
			for _, r := range s.RealServers {
				if r.Declared && (r.Verdict == "unknown" || r.State == "no_verdict" || (r.State == "up" && r.Maintenance)) {
					return fmt.Errorf("%s %s: verdict %s, state %s:\n%s", s.Key, r.Server, r.Verdict, r.State, body)
				}
			}
		}
		return nil
	})

	pw := writeFile(t, dir, "password", "poll-secret\n")
	passLog := filepath.Join(dir, "pass.log")
	agent := startSNMPD(t, "--url=http://"+side.addr, "--user=snmp", "--password-file="+pw, "--cache-ttl=1s", "--log-file="+passLog)

	upA, upP := addrPort(t, up.addr)
	downA, downP := addrPort(t, down)
	maintA, maintP := addrPort(t, maint.addr)
	down6A, down6P := addrPort(t, down6)
	want := map[string]string{}
	svc := func(i int, key, name string, declared, inTable bool, proto int, addr string, port, mark int, sched string, up, total int, panic bool) {
		p := func(col int) string { return svcCol + strconv.Itoa(col) + "." + strconv.Itoa(i) }
		want[p(2)] = `STRING: "` + key + `"`
		want[p(3)] = `STRING: "` + name + `"`
		if name == "" {
			want[p(3)] = `""`
		}
		want[p(4)] = "INTEGER: " + truthText(declared)
		want[p(5)] = "INTEGER: " + truthText(inTable)
		want[p(6)] = "INTEGER: " + strconv.Itoa(proto)
		if addr == "" {
			want[p(7)], want[p(8)] = "INTEGER: 0", `""` // net-snmp writes an empty string so
		} else {
			at := "1"
			if strings.Contains(addr, ":") {
				at = "2"
			}
			want[p(7)], want[p(8)] = "INTEGER: "+at, ipHex(addr)
		}
		want[p(9)] = "Gauge32: " + strconv.Itoa(port)
		want[p(10)] = "Gauge32: " + strconv.Itoa(mark)
		want[p(11)] = `STRING: "` + sched + `"`
		want[p(12)] = "Gauge32: " + strconv.Itoa(up)
		want[p(13)] = "Gauge32: " + strconv.Itoa(total)
		want[p(14)] = "INTEGER: " + truthText(panic)
	}
	stats := func(prefix string, first int, idx string, s ipvs.Stats) {
		for j, n := range []uint64{s.Connections, s.PacketsIn, s.PacketsOut, s.BytesIn, s.BytesOut} {
			want[prefix+strconv.Itoa(first+j)+"."+idx] = "Counter64: " + strconv.FormatUint(n, 10)
		}
	}
	rs := func(si, ri int, addr string, port int, declared, inTable bool, verdict, state int, maintenance bool, wDecl, wDes, wKern int, active, inactive uint32, st *ipvs.Stats) {
		idx := strconv.Itoa(si) + "." + strconv.Itoa(ri)
		p := func(col int) string { return rsCol + strconv.Itoa(col) + "." + idx }
		at := "1"
		if strings.Contains(addr, ":") {
			at = "2"
		}
		want[p(2)], want[p(3)] = "INTEGER: "+at, ipHex(addr)
		want[p(4)] = "Gauge32: " + strconv.Itoa(port)
		want[p(5)] = "INTEGER: " + truthText(declared)
		want[p(6)] = "INTEGER: " + truthText(inTable)
		want[p(7)] = "INTEGER: " + strconv.Itoa(verdict)
		want[p(8)] = "INTEGER: " + strconv.Itoa(state)
		want[p(9)] = "INTEGER: " + truthText(maintenance)
		want[p(10)] = "INTEGER: " + strconv.Itoa(wDecl)
		want[p(11)] = "INTEGER: " + strconv.Itoa(wDes)
		want[p(12)] = "INTEGER: " + strconv.Itoa(wKern)
		if inTable {
			want[p(13)] = "Gauge32: " + strconv.FormatUint(uint64(active), 10)
			want[p(14)] = "Gauge32: " + strconv.FormatUint(uint64(inactive), 10)
			want[p(15)] = "Gauge32: 0"
			stats(rsCol, 16, idx, *st)
		}
	}
	const (
		unknown, vUp, vDown                      = 1, 2, 3
		sUp, sDrain, sMaint, sPanic, sUndeclared = 2, 4, 6, 7, 11
	)
	// 1 web: declared, in the table; rows: the declared in file order, then
	// the undeclared destination.
	svc(1, "tcp/192.0.2.1:80", "web", true, true, 6, "192.0.2.1", 80, 0, "wrr", 1, 4, false)
	stats(svcCol, 15, "1", table.snap.Services[0].Stats)
	rs(1, 1, upA, upP, true, true, vUp, sUp, false, 3, 3, 3, 7, 8, &big)
	rs(1, 2, downA, downP, true, true, vDown, sDrain, false, 2, 0, 2, 0, 1, &table.snap.Services[0].Destinations[2].Stats)
	rs(1, 3, maintA, maintP, true, true, vUp, sMaint, true, 1, 0, 1, 0, 0, &ipvs.Stats{})
	rs(1, 4, "10.0.0.9", 80, false, true, unknown, sUndeclared, false, 0, -1, 5, 0, 0, &ipvs.Stats{Connections: 1})
	// 2 dns6: declared, not in the table: no counters; its only server
	// is down, so the service is in panic and the server keeps its weight.
	svc(2, "tcp/[2001:db8::53]:53", "dns6", true, false, 6, "2001:db8::53", 53, 0, "rr", 0, 1, true)
	rs(2, 1, down6A, down6P, true, false, vDown, sPanic, false, 4, 4, 0, 0, 0, nil)
	// 3 and 4: only in the table, sorted by key.
	svc(3, "fwmark/42/ipv4", "", false, true, 0, "", 0, 42, "lc", 0, 1, false)
	stats(svcCol, 15, "3", ipvs.Stats{Connections: 2})
	rs(3, 1, "10.0.2.1", 0, false, true, unknown, sUndeclared, false, 0, -1, 1, 1, 0, &ipvs.Stats{Connections: 2})
	svc(4, "tcp/198.51.100.7:443", "", false, true, 6, "198.51.100.7", 443, 0, "sh", 0, 0, false)
	stats(svcCol, 15, "4", ipvs.Stats{})

	start := time.Now()
	got := agent.walk(t, "."+mibObjects)
	walkTime := time.Since(start)

	// The scalars vary with time; check them apart.
	scalars := map[string]string{}
	for oid, v := range got {
		if strings.HasPrefix(oid, scalar) {
			scalars[oid] = v
			delete(got, oid)
		}
	}
	var missing, wrong, extra []string
	for oid, v := range want {
		g, ok := got[oid]
		switch {
		case !ok:
			missing = append(missing, oid+" = "+v)
		case strings.TrimSpace(g) != v:
			wrong = append(wrong, fmt.Sprintf("%s = %s, want %s", oid, g, v))
		}
	}
	for oid, v := range got {
		if _, ok := want[oid]; !ok {
			extra = append(extra, oid+" = "+v)
		}
	}
	sort.Strings(missing)
	sort.Strings(wrong)
	sort.Strings(extra)
	if len(missing)+len(wrong)+len(extra) > 0 {
		t.Errorf("walk of %s:\nmissing:\n%s\nwrong:\n%s\nextra:\n%s", mibObjects, strings.Join(missing, "\n"), strings.Join(wrong, "\n"), strings.Join(extra, "\n"))
	}
	t.Logf("walked %d objects (%d services, 6 real servers, %d scalars) in %v", len(got)+len(scalars), 4, len(scalars), walkTime)

	for oid, re := range map[string]string{
		scalar + "1.0": `^(STRING: )?".*"$`, // a test build has no version
		scalar + "2.0": `^INTEGER: 1$`,      // the fake table is readable
		scalar + "3.0": `^INTEGER: 4$`,      // dry_run
		scalar + "4.0": `^Counter64: [1-9][0-9]*$`,
		scalar + "5.0": `^Hex-STRING: ([0-9A-F]{2} ){10}[0-9A-F]{2}$`,
		scalar + "6.0": `^INTEGER: [12]$`,
		scalar + "7.0": `^INTEGER: [12]$`,
		scalar + "8.0": `^Gauge32: 4$`,
		scalar + "9.0": `^Gauge32: 6$`,
	} {
		if v, ok := scalars[oid]; !ok || !matches(re, v) {
			t.Errorf("%s = %q (present: %v), want %s", oid, v, ok, re)
		}
	}

	// With the MIB, the names and enumerations as a user sees them.
	base := testutil.BaseMIBs(t)
	named := agent.walk(t, "-M", "+../../mib:"+base, "-m", "+LVS-SIDECAR-MIB", "-OS", "LVS-SIDECAR-MIB::lvsSidecarObjects")
	for name, v := range map[string]string{
		"LVS-SIDECAR-MIB::lvsServiceKey.1":                `STRING: tcp/192.0.2.1:80`,
		"LVS-SIDECAR-MIB::lvsServiceAddress.2":            `Hex-STRING: 20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 53`,
		"LVS-SIDECAR-MIB::lvsServicePanic.2":              `INTEGER: true(1)`,
		"LVS-SIDECAR-MIB::lvsServiceProtocol.2":           `INTEGER: tcp(6)`,
		"LVS-SIDECAR-MIB::lvsRealServerVerdict.1.2":       `INTEGER: down(3)`,
		"LVS-SIDECAR-MIB::lvsRealServerState.1.3":         `INTEGER: maintenance(6)`,
		"LVS-SIDECAR-MIB::lvsRealServerState.1.4":         `INTEGER: undeclared(11)`,
		"LVS-SIDECAR-MIB::lvsRealServerBytesOut.1.1":      `Counter64: 2199023255556 bytes`,
		"LVS-SIDECAR-MIB::lvsRealServerWeightDesired.1.4": `INTEGER: -1`,
		"LVS-SIDECAR-MIB::lvsRealServerAddressType.1.1":   `INTEGER: ipv4(1)`,
		"LVS-SIDECAR-MIB::lvsSidecarControllerMode.0":     `INTEGER: dryRun(4)`,
		"LVS-SIDECAR-MIB::lvsServiceAddressType.3":        `INTEGER: unknown(0)`,
		"LVS-SIDECAR-MIB::lvsRealServerConnections.1.1":   `Counter64: 5000000000`,
		"LVS-SIDECAR-MIB::lvsRealServerInactiveConns.1.2": `Gauge32: 1`,
		"LVS-SIDECAR-MIB::lvsServiceRealServersUp.1":      `Gauge32: 1`,
	} {
		if g := named[name]; g != v {
			t.Errorf("%s = %q, want %q", name, g, v)
		}
	}
	if len(named) != len(got)+len(scalars) {
		t.Errorf("the walk with names has %d objects, without %d", len(named), len(got)+len(scalars))
	}

	// A get of a cell, and of what is not there.
	out, err := agent.run(t, "snmpget", "-On", rsCol+"16.1.1")
	if err != nil || !strings.Contains(out, "Counter64: 5000000000") {
		t.Errorf("snmpget of lvsRealServerConnections.1.1: %v %q", err, out)
	}
	if out, _ := agent.run(t, "snmpget", "-On", rsCol+"16.2.1"); !strings.Contains(out, "No Such Instance") && !strings.Contains(out, "No Such Object") {
		t.Errorf("snmpget of a counter of a server not in the table: %q, want no such instance", out)
	}
	// The tables are read-only: snmpd refuses a set (notWritable from
	// the program, or noAccess for a read-only community).
	if out, err := agent.run(t, "snmpset", "-On", svcCol+"3.1", "s", "x"); err == nil {
		t.Errorf("snmpset succeeded: %q", out)
	}

	// The sidecar goes away: snmpd keeps answering, quickly, with no such
	// object, and the program logs it once.
	side.srv.Close()
	// Until the cached view expires, snmpd still answers from it.
	testutil.Poll(t, 10*time.Second, 100*time.Millisecond, func() error {
		if out, _ := agent.run(t, "snmpget", "-On", svcCol+"2.1"); !strings.Contains(out, "No Such Instance") {
			return fmt.Errorf("snmpget after the sidecar stopped: %q", out)
		}
		return nil
	})
	for range 3 {
		start := time.Now()
		out, err := agent.run(t, "snmpget", "-On", svcCol+"2.1")
		if err != nil || !strings.Contains(out, "No Such Instance currently exists at this OID") {
			t.Errorf("snmpget with the sidecar down: %v %q, want No Such Instance", err, out)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("snmpget with the sidecar down took %v", d)
		}
	}
	if out, err := agent.run(t, "snmpget", "-On", ".1.3.6.1.2.1.1.3.0"); err != nil || !strings.Contains(out, "Timeticks") {
		t.Errorf("snmpd's own objects with the sidecar down: %v %q", err, out)
	}
	data, err := os.ReadFile(passLog)
	if err != nil {
		t.Fatal(err)
	}
	logs := string(data)
	if n := strings.Count(logs, "cannot reach lvs-sidecar"); n != 1 {
		t.Errorf("snmp-pass-persist logged the sidecar down %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs+agent.log.String(), "poll-secret") {
		t.Errorf("the password is in a log:\n%s", logs)
	}
}

func truthText(b bool) string {
	if b {
		return "1"
	}
	return "2"
}

func matches(re, s string) bool {
	return regexp.MustCompile(re).MatchString(s)
}

// TestSNMPWalkLarge walks a table of 20 services with 50 real servers each
// (exporter only: no configuration), with getnext (snmpwalk) and getbulk
// (snmpbulkwalk), and logs how long each takes; the sidecar's table is
// read about once per cache TTL, not once per object.
func TestSNMPWalkLarge(t *testing.T) {
	const services, servers = 20, 50
	snap := &ipvs.Snapshot{}
	for i := range services {
		s := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP,
			Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), Port: 80}, Scheduler: "wlc"}
		for j := range servers {
			s.Destinations = append(s.Destinations, ipvs.Destination{Family: ipvs.FamilyIPv4,
				Address: netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j + 1)}), Port: 8080, Weight: 1,
				Stats: ipvs.Stats{Connections: uint64(i*servers+j) << 33}})
		}
		snap.Services = append(snap.Services, s)
	}
	table := &fakeTable{snap: snap}
	side := serveFixture(t, "", table, "")
	const ttl = 3 * time.Second
	agent := startSNMPD(t, "--url=http://"+side.addr, "--cache-ttl="+ttl.String(), "--log-file="+filepath.Join(t.TempDir(), "pass.log"))

	table.mu.Lock()
	before := table.reads
	table.mu.Unlock()
	start := time.Now()
	got := agent.walk(t, "."+mibObjects)
	walk := time.Since(start)
	table.mu.Lock()
	reads := table.reads - before
	table.mu.Unlock()

	rows := 0
	for oid, v := range got {
		if strings.HasPrefix(oid, rsCol+"16.") {
			rows++
			// Services are in key order (tcp/192.0.2.10:80 before
			// tcp/192.0.2.2:80), real servers in address order: row
			// SI.RI is the service and server its key and address name,
			// whose connections are (service*servers + server) << 33.
			idx := strings.TrimPrefix(oid, rsCol+"16.")
			si, ri, _ := strings.Cut(idx, ".")
			var vip, rsSvc, rsHost int
			if _, err := fmt.Sscanf(got[svcCol+"2."+si], `STRING: "tcp/192.0.2.%d:80"`, &vip); err != nil {
				t.Fatalf("key of service %s: %q: %v", si, got[svcCol+"2."+si], err)
			}
			if _, err := fmt.Sscanf(got[rsCol+"3."+idx], "Hex-STRING: 0A 00 %X %X", &rsSvc, &rsHost); err != nil {
				t.Fatalf("address of real server %s: %q: %v", idx, got[rsCol+"3."+idx], err)
			}
			if n, _ := strconv.Atoi(ri); n != rsHost || rsSvc != vip-1 {
				t.Errorf("row %s is real server 10.0.%d.%d of tcp/192.0.2.%d:80, want the %s. server of its service", idx, rsSvc, rsHost, vip, ri)
			}
			if want := "Counter64: " + strconv.FormatUint(uint64(rsSvc*servers+rsHost-1)<<33, 10); v != want {
				t.Errorf("%s = %s, want %s", oid, v, want)
			}
		}
	}
	if rows != services*servers {
		t.Errorf("the walk has %d lvsRealServerConnections cells, want %d", rows, services*servers)
	}
	if max := int(walk/ttl) + 2; reads > max {
		t.Errorf("a walk of %v read the sidecar's table %d times, want at most %d (one per %v)", walk, reads, max, ttl)
	}

	start = time.Now()
	out, err := agent.run(t, "snmpbulkwalk", "-On", "-Cr50", "."+mibObjects)
	if err != nil {
		t.Fatal(err)
	}
	bulk := time.Since(start)
	if n := strings.Count(out, "\n"); n != len(got) {
		t.Errorf("snmpbulkwalk: %d objects, snmpwalk %d", n, len(got))
	}
	t.Logf("%d services, %d real servers, %d objects: snmpwalk %v (%.0f µs/object, %d reads of the sidecar), snmpbulkwalk -Cr50 %v",
		services, services*servers, len(got), walk.Round(time.Millisecond), float64(walk.Microseconds())/float64(len(got)), reads, bulk.Round(time.Millisecond))
}

// TestSNMPPassPersistCLI runs the command as snmpd does, on pipes: stdout
// carries only answers, even while the sidecar cannot be read (the reason
// goes to --log-file, the password never); bad flags exit 2 before any
// request.
func TestSNMPPassPersistCLI(t *testing.T) {
	side := serveFixture(t, "", &fakeTable{snap: tableOf("10.0.0.1:80")}, writeFile(t, t.TempDir(), "web.yml", basicAuthConfig(t, "snmp", "pw-good-7f3a")))
	dir := t.TempDir()
	const session = "PING\nget\n.1.3.6.1.4.1.32473.9960.1.4.8.0\ngetnext\n.1.3.6.1.4.1.32473.9960.1.3.1.2\nset\n.1.3.6.1.4.1.32473.9960.1.4.1.0\nstring x\n"
	for _, tc := range []struct {
		name, password, url string
		stdout, log         string
	}{
		{"answers", "pw-good-7f3a", "http://" + side.addr,
			"PONG\n.1.3.6.1.4.1.32473.9960.1.4.8.0\ngauge\n1\n.1.3.6.1.4.1.32473.9960.1.3.1.2.1.1\ninteger\n1\nnot-writable\n", ""},
		{"wrong password", "pw-bad-91c2", "http://" + side.addr, "PONG\nNONE\nNONE\nnot-writable\n", `authentication failed for user \"snmp\"`},
		{"sidecar down", "pw-good-7f3a", "http://snmp:inline-secret@" + closedPort(t, "127.0.0.1"), "PONG\nNONE\nNONE\nnot-writable\n", "cannot reach lvs-sidecar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw := writeFile(t, dir, "pw-"+tc.password, tc.password+"\n")
			logFile := filepath.Join(t.TempDir(), "pass.log")
			code, stdout, stderr := runBinary(t, session, nil, "snmp-pass-persist", "--url="+tc.url, "--user=snmp", "--password-file="+pw, "--log-file="+logFile)
			if code != 0 || stdout != tc.stdout || stderr != "" {
				t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %q", code, stdout, tc.stdout, stderr)
			}
			data, _ := os.ReadFile(logFile)
			log := string(data)
			if tc.log != "" && strings.Count(log, tc.log) != 1 {
				t.Errorf("the log does not say %q once:\n%s", tc.log, log)
			}
			if strings.Contains(log, "pw-good-7f3a") || strings.Contains(log, "pw-bad-91c2") || strings.Contains(log, "inline-secret") {
				t.Errorf("a password is in the log:\n%s", log)
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad url", []string{"--url=ftp://u:inline-secret@host"}, `--url "ftp://u:xxxxx@host": want http://HOST:PORT`},
		{"password without user", []string{"--password-file=" + writeFile(t, dir, "pw", "x\n")}, "a password without --user"},
		{"missing password file", []string{"--user=snmp", "--password-file=" + dir + "/none"}, "--password-file"},
		{"bad log file", []string{"--log-file=" + dir + "/no/such/dir/log"}, "--log-file"},
		{"negative ttl", []string{"--cache-ttl=-1s"}, "--cache-ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, "PING\n", nil, append([]string{"snmp-pass-persist"}, tc.args...)...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "inline-secret") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, tc.want)
			}
		})
	}
}

// TestServicesFetcherHidesSecrets: however the fetcher is printed, neither
// its password nor one in --url shows.
func TestServicesFetcherHidesSecrets(t *testing.T) {
	u, _ := url.Parse("http://snmp:url-secret@127.0.0.1:9960/api/v1/services")
	f := &servicesFetcher{url: u.String(), shown: u.Redacted(), user: "snmp", password: config.Secret("file-secret")}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, f)
		if strings.Contains(out, "secret") && !strings.Contains(out, "<secret>") || strings.Contains(out, "file-secret") || strings.Contains(out, "url-secret") {
			t.Errorf("%s: %s", format, out)
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("%s does not show the password as <secret>: %s", format, out)
		}
	}
}

// TestReadmeSNMPDConf runs the README's snmpd.conf lines, with this test's
// address, community, binary and sidecar put in: the walk the README shows
// works, and the view keeps out what it does not include.
func TestReadmeSNMPDConf(t *testing.T) {
	section := readmeSection(t, "### snmpd.conf")
	fences := fenceRE.FindAllStringSubmatch(section, -1)
	if len(fences) == 0 {
		t.Fatal("no code block in the README's snmpd.conf section")
	}
	conf := fences[0][2]
	side := serveFixture(t, "", &fakeTable{snap: tableOf("10.0.0.1:80")}, writeFile(t, t.TempDir(), "web.yml", basicAuthConfig(t, "snmp", "pw-readme-5d1e")))
	pw := writeFile(t, t.TempDir(), "snmp.password", "pw-readme-5d1e\n")
	addr := "127.0.0.1:" + strconv.Itoa(freeUDPPort(t))
	for old, repl := range map[string]string{
		"agentaddress udp:161":           "agentaddress udp:" + addr,
		"NMS-COMMUNITY 192.0.2.0/24":     "readme-community 127.0.0.1",
		"/usr/bin/lvs-sidecar":           binary,
		"--url=http://127.0.0.1:9960":    "--url=http://" + side.addr + " --log-file=" + filepath.Join(t.TempDir(), "log"),
		"/etc/lvs-sidecar/snmp.password": pw,
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("the README's snmpd.conf has no %q:\n%s", old, conf)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	agent := startSNMPDConf(t, conf, addr, "readme-community")
	got := agent.walk(t, ".1.3.6.1.4.1.32473.9960.1")
	if v := got[svcCol+"2.1"]; v != `STRING: "tcp/192.0.2.10:80"` {
		t.Errorf("lvsServiceKey.1 = %q, want the fixture's service (walk: %d objects)", v, len(got))
	}
	// ifTable is outside the view: the walk of it has nothing.
	if out, err := agent.run(t, "snmpget", "-On", ".1.3.6.1.2.1.2.1.0"); err != nil || !strings.Contains(out, "No Such Object") {
		t.Errorf("ifNumber outside the view: %v %q, want No Such Object", err, out)
	}
	if out, err := agent.run(t, "snmpget", "-On", ".1.3.6.1.2.1.1.3.0"); err != nil || !strings.Contains(out, "Timeticks") {
		t.Errorf("sysUpTime in the view: %v %q", err, out)
	}
}
