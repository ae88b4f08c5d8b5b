package actuator

import (
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestPersistentDrainWarning: a persistent service on a kernel with
// expire_quiescent_template 0 is flagged (status, warned once, however
// many passes); a service without persistence is not. Set to 1, the flag
// clears and that is logged once; unreadable, it is unknown (not
// flagged).
func TestPersistentDrainWarning(t *testing.T) {
	tbl := newFakeTable(webTable())
	tbl.setSysctl(ipvs.SysctlExpireQuiescentTemplate, 0)
	r := newRig(t, webConfig(t, "persistence: 300s", ""), tbl)
	r.all(health.StateUp)
	for range 3 {
		r.pass()
	}
	if st := r.svcStatus(web); !st.DrainKeepsPersistent {
		t.Errorf("persistent service with expire_quiescent_template 0 not flagged: %+v", st)
	}
	if v := r.c.Status().Sysctls.ExpireQuiescentTemplate; v == nil || *v != 0 {
		t.Errorf("status sysctl %v", v)
	}
	if n := r.logs.count("level=WARN", "expire_quiescent_template is 0", "service="+web); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, r.logs)
	}

	tbl.setSysctl(ipvs.SysctlExpireQuiescentTemplate, 1)
	r.pass()
	r.pass()
	if r.svcStatus(web).DrainKeepsPersistent {
		t.Error("still flagged with expire_quiescent_template 1")
	}
	if n := r.logs.count("level=INFO", "a drain now moves sticky clients", "service="+web); n != 1 {
		t.Errorf("%d all-clear lines, want 1", n)
	}

	plain := newFakeTable(webTable())
	plain.setSysctl(ipvs.SysctlExpireQuiescentTemplate, 0)
	r = newRig(t, webConfig(t, "", ""), plain)
	r.pass()
	if r.svcStatus(web).DrainKeepsPersistent || strings.Contains(r.logs.String(), "expire_quiescent_template") {
		t.Errorf("a service without persistence was flagged:\n%s", r.logs)
	}

	unknown := newFakeTable(webTable())
	unknown.setSysctl(ipvs.SysctlExpireQuiescentTemplate, 0)
	r = newRig(t, webConfig(t, "persistence: 300s", ""), unknown)
	r.pass()
	unknown.mu.Lock()
	delete(unknown.sysctls, ipvs.SysctlExpireQuiescentTemplate) // ip_vs unloaded, say
	unknown.mu.Unlock()
	r.pass()
	if strings.Contains(r.logs.String(), "a drain now moves sticky clients") {
		t.Errorf("an unreadable sysctl was reported as 1:\n%s", r.logs)
	}
	if r.svcStatus(web).DrainKeepsPersistent || r.c.Status().Sysctls.ExpireQuiescentTemplate != nil {
		t.Errorf("an unreadable sysctl was taken as 0: %+v", r.c.Status().Sysctls)
	}
}
