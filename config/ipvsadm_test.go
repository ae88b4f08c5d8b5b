package config

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ipvsadm")

func importFile(t *testing.T, path string) *Config {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ImportIpvsadm(f, filepath.Base(path))
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return c
}

// TestImportGolden imports every dump in testdata/ipvsadm, compares the
// YAML with the golden file next to it, and loads the golden file back:
// the model must be the one the import built.
func TestImportGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/ipvsadm/*.rules")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dumps: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := importFile(t, f)
			out, err := Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(f, ".rules") + ".yml"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run TestImportGolden -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("import of %s differs from %s:\n%s", f, golden, out)
			}
			back := mustLoad(t, golden)
			compareConfig(t, back, c)
		})
	}
}

// TestImportModel checks the imported model field by field: every
// protocol, both families, fwmark, every forwarding method, persistence
// and netmasks, and the checks chosen per kind of service.
func TestImportModel(t *testing.T) {
	c := importFile(t, "testdata/ipvsadm/save.rules")
	addr := netip.MustParseAddr
	type rsWant struct {
		addr   string
		fwd    ipvs.ForwardMethod
		weight int
	}
	for i, want := range []struct {
		name        string
		key         ipvs.ServiceKey
		scheduler   string
		persistence time.Duration
		netmask     int
		check       CheckType
		servers     []rsWant
	}{
		{"tcp-192.0.2.1-80", ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: addr("192.0.2.1"), Port: 80}, "wrr", 300 * time.Second, 24, CheckTCP,
			[]rsWant{{"10.0.0.1:8080", ipvs.ForwardMasq, 2}, {"10.0.0.2:8080", ipvs.ForwardMasq, 1}}},
		{"tcp-192.0.2.1-443", ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: addr("192.0.2.1"), Port: 443}, "sh", 0, 0, CheckTCP,
			[]rsWant{{"10.0.0.1:443", ipvs.ForwardRoute, 1}, {"10.0.0.2:443", ipvs.ForwardTunnel, 1}, {"[2001:db8:1::3]:443", ipvs.ForwardTunnel, 0}}},
		{"udp-192.0.2.53-53", ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: addr("192.0.2.53"), Port: 53}, "rr", 0, 0, CheckICMP,
			[]rsWant{{"10.0.1.1:53", ipvs.ForwardRoute, 1}, {"10.0.1.2:53", ipvs.ForwardRoute, 1}}},
		{"sctp-192.0.2.7-3868", ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.SCTP, Address: addr("192.0.2.7"), Port: 3868}, "lc", 0, 0, CheckICMP,
			[]rsWant{{"10.0.3.1:3868", ipvs.ForwardMasq, 1}}},
		{"tcp-2001:db8::10-80", ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Address: addr("2001:db8::10"), Port: 80}, "wlc", 600 * time.Second, 64, CheckTCP,
			[]rsWant{{"[2001:db8:1::1]:80", ipvs.ForwardMasq, 5}, {"[2001:db8:1::2]:8080", ipvs.ForwardMasq, 5}}},
		{"fwmark-42", ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 42}, "lc", 0, 0, CheckICMP,
			[]rsWant{{"10.0.2.1:0", ipvs.ForwardRoute, 1}, {"10.0.2.2:0", ipvs.ForwardRoute, 3}}},
		{"fwmark-42-ipv6", ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 42}, "rr", 120 * time.Second, 128, CheckICMP,
			[]rsWant{{"[2001:db8:2::1]:0", ipvs.ForwardRoute, 1}}},
	} {
		if i >= len(c.Services) {
			t.Fatalf("only %d services imported", len(c.Services))
		}
		s := c.Services[i]
		if s.Name != want.name || s.Key != want.key || s.Scheduler != want.scheduler ||
			s.Persistence != want.persistence || s.PersistenceNetmask != want.netmask {
			t.Errorf("service %d: %s %s %s persistence %s/%d, want %s %s %s %s/%d", i,
				s.Name, s.Key, s.Scheduler, s.Persistence, s.PersistenceNetmask,
				want.name, want.key, want.scheduler, want.persistence, want.netmask)
		}
		if len(s.Checks) != 1 || s.Checks[0].Type != want.check || s.Checks[0].Port != 0 {
			t.Errorf("%s: checks %+v, want one %s check on the real server's port", s.Name, s.Checks, want.check)
		}
		if len(s.RealServers) != len(want.servers) {
			t.Errorf("%s: %d real servers, want %d", s.Name, len(s.RealServers), len(want.servers))
			continue
		}
		for j, w := range want.servers {
			rs := s.RealServers[j]
			if rs.Address != netip.MustParseAddrPort(w.addr) || rs.Forward != w.fwd || rs.Weight != w.weight {
				t.Errorf("%s real server %d: %s %s weight %d, want %s %s weight %d", s.Name, j, rs.Address, rs.Forward, rs.Weight, w.addr, w.fwd, w.weight)
			}
		}
	}
	if len(c.Services) != 7 {
		t.Errorf("%d services, want 7", len(c.Services))
	}
}

// TestImportScript covers long options, -C, thresholds, omitted ports and
// the ipvsadm word in front of each line.
func TestImportScript(t *testing.T) {
	c := importFile(t, "testdata/ipvsadm/script.rules")
	if len(c.Services) != 2 {
		t.Fatalf("%d services, want 2", len(c.Services))
	}
	smtp := c.Services[0]
	want := []RealServer{
		{Address: vip("10.9.0.1:25"), Weight: 10, Forward: ipvs.ForwardMasq, UpperThreshold: 500, LowerThreshold: 400},
		{Address: vip("10.9.0.2:25"), Weight: 1, Forward: ipvs.ForwardMasq, UpperThreshold: 500, LowerThreshold: 400},
	}
	for i := range want {
		if !reflect.DeepEqual(smtp.RealServers[i], want[i]) {
			t.Errorf("real server %d: %+v, want %+v", i, smtp.RealServers[i], want[i])
		}
	}
	all := c.Services[1]
	if all.Key.Port != 0 || all.Persistence != 300*time.Second || all.RealServers[0].Address != vip("10.9.0.3:0") {
		t.Errorf("port-0 service: %+v", all)
	}
}

// TestImportTunnels reads every tunnel type and checksum option as
// ipvsadm -S writes them, mixed families included.
func TestImportTunnels(t *testing.T) {
	rules := `-A -t 192.0.2.1:80 -s rr
-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i -w 1
-a -t 192.0.2.1:80 -r 10.0.0.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-a -t 192.0.2.1:80 -r 10.0.0.3:80 -i -w 1 --tun-type gre --tun-csum
-a -t 192.0.2.1:80 -r [2001:db8::4]:80 -i -w 1 --tun-type=gue --tun-port=5555 --tun-nocsum
`
	c, err := ImportIpvsadm(strings.NewReader(rules), "t.rules")
	if err != nil {
		t.Fatal(err)
	}
	want := []Tunnel{
		{},
		{Type: ipvs.TunnelGUE, Port: 6080, Flags: ipvs.TunnelRemoteChecksum},
		{Type: ipvs.TunnelGRE, Flags: ipvs.TunnelChecksum},
		{Type: ipvs.TunnelGUE, Port: 5555},
	}
	got := c.Services[0].RealServers
	if len(got) != len(want) {
		t.Fatalf("%d real servers, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Tunnel != want[i] || got[i].Forward != ipvs.ForwardTunnel {
			t.Errorf("real server %s: %s %+v, want tun %+v", got[i].Address, got[i].Forward, got[i].Tunnel, want[i])
		}
	}
}

// importErrorCase is a bad input and the exact, line-numbered error the
// import gives for it.
type importErrorCase struct {
	name, input, want string
}

// importErrors are the cases of TestImportErrors, which ParseIpvsadm
// shares (TestParseIpvsadmErrors).
func importErrors() []importErrorCase {
	const svc = "-A -t 192.0.2.1:80 -s rr\n"
	return []importErrorCase{
		{"unknown option", "-A -t 192.0.2.1:80 -z\n", `x.rules:1: unknown option "-z"`},
		{"no command", "-t 192.0.2.1:80 -s rr\n", `x.rules:1: no command: each line needs -A (add service), -a (add server) or -C (clear)`},
		{"edit line", svc + "-E -t 192.0.2.1:80 -s wrr\n", `x.rules:2: -E: only -A (add service), -a (add server) and -C (clear) lines, as ipvsadm -S writes them, can be imported`},
		{"server before service", "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m\n" + svc, `x.rules:1: tcp/192.0.2.1:80: no such service: add it with an -A line before its real servers`},
		{"service twice", svc + "\n" + svc, `x.rules:3: tcp/192.0.2.1:80 is already added on line 1`},
		{"real server twice", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m\n-a -t 192.0.2.1:80 -r 10.0.0.1 -m -w 3\n", `x.rules:3: -r 10.0.0.1: real server 10.0.0.1:80 of tcp/192.0.2.1:80 is already added on line 2`},
		{"host name", "-A -t www.example.com:80\n", `x.rules:1: -t www.example.com:80: not a numeric ADDR:PORT (save the table with ipvsadm -S -n)`},
		{"port name", "-A -t 192.0.2.1:http\n", `x.rules:1: -t 192.0.2.1:http: not a numeric ADDR:PORT (save the table with ipvsadm -S -n)`},
		{"scheduler", "-A -t 192.0.2.1:80 -s fastest\n", `x.rules:1: -s fastest: unknown scheduler; one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh`},
		{"weight", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 70000\n", `x.rules:2: -w 70000: must be a number from 0 to 65535`},
		{"negative weight", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w -1\n", `x.rules:2: -w -1: must be a number from 0 to 65535`},
		{"thresholds", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -x 10 -y 20\n", `x.rules:2: -y 20 is above -x 10: the kernel refuses a lower threshold above the upper one`},
		{"family", svc + "-a -t 192.0.2.1:80 -r [2001:db8::1]:80 -g\n", `x.rules:2: -r [2001:db8::1]:80: IPv6 real server in an IPv4 service; only tunnelled (-i) real servers may differ`},
		{"two methods", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -g -m\n", `x.rules:2: -g and -m on one line: a real server has one forwarding method`},
		{"persistence", "-A -t 192.0.2.1:80 -p 0\n", `x.rules:1: -p 0: the persistence timeout must be a number of seconds from 1 to 4294967295`},
		{"netmask without persistence", "-A -t 192.0.2.1:80 -M 255.255.255.0\n", `x.rules:1: -M 255.255.255.0: the netmask only applies to persistent services (-p)`},
		{"bad netmask", "-A -t 192.0.2.1:80 -p -M 255.0.255.0\n", `x.rules:1: -M 255.0.255.0: not a netmask like 255.255.255.0`},
		{"ipv6 netmask", "-A -t [2001:db8::1]:80 -p -M 255.255.255.0\n", `x.rules:1: -M 255.255.255.0: an IPv6 netmask is a prefix length from 1 to 128`},
		{"port 0", "-A -t 192.0.2.1:0 -s rr\n", `x.rules:1: -t 192.0.2.1:0: port 0 (all ports) needs persistence (-p)`},
		{"fwmark 0", "-A -f 0\n", `x.rules:1: -f 0: the firewall mark must be a number from 1 to 4294967295`},
		{"-6 on -t", "-A -t 192.0.2.1:80 -6\n", `x.rules:1: -6 is only for -f services: an address service's family is its address's`},
		{"ipv6 fwmark without -6", "-A -f 7 -6\n-a -f 7 -r [2001:db8::1]:0 -g\n", `x.rules:2: fwmark/7/ipv4: no such service: add it with an -A line before its real servers (for an IPv6 fwmark service add -6)`},
		{"scheduler flags", "-A -t 192.0.2.1:80 -s mh -b sh-port\n", `x.rules:1: -b: scheduler flags (-b) cannot be expressed in the config file yet`},
		{"gue without port", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i --tun-type gue\n", `x.rules:2: --tun-type gue needs --tun-port (the kernel refuses port 0)`},
		{"tunnel port on gre", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i --tun-type gre --tun-port 6080\n", `x.rules:2: --tun-port is only for --tun-type gue`},
		{"tunnel port 0", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i --tun-type gue --tun-port 0\n", `x.rules:2: --tun-port 0: must be a number from 1 to 65535`},
		{"unknown tunnel", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i --tun-type vxlan\n", `x.rules:2: --tun-type vxlan: must be one of ipip, gue, gre`},
		{"remcsum on gre", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i --tun-type gre --tun-remcsum\n", `x.rules:2: --tun-remcsum is only for --tun-type gue`},
		{"csum on ipip", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i --tun-csum\n", `x.rules:2: --tun-csum: ipip tunnels have no checksum option (use --tun-type gue or gre)`},
		{"two checksum options", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -i --tun-type gre --tun-csum --tun-nocsum\n", `x.rules:2: --tun-csum and --tun-nocsum on one line: a tunnel has one checksum option`},
		{"tunnel without -i", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -g --tun-type gre\n", `x.rules:2: tunnel options (--tun-type, --tun-port, --tun-*csum) need tunnelling (-i)`},
		{"netmask 0", "-A -t 192.0.2.1:80 -p -M 0.0.0.0\n", `x.rules:1: -M 0.0.0.0: ` + netmaskZero},
		{"threshold above INT_MAX", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -x 2147483648\n", `x.rules:2: -x 2147483648: must be a number from 0 to 2147483647`},
		{"missing value", "-A -t 192.0.2.1:80 -s\n", `x.rules:1: -s needs a value`},
		{"server options on -A", "-A -t 192.0.2.1:80 -w 2\n", `x.rules:1: real server options (-r -g -i -m -w -x -y --tun-*) belong on -a lines, not -A`},
		{"-a without -r", svc + "-a -t 192.0.2.1:80 -m\n", `x.rules:2: -a needs the real server: -r ADDR[:PORT]`},
		{"nothing", "# only a comment\n\n", `x.rules: no -A (add service) lines: nothing to import`},
		{"cleared", svc + "-C\n", `x.rules: no -A (add service) lines: nothing to import`},
		// A failed -A is reported once; its -a lines are not errors again.
		{"failed service", "-A -t 192.0.2.1:80 -s bogus\n-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m\n", `x.rules:1: -s bogus: unknown scheduler; one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh`},
		{"several", "-A -t 192.0.2.1:80 -q\n-A -u 192.0.2.1:53\n-a -u 192.0.2.1:53 -r 10.0.0.1:53 -w x\n",
			"x.rules:1: unknown option \"-q\"\nx.rules:3: -w x: must be a number from 0 to 65535"},
	}
}

// TestImportErrors checks each bad line gives its exact, line-numbered
// error.
func TestImportErrors(t *testing.T) {
	for _, tc := range importErrors() {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ImportIpvsadm(strings.NewReader(tc.input), "x.rules")
			if err == nil {
				out, _ := Marshal(c)
				t.Fatalf("accepted:\n%s", out)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

// TestParseIpvsadmMatchesImport: for every dump in testdata/ipvsadm the
// table ParseIpvsadm reads is the one the import turned into a config:
// same services in the same order, same scheduler, persistence and real
// servers, the persistence netmask as the kernel reports it.
func TestParseIpvsadmMatchesImport(t *testing.T) {
	files, err := filepath.Glob("testdata/ipvsadm/*.rules")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dumps: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := importFile(t, f)
			in, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			table, err := ParseIpvsadm(in, filepath.Base(f))
			if err != nil {
				t.Fatal(err)
			}
			if len(table) != len(c.Services) {
				t.Fatalf("%d services, the import has %d", len(table), len(c.Services))
			}
			for i, s := range table {
				cs := c.Services[i]
				want := ipvs.Service{ServiceKey: cs.Key, Scheduler: cs.Scheduler}
				if cs.Persistence > 0 {
					want.Flags = ipvs.FlagPersistent
					want.Timeout = uint32(cs.Persistence / time.Second)
					want.Netmask = ipvs.PersistenceNetmask(cs.Key.Family, cs.PersistenceNetmask)
				}
				for _, rs := range cs.RealServers {
					family := ipvs.FamilyIPv4
					if rs.Address.Addr().Is6() {
						family = ipvs.FamilyIPv6
					}
					want.Destinations = append(want.Destinations, ipvs.Destination{Family: family, Address: rs.Address.Addr(), Port: rs.Address.Port(),
						Forward: rs.Forward, Weight: int32(rs.Weight), UpperThreshold: rs.UpperThreshold, LowerThreshold: rs.LowerThreshold,
						TunnelType: rs.Tunnel.Type, TunnelPort: rs.Tunnel.Port, TunnelFlags: rs.Tunnel.Flags})
				}
				if !reflect.DeepEqual(s, want) {
					t.Errorf("service %d:\n got %+v\nwant %+v", i, s, want)
				}
			}
		})
	}
}

// TestParseIpvsadmKernelOptions: what only the kernel's table can hold
// (scheduler flags, one-packet scheduling, a persistence engine) is read
// into the service, and an empty dump is an empty table.
func TestParseIpvsadmKernelOptions(t *testing.T) {
	rules := `-A -u 192.0.2.1:5060 -s sh -b sh-fallback,sh-port -o --pe sip -p 60 -M 255.255.255.0
-a -u 192.0.2.1:5060 -r 10.0.0.1:5060 -m -w 4
-A -t 192.0.2.1:80 -s mh --sched-flags=mh-port
-A -t 192.0.2.1:81 -s wrr -b flag-3 --ops
`
	table, err := ParseIpvsadm(strings.NewReader(rules), "k.rules")
	if err != nil {
		t.Fatal(err)
	}
	want := []ipvs.Service{
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: netip.MustParseAddr("192.0.2.1"), Port: 5060},
			Scheduler: "sh", PEName: "sip", Flags: ipvs.FlagPersistent | ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagOnePacket,
			Timeout: 60, Netmask: ipvs.PersistenceNetmask(ipvs.FamilyIPv4, 24),
			Destinations: []ipvs.Destination{{Family: ipvs.FamilyIPv4, Address: netip.MustParseAddr("10.0.0.1"), Port: 5060, Forward: ipvs.ForwardMasq, Weight: 4}}},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80},
			Scheduler: "mh", Flags: ipvs.FlagSched2},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 81},
			Scheduler: "wrr", Flags: ipvs.FlagSched3 | ipvs.FlagOnePacket},
	}
	if !reflect.DeepEqual(table, want) {
		t.Errorf("got  %+v\nwant %+v", table, want)
	}

	for _, empty := range []string{"", "# ipvsadm -S -n of an empty table\n", "-A -t 192.0.2.1:80\n-C\n"} {
		table, err := ParseIpvsadm(strings.NewReader(empty), "e.rules")
		if err != nil || len(table) != 0 {
			t.Errorf("%q: %v, %v; want an empty table", empty, table, err)
		}
	}
}

// TestParseIpvsadmErrors: ParseIpvsadm refuses what the import refuses
// with the same line-numbered errors, except what only the config file
// cannot hold, and refuses its own options' bad values.
func TestParseIpvsadmErrors(t *testing.T) {
	accepted := map[string]bool{"scheduler flags": true, "nothing": true, "cleared": true}
	cases := importErrors()
	const svc = "-A -t 192.0.2.1:80 -s rr\n"
	cases = append(cases,
		importErrorCase{"unknown scheduler flag", "-A -t 192.0.2.1:80 -s sh -b sh-port,sh-quick\n",
			`x.rules:1: -b sh-port,sh-quick: unknown scheduler flag "sh-quick"; one of flag-1, flag-2, flag-3, mh-fallback, mh-port, sh-fallback, sh-port`},
		importErrorCase{"unknown persistence engine", "-A -u 192.0.2.1:5060 -p --pe rtsp\n",
			`x.rules:1: --pe rtsp: unknown persistence engine; one of sip`},
		importErrorCase{"-o on -a", svc + "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -o\n",
			`x.rules:2: service options (-b -o --pe) belong on -A lines, not -a`},
		importErrorCase{"-b without flags", "-A -t 192.0.2.1:80 -s sh -b\n", `x.rules:1: -b needs a value`},
	)
	n := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			table, err := ParseIpvsadm(strings.NewReader(tc.input), "x.rules")
			if accepted[tc.name] {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			n++
			if err == nil {
				t.Fatalf("accepted: %+v", table)
			}
			var list Errors
			if !errors.As(err, &list) {
				t.Errorf("%v is not an Errors", err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
	if n < 30 {
		t.Errorf("only %d refused cases", n)
	}
}
