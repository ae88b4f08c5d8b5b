package ipvs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestSysctlFromProcNet reads sysctls from a fake /proc (ReaderOptions
// ProcNet points at PROC/net; the sysctls are at PROC/sys/net/ipv4/vs):
// a value, a missing one (ErrNoSysctl), garbage, and a name that is not
// a sysctl's.
func TestSysctlFromProcNet(t *testing.T) {
	proc := t.TempDir()
	vs := filepath.Join(proc, "sys", "net", "ipv4", "vs")
	if err := os.MkdirAll(vs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(proc, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(vs, SysctlExpireQuiescentTemplate), []byte("1\n"), 0o644)
	os.WriteFile(filepath.Join(vs, SysctlExpireNodestConn), []byte("yes\n"), 0o644)
	r, err := NewReader(ReaderOptions{ProcNet: filepath.Join(proc, "net")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, err := r.Sysctl(SysctlExpireQuiescentTemplate); err != nil || v != 1 {
		t.Errorf("expire_quiescent_template: %d, %v", v, err)
	}
	if _, err := r.Sysctl(SysctlExpireNodestConn); err == nil {
		t.Error("garbage read as a number")
	}
	if _, err := r.Sysctl("conntrack"); !errors.Is(err, ErrNoSysctl) {
		t.Errorf("missing sysctl: %v", err)
	}
	if _, err := r.Sysctl("../../../etc/passwd"); err == nil || errors.Is(err, ErrNoSysctl) {
		t.Errorf("path as a name: %v", err)
	}
}
