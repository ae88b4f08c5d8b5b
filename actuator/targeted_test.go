package actuator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// statusJSON renders the services of the controller's Status.
func statusJSON(t *testing.T, r *rig) string {
	t.Helper()
	b, err := json.Marshal(r.c.Status().Services)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// targetedCount returns ipvs_controller_targeted_total{result}.
func (r *rig) targetedCount(result string) uint64 {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.c.counter.targeted[result]
}

// TestTargetedWritesOneDestination: a verdict change is written for its
// real server alone, without reading the table or copying every status,
// logged and handed to the hook once (as targeted) with Status showing
// it; the full pass after it reads the table and writes, logs and
// reports nothing more.
func TestTargetedWritesOneDestination(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	r.takeActions()
	r.subscribe()
	reads, statuses := r.table.readCount(), r.v.statusCount()

	r.v.set(web, rs2, health.StateDown)
	w, full := r.target()
	if full {
		t.Fatal("left to a full pass")
	}
	wantWrites(t, w, "update "+web+" "+rs2+" w=0 fwd=masq th=0/0")
	if got := r.table.readCount(); got != reads {
		t.Errorf("%d table reads for a targeted write, want none", got-reads)
	}
	if got := r.v.statusCount(); got != statuses {
		t.Errorf("Status called %d times for a targeted write, want none (StatusOf)", got-statuses)
	}
	acts := r.takeActions()
	if len(acts) != 1 || acts[0].Server != rs2 || acts[0].NewWeight != 0 || acts[0].OldWeight != 1 || !acts[0].Targeted || acts[0].Reason != ReasonDrain {
		t.Errorf("actions %+v, want one targeted drain of rs2 from 1", acts)
	}
	if n := r.logs.count(`msg="set real server weight"`, "server="+rs2, "pass=targeted", "old_weight=1 new_weight=0"); n != 1 {
		t.Errorf("%d targeted drain lines, want 1:\n%s", n, r.logs)
	}
	if st := r.rsStatus(web, rs2); st.KernelWeight != 0 || st.DesiredWeight != 0 || st.ReasonCode != ReasonDrain || st.Verdict != health.StateDown {
		t.Errorf("status after the targeted write %+v", st)
	}
	if st := r.svcStatus(web); st.Up != 3 || st.CapacityUp != 6 {
		t.Errorf("service status after the targeted write: up %d, capacity up %d; want 3, 6", st.Up, st.CapacityUp)
	}
	if n := r.targetedCount(targetedWritten); n != 1 {
		t.Errorf("targeted written %d, want 1", n)
	}

	// The follow-up pass: level-triggered, it reads and finds it done.
	wantWrites(t, r.pass())
	if got := r.table.readCount(); got != reads+1 {
		t.Errorf("the follow-up pass read the table %d times", got-reads)
	}
	if acts := r.takeActions(); len(acts) != 0 {
		t.Errorf("the follow-up pass reported %+v again", acts)
	}
	if n := r.logs.count(`msg="set real server weight"`, "server="+rs2); n != 1 {
		t.Errorf("%d drain lines after the follow-up pass, want 1:\n%s", n, r.logs)
	}

	// The same verdict again (a check flapping in its state): nothing.
	r.v.set(web, rs2, health.StateDown)
	if w, full := r.target(); full || len(w) != 0 {
		t.Errorf("an unchanged verdict: writes %q, full pass %v", w, full)
	}
	if n := r.targetedCount(targetedUnchanged); n != 1 {
		t.Errorf("targeted unchanged %d, want 1", n)
	}
}

// loadDefaults gives every real server a load block.
const loadDefaults = `
defaults:
  load: {community: c, interval: 1s, timeout: 500ms, start: 2, full: 6, floor: 20%, max_step: 50%, hysteresis: 0.5}
`

// TestTargetedSameAsPass: in each situation a targeted write (with the
// full pass it falls back to, if any) makes the writes, actions and table
// a full pass makes, and the pass after it adds nothing: the rules are
// the pass's own.
func TestTargetedSameAsPass(t *testing.T) {
	for _, tc := range []struct {
		name       string
		extra, top string
		setup      func(r *rig) // before the first pass
		change     func(r *rig) // between the passes
		full       bool         // the targeted write leaves it to a full pass
		writes     int
		load       bool // a load source
	}{
		{name: "load weight", load: true, top: loadDefaults, setup: func(r *rig) {
			r.load.answer(web, rs3, 5)
			r.v.set(web, rs3, health.StateDown)
		}, change: func(r *rig) { r.v.set(web, rs3, health.StateUp) }, writes: 1},
		{name: "drain", change: func(r *rig) { r.v.set(web, rs3, health.StateDown) }, writes: 1},
		{name: "restore", setup: func(r *rig) { r.v.set(web, rs3, health.StateDown) },
			change: func(r *rig) { r.v.set(web, rs3, health.StateUp) }, writes: 1},
		{name: "remove", extra: "on_failure: remove", change: func(r *rig) { r.v.set(web, rs1, health.StateDown) }, writes: 1},
		{name: "restore removed", extra: "on_failure: remove", setup: func(r *rig) { r.v.set(web, rs1, health.StateDown) },
			change: func(r *rig) { r.v.set(web, rs1, health.StateUp) }, writes: 1},
		{name: "slow start", extra: "slow_start: 40s", setup: func(r *rig) { r.v.set(web, rs3, health.StateDown) },
			change: func(r *rig) { r.v.set(web, rs3, health.StateUp) }, writes: 1},
		{name: "dry_run", top: "controller: {mode: dry_run}", change: func(r *rig) { r.v.set(web, rs3, health.StateDown) }},
		{name: "observe writes a decision", top: "controller: {mode: observe}", change: func(r *rig) { r.v.set(web, rs3, health.StateDown) }, writes: 1},
		{name: "observe leaves a hand edit", top: "controller: {mode: observe}",
			setup:  func(r *rig) { r.table.handEdit(webKey, rs3, 7) },
			change: func(r *rig) { r.v.set(web, rs3, health.StateUp) }},
		{name: "maintenance", setup: func(r *rig) { r.admin.put(web, rs3, true) },
			change: func(r *rig) { r.v.set(web, rs3, health.StateDown) }},
		{name: "local error", change: func(r *rig) {
			r.v.set(web, rs3, health.StateDown)
			r.v.localError(web, rs3, "tcp:80: EMFILE")
		}},
		{name: "panic", extra: "panic_threshold: 50%", setup: func(r *rig) { r.v.set(web, rs3, health.StateDown) },
			change: func(r *rig) { r.v.set(web, rs1, health.StateDown) }, full: true, writes: 1},
		{name: "still in panic", extra: "panic_threshold: 50%", // 4 of 7 up, below 50% + 10
			setup:  func(r *rig) { r.v.set(web, rs3, health.StateDown); r.v.set(web, rs1, health.StateDown) },
			change: func(r *rig) { r.v.set(web, rs1, health.StateUp) }},
		{name: "out of panic", extra: "panic_threshold: 50%", // 5 of 7 up
			setup:  func(r *rig) { r.v.set(web, rs3, health.StateDown); r.v.set(web, rs1, health.StateDown) },
			change: func(r *rig) { r.v.set(web, rs3, health.StateUp) }, full: true, writes: 1},
		{name: "last one up goes down", setup: func(r *rig) {
			r.v.set(web, rs1, health.StateDown)
			r.v.set(web, rs2, health.StateDown)
			r.v.set(web, rs3, health.StateDown)
		}, change: func(r *rig) { r.v.set(web, rs4, health.StateDown) }, full: true, writes: 3},
		{name: "fleet failure ends", setup: func(r *rig) {
			for _, s := range []string{rs1, rs2, rs3, rs4} {
				r.v.setAt(web, s, health.StateDown, epoch) // all at once: director trouble
			}
		}, change: func(r *rig) { r.v.set(web, rs1, health.StateUp) }, full: true, writes: 3},
		{name: "reload", change: func(r *rig) {
			r.c.Update(webConfig(r.t, "", ""))
			r.v.set(web, rs3, health.StateDown)
		}, full: true, writes: 1},
		{name: "service changed", change: func(r *rig) {
			r.c.services[webKey].ready = false // as after a failed service write
			r.v.set(web, rs3, health.StateDown)
		}, full: true, writes: 1},
		{name: "undeclared", change: func(r *rig) { r.v.set(web, "10.0.0.99:80", health.StateDown) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(targeted bool) (*rig, []string, []Action) {
				r := newRig(t, webConfig(t, tc.extra, tc.top), newFakeTable(webTable()))
				if tc.load {
					r.load = newFakeLoad()
					r.c = r.newController(r.c.config())
				}
				r.all(health.StateUp)
				if tc.setup != nil {
					tc.setup(r)
				}
				r.pass()
				r.clock.Advance(time.Second)
				r.takeActions()
				r.subscribe()
				tc.change(r)
				if !targeted {
					return r, r.pass(), r.takeActions()
				}
				w, full := r.target()
				if full != tc.full {
					t.Errorf("full pass %v, want %v", full, tc.full)
				}
				if full {
					if len(w) != 0 {
						t.Errorf("a targeted write that falls back wrote %q", w)
					}
					w = r.pass()
				}
				return r, w, r.takeActions()
			}
			rp, wp, ap := run(false)
			rt, wt, at := run(true)
			t.Logf("writes %q", wt)
			if len(wp) != tc.writes {
				t.Errorf("the pass wrote %q, want %d writes", wp, tc.writes)
			}
			wantWrites(t, wt, wp...)
			for i := range at {
				at[i].Targeted = false
			}
			if fmt.Sprint(at) != fmt.Sprint(ap) {
				t.Errorf("actions:\n targeted %+v\n     pass %+v", at, ap)
			}
			if got, want := fmt.Sprint(rt.table.table()), fmt.Sprint(rp.table.table()); got != want {
				t.Errorf("table:\n targeted %s\n     pass %s", got, want)
			}
			if w := rt.pass(); len(w) != 0 {
				t.Errorf("the pass after the targeted write wrote %q", w)
			}
			if a := rt.takeActions(); len(a) != 0 {
				t.Errorf("the pass after the targeted write reported %+v", a)
			}
			if got, want := statusJSON(t, rt), statusJSON(t, rp); got != want {
				t.Errorf("status:\n targeted %s\n     pass %s", got, want)
			}
		})
	}
}

// TestTargetedPanicNoDrain: a verdict that would take the service below
// its panic threshold drains nothing: the targeted write leaves it to the
// full pass, which puts the service in panic and gives the drained server
// its declared weight back.
func TestTargetedPanicNoDrain(t *testing.T) {
	r := newRig(t, webConfig(t, "panic_threshold: 50%", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.subscribe()
	r.v.set(web, rs3, health.StateDown) // 4 of 7 up: 57%
	w, full := r.target()
	if full {
		t.Fatal("rs3's drain left to a full pass")
	}
	wantWrites(t, w, "update "+web+" "+rs3+" w=0 fwd=masq th=100/50")
	r.v.set(web, rs1, health.StateDown) // 2 of 7: panic
	if w, full := r.target(); !full || len(w) != 0 {
		t.Fatalf("crossing the threshold: writes %q, full pass %v; want none and a full pass", w, full)
	}
	if w := r.table.weight(webKey, rs1); w != 2 {
		t.Errorf("rs1 at weight %d, want its declared 2 (panic)", w)
	}
	wantWrites(t, r.pass(), "update "+web+" "+rs3+" w=3 fwd=masq th=100/50")
	if st := r.svcStatus(web); !st.Panic {
		t.Error("the pass did not put the service in panic")
	}
	if n := r.targetedCount(targetedFullPass); n != 1 {
		t.Errorf("targeted full_pass %d, want 1", n)
	}
}

// TestTargetedDryRunWritesNothing: in dry_run a verdict change writes
// nothing and logs what it would write once, also when the full pass
// comes after it.
func TestTargetedDryRunWritesNothing(t *testing.T) {
	r := newRig(t, webConfig(t, "", "controller: {mode: dry_run}"), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.subscribe()
	r.v.set(web, rs2, health.StateDown)
	if w, full := r.target(); full || len(w) != 0 {
		t.Fatalf("dry_run: writes %q, full pass %v", w, full)
	}
	r.pass()
	if w := r.table.takeWrites(); len(w) != 0 {
		t.Errorf("dry_run pass wrote %q", w)
	}
	if n := r.logs.count(`msg="dry run: would set real server weight"`, "server="+rs2); n != 1 {
		t.Errorf("%d dry-run lines, want 1:\n%s", n, r.logs)
	}
	if n := r.logs.count(`msg="dry run: would set real server weight"`, "server="+rs2, "pass=targeted"); n != 1 {
		t.Errorf("the dry-run line is not the targeted write's:\n%s", r.logs)
	}
	if st := r.rsStatus(web, rs2); !st.Pending || st.KernelWeight != 1 {
		t.Errorf("status %+v, want pending at weight 1", st)
	}
	if len(r.takeActions()) != 0 {
		t.Error("dry_run reported an action")
	}
}

// TestTargetedSlowStart: a targeted restore starts the ramp at weight 1,
// and the passes after it carry it on.
func TestTargetedSlowStart(t *testing.T) {
	r := newRig(t, webConfig(t, "slow_start: 40s", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.v.set(web, rs3, health.StateDown)
	r.pass()
	wantWrites(t, r.pass())
	r.subscribe()
	r.v.set(web, rs3, health.StateUp)
	w, _ := r.target()
	wantWrites(t, w, "update "+web+" "+rs3+" w=1 fwd=masq th=100/50")
	st := r.rsStatus(web, rs3)
	if st.SlowStart == nil || st.ReasonCode != ReasonSlowStart {
		t.Fatalf("status %+v, want ramping", st)
	}
	wantWrites(t, r.pass()) // the follow-up pass: still 1
	r.clock.Advance(20 * time.Second)
	wantWrites(t, r.pass(), "update "+web+" "+rs3+" w=2 fwd=masq th=100/50")
	r.clock.Advance(20 * time.Second)
	wantWrites(t, r.pass(), "update "+web+" "+rs3+" w=3 fwd=masq th=100/50")
}

// TestTargetedWriteErrorFallsBack: a failed targeted write is left to a
// full pass, which logs the failure once if it fails again and writes it
// when it can.
func TestTargetedWriteErrorFallsBack(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.subscribe()
	r.table.setFail(rs2, ipvs.ErrPermission)
	r.v.set(web, rs2, health.StateDown)
	if w, full := r.target(); !full || len(w) != 0 {
		t.Fatalf("failed write: writes %q, full pass %v; want a full pass", w, full)
	}
	if n := r.logs.count("controller write failed"); n != 0 {
		t.Errorf("the targeted write's failure logged as an error before the pass tried:\n%s", r.logs)
	}
	r.pass()
	if n := r.logs.count("controller write failed", "server="+rs2, "pass=full"); n != 1 {
		t.Errorf("%d failure lines from the pass, want 1:\n%s", n, r.logs)
	}
	// Unknown after a failed write: the next verdict goes to a pass too.
	r.v.set(web, rs2, health.StateDown)
	if _, full := r.target(); !full {
		t.Error("after a failed write the targeted write trusted its last table")
	}
	r.table.setFail(rs2, nil)
	wantWrites(t, r.pass(), "update "+web+" "+rs2+" w=0 fwd=masq th=0/0")
	if n := r.targetedCount(targetedFullPass); n != 2 {
		t.Errorf("targeted full_pass %d, want 2", n)
	}
	if len(r.takeActions()) != 1 {
		t.Error("want one action: the pass's write")
	}
}

// TestTargetedHandEditedBetween: a hand-made change the targeted write
// cannot know of is corrected by the next full pass. A destination
// deleted by hand makes the targeted write fail, and a pass re-creates it.
func TestTargetedHandEditedBetween(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.subscribe()
	r.v.set(web, rs2, health.StateDown)
	r.target()
	r.table.handEdit(webKey, rs2, 5)
	wantWrites(t, r.pass(), "update "+web+" "+rs2+" w=0 fwd=masq th=0/0")
	if n := r.logs.count("real server changed by hand", "server="+rs2); n != 1 {
		t.Errorf("drift not logged:\n%s", r.logs)
	}

	r.table.handEdit(webKey, rs1, -1) // ipvsadm -d
	r.v.set(web, rs1, health.StateDown)
	if _, full := r.target(); !full {
		t.Error("an update of a destination deleted by hand did not fall back")
	}
	wantWrites(t, r.pass(), "create "+web+" "+rs1+" w=0 fwd=masq th=0/0")
}

// TestTargetedNeedsAPass: before the first pass, and after a pass that
// could not read the table, a verdict change is left to a full pass.
func TestTargetedNeedsAPass(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.subscribe()
	r.all(health.StateUp)
	if w, full := r.target(); !full || len(w) != 0 {
		t.Errorf("before a pass: writes %q, full pass %v", w, full)
	}
	r.pass()
	r.table.setReadErr(errors.New("netlink: no such file or directory"))
	r.pass()
	r.v.set(web, rs2, health.StateDown)
	if w, full := r.target(); !full || len(w) != 0 {
		t.Errorf("after a failed read: writes %q, full pass %v", w, full)
	}
}

// TestTargetedWithoutStatusOf: a verdict source without StatusOf gives
// the targeted write its whole Status, once.
func TestTargetedWithoutStatusOf(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.c = r.newControllerWith(webConfig(t, "", ""), func(o *Options) { o.Verdicts = struct{ VerdictSource }{r.v} })
	r.all(health.StateUp)
	r.pass()
	r.subscribe()
	n := r.v.statusCount()
	r.v.set(web, rs2, health.StateDown)
	r.v.set(web, rs3, health.StateDown)
	w, full := r.target()
	if full {
		t.Fatal("left to a full pass")
	}
	wantWrites(t, w, "update "+web+" "+rs2+" w=0 fwd=masq th=0/0", "update "+web+" "+rs3+" w=0 fwd=masq th=100/50")
	if got := r.v.statusCount() - n; got != 1 {
		t.Errorf("Status called %d times, want 1", got)
	}
}

// TestRunTargetedConcurrent: verdict changes of several real servers of
// one service, from several goroutines and some while a pass holds the
// controller (the subscription must not wait for it), are each written
// and reported once; the follow-up pass writes nothing, and the periodic
// pass corrects a hand-made change.
func TestRunTargetedConcurrent(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	var mu sync.Mutex
	var acts []Action
	r.c = r.newControllerWith(webConfig(t, "", "controller: {period: 1h}"), func(o *Options) {
		o.OnAction = func(a Action) { mu.Lock(); acts = append(acts, a); mu.Unlock() }
	})
	r.all(health.StateUp)
	_, passes, done := r.running(t)
	waitPass(t, done)

	// A pass that waits in its table read: the verdicts still return.
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	r.table.mu.Lock()
	r.table.gate, r.table.entered = gate, entered
	r.table.mu.Unlock()
	r.c.Trigger()
	<-entered
	var wg sync.WaitGroup
	for _, s := range []string{rs1, rs2, rs3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				r.v.set(web, s, health.StateDown)
			}
		}()
	}
	wg.Wait() // returned while the pass is held
	r.table.mu.Lock()
	r.table.gate = nil
	r.table.mu.Unlock()
	close(gate)
	waitPass(t, done)
	// The held pass may have seen some of the verdicts and written them;
	// the targeted writes do the rest.
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if r.table.weight(webKey, rs1)+r.table.weight(webKey, rs2)+r.table.weight(webKey, rs3) != 0 {
			return fmt.Errorf("not drained: %v", r.table.table())
		}
		return nil
	})
	r.clock.Advance(followUp) // the follow-up pass, if a targeted write made one due
	writes := r.table.takeWrites()
	per := map[string]int{}
	for _, w := range writes {
		for _, s := range []string{rs1, rs2, rs3, rs4} {
			if strings.Contains(w, " "+s+" ") {
				per[s]++
			}
		}
	}
	if per[rs1] != 1 || per[rs2] != 1 || per[rs3] != 1 || per[rs4] != 0 {
		t.Errorf("writes %q: want one drain each of rs1, rs2, rs3", writes)
	}
	mu.Lock()
	n := len(acts)
	mu.Unlock()
	if n != 3 {
		t.Errorf("%d actions, want 3: %+v", n, acts)
	}

	// The periodic pass corrects a hand-made change.
	before := passes.Load()
	r.table.handEdit(webKey, rs2, 4)
	r.clock.Advance(time.Hour)
	for passes.Load() == before {
		waitPass(t, done)
	}
	if w := r.table.weight(webKey, rs2); w != 0 {
		t.Errorf("rs2 at %d after the periodic pass, want 0 (drift corrected)", w)
	}
}

// TestNoteVerdictQueueBound: verdict changes beyond maxQueued are left to
// one full pass.
func TestNoteVerdictQueueBound(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	for i := range maxQueued + 1 {
		r.c.noteVerdict(health.Event{Service: web, Server: fmt.Sprintf("10.1.%d.%d:80", i/250, i%250)})
	}
	if full, _ := r.c.targeted(context.Background()); !full {
		t.Error("an overflowing queue did not ask for a full pass")
	}
	if full, _ := r.c.targeted(context.Background()); full {
		t.Error("the queue was not emptied")
	}
}

// TestTargetedSavesApplied: a targeted drain is in the state file, so a
// controller restarted before any full pass takes it for its own, not for
// one made by hand (which it would hold in maintenance).
func TestTargetedSavesApplied(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.pass()
	r.subscribe()
	r.v.set(web, rs2, health.StateDown)
	if w, _ := r.target(); len(w) != 1 {
		t.Fatalf("targeted writes %q", w)
	}
	recs, _ := r.admin.Applied()
	if got := recs[[2]string{web, rs2}]; !got.Present || got.Weight != 0 || len(recs) != 4 {
		t.Fatalf("state file: rs2 %+v of %d records, want weight 0 and the other three kept: %+v", got, len(recs), recs)
	}
	r.c = r.newController(r.c.config()) // a restart
	r.pass()
	if r.admin.InMaintenance(web, rs2) || r.logs.count("at start by someone else") != 0 {
		t.Errorf("the restarted controller took its own targeted drain for a hand-made one:\n%s", r.logs)
	}
}

// gatedStore is the rig's maintenance store whose SaveApplied, once
// armed, waits at its gate.
type gatedStore struct {
	*fakeAdmin
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
}

func (g *gatedStore) SaveApplied(recs []AppliedDest) error {
	g.mu.Lock()
	gate := g.gate
	g.gate = nil
	g.mu.Unlock()
	if gate != nil {
		g.entered <- struct{}{}
		<-gate
	}
	return g.fakeAdmin.SaveApplied(recs)
}

// TestRunSavesTargetedWrite: under Run, the state file gets a targeted
// drain from the saver goroutine, not from the controller's: the next
// verdict change is written while the saver is still busy. What the saver
// has pending when Run stops is written on the way out.
func TestRunSavesTargetedWrite(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	var store *gatedStore
	// Around the rig's store as the new controller gets it (a restart
	// of the rig's controller reloads it).
	r.c = r.newControllerWith(webConfig(t, "", "controller: {period: 1h}"), func(o *Options) {
		store = &gatedStore{fakeAdmin: r.admin, entered: make(chan struct{}, 1)}
		o.Admin = store
	})
	r.all(health.StateUp)
	stop, _, done := r.running(t)
	waitPass(t, done)
	gate := make(chan struct{})
	store.mu.Lock()
	store.gate = gate
	store.mu.Unlock()
	r.v.set(web, rs2, health.StateDown)
	r.waitRound(t)
	<-store.entered // the saver writes rs2's drain, and waits
	r.v.set(web, rs3, health.StateDown)
	r.waitRound(t) // written while the saver is busy
	wantWrites(t, r.table.takeWrites(), "update "+web+" "+rs2+" w=0 fwd=masq th=0/0", "update "+web+" "+rs3+" w=0 fwd=masq th=100/50")
	<-r.c.saver // the saver's wake for rs3: only Run's end makes it write
	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	close(gate)
	<-stopped
	recs, _ := r.admin.Applied()
	for _, s := range []string{rs2, rs3} {
		if got := recs[[2]string{web, s}]; !got.Present || got.Weight != 0 {
			t.Errorf("after Run returned, the state file has %s %+v, want its drain", s, got)
		}
	}
}

// hookOnly is a verdict source whose subscribers hear nothing and whose
// OnVerdict hooks hear every change, as a scheduler whose dispatcher is
// stuck behind a slow subscriber.
type hookOnly struct{ *fakeVerdicts }

func (h hookOnly) Subscribe(func(health.Event)) func() { return func() {} }

func (h hookOnly) OnVerdict(fn func(health.Event)) func() { return h.fakeVerdicts.Subscribe(fn) }

// TestRunHearsOnVerdict: a source with OnVerdict tells the controller of a
// change through it, and the change is written at once, without waiting
// for the source's subscribers.
func TestRunHearsOnVerdict(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.c = r.newControllerWith(webConfig(t, "", "controller: {period: 1h}"), func(o *Options) { o.Verdicts = hookOnly{r.v} })
	r.all(health.StateUp)
	_, _, done := r.running(t)
	waitPass(t, done)
	r.table.takeWrites()
	r.v.set(web, rs2, health.StateDown)
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if w := r.table.weight(webKey, rs2); w != 0 {
			return fmt.Errorf("rs2 at weight %d, want 0", w)
		}
		return nil
	})
	if n := r.targetedCount(targetedWritten); n != 1 {
		t.Errorf("targeted written %d, want 1 (the hour's period has not come)", n)
	}
}

// countingStore is the rig's maintenance store counting its SaveApplied
// calls.
type countingStore struct {
	*fakeAdmin
	saves atomic.Int64
}

func (s *countingStore) SaveApplied(recs []AppliedDest) error {
	s.saves.Add(1)
	return s.fakeAdmin.SaveApplied(recs)
}

// TestRunSaverSpacesItsWrites: a run of targeted writes makes the saver
// write the state file at most once per saveGap (the passes meanwhile
// write it too), and what the burst left is in the file once Run ends.
func TestRunSaverSpacesItsWrites(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	var store *countingStore
	// Around the rig's store as the new controller gets it (a restart
	// of the rig's controller reloads it).
	r.c = r.newControllerWith(webConfig(t, "", "controller: {period: 1h}"), func(o *Options) {
		store = &countingStore{fakeAdmin: r.admin}
		o.Admin = store
	})
	r.all(health.StateUp)
	stop, passes, done := r.running(t)
	waitPass(t, done)
	const changes = 41 // down, up, ..., down
	saves, before := store.saves.Load(), passes.Load()
	start := time.Now()
	for i := range changes {
		state := health.StateDown
		if i%2 == 1 {
			state = health.StateUp
		}
		r.v.set(web, rs2, state)
		r.waitRound(t)
		// Spaced, so that a saver that wrote at every wake would have
		// time to write each change.
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	saves = store.saves.Load() - saves
	// The saver's first write comes at once, then one per gap begun.
	limit := int64(elapsed/saveGap) + 2 + passes.Load() - before
	if saves > limit {
		t.Errorf("%d targeted writes in %v made %d saves, want at most %d (one per %v, and the passes')", changes, elapsed, saves, limit, saveGap)
	}
	stop()
	recs, _ := r.admin.Applied()
	if got := recs[[2]string{web, rs2}]; !got.Present || got.Weight != 0 {
		t.Errorf("after Run returned, the state file has %s %+v, want its drain", rs2, got)
	}
}
