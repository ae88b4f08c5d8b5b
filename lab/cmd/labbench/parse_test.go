package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A /proc/net/ip_vs of kernel 6.1 with a UDP service between two TCP
// ones: 198.51.100.1:80 (rs1 weight 0, rs2 weight 3), udp :53, and
// 198.51.100.2:10000 (rs1:20000 weight 1).
const procSample = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C6336401:0050 wlc 
  -> CB00710B:4E1F      Masq    0      0          0         
  -> CB00710C:4E1F      Masq    3      1          7         
UDP  C6336401:0035 rr 
  -> CB00710B:0035      Masq    5      0          0         
TCP  C6336402:2710 wlc 
  -> CB00710B:4E20      Masq    1      0          0         
`

func TestParseWeights(t *testing.T) {
	w, err := parseWeights([]byte(procSample))
	if err != nil {
		t.Fatal(err)
	}
	svc1, svc2 := netip.MustParseAddrPort("198.51.100.1:80"), netip.MustParseAddrPort("198.51.100.2:10000")
	rs1, rs2 := netip.MustParseAddrPort("203.0.113.11:19999"), netip.MustParseAddrPort("203.0.113.12:19999")
	want := weights{
		svc1: {rs1: 0, rs2: 3},
		svc2: {netip.MustParseAddrPort("203.0.113.11:20000"): 1},
	}
	if len(w) != len(want) {
		t.Fatalf("%d services %v, want %v", len(w), w, want)
	}
	for s, ds := range want {
		for d, weight := range ds {
			got, ok := w[s][d]
			if !ok || got != weight {
				t.Errorf("%s %s: weight %d (present %v), want %d", s, d, got, ok, weight)
			}
		}
		if len(w[s]) != len(ds) {
			t.Errorf("%s: %v, want %v", s, w[s], ds)
		}
	}
	svcs := []service{{addr: svc1, dests: []dest{{addr: rs1}, {addr: rs2}}}}
	if n := countUp(w, svcs); n != 1 {
		t.Errorf("countUp: %d, want 1", n)
	}

	for _, c := range []struct {
		s, d   netip.AddrPort
		weight int
		ok     bool
	}{
		{svc1, rs1, 0, true},
		{svc1, rs2, 3, true},
		{svc2, rs2, 0, false}, // rs2 is only in the first service
		{netip.MustParseAddrPort("198.51.100.1:53"), netip.MustParseAddrPort("203.0.113.11:53"), 0, false}, // UDP
	} {
		weight, ok, err := weightAt([]byte(procSample), c.s, c.d)
		if err != nil || weight != c.weight || ok != c.ok {
			t.Errorf("weightAt %s %s: %d %v %v, want %d %v", c.s, c.d, weight, ok, err, c.weight, c.ok)
		}
	}
}

func TestParseStat(t *testing.T) {
	// A command name may hold spaces and parentheses.
	line := "4242 (a) b (c) S 17 4242 4242 0 -1 4194560 900 0 0 0 123 45 0 0 20 0 9 0 555 1000 200 18446744073709551615\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.pid != 4242 || st.ppid != 17 || st.cpu.user != 1230*time.Millisecond || st.cpu.sys != 450*time.Millisecond {
		t.Errorf("%+v", st)
	}
	for _, bad := range []string{"", "12 no parentheses", "12 (x) S 1 2"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestSumMetric(t *testing.T) {
	text := strings.Join([]string{
		"# HELP ipvs_real_server_weight x",
		`ipvs_real_server_weight{service="a",server="b"} 1`,
		`ipvs_real_server_weight{service="a",server="c"} 0`,
		`ipvs_real_server_weight{service="a",server="d {x}"} 1`,
		`ipvs_real_server_weight_other 7`,
		`ipvs_real_server_health_checks_total{result="open"} 12 1700000000000`,
		`ipvs_real_server_health_state{server="b",service="a",state="up"} 1`,
		`ipvs_real_server_health_state{server="c",service="a",state="down"} 1`,
		`ipvs_real_server_health_state{server="state=\"up\"",service="a",state="unknown"} 1`,
		`ipvs_real_server_health_state{server="f",service="a",substate="up",state="unknown"} 1`,
		`ipvs_real_server_health_state{server="e",service="a",state="up"} 1`,
	}, "\n")
	if v, n, err := sumMetric([]byte(text), "ipvs_real_server_weight"); err != nil || v != 2 || n != 3 {
		t.Errorf("weight: %v over %d samples, %v; want 2 over 3", v, n, err)
	}
	if v, n, err := sumMetricWith([]byte(text), "ipvs_real_server_health_state", `state="up"`); err != nil || v != 2 || n != 2 {
		t.Errorf("health_state{state=\"up\"}: %v over %d samples, %v; want 2 over 2", v, n, err)
	}
	if v, n, err := sumMetric([]byte(text), "ipvs_real_server_health_checks_total"); err != nil || v != 12 || n != 1 {
		t.Errorf("checks_total: %v over %d, %v; want 12 over 1", v, n, err)
	}
}

func TestSample(t *testing.T) {
	text := []byte(`lvs_sidecar_config_reloads_total{result="failure"} 0
lvs_sidecar_config_reloads_total{result="success"} 2
`)
	if v, ok := sample(text, `lvs_sidecar_config_reloads_total{result="success"}`); !ok || v != 2 {
		t.Errorf("success: %v %v, want 2", v, ok)
	}
	if v, ok := sample(text, `lvs_sidecar_config_reloads_total{result="failure"}`); !ok || v != 0 {
		t.Errorf("failure: %v %v, want 0", v, ok)
	}
	if _, ok := sample(text, `lvs_sidecar_config_reloads_total`); ok {
		t.Error("a name without its labels matched a labelled sample")
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for _, ms := range []int{50, 10, 40, 30, 20, 100, 90, 80, 70, 60} {
		d = append(d, time.Duration(ms)*time.Millisecond)
	}
	s := summarize(d)
	if s.min != 10*time.Millisecond || s.median != 50*time.Millisecond || s.p90 != 90*time.Millisecond || s.max != 100*time.Millisecond {
		t.Errorf("%+v", s)
	}
	if s := summarize(d[:1]); s.median != 50*time.Millisecond || s.p90 != 50*time.Millisecond {
		t.Errorf("one sample: %+v", s)
	}
}

func TestParseOptions(t *testing.T) {
	var sb strings.Builder
	o, err := parseOptions(nil, &sb)
	if err != nil {
		t.Fatalf("defaults: %v: %s", err, sb.String())
	}
	if len(o.sizes) != 3 || len(o.checkTypes) != 3 || len(o.checkSets) != 2 || o.checkSets[1] != (checkSet{1000, 5 * time.Second}) || !o.phases["drain"] {
		t.Errorf("defaults: %+v", o)
	}
	for _, bad := range [][]string{
		{"-phases", "scrape,nope"},
		{"-check-sets", "200"},
		{"-check-sets", "200@0s"},
		{"-check-types", "udp"},
		{"-sizes", "100,0"},
		{"-sizes", "50000"},
		{"-check-timeout", "1s"}, // not shorter than the 1 s intervals
		{"extra"},
	} {
		if _, err := parseOptions(bad, &sb); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func TestInTurn(t *testing.T) {
	items := []string{"a", "b", "c"}
	var got []string
	for round := range 2 {
		for i := range items {
			got = append(got, inTurn(items, round, i))
		}
	}
	if want := "a b c c b a"; strings.Join(got, " ") != want {
		t.Errorf("turns %v, want %s", got, want)
	}
}
