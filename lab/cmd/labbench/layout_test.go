package main

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestLayoutTable: every destination is its own port, services hold at
// most perService, destinations go round-robin over the real servers, and
// each real server's listen spec names exactly its destinations' ports.
func TestLayoutTable(t *testing.T) {
	for _, l := range []layout{
		{vip: vipSidecar, dests: 1, perService: 100, rs: 3},
		{vip: vipSidecar, dests: 250, perService: 100, rs: 3},
		{vip: vipSidecar, dests: 10000, perService: 100, rs: 3},
		{vip: vipKeepalived, dests: 7, perService: 3, rs: 2},
	} {
		if err := l.validate(); err != nil {
			t.Fatal(err)
		}
		svcs := l.table()
		if len(svcs) != l.services() {
			t.Errorf("%+v: %d services, want %d", l, len(svcs), l.services())
		}
		ports := map[uint16]bool{}
		byRS := map[int][]int{}
		n := 0
		for _, s := range svcs {
			if s.addr.Addr() != l.vip || len(s.dests) == 0 || len(s.dests) > l.perService {
				t.Errorf("%+v: service %s with %d destinations", l, s.addr, len(s.dests))
			}
			for _, d := range s.dests {
				if ports[d.addr.Port()] {
					t.Errorf("%+v: port %d twice", l, d.addr.Port())
				}
				ports[d.addr.Port()] = true
				if want := n%l.rs + 1; d.rs != want || d.addr.Addr() != rsAddr(want) {
					t.Errorf("%+v: destination %d on rs%d (%s), want rs%d", l, n, d.rs, d.addr, want)
				}
				byRS[d.rs] = append(byRS[d.rs], int(d.addr.Port()))
				n++
			}
		}
		if n != l.dests {
			t.Errorf("%+v: %d destinations", l, n)
		}
		for r := 1; r <= l.rs; r++ {
			got, err := parsePorts(portSpec(r, l.rs, l.dests))
			if len(byRS[r]) == 0 {
				if err == nil {
					t.Errorf("%+v: rs%d has no destination but listens on %v", l, r, got)
				}
				continue
			}
			if err != nil || !equalInts(got, byRS[r]) {
				t.Errorf("%+v: rs%d listens on %v (%v), its destinations are on %v", l, r, got, err, byRS[r])
			}
		}
	}
}

func TestLayoutValidate(t *testing.T) {
	for _, l := range []layout{
		{dests: 0, perService: 1, rs: 3},
		{dests: 10, perService: 0, rs: 3},
		{dests: 10, perService: 1, rs: 0},
		{dests: 45537, perService: 100, rs: 3},
		{dests: 20000, perService: 1, rs: 3}, // service ports would reach 20000
	} {
		if err := l.validate(); err == nil {
			t.Errorf("%+v: accepted", l)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConfigsAgree: the project's own parsers read the ipvsadm rules and
// the lvs-sidecar configuration labbench writes into the same table (so
// the controller has nothing to change on a table ipvsadm -R made), with
// the detection settings asked for.
func TestConfigsAgree(t *testing.T) {
	svcs := layout{vip: vipSidecar, dests: 250, perService: 100, rs: 3}.table()
	c := checkSettings{kind: "syn", interval: 2 * time.Second, timeout: 500 * time.Millisecond, fall: 3, retryDelay: time.Second}
	cfg, err := config.Parse([]byte(sidecarConfig(svcs, c)), "bench.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := config.ParseIpvsadm(strings.NewReader(ipvsadmRules(svcs)), "rules")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Services) != len(svcs) || len(rules) != len(svcs) {
		t.Fatalf("%d services in the configuration, %d in the rules, want %d", len(cfg.Services), len(rules), len(svcs))
	}
	for i, s := range cfg.Services {
		r := rules[i]
		if s.Key != r.ServiceKey || s.Key.Address != svcs[i].addr.Addr() || s.Key.Port != svcs[i].addr.Port() ||
			s.Scheduler != r.Scheduler {
			t.Errorf("service %d: configuration %v %s, rules %v %s, want %s", i, s.Key, s.Scheduler, r.ServiceKey, r.Scheduler, svcs[i].addr)
		}
		if len(s.RealServers) != len(svcs[i].dests) || len(r.Destinations) != len(svcs[i].dests) {
			t.Fatalf("service %d: %d real servers, %d in the rules, want %d", i, len(s.RealServers), len(r.Destinations), len(svcs[i].dests))
		}
		for j, rs := range s.RealServers {
			d := r.Destinations[j]
			if rs.Address != svcs[i].dests[j].addr || netip.AddrPortFrom(d.Address, d.Port) != rs.Address ||
				rs.Weight != int(d.Weight) || rs.Forward != d.Forward || d.Forward != ipvs.ForwardMasq {
				t.Errorf("service %d real server %d: configuration %s w%d %v, rules %s:%d w%d %v", i, j,
					rs.Address, rs.Weight, rs.Forward, d.Address, d.Port, d.Weight, d.Forward)
			}
			checks := s.ChecksFor(&rs)
			if len(checks) != 1 {
				t.Fatalf("service %d real server %d: %d checks, want 1", i, j, len(checks))
			}
			k := checks[0]
			if k.Type != config.CheckSYN || k.Port != rs.Address.Port() || k.Timeout != c.timeout || k.Rise != 1 ||
				k.Fall != c.fall || k.FastInterval != c.retryDelay || k.Jitter != (config.Jitter{}) {
				t.Errorf("service %d real server %d: check %+v, want %+v", i, j, k, c)
			}
		}
	}
}

// TestKeepalivedConfig checks keepalived's configuration with keepalived
// itself (its --config-test) when it is on PATH, and its translation of
// the settings in any case.
func TestKeepalivedConfig(t *testing.T) {
	svcs := layout{vip: vipKeepalived, dests: 5, perService: 2, rs: 3}.table()
	c := checkSettings{kind: "tcp", interval: 1500 * time.Millisecond, timeout: 500 * time.Millisecond, fall: 4, retryDelay: time.Second}
	text := keepalivedConfig(svcs, c)
	for _, want := range []string{
		"virtual_server 198.51.100.2 10000 {", "virtual_server 198.51.100.2 10002 {",
		"delay_loop 1.5\n", "real_server 203.0.113.12 20001 {", "inhibit_on_failure\n",
		"connect_timeout 0.5\n", "retry 3\n", "delay_before_retry 1\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	if n := strings.Count(text, "TCP_CHECK {"); n != 5 {
		t.Errorf("%d TCP_CHECK blocks, want 5", n)
	}
	bin, err := exec.LookPath(keepalivedBin)
	if err != nil {
		t.Skip("keepalived is not on PATH: its own check of the file is skipped (lab/bench runs it)")
	}
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--config-test", "--use-file="+path).CombinedOutput(); err != nil {
		t.Errorf("keepalived --config-test: %v\n%s", err, out)
	}
}

func TestParsePorts(t *testing.T) {
	for spec, want := range map[string][]int{
		"80":              {80},
		"80,81":           {80, 81},
		"20000-20006:3":   {20000, 20003, 20006},
		"20001-20007:3,5": {20001, 20004, 20007, 5},
		"1-3":             {1, 2, 3},
	} {
		got, err := parsePorts(spec)
		if err != nil || !equalInts(got, want) {
			t.Errorf("%q: %v, %v; want %v", spec, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "5-4", "1-70000", "1-5:0", "x", "1-5:y"} {
		if got, err := parsePorts(bad); err == nil {
			t.Errorf("%q: accepted as %v", bad, got)
		}
	}
}
