//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestControllerRemoveRestores declares on_failure: remove. A real server
// that stops answering disappears from the kernel table (within the drain
// bound), the others stay as they are, and when it answers again it comes
// back with its declared weight, forwarding method and thresholds: the
// rule `ipvsadm -S -n` prints for it (which has no thresholds) and its
// line of `ipvsadm -Ln --thresholds` are the same as before, and as
// declared.
func TestControllerRemoveRestores(t *testing.T) {
	requireLab(t)
	svc := ctlService{name: "ctl-remove", port: 8086, onFailure: "remove", panic: "50%",
		servers: []ctlServer{{n: 1, weight: 3}, {n: 2, weight: 4, upper: 100, lower: 50}, {n: 3, weight: 1}}}
	svc.prepare(t)
	ls := map[int]*rsListener{}
	for _, s := range svc.servers {
		ls[s.n] = listenInRS(t, rsNS(s.n), svc.port)
	}
	sc := startSidecar(t, "--config.file="+svc.config(t, "managed"))
	k := directorKernel(t)
	key, vip, server := svc.key(t), svc.vip(t), svc.server(2)
	declared := svc.declaredWeights()
	k.awaitWeights(t, key, declared, 15*time.Second)

	want := fmt.Sprintf("-a -t %s -r %s -m -w 4", vip, server)
	if got := ruleOf(t, vip, server); got != want {
		t.Fatalf("rs2 as the controller created it: %q, want %q", got, want)
	}
	if u, l := thresholdsOf(t, vip, server); u != "100" || l != "50" {
		t.Fatalf("rs2 as the controller created it has thresholds %q/%q, want 100/50", u, l)
	}

	kill := time.Now() // when the server starts dying, before close returns
	ls[2].close(t)
	gone := k.awaitWeights(t, key, with(declared, server, -1), 2*ctlDrainBound)
	t.Logf("rs2 killed: out of the table after %v", gone.Sub(kill).Round(time.Millisecond))
	if d := gone.Sub(kill); d > ctlDrainBound {
		t.Errorf("rs2 removed %v after the kill, more than %v", d, ctlDrainBound)
	}
	if got := ruleOf(t, vip, server); got != "" {
		t.Errorf("rs2 is still in ipvsadm -S -n: %q", got)
	}

	ls[2].open(t)
	open := time.Now()
	back := k.awaitWeights(t, key, declared, 10*time.Second)
	t.Logf("rs2 answers again: back in the table after %v", back.Sub(open).Round(time.Millisecond))
	if got := ruleOf(t, vip, server); got != want {
		t.Errorf("rs2 restored as %q, want %q as declared", got, want)
	}
	if u, l := thresholdsOf(t, vip, server); u != "100" || l != "50" {
		t.Errorf("rs2 restored with thresholds %q/%q, want 100/50 as declared", u, l)
	}

	s := sc.scrape(t)
	for _, action := range []string{"remove", "restore"} {
		if v, _ := metric(s, "ipvs_controller_actuations_total", "action", action, "result", "ok"); v != 1 {
			t.Errorf(`ipvs_controller_actuations_total{action=%q,result="ok"} = %v, want 1`, action, v)
		}
		if n := strings.Count(sc.log(), "action="+action+" "); n != 1 {
			t.Errorf("the sidecar logged action=%s %d times, want once:\n%s", action, n, sc.log())
		}
	}
}

// ruleOf returns the line of `ipvsadm -S -n` that adds real server server
// to TCP service vip, "" when there is none.
func ruleOf(t *testing.T, vip, server string) string {
	t.Helper()
	prefix := fmt.Sprintf("-a -t %s -r %s ", vip, server)
	for line := range strings.Lines(saveTable(t)) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// thresholdsOf returns the upper and lower connection thresholds of real
// server server of TCP service vip as `ipvsadm -Ln --thresholds` prints
// them, "" when it is not there.
func thresholdsOf(t *testing.T, vip, server string) (upper, lower string) {
	t.Helper()
	inService := false
	for line := range strings.Lines(inNS(t, "director", "ipvsadm", "-Ln", "--thresholds")) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] != "->":
			inService = f[0] == "TCP" && f[1] == vip
		case inService && len(f) >= 4 && f[1] == server:
			return f[2], f[3]
		}
	}
	return "", ""
}
