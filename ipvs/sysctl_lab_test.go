//go:build e2e

package ipvs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestLabSysctlInNamespace: IPVS sysctls are per network namespace. With
// expire_quiescent_template 1 in a namespace of the test and 0 in the
// root one, a Reader for the namespace reads 1 and one for the current
// namespace 0; a name the kernel lacks is ErrNoSysctl.
func TestLabSysctlInNamespace(t *testing.T) {
	loadIPVS(t)
	ns := newNetNS(t)
	path := nsPath(ns)
	fdPath := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd())
	const file = "/proc/sys/net/ipv4/vs/" + SysctlExpireQuiescentTemplate
	if err := os.WriteFile(file, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net="+fdPath, "sh", "-c", "echo 1 > "+file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", cmd.Args, err, out)
	}
	inside, err := NewReader(ReaderOptions{NetNS: path})
	if err != nil {
		t.Fatal(err)
	}
	defer inside.Close()
	here, err := NewReader(ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	if v, err := inside.Sysctl(SysctlExpireQuiescentTemplate); err != nil || v != 1 {
		t.Errorf("in the namespace: %d, %v; want 1", v, err)
	}
	if v, err := here.Sysctl(SysctlExpireQuiescentTemplate); err != nil || v != 0 {
		t.Errorf("in the root namespace: %d, %v; want 0", v, err)
	}
	if v, err := inside.Sysctl(SysctlExpireNodestConn); err != nil || v != 0 {
		t.Errorf("expire_nodest_conn in the namespace: %d, %v; want the default 0", v, err)
	}
	if _, err := here.Sysctl("no_such_sysctl"); !errors.Is(err, ErrNoSysctl) {
		t.Errorf("a missing sysctl: %v, want ErrNoSysctl", err)
	}
}
