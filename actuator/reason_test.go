package actuator

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

var reasonSeries = regexp.MustCompile(`^ipvs_real_server_desired_reason\{reason="([^"]*)",server="([^"]*)",service="([^"]*)"\} (\S+)$`)

// exportedReasons returns the reason label of each real server of web in
// the controller's exposition; a second series for one server fails the
// test, as does a value other than 1 or a reason outside Reasons.
func exportedReasons(t *testing.T, c *Controller) map[string]Reason {
	t.Helper()
	out := map[string]Reason{}
	for _, line := range strings.Split(exposition(t, c), "\n") {
		m := reasonSeries.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "ipvs_real_server_desired_reason{") {
				t.Errorf("series not as expected: %s", line)
			}
			continue
		}
		reason, server, service, value := Reason(m[1]), m[2], m[3], m[4]
		if service != web {
			continue
		}
		if value != "1" {
			t.Errorf("%s: value %s, want 1", line, value)
		}
		if !slices.Contains(Reasons, reason) {
			t.Errorf("%s: reason %q is not one of %v", line, reason, Reasons)
		}
		if old, dup := out[server]; dup {
			t.Errorf("%s has two reasons at once: %s and %s", server, old, reason)
		}
		out[server] = reason
	}
	return out
}

// TestDesiredReason drives the web service (declared weights 2, 1, 3, 1)
// through the situations decide tells apart and checks the reason each
// real server gets in ipvs_real_server_desired_reason, one series per
// server, and that it agrees with Status.
func TestDesiredReason(t *testing.T) {
	at := time.Unix(1000, 0)
	cases := []struct {
		name  string
		extra string // keys of the service
		setup func(r *rig)
		want  map[string]Reason
	}{
		{"no verdict yet", "", func(*rig) {},
			map[string]Reason{rs1: ReasonNoVerdict, rs2: ReasonNoVerdict, rs3: ReasonNoVerdict, rs4: ReasonNoVerdict}},
		{"all up", "", func(r *rig) { r.all(health.StateUp) },
			map[string]Reason{rs1: ReasonUp, rs2: ReasonUp, rs3: ReasonUp, rs4: ReasonUp}},
		{"one down: drained", "", func(r *rig) { r.all(health.StateUp); r.v.set(web, rs2, health.StateDown) },
			map[string]Reason{rs1: ReasonUp, rs2: ReasonDrain, rs3: ReasonUp, rs4: ReasonUp}},
		{"one down: removed", "on_failure: remove", func(r *rig) { r.all(health.StateUp); r.v.set(web, rs2, health.StateDown) },
			map[string]Reason{rs1: ReasonUp, rs2: ReasonRemove, rs3: ReasonUp, rs4: ReasonUp}},
		{"maintenance wins over down", "", func(r *rig) {
			r.all(health.StateUp)
			r.v.set(web, rs4, health.StateDown)
			r.admin.put(web, rs4, true)
		}, map[string]Reason{rs1: ReasonUp, rs2: ReasonUp, rs3: ReasonUp, rs4: ReasonMaintenance}},
		{"local error holds", "", func(r *rig) {
			r.all(health.StateUp)
			r.v.set(web, rs2, health.StateDown)
			r.v.localError(web, rs2, "tcp:80: cannot open a socket: too many open files (EMFILE)")
		}, map[string]Reason{rs1: ReasonUp, rs2: ReasonLocalError, rs3: ReasonUp, rs4: ReasonUp}},
		// rs1 and rs3 down leave 2/7 of the capacity up, below 50%.
		{"panic", "panic_threshold: 50%", func(r *rig) {
			r.all(health.StateUp)
			r.v.set(web, rs1, health.StateDown)
			r.v.set(web, rs3, health.StateDown)
		}, map[string]Reason{rs1: ReasonPanic, rs2: ReasonPanic, rs3: ReasonPanic, rs4: ReasonPanic}},
		// Without a panic threshold, no weighted server up: the down ones
		// keep their weights; the unjudged one has no verdict.
		{"fail open", "", func(r *rig) {
			r.v.set(web, rs1, health.StateDown)
			r.v.set(web, rs2, health.StateDown)
			r.v.set(web, rs3, health.StateDown)
			r.admin.put(web, rs4, true)
		}, map[string]Reason{rs1: ReasonFailOpen, rs2: ReasonFailOpen, rs3: ReasonFailOpen, rs4: ReasonMaintenance}},
		// Every server down within one check interval (2 s + 1 s).
		{"fleet failure suspect", "", func(r *rig) {
			for i, s := range []string{rs1, rs2, rs3, rs4} {
				r.v.setAt(web, s, health.StateDown, at.Add(time.Duration(i)*500*time.Millisecond))
			}
		}, map[string]Reason{rs1: ReasonFleetSuspect, rs2: ReasonFleetSuspect, rs3: ReasonFleetSuspect, rs4: ReasonFleetSuspect}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, webConfig(t, tc.extra, ""), newFakeTable(webTable()))
			tc.setup(r)
			r.pass()
			got := exportedReasons(t, r.c)
			for server, want := range tc.want {
				if got[server] != want {
					t.Errorf("%s: exported reason %q, want %q", server, got[server], want)
				}
				if st := r.rsStatus(web, server); st.ReasonCode != want {
					t.Errorf("%s: status reason %q (%q), want %q", server, st.ReasonCode, st.ReasonText(), want)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("reasons for %d real servers, want %d: %v", len(got), len(tc.want), got)
			}
		})
	}
}

// TestDesiredReasonChanges: a change of reason replaces the series (the
// old reason's is gone at the next scrape), and slow start shows while a
// server that came back ramps up and ends with the ramp.
func TestDesiredReasonChanges(t *testing.T) {
	r := newRig(t, webConfig(t, "slow_start: 40s", ""), newFakeTable(webTable()))
	if got := exportedReasons(t, r.c); len(got) != 0 {
		t.Errorf("reasons before the first pass: %v", got)
	}
	r.all(health.StateUp)
	r.pass()
	if got := exportedReasons(t, r.c)[rs1]; got != ReasonUp {
		t.Fatalf("rs1 up: reason %q", got)
	}
	r.v.set(web, rs1, health.StateDown)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.1:80 w=0 fwd=masq th=0/0")
	if got := exportedReasons(t, r.c)[rs1]; got != ReasonDrain {
		t.Errorf("rs1 down: reason %q, want drain", got)
	}
	r.v.set(web, rs1, health.StateUp)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.1:80 w=1 fwd=masq th=0/0")
	if got := exportedReasons(t, r.c)[rs1]; got != ReasonSlowStart {
		t.Errorf("rs1 back up: reason %q, want slow_start", got)
	}
	r.clock.Advance(41 * time.Second)
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.1:80 w=2 fwd=masq th=0/0")
	if got := exportedReasons(t, r.c)[rs1]; got != ReasonUp {
		t.Errorf("rs1 after the ramp: reason %q, want up", got)
	}
}

// TestDeclaredWeight: ipvs_real_server_declared_weight is the file's
// weight of every declared real server from New on, before any pass or
// verdict and while the table cannot be read, and follows a reload at
// once; once decided, only of those whose desired weight is not it.
func TestDeclaredWeight(t *testing.T) {
	ft := newFakeTable(webTable())
	ft.setReadErr(ipvs.ErrModuleNotLoaded)
	r := newRig(t, webConfig(t, "", ""), ft)
	declared := func() map[string]string {
		out := map[string]string{}
		re := regexp.MustCompile(`^ipvs_real_server_declared_weight\{server="([^"]*)",service="` + regexp.QuoteMeta(web) + `"\} (\S+)$`)
		for _, line := range strings.Split(exposition(t, r.c), "\n") {
			if m := re.FindStringSubmatch(line); m != nil {
				out[m[1]] = m[2]
			}
		}
		return out
	}
	want := map[string]string{rs1: "2", rs2: "1", rs3: "3", rs4: "1"}
	if got := declared(); !maps.Equal(got, want) {
		t.Errorf("before the first pass: %v, want %v", got, want)
	}
	r.all(health.StateDown)
	r.pass() // the read fails: nothing decided
	if got := declared(); !maps.Equal(got, want) {
		t.Errorf("after a pass that could not read the table: %v, want %v", got, want)
	}
	r.c.Update(parseConfig(t, `
services:
  - name: web
    address: `+webVIP+`
    real_servers:
      - {address: `+rs1+`, weight: 7, forward: nat}
      - {address: `+rs2+`, weight: 0, forward: nat}
`))
	if got, want := declared(), map[string]string{rs1: "7", rs2: "0"}; !maps.Equal(got, want) {
		t.Errorf("after a reload: %v, want %v", got, want)
	}
	// Decided: written only where the desired weight is not the
	// declared one (rs1, down, drained to 0; rs2 is at its 0).
	r.table.setReadErr(nil)
	r.all(health.StateUp)
	r.v.set(web, rs1, health.StateDown)
	r.pass()
	if got, want := declared(), map[string]string{rs1: "7"}; !maps.Equal(got, want) {
		t.Errorf("after a pass with %s down: %v, want %v", rs1, got, want)
	}
}
