package e2e

// Tests of the comparison harness, on any host (no build tag). The
// fixtures in testdata/ were captured together in the lab VM from one
// table (lab/run): `ipvsadm -Ln --stats --exact` before and after the
// scrapes (equal), lvs-sidecar's and node_exporter's scrapes,
// /proc/net/ip_vs and /proc/net/ip_vs_stats. These tests prove that the
// e2e comparisons pass when the sources agree and fail, naming the
// difference, when they do not.

import (
	"embed"
	"maps"
	"slices"
	"strings"
	"testing"
)

// testdata is embedded: the test binary also runs in the lab VM, which has
// no copy of the source tree.
//
//go:embed testdata
var testdata embed.FS

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fixtures parses the captured sources; each edit, when not nil, changes
// one text before it is parsed.
type fixtures struct {
	scrape  *Scrape
	ipvsadm *Table
	proc    *Table
}

func loadFixtures(t *testing.T, edit map[string]func(string) string) fixtures {
	t.Helper()
	text := func(name string) string {
		s := readFixture(t, name)
		if f := edit[name]; f != nil {
			s = f(s)
		}
		return s
	}
	var fx fixtures
	var err error
	if fx.scrape, err = ParseScrape(strings.NewReader(text("sidecar.prom"))); err != nil {
		t.Fatal(err)
	}
	if fx.ipvsadm, err = ParseIpvsadmStats(text("ipvsadm-stats.txt")); err != nil {
		t.Fatal(err)
	}
	if fx.proc, err = ParseProcIPVS(text("proc-ip_vs.txt")); err != nil {
		t.Fatal(err)
	}
	if fx.proc.Totals, err = ParseProcStats(text("proc-ip_vs_stats.txt")); err != nil {
		t.Fatal(err)
	}
	return fx
}

// procFields are what /proc/net/ip_vs and ip_vs_stats tell.
const procFields = FieldScheduler | FieldForward | FieldWeight | FieldConns | FieldTotals

func TestParsersReadTheKernelFormats(t *testing.T) {
	fx := loadFixtures(t, nil)
	want := []string{
		"fwmark/7/ipv4", "fwmark/7/ipv6", "sctp/198.51.100.1:8000",
		"tcp/198.51.100.1:80", "tcp/198.51.100.1:8000", "tcp/198.51.100.1:8080",
		"tcp/198.51.100.2:80", "tcp/[2001:db8:100::1]:80", "udp/198.51.100.1:8000",
	}
	for name, tab := range map[string]*Table{"scrape": &fx.scrape.Table, "ipvsadm": fx.ipvsadm, "proc": fx.proc} {
		if got := sortedKeys(tab.Services); !slices.Equal(got, want) {
			t.Errorf("%s services = %q, want %q", name, got, want)
		}
		if n := tab.RealServers(); n != 22 {
			t.Errorf("%s has %d real servers, want 22", name, n)
		}
	}

	// Spot checks against the fixtures' text.
	if got, want := fx.ipvsadm.Services["tcp/198.51.100.1:80"].Stats, (Stats{4, 22, 21, 1401, 1757}); got != want {
		t.Errorf("ipvsadm tcp/198.51.100.1:80 stats = %+v, want %+v", got, want)
	}
	if got, want := fx.ipvsadm.Services["fwmark/7/ipv6"].Servers["[2001:db8:2::13]:80"].Stats, (Stats{3, 20, 16, 1719, 1809}); got != want {
		t.Errorf("ipvsadm fwmark/7/ipv6 stats = %+v, want %+v", got, want)
	}
	wrr := fx.proc.Services["tcp/198.51.100.1:8080"]
	if wrr.Scheduler != "wrr" || wrr.Servers["203.0.113.11:80"].Weight != 3 || wrr.Servers["203.0.113.13:80"].Weight != 1 {
		t.Errorf("proc tcp/198.51.100.1:8080 = %s", (&Table{Services: map[string]*Service{"wrr": wrr}}).String())
	}
	dr := fx.proc.Services["tcp/198.51.100.2:80"]
	if f1, f2 := dr.Servers["203.0.113.11:80"].Forward, dr.Servers["203.0.113.12:80"].Forward; f1 != "route" || f2 != "tunnel" {
		t.Errorf("proc forward methods = %q, %q; want route, tunnel", f1, f2)
	}
	if got, want := *fx.proc.Totals, (Stats{0x1c, 0x9a, 0x8a, 0x2c0b, 0x3383}); got != want {
		t.Errorf("proc totals = %+v, want %+v", got, want)
	}
	if got, want := fx.proc.Order, []string{
		"udp/198.51.100.1:8000", "tcp/198.51.100.2:80", "tcp/198.51.100.1:80", "tcp/198.51.100.1:8000",
		"tcp/[2001:db8:100::1]:80", "sctp/198.51.100.1:8000", "tcp/198.51.100.1:8080", "fwmark/7/ipv6", "fwmark/7/ipv4",
	}; !slices.Equal(got, want) {
		t.Errorf("proc order = %q, want %q", got, want)
	}
	if fx.scrape.Up != 1 || fx.scrape.ServiceCount != 9 || fx.scrape.RealServerCount != 22 {
		t.Errorf("scrape up %v, services %d, real servers %d; want 1, 9, 22", fx.scrape.Up, fx.scrape.ServiceCount, fx.scrape.RealServerCount)
	}
}

func TestDiffPassesWhenTheSourcesAgree(t *testing.T) {
	fx := loadFixtures(t, nil)
	if d := Diff(fx.scrape, fx.ipvsadm, FieldStats); len(d) > 0 {
		t.Errorf("scrape vs ipvsadm:\n%s", strings.Join(d, "\n"))
	}
	if d := Diff(fx.scrape, fx.proc, procFields); len(d) > 0 {
		t.Errorf("scrape vs /proc:\n%s", strings.Join(d, "\n"))
	}
}

// TestDiffFailsOnAWrongExpectation changes one source at a time, as a
// kernel or exporter bug would, and checks that Diff names exactly that.
func TestDiffFailsOnAWrongExpectation(t *testing.T) {
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if strings.Count(s, old) != 1 {
				t.Fatalf("fixture holds %q %d times, want once", old, strings.Count(s, old))
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	tests := []struct {
		name   string
		file   string
		edit   func(string) string
		fields Fields
		want   []string
	}{{
		name:   "byte counter off by one",
		file:   "ipvsadm-stats.txt",
		edit:   replace("  -> 203.0.113.13:80                     2       10        9      611      695", "  -> 203.0.113.13:80                     2       10        9      612      695"),
		fields: FieldStats,
		want:   []string{"tcp/198.51.100.1:80 203.0.113.13:80: incoming bytes = 611, want 612"},
	}, {
		name:   "host total off by one",
		file:   "proc-ip_vs_stats.txt",
		edit:   replace("      1C       9A", "      1D       9A"),
		fields: procFields,
		want:   []string{"host totals: connections = 28, want 29"},
	}, {
		name: "real server missing from the scrape",
		file: "ipvsadm-stats.txt",
		edit: replace("UDP  198.51.100.1:8000                   3        3        3      102       96\n",
			"UDP  198.51.100.1:8000                   3        3        3      102       96\n  -> 203.0.113.14:8000                   0        0        0        0        0\n"),
		fields: FieldStats,
		want: []string{
			"ipvs_real_servers = 22, want 23",
			"udp/198.51.100.1:8000 203.0.113.14:8000: in the reference, but not exported",
			"udp/198.51.100.1:8000: ipvs_service_real_servers = 3 (present: true), want 4",
		},
	}, {
		name:   "real server missing from the reference",
		file:   "proc-ip_vs.txt",
		edit:   replace("  -> CB00710C:0050      Tunnel  1      0          2         \n", ""),
		fields: procFields,
		want: []string{
			"ipvs_real_servers = 22, want 21",
			"tcp/198.51.100.2:80 203.0.113.12:80: exported, but not in the reference",
			"tcp/198.51.100.2:80: ipvs_service_real_servers = 2 (present: true), want 1",
		},
	}, {
		name: "extra service in the reference",
		file: "ipvsadm-stats.txt",
		edit: func(s string) string {
			return s + "TCP  198.51.100.1:443                    0        0        0        0        0\n"
		},
		fields: FieldStats,
		want: []string{
			"ipvs_services = 9, want 10",
			"tcp/198.51.100.1:443: in the reference, but not exported",
		},
	}, {
		name:   "weight and forwarding method differ",
		file:   "proc-ip_vs.txt",
		edit:   replace("  -> CB00710B:0050      Masq    3", "  -> CB00710B:0050      Route   4"),
		fields: procFields,
		want: []string{
			`tcp/198.51.100.1:8080 203.0.113.11:80: forward = "masq", want "route"`,
			"tcp/198.51.100.1:8080 203.0.113.11:80: weight = 3, want 4",
		},
	}, {
		name:   "scheduler differs",
		file:   "proc-ip_vs.txt",
		edit:   replace("TCP  C6336401:1F90 wrr", "TCP  C6336401:1F90 wlc"),
		fields: procFields,
		want:   []string{`tcp/198.51.100.1:8080: scheduler = "wrr", want "wlc"`},
	}, {
		name:   "fwmark families told apart",
		file:   "ipvsadm-stats.txt",
		edit:   replace("FWM  7 IPv6 ", "FWM  8 IPv6 "),
		fields: FieldStats,
		want: []string{
			"fwmark/7/ipv6: exported, but not in the reference",
			"fwmark/8/ipv6: in the reference, but not exported",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := loadFixtures(t, map[string]func(string) string{tt.file: tt.edit})
			want := fx.ipvsadm
			if tt.fields != FieldStats {
				want = fx.proc
			}
			got := Diff(fx.scrape, want, tt.fields)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseScrapeRejectsIncompleteOrInexact(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{{
		name: "real server lacks a metric",
		old:  `ipvs_real_server_weight{address="198.51.100.2",family="ipv4",fwmark="",port="80",protocol="tcp",server="203.0.113.12:80",service="tcp/198.51.100.2:80"} 1` + "\n",
		want: "real server tcp/198.51.100.2:80 203.0.113.12:80 has 8 of its 9 metrics",
	}, {
		name: "counter not an integer",
		old:  "ipvs_connections_total 28",
		new:  "ipvs_connections_total 28.5",
		want: "28.5 is not an exact non-negative integer",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := readFixture(t, "sidecar.prom")
			if strings.Count(s, tt.old) != 1 {
				t.Fatalf("fixture holds %q %d times, want once", tt.old, strings.Count(s, tt.old))
			}
			_, err := ParseScrape(strings.NewReader(strings.Replace(s, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseScrape error = %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestParseProcIPVSNeedsTheFamilyOfAFwmarkService(t *testing.T) {
	_, err := ParseProcIPVS("FWM  00000007 rr \n")
	if err == nil || !strings.Contains(err.Error(), "cannot tell its family") {
		t.Errorf("fwmark service without real servers: err = %v, want one saying its family is unknown", err)
	}
	_, err = ParseProcIPVS("FWM  00000007 rr \n  -> CB00710D:0050      Masq    1      0          3\n  -> [2001:0db8:0002:0000:0000:0000:0000:0013]:0050      Masq    1      0          3\n")
	if err == nil || !strings.Contains(err.Error(), "both families") {
		t.Errorf("fwmark service with real servers of both families: err = %v, want one saying so", err)
	}
}

func TestComparePeer(t *testing.T) {
	fx := loadFixtures(t, nil)
	// The fixture's node_exporter: the SCTP real servers appear under the
	// labels of the IPv6 service, printed before the SCTP one.
	fixture, err := ParseNodeExporter(strings.NewReader(readFixture(t, "node-exporter.prom")))
	if err != nil {
		t.Fatal(err)
	}
	backend := func(proto, laddr, lport, mark, raddr, rport string) PeerBackend {
		return PeerBackend{Proto: proto, LocalAddress: laddr, LocalPort: lport, LocalMark: mark, RemoteAddress: raddr, RemotePort: rport}
	}
	sctpUnder := func(proto, laddr, lport string) []PeerBackend {
		var bs []PeerBackend
		for _, rs := range []string{"203.0.113.11", "203.0.113.12", "203.0.113.13"} {
			bs = append(bs, backend(proto, laddr, lport, "", rs, "8000"))
		}
		return bs
	}
	// moveSCTP returns the /proc order with the SCTP service moved to
	// index i.
	moveSCTP := func(i int) []string {
		o := slices.DeleteFunc(slices.Clone(fx.proc.Order), func(s string) bool { return s == "sctp/198.51.100.1:8000" })
		return slices.Insert(o, i, "sctp/198.51.100.1:8000")
	}
	udpIndex := slices.Index(fx.proc.Order, "udp/198.51.100.1:8000")

	tests := []struct {
		name         string
		order        []string
		edit         func(map[PeerBackend]PeerValues)
		wantDiffs    []string // each a prefix of one difference; none: no differences
		wantSkipped  string   // a prefix of one skipped line
		wantCompared int
	}{{
		name:         "agree",
		order:        fx.proc.Order,
		wantCompared: 19,
		wantSkipped:  `node_exporter backend {proto="TCP" local_address="2001:db8:100::1" local_port="80" local_mark="" remote_address="203.0.113.11" remote_port="8000"} stands for sctp/198.51.100.1:8000 203.0.113.11:8000`,
	}, {
		name:  "SCTP printed first: empty labels",
		order: moveSCTP(0),
		edit: func(p map[PeerBackend]PeerValues) {
			for i, b := range sctpUnder("TCP", "2001:db8:100::1", "80") {
				p[sctpUnder("", "", "0")[i]] = p[b]
				delete(p, b)
			}
		},
		wantSkipped: `node_exporter backend {proto="" local_address="" local_port="0" local_mark="" remote_address="203.0.113.12" remote_port="8000"} stands for sctp/198.51.100.1:8000 203.0.113.12:8000`,
	}, {
		name:  "SCTP printed after UDP with the same real servers: added up",
		order: moveSCTP(udpIndex + 1),
		edit: func(p map[PeerBackend]PeerValues) {
			for _, b := range sctpUnder("TCP", "2001:db8:100::1", "80") {
				delete(p, b)
			}
			for _, b := range sctpUnder("UDP", "198.51.100.1", "8000") {
				p[b] = PeerValues{Active: 0, Inactive: 2, Weight: 2}
			}
		},
		wantSkipped: `node_exporter backend {proto="UDP" local_address="198.51.100.1" local_port="8000" local_mark="" remote_address="203.0.113.13" remote_port="8000"} stands for sctp/198.51.100.1:8000 203.0.113.13:8000 + udp/198.51.100.1:8000 203.0.113.13:8000`,
	}, {
		name:  "added up where the order says no",
		order: fx.proc.Order,
		edit: func(p map[PeerBackend]PeerValues) {
			p[sctpUnder("UDP", "198.51.100.1", "8000")[0]] = PeerValues{Active: 0, Inactive: 2, Weight: 2}
		},
		wantDiffs: []string{
			"udp/198.51.100.1:8000 203.0.113.11:8000: inactive connections 1, node_exporter 2",
			"udp/198.51.100.1:8000 203.0.113.11:8000: weight 1, node_exporter 2",
		},
	}, {
		name:  "weight differs",
		order: fx.proc.Order,
		edit: func(p map[PeerBackend]PeerValues) {
			b := backend("TCP", "198.51.100.1", "8080", "", "203.0.113.11", "80")
			v := p[b]
			v.Weight--
			p[b] = v
		},
		wantDiffs: []string{"tcp/198.51.100.1:8080 203.0.113.11:80: weight 3, node_exporter 2"},
	}, {
		name:  "fwmark active differs",
		order: fx.proc.Order,
		edit: func(p map[PeerBackend]PeerValues) {
			b := backend("FWM", "", "0", "00000007", "2001:db8:2::13", "80")
			v := p[b]
			v.Active++
			p[b] = v
		},
		wantDiffs: []string{"fwmark/7/ipv6 [2001:db8:2::13]:80: active connections 0, node_exporter 1"},
	}, {
		name:  "backend missing, another in its place",
		order: fx.proc.Order,
		edit: func(p map[PeerBackend]PeerValues) {
			b := backend("TCP", "198.51.100.2", "80", "", "203.0.113.12", "80")
			v := p[b]
			delete(p, b)
			b.RemoteAddress = "203.0.113.99"
			p[b] = v
		},
		wantDiffs: []string{
			`node_exporter backend {proto="TCP" local_address="198.51.100.2" local_port="80" local_mark="" remote_address="203.0.113.99" remote_port="80"}: lvs-sidecar has no real server for it`,
			`tcp/198.51.100.2:80 203.0.113.12:80: node_exporter has no backend`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := maps.Clone(fixture)
			if tt.edit != nil {
				tt.edit(peer)
			}
			c := ComparePeer(fx.scrape, peer, tt.order)
			diffs, skipped := c.Diffs, c.Skipped
			if len(diffs) != len(tt.wantDiffs) {
				t.Errorf("diffs:\n%s\nwant %d:\n%s", strings.Join(diffs, "\n"), len(tt.wantDiffs), strings.Join(tt.wantDiffs, "\n"))
			}
			for _, w := range tt.wantDiffs {
				if !slices.ContainsFunc(diffs, func(d string) bool { return strings.HasPrefix(d, w) }) {
					t.Errorf("diffs:\n%s\nwant one starting %q", strings.Join(diffs, "\n"), w)
				}
			}
			if tt.wantCompared != 0 && c.Compared != tt.wantCompared {
				t.Errorf("compared %d real servers, want %d", c.Compared, tt.wantCompared)
			}
			if tt.wantSkipped != "" && !slices.ContainsFunc(skipped, func(s string) bool { return strings.HasPrefix(s, tt.wantSkipped) }) {
				t.Errorf("skipped:\n%s\nwant one starting %q", strings.Join(skipped, "\n"), tt.wantSkipped)
			}
		})
	}
}
