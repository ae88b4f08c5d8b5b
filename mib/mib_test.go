package mib

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// assignment is one "name KIND ... ::= { parent n }" of a MIB file.
type assignment struct {
	kind, parent, arc string
	objects           []string // OBJECTS or NOTIFICATIONS clause
}

var (
	assignRe  = regexp.MustCompile(`(?ms)^([a-z][A-Za-z0-9-]*)\s+(MODULE-IDENTITY|OBJECT-TYPE|NOTIFICATION-TYPE|OBJECT-GROUP|NOTIFICATION-GROUP|MODULE-COMPLIANCE|OBJECT IDENTIFIER)\b(.*?)::=\s*\{\s*([A-Za-z][A-Za-z0-9-]*)\s+(\d+)\s*\}`)
	objectsRe = regexp.MustCompile(`(?s)\b(?:OBJECTS|NOTIFICATIONS)\s*\{([^}]*)\}`)
	commentRe = regexp.MustCompile(`--[^\n]*`)
)

// parseMIB returns the assignments of a MIB file by name.
func parseMIB(t *testing.T, path string) map[string]assignment {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := commentRe.ReplaceAllString(string(data), "")
	out := make(map[string]assignment)
	for _, m := range assignRe.FindAllStringSubmatch(text, -1) {
		a := assignment{kind: m[2], parent: m[4], arc: m[5]}
		if o := objectsRe.FindStringSubmatch(m[3]); o != nil {
			for _, name := range strings.Split(o[1], ",") {
				a.objects = append(a.objects, strings.TrimSpace(name))
			}
		}
		if _, dup := out[m[1]]; dup {
			t.Errorf("%s assigned twice", m[1])
		}
		out[m[1]] = a
	}
	return out
}

// resolve returns the numeric OID of name, with enterprises known.
func resolve(t *testing.T, as map[string]assignment, name string) string {
	t.Helper()
	if name == "enterprises" {
		return "1.3.6.1.4.1"
	}
	a, ok := as[name]
	if !ok {
		t.Fatalf("%s is not assigned in the MIB", name)
	}
	return resolve(t, as, a.parent) + "." + a.arc
}

// TestMIBFileMatchesGo: every identifier of the Go table is the one the
// MIB file assigns to its name, every notification's OBJECTS are the Go
// varbind list in order, and every notification and notification object
// of the file is in the Go tables (nothing sent that the file lacks, and
// nothing in the file the code forgot).
func TestMIBFileMatchesGo(t *testing.T) {
	as := parseMIB(t, "LVS-SIDECAR-MIB.txt")
	if as["lvsSidecarMIB"].kind != "MODULE-IDENTITY" {
		t.Errorf("lvsSidecarMIB is %q, want the MODULE-IDENTITY", as["lvsSidecarMIB"].kind)
	}
	byName := make(map[string]string, len(Names))
	for oid, name := range Names {
		byName[name] = oid
		if got := resolve(t, as, name); got != oid {
			t.Errorf("%s: the MIB file says %s, Go says %s", name, got, oid)
		}
	}
	for name, a := range as {
		switch {
		case a.kind == "NOTIFICATION-TYPE", a.kind == "OBJECT-TYPE" && strings.HasPrefix(resolve(t, as, name), NotifyObjects+"."):
			if _, ok := byName[name]; !ok {
				t.Errorf("%s (%s) is in the MIB file but not in mib.Names", name, a.kind)
			}
		}
		if a.kind != "NOTIFICATION-TYPE" {
			continue
		}
		var want []string
		for _, oid := range NotificationObjects[byName[name]] {
			want = append(want, Names[oid])
		}
		if !slices.Equal(a.objects, want) {
			t.Errorf("%s OBJECTS:\n file %v\n   Go %v", name, a.objects, want)
		}
	}
	for oid := range NotificationObjects {
		if as[Names[oid]].kind != "NOTIFICATION-TYPE" {
			t.Errorf("%s (%s) is not a NOTIFICATION-TYPE in the file", Names[oid], oid)
		}
	}
	// The groups list every notification object and every notification
	// (the poller's tables, under Objects.2 to .4, have groups of their
	// own).
	for group, want := range map[string][2]string{"lsNotifyObjectsGroup": {"OBJECT-TYPE", NotifyObjects + "."},
		"lsNotificationsGroup": {"NOTIFICATION-TYPE", Notifications + "."}} {
		got := as[group].objects
		for name, a := range as {
			if a.kind == want[0] && strings.HasPrefix(resolve(t, as, name), want[1]) && !slices.Contains(got, name) {
				t.Errorf("%s does not list %s", group, name)
			}
		}
	}
}

// TestSnmptranslate: net-snmp's own parser, loading the file as snmptrapd
// does, gives every name of the Go tables the Go identifier.
func TestSnmptranslate(t *testing.T) {
	bin := testutil.LookTool(t, "snmptranslate", "snmp")
	base := testutil.BaseMIBs(t)
	translate := func(dirs, modules string, names map[string]string) {
		t.Helper()
		for oid, name := range names {
			module := strings.Split(modules, ":")[len(strings.Split(modules, ":"))-1]
			out, err := exec.Command(bin, "-M", dirs, "-m", modules, "-On", module+"::"+name).CombinedOutput()
			got := strings.TrimSpace(string(out))
			if err != nil || got != "."+oid {
				t.Errorf("snmptranslate %s::%s = %q (%v), want .%s", module, name, got, err, oid)
			}
		}
	}
	translate(base+":.", "SNMPv2-MIB:LVS-SIDECAR-MIB", Names)
	translate(base, "SNMPv2-MIB", map[string]string{SysUpTime: "sysUpTime.0", SnmpTrapOID: "snmpTrapOID.0"})
	kad := testutil.KeepalivedMIBs(t)
	translate(base+":"+kad, "SNMPv2-MIB:KEEPALIVED-MIB", KeepalivedNames)
}

// TestSmilint: smilint -l 4 (errors and warnings down to level 4) finds
// nothing in the MIB file.
func TestSmilint(t *testing.T) {
	bin := testutil.LookTool(t, "smilint", "smitools")
	base := testutil.BaseMIBs(t)
	cmd := exec.Command(bin, "-l", "4", "LVS-SIDECAR-MIB.txt")
	cmd.Env = append(os.Environ(), "SMIPATH="+base+":.")
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("smilint -l 4: %v\n%s", err, out)
	}
}
