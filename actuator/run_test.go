package actuator

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// running starts Run and returns a function that stops it and waits for
// it to return, and a counter of passes.
func (r *rig) running(t *testing.T) (stop func(), passes *atomic.Int64, done chan struct{}) {
	t.Helper()
	passes = new(atomic.Int64)
	done = make(chan struct{}, 1000)
	r.c.onPass = func() {
		passes.Add(1)
		done <- struct{}{}
	}
	r.rounds = make(chan struct{}, 1000)
	r.c.onTargeted = func() { r.rounds <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	ret := make(chan error, 1)
	go func() { ret <- r.c.Run(ctx) }()
	stop = func() {
		cancel()
		select {
		case err := <-ret:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return stop, passes, done
}

// waitPass waits for the next pass of Run to end.
func waitPass(t *testing.T, done chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no pass within 10s")
	}
}

// waitRound waits for the next round of targeted writes of Run to end.
func (r *rig) waitRound(t *testing.T) {
	t.Helper()
	select {
	case <-r.rounds:
	case <-time.After(10 * time.Second):
		t.Fatal("no targeted write within 10s")
	}
}

// TestRunReactsToVerdicts: Run passes at once; a verdict change is
// written at once without a pass (no table read), the full pass follows
// within followUp and writes nothing more; then a pass every period
// without a trigger.
func TestRunReactsToVerdicts(t *testing.T) {
	r := newRig(t, webConfig(t, "", "controller: {period: 1h}"), newFakeTable(webTable()))
	r.all(health.StateUp)
	_, passes, done := r.running(t)
	waitPass(t, done)
	reads := r.table.readCount()
	r.v.set(web, rs2, health.StateDown) // the subscription writes it
	r.waitRound(t)
	wantWrites(t, r.table.takeWrites(), "update "+web+" "+rs2+" w=0 fwd=masq th=0/0")
	if got := r.table.readCount(); got != reads || passes.Load() != 1 {
		t.Errorf("%d table reads and %d passes after the verdict, want %d and 1", got, passes.Load(), reads)
	}
	r.clock.Advance(followUp - time.Millisecond)
	select {
	case <-done:
		t.Fatal("the follow-up pass came before followUp")
	default:
	}
	r.clock.Advance(time.Millisecond)
	waitPass(t, done)
	if got := r.table.readCount(); got != reads+1 {
		t.Errorf("%d table reads after the follow-up pass, want %d", got, reads+1)
	}
	wantWrites(t, r.table.takeWrites())
	n := passes.Load()
	r.clock.Advance(time.Hour) // the period
	waitPass(t, done)
	if got := passes.Load(); got != n+1 {
		t.Errorf("%d passes after the period, want %d", got, n+1)
	}
}

// TestTriggersCoalesce: triggers that arrive while a pass runs make one
// more pass, not one each.
func TestTriggersCoalesce(t *testing.T) {
	r := newRig(t, webConfig(t, "", "controller: {period: 1h}"), newFakeTable(webTable()))
	gate, entered := make(chan struct{}), make(chan struct{}, 10)
	r.table.mu.Lock()
	r.table.gate, r.table.entered = gate, entered
	r.table.mu.Unlock()
	_, passes, done := r.running(t)
	<-entered // the first pass waits in Snapshot
	for range 100 {
		r.c.Trigger()
		r.v.set(web, rs1, health.StateUp)
	}
	r.table.mu.Lock()
	r.table.gate = nil
	r.table.mu.Unlock()
	close(gate)
	waitPass(t, done)
	waitPass(t, done)
	// Every trigger came before the second pass started, and the fake
	// clock does not move: no third pass may be pending.
	if len(r.c.trigger) != 0 {
		t.Errorf("a trigger is still pending after the second pass")
	}
	if got := passes.Load(); got != 2 {
		t.Errorf("%d passes, want 2", got)
	}
	if got := r.table.readCount(); got != 2 {
		t.Errorf("%d table reads, want 2", got)
	}
}

// TestRunStopLeavesTable: stopping Run writes nothing and unsubscribes;
// Run refuses a second call.
func TestRunStopLeavesTable(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	stop, _, done := r.running(t)
	waitPass(t, done)
	if r.v.subscribers() != 1 {
		t.Fatalf("%d subscribers while running", r.v.subscribers())
	}
	before := r.table.table()
	stop()
	if r.v.subscribers() != 0 {
		t.Errorf("%d subscribers after Run returned", r.v.subscribers())
	}
	if w := r.table.takeWrites(); len(w) != 0 {
		t.Errorf("writes on stop: %q", w)
	}
	if len(r.table.table()) != len(before) {
		t.Error("table changed on stop")
	}
	if err := r.c.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}
}

// TestMaintenanceStoreTriggers: the maintenance store's change callback
// wired to Trigger drains a server at once, and lifting it restores it.
func TestMaintenanceStoreTriggers(t *testing.T) {
	m := NewMaintenance()
	r := newRig(t, webConfig(t, "", "controller: {period: 1h}"), newFakeTable(webTable()))
	c, err := New(webConfig(t, "", "controller: {period: 1h}"), Options{Reader: r.table, Writer: r.table, Verdicts: r.v, Admin: m, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	m.OnChange(c.Trigger)
	r.all(health.StateUp)
	_, _, done := r.running(t)
	waitPass(t, done)
	m.Set(web, rs3, true, "kernel upgrade")
	waitPass(t, done)
	if w := r.table.weight(webKey, rs3); w != 0 {
		t.Errorf("rs3 in maintenance at weight %d", w)
	}
	if st := r.rsStatus(web, rs3); !st.Maintenance || st.ReasonCode != ReasonMaintenance {
		t.Errorf("status %+v", st)
	}
	m.Set(web, rs3, false, "")
	waitPass(t, done)
	if w := r.table.weight(webKey, rs3); w != 3 {
		t.Errorf("rs3 after maintenance at weight %d, want 3", w)
	}
}

// TestRunFollowUpAtRampStep: the full pass after a targeted restore that
// starts a slow start comes at the ramp's first step, before followUp.
func TestRunFollowUpAtRampStep(t *testing.T) {
	r := newRig(t, webConfig(t, "slow_start: 2s", "controller: {period: 1h}"), newFakeTable(webTable()))
	r.all(health.StateUp)
	r.v.set(web, rs3, health.StateDown)
	_, _, done := r.running(t)
	waitPass(t, done)
	r.table.takeWrites()
	r.v.set(web, rs3, health.StateUp)
	r.waitRound(t)
	wantWrites(t, r.table.takeWrites(), "update "+web+" "+rs3+" w=1 fwd=masq th=100/50")
	if rampTickMin >= followUp {
		t.Fatalf("rampTickMin %v is not shorter than followUp %v: the test shows nothing", rampTickMin, followUp)
	}
	r.clock.Advance(rampTickMin) // 2s/20 is less: the step is rampTickMin
	waitPass(t, done)            // (at 1/8 of the ramp the weight is still 1)
	wantWrites(t, r.table.takeWrites())
}
