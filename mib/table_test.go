package mib_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/mib"
)

const mibFile = "LVS-SIDECAR-MIB.txt"

// TestTablesMIBLint: smilint at level 4 (errors and warnings that matter)
// finds nothing in the MIB file.
func TestTablesMIBLint(t *testing.T) {
	smilint := testutil.LookTool(t, "smilint", "smitools")
	base := testutil.BaseMIBs(t)
	cmd := exec.Command(smilint, "-l", "4", "-s", mibFile)
	cmd.Env = append(os.Environ(), "SMIPATH="+base+":.")
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("smilint -l 4 %s: %v\n%s", mibFile, err, out)
	}
}

// TestTablesMIBMatchesConstants: net-snmp's snmptranslate gives every
// object of the tables part the OID the Go constants have.
func TestTablesMIBMatchesConstants(t *testing.T) {
	snmptranslate := testutil.LookTool(t, "snmptranslate", "snmp")
	base := testutil.BaseMIBs(t)
	names := make([]string, 0, len(mib.TableNames))
	for name := range mib.TableNames {
		names = append(names, name)
	}
	sort.Strings(names)
	args := []string{"-M", ".:" + base, "-m", "LVS-SIDECAR-MIB", "-On"}
	for _, n := range names {
		args = append(args, "LVS-SIDECAR-MIB::"+n)
	}
	out, err := exec.Command(snmptranslate, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("snmptranslate: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(names) {
		t.Fatalf("snmptranslate gave %d OIDs for %d names:\n%s", len(got), len(names), out)
	}
	for i, n := range names {
		if want := "." + mib.TableNames[n]; got[i] != want {
			t.Errorf("%s: the MIB says %s, mib/table.go %s", n, got[i], want)
		}
	}
	// The MIB's root is Root.
	out, err = exec.Command(snmptranslate, "-M", ".:"+base, "-m", "LVS-SIDECAR-MIB", "-On", "LVS-SIDECAR-MIB::lvsSidecarMIB").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "."+mib.Root {
		t.Errorf("lvsSidecarMIB: %v %s, want .%s", err, out, mib.Root)
	}
}

// TestTablesMIBNamesAll: every OBJECT-TYPE, OBJECT-GROUP and
// MODULE-COMPLIANCE of the tables part has its constant, so a column
// added to the file without one fails here.
func TestTablesMIBNamesAll(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(".", mibFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (f[1] != "OBJECT-TYPE" && f[1] != "OBJECT-GROUP" && f[1] != "MODULE-COMPLIANCE") {
			continue
		}
		name := f[0]
		if !strings.HasPrefix(name, "lvsService") && !strings.HasPrefix(name, "lvsRealServer") && !strings.HasPrefix(name, "lvsSidecar") {
			continue
		}
		if name == "lvsServiceIndex" || name == "lvsRealServerIndex" {
			continue // not-accessible: no instance, no constant needed
		}
		if strings.HasPrefix(name, "lvsSidecar") && !strings.Contains(name, "Tables") && f[1] != "OBJECT-TYPE" {
			continue // the notifications part's conformance
		}
		if _, ok := mib.TableNames[name]; !ok {
			t.Errorf("%s %s is in %s but not in mib.TableNames", name, f[1], mibFile)
		}
	}
}
