package mibtable

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/mib"
	pp "github.com/lvs-sidecar/lvs-sidecar/snmp/passpersist"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// camel turns a Go-side name (no_verdict, dry_run) into the MIB's
// enumeration label (noVerdict, dryRun).
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// mibEnum returns the labels and numbers of the INTEGER enumeration that
// follows marker in the MIB file.
func mibEnum(t *testing.T, marker string) map[string]int32 {
	t.Helper()
	data, err := os.ReadFile("../../mib/LVS-SIDECAR-MIB.txt")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, marker)
	if i < 0 {
		t.Fatalf("no %q in the MIB", marker)
	}
	text = text[i:]
	text = text[strings.Index(text, "{")+1 : strings.Index(text, "}")]
	out := map[string]int32{}
	for _, m := range regexp.MustCompile(`([a-zA-Z]+)\((\d+)\)`).FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = int32(n)
	}
	return out
}

// TestEnumsMatchMIB: the numbers Build sends are the MIB's, and every
// value the sidecar can report has one.
func TestEnumsMatchMIB(t *testing.T) {
	for _, tc := range []struct {
		marker string
		values map[string]int32
		all    []string
	}{
		{"LvsVerdict ::=", Verdicts, []string{health.StateUnknown.String(), health.StateUp.String(), health.StateDown.String()}},
		{"LvsControllerReason ::=", States, append(reasons(), web.StateUndeclared)},
		{"lvsSidecarControllerMode OBJECT-TYPE", ControllerModes, append(config.ControllerModeNames(), "none")},
	} {
		want := mibEnum(t, tc.marker)
		if len(want) != len(tc.values) {
			t.Errorf("%s: the MIB has %d labels, the Go map %d", tc.marker, len(want), len(tc.values))
		}
		for name, n := range tc.values {
			if want[camel(name)] != n {
				t.Errorf("%s: %s is %d in Go, %s(%d) in the MIB", tc.marker, name, n, camel(name), want[camel(name)])
			}
		}
		for _, name := range tc.all {
			if _, ok := tc.values[name]; !ok {
				t.Errorf("%s: %q has no number", tc.marker, name)
			}
		}
	}
}

func reasons() []string {
	var out []string
	for _, r := range actuator.Reasons {
		out = append(out, string(r))
	}
	return out
}

func TestDateAndTime(t *testing.T) {
	got := DateAndTime(time.Date(2026, 12, 3, 8, 9, 10, 700_000_000, time.FixedZone("CET", 3600)))
	want := []byte{0x07, 0xea, 12, 3, 7, 9, 10, 7, '+', 0, 0}
	if string(got) != string(want) {
		t.Errorf("DateAndTime = % x, want % x", got, want)
	}
}

// TestBuild: cells of a view, with what has no instance left out.
func TestBuild(t *testing.T) {
	w := 3
	v := &web.ServicesView{Version: "1.2.3", IPVSReadable: true, Controller: &web.ControllerView{Mode: "observe", Passes: 1 << 40}, Services: []web.ServiceView{
		{Index: 1, Key: "tcp/[2001:db8::1]:80", Family: "ipv6", Address: "2001:db8::1", Port: 80, Protocol: 6, InTable: true,
			Stats: &web.StatsView{BytesIn: 1 << 50},
			RealServers: []web.RealServerView{
				{Index: 1, Server: "[2001:db8::2]:80", Address: "2001:db8::2", Port: 80, InTable: true, Verdict: "up", State: "up", WeightDesired: &w,
					ActiveConns: 4, Stats: &web.StatsView{Connections: 5}},
				{Index: 2, Server: "[2001:db8::3]:80", Address: "2001:db8::3", Port: 80, Verdict: "down", State: "remove"},
			}},
		{Index: 2, Key: "fwmark/7/ipv6", Family: "ipv6", FWMark: 7},
	}}
	tree, err := Build(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		oid  string
		want *pp.Value // nil: no such object
	}{
		{mib.ServiceKey + ".1", &pp.Value{Type: pp.TypeString, Text: "tcp/[2001:db8::1]:80"}},
		{mib.ServiceAddressType + ".1", &pp.Value{Type: pp.TypeInteger, Text: "2"}},
		{mib.ServiceAddress + ".1", &pp.Value{Type: pp.TypeOctet, Text: "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"}},
		{mib.ServiceBytesIn + ".1", &pp.Value{Type: pp.TypeCounter64, Text: "1125899906842624"}},
		{mib.ServiceAddressType + ".2", &pp.Value{Type: pp.TypeInteger, Text: "0"}},
		{mib.ServiceAddress + ".2", &pp.Value{Type: pp.TypeOctet, Text: ""}},
		{mib.ServiceFwmark + ".2", &pp.Value{Type: pp.TypeUnsigned, Text: "7"}},
		{mib.ServiceBytesIn + ".2", nil}, // not in the table
		{mib.RealServerWeightDesired + ".1.1", &pp.Value{Type: pp.TypeInteger, Text: "3"}},
		{mib.RealServerWeightDesired + ".1.2", &pp.Value{Type: pp.TypeInteger, Text: "-1"}},
		{mib.RealServerState + ".1.2", &pp.Value{Type: pp.TypeInteger, Text: "5"}},
		{mib.RealServerVerdict + ".1.1", &pp.Value{Type: pp.TypeInteger, Text: "2"}},
		{mib.RealServerActiveConns + ".1.1", &pp.Value{Type: pp.TypeGauge, Text: "4"}},
		{mib.RealServerActiveConns + ".1.2", nil},
		{mib.RealServerConnections + ".1.2", nil},
		{mib.SidecarControllerMode + ".0", &pp.Value{Type: pp.TypeInteger, Text: "3"}},
		{mib.SidecarReconcilePasses + ".0", &pp.Value{Type: pp.TypeCounter64, Text: "1099511627776"}},
		{mib.SidecarLastReconcileTime + ".0", nil}, // no pass yet
		{mib.SidecarRealServers + ".0", &pp.Value{Type: pp.TypeGauge, Text: "2"}},
	} {
		got, ok := tree.Get(pp.MustParseOID(tc.oid))
		switch {
		case tc.want == nil && ok:
			t.Errorf("%s = %+v, want no such object", tc.oid, got)
		case tc.want != nil && (!ok || got != *tc.want):
			t.Errorf("%s = %+v (%v), want %+v", tc.oid, got, ok, *tc.want)
		}
	}
	// Every object lies under Root.
	for oid := pp.MustParseOID(mib.Root); ; {
		next, _, ok := tree.Next(oid)
		if !ok {
			break
		}
		if !next.HasPrefix(Root) {
			t.Errorf("%s is outside %s", next, Root)
		}
		oid = next
	}
}
