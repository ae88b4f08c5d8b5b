package actuator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// actionLine renders an action's fields that the tests compare.
func actionLine(a Action) string {
	s := fmt.Sprintf("%s %s", a.Kind, a.Service)
	if a.Server != "" {
		s += fmt.Sprintf(" %s %d->%d %s", a.Server, a.OldWeight, a.NewWeight, a.Reason)
	}
	if a.Drift {
		s += " drift"
	}
	if a.Kind.IsServiceState() {
		s += fmt.Sprintf(" %d/%d %.4g%%", a.CapacityUp, a.CapacityJudged, a.CapacityPercent)
	}
	return s
}

func wantActions(t *testing.T, got []Action, want ...string) {
	t.Helper()
	lines := make([]string, len(got))
	for i, a := range got {
		lines[i] = actionLine(a)
		if a.Name != "web" || !a.Time.Equal(epoch) {
			t.Errorf("action %q: name %q time %v, want web at %v", lines[i], a.Name, a.Time, epoch)
		}
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("actions:\n got %q\nwant %q", lines, want)
	}
}

// TestOnActionReportsWrites: every successful write reaches the hook
// with the old and new weight and the reason, panic changes with the
// capacity, and a failed write does not.
func TestOnActionReportsWrites(t *testing.T) {
	r := newRig(t, webConfig(t, "panic_threshold: 50%", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	wantActions(t, r.takeActions())

	r.v.set(web, rs3, health.StateDown)
	r.pass()
	wantActions(t, r.takeActions(), "update_weight "+web+" "+rs3+" 3->0 drain")

	r.v.set(web, rs1, health.StateDown) // 2/7 up: panic, rs3 gets its weight back
	r.pass()
	wantActions(t, r.takeActions(), "panic_enter "+web+" 2/7 28.57%", "update_weight "+web+" "+rs3+" 0->3 panic")

	r.all(health.StateUp)
	r.pass()
	wantActions(t, r.takeActions(), "panic_leave "+web+" 7/7 100%")

	r.table.handEdit(webKey, rs2, 9) // by hand: corrected, reported as drift
	r.pass()
	wantActions(t, r.takeActions(), "update_weight "+web+" "+rs2+" 9->1 up drift")

	r.table.setFail(rs4, errors.New("the kernel did not answer"))
	r.v.set(web, rs4, health.StateDown)
	r.pass()
	wantActions(t, r.takeActions())
	r.table.setFail(rs4, nil)
	r.pass()
	wantActions(t, r.takeActions(), "update_weight "+web+" "+rs4+" 1->0 drain")
}

// TestOnActionRemoveRestoreAndFailOpen: on_failure remove reports the
// remove (no weight after) and the restore (none before); losing every
// weighted server reports fail open.
func TestOnActionRemoveRestoreAndFailOpen(t *testing.T) {
	r := newRig(t, webConfig(t, "on_failure: remove", ""), newFakeTable())
	r.all(health.StateUp)
	r.pass()
	got := r.takeActions()
	if len(got) != 5 || got[0].Kind != ActionCreateService || got[1].Kind != ActionCreate || got[1].OldWeight != NoWeight || got[1].NewWeight != 2 {
		t.Fatalf("first pass actions %q, want create_service then 4 creates", lines(got))
	}
	r.v.set(web, rs1, health.StateDown)
	r.pass()
	wantActions(t, r.takeActions(), "remove "+web+" "+rs1+" 2->-1 remove")
	r.v.set(web, rs1, health.StateUp)
	r.pass()
	wantActions(t, r.takeActions(), "restore "+web+" "+rs1+" -1->2 up")

	r.all(health.StateDown)
	r.pass()
	got = r.takeActions()
	if len(got) == 0 || got[0].Kind != ActionFailOpenEnter {
		t.Errorf("all down: actions %q, want fail_open_enter first", lines(got))
	}
	r.v.set(web, rs2, health.StateUp)
	r.pass()
	got = r.takeActions()
	if len(got) == 0 || got[0].Kind != ActionFailOpenLeave {
		t.Errorf("one up again: actions %q, want fail_open_leave first", lines(got))
	}
}

// TestOnActionDryRunReportsNothing: a dry run writes nothing, so the
// hook hears of nothing but state changes.
func TestOnActionDryRunReportsNothing(t *testing.T) {
	r := newRig(t, webConfig(t, "", "controller: {mode: dry_run}"), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.v.set(web, rs1, health.StateDown)
	r.pass()
	wantActions(t, r.takeActions())
}

// TestOnActionTimeIsThePass: an action carries the time of the pass that
// made it (the controller's clock).
func TestOnActionTimeIsThePass(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.clock.Advance(3 * time.Second)
	r.v.set(web, rs1, health.StateDown)
	r.pass()
	got := r.takeActions()
	if len(got) != 1 || !got[0].Time.Equal(epoch.Add(3*time.Second)) {
		t.Errorf("actions %q at %v, want one at the pass's time", lines(got), got)
	}
}

func lines(as []Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = actionLine(a)
	}
	return out
}
