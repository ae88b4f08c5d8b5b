package actuator

import (
	"fmt"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestDecideExamples spells out what the controller wants in the cases an
// operator asks about.
func TestDecideExamples(t *testing.T) {
	rs := &config.RealServer{Weight: 4, Forward: ipvs.ForwardTunnel, UpperThreshold: 9, LowerThreshold: 3}
	full := destSpec{present: true, weight: 4, forward: ipvs.ForwardTunnel, upper: 9, lower: 3}
	with := func(w int32) destSpec { s := full; s.weight = w; return s }
	for _, tc := range []struct {
		name string
		in   destInput
		want decision
	}{
		{"up", destInput{verdict: health.StateUp, inTable: true, ramp: -1}, decision{true, full, ReasonUp}},
		{"up, ramping", destInput{verdict: health.StateUp, inTable: true, ramp: 2}, decision{true, with(2), ReasonSlowStart}},
		{"up, ramp reached", destInput{verdict: health.StateUp, inTable: true, ramp: 4}, decision{true, full, ReasonUp}},
		{"down, drain", destInput{verdict: health.StateDown, inTable: true, ramp: -1}, decision{true, with(0), ReasonDrain}},
		{"down, drain, not in table: added drained", destInput{verdict: health.StateDown, ramp: -1}, decision{true, with(0), ReasonDrain}},
		{"down, remove", destInput{verdict: health.StateDown, onFailure: config.Remove, inTable: true, ramp: -1}, decision{true, destSpec{}, ReasonRemove}},
		{"unknown: no change", destInput{verdict: health.StateUnknown, inTable: true, ramp: -1}, decision{false, destSpec{}, ReasonNoVerdict}},
		{"unknown, not in table: not added", destInput{verdict: health.StateUnknown, ramp: -1}, decision{false, destSpec{}, ReasonNoVerdict}},
		{"unknown, panic: no change", destInput{verdict: health.StateUnknown, panic: true, inTable: true, ramp: -1}, decision{false, destSpec{}, ReasonNoVerdict}},
		{"maintenance wins over up", destInput{verdict: health.StateUp, maintenance: true, inTable: true, ramp: -1}, decision{true, with(0), ReasonMaintenance}},
		{"maintenance wins over panic", destInput{verdict: health.StateDown, maintenance: true, panic: true, inTable: true, ramp: -1}, decision{true, with(0), ReasonMaintenance}},
		{"maintenance before a verdict", destInput{verdict: health.StateUnknown, maintenance: true, inTable: true, ramp: -1}, decision{true, with(0), ReasonMaintenance}},
		{"maintenance, removed: stays out", destInput{verdict: health.StateDown, maintenance: true, onFailure: config.Remove, ramp: -1}, decision{true, destSpec{}, ReasonMaintenance}},
		{"panic keeps a down server in", destInput{verdict: health.StateDown, panic: true, inTable: true, ramp: -1}, decision{true, full, ReasonPanic}},
		{"panic adds a removed server back", destInput{verdict: health.StateDown, panic: true, onFailure: config.Remove, ramp: -1}, decision{true, full, ReasonPanic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.rs = rs
			if got := decide(tc.in); got != tc.want {
				t.Errorf("decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDecideAllCombinations checks the precedence rules over every
// combination of verdict, maintenance, panic, slow start, on_failure and
// presence in the table.
func TestDecideAllCombinations(t *testing.T) {
	rs := &config.RealServer{Weight: 5, Forward: ipvs.ForwardRoute, UpperThreshold: 7, LowerThreshold: 2}
	n := 0
	for _, verdict := range health.States {
		for _, maint := range []bool{false, true} {
			for _, panic := range []bool{false, true} {
				for _, ramp := range []int32{-1, 2} {
					for _, onFailure := range []config.OnFailure{config.Drain, config.Remove} {
						for _, inTable := range []bool{false, true} {
							in := destInput{rs: rs, verdict: verdict, maintenance: maint, panic: panic, onFailure: onFailure, inTable: inTable, ramp: ramp}
							name := fmt.Sprintf("%s/maint=%v/panic=%v/ramp=%d/%s/in=%v", verdict, maint, panic, ramp, onFailure, inTable)
							t.Run(name, func(t *testing.T) {
								checkDecision(t, in, decide(in))
							})
							n++
						}
					}
				}
			}
		}
	}
	if n != 96 {
		t.Errorf("%d combinations, want 96", n)
	}
}

// checkDecision checks one decision against the rules, in precedence
// order.
func checkDecision(t *testing.T, in destInput, d decision) {
	t.Helper()
	if d.decided && d.spec.present {
		if d.spec.forward != in.rs.Forward || d.spec.upper != in.rs.UpperThreshold || d.spec.lower != in.rs.LowerThreshold {
			t.Errorf("forward or thresholds not the declared ones: %+v", d.spec)
		}
	}
	switch {
	case in.maintenance:
		if !d.decided || d.spec.weight != 0 || d.spec.present != in.inTable {
			t.Errorf("maintenance: %+v, want weight 0, in the table as before (%v)", d, in.inTable)
		}
	case in.verdict == health.StateUnknown:
		if d.decided {
			t.Errorf("no verdict yet: %+v, want no change", d)
		}
	case in.panic:
		if !d.decided || !d.spec.present || d.spec.weight != 5 {
			t.Errorf("panic: %+v, want the declared weight 5", d)
		}
	case in.verdict == health.StateUp:
		want := int32(5)
		if in.ramp >= 0 {
			want = in.ramp
		}
		if !d.decided || !d.spec.present || d.spec.weight != want {
			t.Errorf("up: %+v, want weight %d", d, want)
		}
	case in.onFailure == config.Remove:
		if !d.decided || d.spec.present {
			t.Errorf("down with remove: %+v, want out of the table", d)
		}
	default:
		if !d.decided || !d.spec.present || d.spec.weight != 0 {
			t.Errorf("down with drain: %+v, want weight 0", d)
		}
	}
}

// TestInPanic checks the threshold on weighted capacity: strictly less
// healthy capacity than the share enters panic, only capacity with a
// verdict counts, 0% is off; once in panic the service leaves only at
// threshold + hysteresis (capped at 100%).
func TestInPanic(t *testing.T) {
	for _, tc := range []struct {
		threshold, hysteresis float64
		up, judged            int
		was, want             bool
	}{
		{50, 10, 2, 4, false, false}, // exactly the share: not below
		{50, 10, 1, 4, false, true},
		{50, 10, 0, 4, false, true},
		{50, 10, 0, 0, false, false}, // nothing weighted judged
		{50, 10, 0, 0, true, false},
		{0, 10, 0, 4, false, false}, // off
		{0, 10, 0, 4, true, false},
		{100, 0, 3, 4, false, true},
		{100, 0, 4, 4, false, false},
		{100, 10, 4, 4, true, false}, // 100% is the most there is
		{25, 10, 1, 4, false, false},
		{33.4, 10, 1, 3, false, true},
		// In panic: at the threshold is not enough, threshold+hysteresis is.
		{50, 10, 2, 4, true, true},
		{50, 10, 59, 100, true, true},
		{50, 10, 60, 100, true, false},
		{50, 0, 2, 4, true, false},
		{95, 10, 99, 100, true, true},
		{95, 10, 100, 100, true, false},
	} {
		c := capacity{up: tc.up, judged: tc.judged}
		if got := inPanic(tc.threshold, tc.hysteresis, c, tc.was); got != tc.want {
			t.Errorf("inPanic(%g%% +%g, %d up of %d, was %v) = %v, want %v",
				tc.threshold, tc.hysteresis, tc.up, tc.judged, tc.was, got, tc.want)
		}
	}
}

// TestRampWeight checks the ramp starts small, never decreases, and ends
// at the declared weight when the slow start is over.
func TestRampWeight(t *testing.T) {
	for _, declared := range []int32{1, 2, 3, 10, 100, 65535} {
		t.Run(fmt.Sprint(declared), func(t *testing.T) {
			const ss = 30 * time.Second
			prev := int32(0)
			for e := time.Duration(0); e <= ss+time.Second; e += 250 * time.Millisecond {
				w, done := rampWeight(declared, e, ss)
				if w < prev || w < 1 || w > declared {
					t.Fatalf("at %v: weight %d after %d (declared %d)", e, w, prev, declared)
				}
				if done != (e >= ss || declared <= 1) {
					t.Fatalf("at %v: done %v", e, done)
				}
				prev = w
			}
			if w, _ := rampWeight(declared, 0, ss); w != 1 {
				t.Errorf("first weight %d, want 1", w)
			}
			if w, _ := rampWeight(declared, ss/2, ss); declared >= 2 && w != (declared+1)/2 {
				t.Errorf("weight half way %d, want %d", w, (declared+1)/2)
			}
			if prev != declared {
				t.Errorf("last weight %d, want %d", prev, declared)
			}
		})
	}
	if w, done := rampWeight(7, time.Second, 0); w != 7 || !done {
		t.Errorf("no slow start: %d %v", w, done)
	}
	if w, done := rampWeight(0, time.Second, time.Minute); w != 0 || !done {
		t.Errorf("declared weight 0: %d %v", w, done)
	}
}

// TestRampOffset checks a ramp resumed at the kernel's weight goes on
// from it.
func TestRampOffset(t *testing.T) {
	const ss = 30 * time.Second
	for _, current := range []int32{1, 2, 3, 9} {
		w, _ := rampWeight(10, rampOffset(current, 10, ss), ss)
		if w < current-1 || w > current {
			t.Errorf("resumed at %d: weight %d", current, w)
		}
	}
	if off := rampOffset(0, 10, ss); off != 0 {
		t.Errorf("offset from 0: %v", off)
	}
}
