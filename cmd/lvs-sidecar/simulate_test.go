package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// webSeries is a series of a real server of healthConfig's service, with
// the table's labels.
func webSeries(name, server string) string {
	return fmt.Sprintf(`%s{address="192.0.2.10",family="ipv4",fwmark="",port="80",protocol="tcp",server=%q,service="tcp/192.0.2.10:80"}`, name, server)
}

// kernelWeight returns the weight the table gives server in
// /api/v1/services, or -1 when it is not in the table.
func kernelWeight(t *testing.T, s *sidecar, server string) int {
	t.Helper()
	code, body := get(t, http.DefaultClient, "http://"+s.addr+web.ServicesPath, "", "")
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", web.ServicesPath, code, body)
	}
	var view web.ServicesView
	if err := json.Unmarshal([]byte(body), &view); err != nil {
		t.Fatal(err)
	}
	if !view.IPVSReadable {
		t.Fatalf("%s says the table is unreadable: %s", web.ServicesPath, view.IPVSError)
	}
	for _, svc := range view.Services {
		for _, rs := range svc.RealServers {
			if svc.Key == "tcp/192.0.2.10:80" && rs.Server == server && rs.InTable {
				return rs.WeightKernel
			}
		}
	}
	return -1
}

// TestSimulate runs the binary with --ipvs.simulate, a seed and a
// configuration whose real servers are listeners the test owns: the
// seeded services are on /metrics with ipvs_up 1 and moving counters,
// closing a listener makes the controller drain that server in the
// simulated table, reopening it restores it; the start says once that
// nothing reaches the kernel.
func TestSimulate(t *testing.T) {
	rs1, rs2 := newListener(t, "127.0.0.1:0"), newListener(t, "127.0.0.1:0")
	dir := t.TempDir()
	seed := writeFile(t, dir, "seed.rules", fmt.Sprintf(`# ipvsadm -S -n
-A -t 192.0.2.10:80 -s wlc
-a -t 192.0.2.10:80 -r %s -m -w 1
-a -t 192.0.2.10:80 -r %s -m -w 1
-A -u 192.0.2.53:53 -s rr
-a -u 192.0.2.53:53 -r 10.0.1.1:53 -g -w 2
`, rs1.addr, rs2.addr))
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs1.addr, rs2.addr))
	s := start(t, "--config.file="+cfg, "--ipvs.simulate", "--ipvs.simulate.seed="+seed)

	waitMetric(t, s, nil, "ipvs_up", 1, 5*time.Second)
	for _, server := range []string{rs1.addr, rs2.addr} {
		waitMetric(t, s, nil, stateSeries(server, "up"), 1, 5*time.Second)
		waitMetric(t, s, nil, webSeries("ipvs_real_server_weight", server), 1, 5*time.Second)
	}
	waitMetric(t, s, nil, `ipvs_real_server_weight{address="192.0.2.53",family="ipv4",fwmark="",port="53",protocol="udp",server="10.0.1.1:53",service="udp/192.0.2.53:53"}`, 2, 5*time.Second)
	warn := regexp.MustCompile(`level=WARN .*msg="the IPVS table is simulated in memory \(--ipvs.simulate\): nothing is read from or written to the kernel's table" seed=\S+seed.rules services=2 real_servers=3 connections_per_second_per_service=100`)
	if n := countLines(s.logs(), warn); n != 1 {
		t.Errorf("%d warnings that the table is simulated, want 1:\n%s", n, s.logs())
	}

	// The traffic moves: the service's connections grow between scrapes.
	series := `ipvs_service_connections_total{address="192.0.2.10",family="ipv4",fwmark="",port="80",protocol="tcp",service="tcp/192.0.2.10:80"}`
	_, body := get(t, http.DefaultClient, "http://"+s.addr+"/metrics", "", "")
	first, ok := metric(body, series)
	if !ok {
		t.Fatalf("no %s", series)
	}
	testutil.Poll(t, 5*time.Second, 50*time.Millisecond, func() error {
		_, body := get(t, http.DefaultClient, "http://"+s.addr+"/metrics", "", "")
		if v, _ := metric(body, series); v <= first {
			return fmt.Errorf("%s stays at %v", series, v)
		}
		return nil
	})

	rs2.close()
	waitMetric(t, s, nil, stateSeries(rs2.addr, "down"), 1, 5*time.Second)
	waitMetric(t, s, nil, webSeries("ipvs_real_server_weight", rs2.addr), 0, 5*time.Second)
	if w := kernelWeight(t, s, rs2.addr); w != 0 {
		t.Errorf("%s gives the closed server weight %d, want 0 (drained)", web.ServicesPath, w)
	}
	if w := kernelWeight(t, s, rs1.addr); w != 1 {
		t.Errorf("%s gives the open server weight %d, want 1", web.ServicesPath, w)
	}

	rs2.open(t)
	waitMetric(t, s, nil, stateSeries(rs2.addr, "up"), 1, 5*time.Second)
	waitMetric(t, s, nil, webSeries("ipvs_real_server_weight", rs2.addr), 1, 5*time.Second)
	if w := kernelWeight(t, s, rs2.addr); w != 1 {
		t.Errorf("%s gives the reopened server weight %d, want 1", web.ServicesPath, w)
	}
	if strings.Contains(s.logs(), "modprobe") {
		t.Errorf("the simulated sidecar talks of the kernel module:\n%s", s.logs())
	}
}

// TestSimulateEmpty: without a seed the simulated table starts empty and
// the controller creates the configuration's service in it, as it would
// in an empty kernel table.
func TestSimulateEmpty(t *testing.T) {
	rs := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, t.TempDir(), "lvs.yml", healthConfig(rs.addr))
	s := start(t, "--config.file="+cfg, "--ipvs.simulate", "--ipvs.simulate.rate=0")
	waitMetric(t, s, nil, "ipvs_up", 1, 5*time.Second)
	waitMetric(t, s, nil, webSeries("ipvs_real_server_weight", rs.addr), 1, 5*time.Second)
	if !strings.Contains(s.logs(), `seed="none (empty table)" services=0 real_servers=0 connections_per_second_per_service=0`) {
		t.Errorf("the warning does not say the table starts empty, without traffic:\n%s", s.logs())
	}
	_, body := get(t, http.DefaultClient, "http://"+s.addr+"/metrics", "", "")
	if v, ok := metric(body, webSeries("ipvs_real_server_connections_total", rs.addr)); !ok || v != 0 {
		t.Errorf("at rate 0 the real server counted %v connections (present: %v)", v, ok)
	}
}

// TestSimulateBadInput: the simulation's flags alone, with
// --ipvs.netns, or with a bad seed end the process with a message naming
// the problem.
func TestSimulateBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.rules", "-A -t 192.0.2.10:80 -s wlc\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w many\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"with netns", []string{"--ipvs.simulate", "--ipvs.netns=/proc/1/ns/net"}, 2,
			"--ipvs.simulate and --ipvs.netns cannot be combined: the simulated table is in memory, in no network namespace; drop one of them"},
		{"seed without simulate", []string{"--ipvs.simulate.seed=" + bad}, 2,
			"--ipvs.simulate.seed needs --ipvs.simulate (without it the kernel's IPVS table is read and written)"},
		{"rate without simulate", []string{"--ipvs.simulate.rate=5"}, 2, "--ipvs.simulate.rate needs --ipvs.simulate"},
		{"bad rate", []string{"--ipvs.simulate", "--ipvs.simulate.rate=fast"}, 2, `--ipvs.simulate.rate: "fast" is not a number of connections per second, 0 or more`},
		{"negative rate", []string{"--ipvs.simulate", "--ipvs.simulate.rate=-1"}, 2, `--ipvs.simulate.rate: "-1" is not a number`},
		{"bad seed", []string{"--ipvs.simulate", "--ipvs.simulate.seed=" + bad}, 1, bad + ":2: -w many: must be a number from 0 to 65535"},
		{"missing seed", []string{"--ipvs.simulate", "--ipvs.simulate.seed=" + dir + "/nope.rules"}, 1, dir + "/nope.rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runToExit(t, append([]string{"--web.listen-address=127.0.0.1:0"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.code, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output does not say %q:\n%s", tc.want, out)
			}
		})
	}
}
