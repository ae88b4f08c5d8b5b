//go:build e2e

package e2e

import (
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is the unprivileged user the capability tests run lvs-sidecar as.
const nobody = 65534

// TestWithoutNetAdmin runs lvs-sidecar as an unprivileged user without
// CAP_NET_ADMIN against a loaded ip_vs: the kernel refuses the table dump,
// and the sidecar must keep serving, say ipvs_up 0 and log, once, which
// capability it needs.
func TestWithoutNetAdmin(t *testing.T) {
	requireLab(t)
	permissionTable(t)
	sc := startDaemonAs(t, &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: nobody, Gid: nobody},
	}, "director", "/metrics", "lvs-sidecar")
	for range 2 {
		if s := sc.scrape(t); s.Up != 0 || s.Series("ipvs_service_info") != 0 {
			t.Fatalf("without CAP_NET_ADMIN: ipvs_up %v with %d services, want 0 and none", s.Up, s.Series("ipvs_service_info"))
		}
	}
	if n := strings.Count(sc.log(), "needs the CAP_NET_ADMIN capability"); n != 1 {
		t.Errorf("the log names CAP_NET_ADMIN %d times after three reads, want once:\n%s", n, sc.log())
	}
}

// TestAmbientNetAdmin runs lvs-sidecar as an unprivileged user holding only
// CAP_NET_ADMIN as an ambient capability, as the systemd unit does: that
// must be enough to read the whole table.
func TestAmbientNetAdmin(t *testing.T) {
	requireLab(t)
	permissionTable(t)
	sc := startDaemonAs(t, &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: nobody, Gid: nobody},
		AmbientCaps: []uintptr{unix.CAP_NET_ADMIN},
	}, "director", "/metrics", "lvs-sidecar")
	s := sc.scrape(t)
	if s.Up != 1 {
		t.Fatalf("with ambient CAP_NET_ADMIN: ipvs_up %v, want 1; log:\n%s", s.Up, sc.log())
	}
	if diffs := Diff(s, procIPVS(t), FieldScheduler|FieldForward|FieldWeight|FieldConns); len(diffs) > 0 {
		t.Errorf("with ambient CAP_NET_ADMIN the export differs from /proc/net/ip_vs:\n%s", strings.Join(diffs, "\n"))
	}
}

// permissionTable loads ip_vs and puts a small service in the director's
// table, removed when the test ends.
func permissionTable(t *testing.T) {
	t.Helper()
	inNS(t, "root", "modprobe", "ip_vs")
	svc := labEnv(t, "LAB_VIP") + ":9998"
	inNS(t, "director", "ipvsadm", "-A", "-t", svc, "-s", "wlc")
	t.Cleanup(func() {
		if _, err := tryInNS(t, "director", "ipvsadm", "-D", "-t", svc); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	inNS(t, "director", "ipvsadm", "-a", "-t", svc, "-r", labRS(1).String()+":80", "-m", "-w", "3")
}
