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

var desiredSeries = regexp.MustCompile(`^ipvs_real_server_desired_weight\{reason="([^"]*)",server="([^"]*)",service="([^"]*)"\} (\S+)$`)

// desired is a real server's ipvs_real_server_desired_weight sample: its
// reason label and its value.
type desired struct {
	reason Reason
	weight string
}

// exportedDesired returns the desired weight and reason of each real
// server of web in the controller's exposition; a second series for one
// server fails the test, as does a reason outside Reasons.
func exportedDesired(t *testing.T, c *Controller) map[string]desired {
	t.Helper()
	out := map[string]desired{}
	for _, line := range strings.Split(exposition(t, c), "\n") {
		m := desiredSeries.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "ipvs_real_server_desired_weight{") {
				t.Errorf("series not as expected: %s", line)
			}
			continue
		}
		reason, server, service, value := Reason(m[1]), m[2], m[3], m[4]
		if service != web {
			continue
		}
		if !slices.Contains(Reasons, reason) {
			t.Errorf("%s: reason %q is not one of %v", line, reason, Reasons)
		}
		if old, dup := out[server]; dup {
			t.Errorf("%s has two reasons at once: %s and %s", server, old.reason, reason)
		}
		out[server] = desired{reason, value}
	}
	return out
}

// exportedReasons returns the reason label of each real server of web in
// ipvs_real_server_desired_weight.
func exportedReasons(t *testing.T, c *Controller) map[string]Reason {
	t.Helper()
	out := map[string]Reason{}
	for server, d := range exportedDesired(t, c) {
		out[server] = d.reason
	}
	return out
}

// TestDesiredReason drives the web service (declared weights 2, 1, 3, 1)
// through the situations decide tells apart and checks the reason and
// weight each real server gets in ipvs_real_server_desired_weight, one
// series per server, and that they agree with Status.
func TestDesiredReason(t *testing.T) {
	at := time.Unix(1000, 0)
	declared := func(reasons ...Reason) map[string]desired {
		out := map[string]desired{}
		for i, s := range []string{rs1, rs2, rs3, rs4} {
			out[s] = desired{reasons[i], []string{"2", "1", "3", "1"}[i]}
		}
		return out
	}
	with := func(m map[string]desired, server string, d desired) map[string]desired {
		m[server] = d
		return m
	}
	cases := []struct {
		name  string
		extra string // keys of the service
		setup func(r *rig)
		want  map[string]desired
	}{
		// Left as the table has them: its weights, the declared ones.
		{"no verdict yet", "", func(*rig) {}, declared(ReasonNoVerdict, ReasonNoVerdict, ReasonNoVerdict, ReasonNoVerdict)},
		{"all up", "", func(r *rig) { r.all(health.StateUp) }, declared(ReasonUp, ReasonUp, ReasonUp, ReasonUp)},
		{"one down: drained", "", func(r *rig) { r.all(health.StateUp); r.v.set(web, rs2, health.StateDown) },
			with(declared(ReasonUp, "", ReasonUp, ReasonUp), rs2, desired{ReasonDrain, "0"})},
		{"one down: removed", "on_failure: remove", func(r *rig) { r.all(health.StateUp); r.v.set(web, rs2, health.StateDown) },
			with(declared(ReasonUp, "", ReasonUp, ReasonUp), rs2, desired{ReasonRemove, "0"})},
		{"maintenance wins over down", "", func(r *rig) {
			r.all(health.StateUp)
			r.v.set(web, rs4, health.StateDown)
			r.admin.put(web, rs4, true)
		}, with(declared(ReasonUp, ReasonUp, ReasonUp, ""), rs4, desired{ReasonMaintenance, "0"})},
		// Drained to 0 first: the hold keeps the table's 0, not the
		// declared 1.
		{"local error holds", "", func(r *rig) {
			r.all(health.StateUp)
			r.v.set(web, rs2, health.StateDown)
			r.pass()
			r.v.localError(web, rs2, "tcp:80: cannot open a socket: too many open files (EMFILE)")
		}, with(declared(ReasonUp, "", ReasonUp, ReasonUp), rs2, desired{ReasonLocalError, "0"})},
		// rs1 and rs3 down leave 2/7 of the capacity up, below 50%.
		{"panic", "panic_threshold: 50%", func(r *rig) {
			r.all(health.StateUp)
			r.v.set(web, rs1, health.StateDown)
			r.v.set(web, rs3, health.StateDown)
		}, declared(ReasonPanic, ReasonPanic, ReasonPanic, ReasonPanic)},
		// Without a panic threshold, no weighted server up: the down ones
		// keep their weights; the unjudged one has no verdict.
		{"fail open", "", func(r *rig) {
			r.v.set(web, rs1, health.StateDown)
			r.v.set(web, rs2, health.StateDown)
			r.v.set(web, rs3, health.StateDown)
			r.admin.put(web, rs4, true)
		}, with(declared(ReasonFailOpen, ReasonFailOpen, ReasonFailOpen, ""), rs4, desired{ReasonMaintenance, "0"})},
		// Every server down within one check interval (2 s + 1 s).
		{"fleet failure suspect", "", func(r *rig) {
			for i, s := range []string{rs1, rs2, rs3, rs4} {
				r.v.setAt(web, s, health.StateDown, at.Add(time.Duration(i)*500*time.Millisecond))
			}
		}, declared(ReasonFleetSuspect, ReasonFleetSuspect, ReasonFleetSuspect, ReasonFleetSuspect)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, webConfig(t, tc.extra, ""), newFakeTable(webTable()))
			tc.setup(r)
			r.pass()
			got := exportedDesired(t, r.c)
			for server, want := range tc.want {
				if got[server] != want {
					t.Errorf("%s: exported %+v, want %+v", server, got[server], want)
				}
				if st := r.rsStatus(web, server); st.ReasonCode != want.reason {
					t.Errorf("%s: status reason %q (%q), want %q", server, st.ReasonCode, st.ReasonText(), want.reason)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("desired weights of %d real servers, want %d: %v", len(got), len(tc.want), got)
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
