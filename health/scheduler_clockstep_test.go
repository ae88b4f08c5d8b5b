package health

import (
	"fmt"
	"testing"
	"time"
)

// TestSchedulerWallClockStep steps the wall clock (as date -s, an NTP
// step or a leap second does) under a running check and counts, minute
// by minute on the monotonic clock, the check's runs and the timer
// wakeups the scheduler costs: both must stay what they were before the
// step. Cron specs re-align to the wall clock's new seconds; @every
// schedules do not notice.
func TestSchedulerWallClockStep(t *testing.T) {
	for _, spec := range []string{"*/2 * * * * *", "@every 2s"} {
		for _, step := range []time.Duration{3 * time.Second, -3 * time.Second, time.Hour, -time.Hour} {
			t.Run(fmt.Sprintf("%s/%+v", spec, step), func(t *testing.T) {
				h := newHarness(t, SchedulerOptions{})
				c := h.checker("tcp 10.0.0.1:80", nil)
				sched, err := ParseSchedule(spec)
				if err != nil {
					t.Fatal(err)
				}
				check := CheckSpec{Checker: c, Schedule: sched, Timeout: time.Second}
				if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{check}}}); err != nil {
					t.Fatal(err)
				}
				h.s.Start()

				// The first minute settles the check (its first verdict);
				// the second is the baseline.
				h.advance(time.Minute)
				w0, r0 := h.clock.Wakeups(), len(c.monoTimes())
				h.advance(time.Minute)
				runsBefore, wakeupsBefore := len(c.monoTimes())-r0, h.clock.Wakeups()-w0
				if runsBefore < 29 || runsBefore > 31 {
					t.Fatalf("%d runs in the baseline minute, want 30", runsBefore)
				}
				// One run per wakeup: the timer wakes the scheduler only
				// for a due check.
				if wakeupsBefore < 29 || wakeupsBefore > 31 {
					t.Fatalf("%d wakeups in the baseline minute, want 30", wakeupsBefore)
				}

				stepAt := h.clock.Monotonic()
				h.clock.StepWall(step)
				for minute := 1; minute <= 3; minute++ {
					w0, r0 := h.clock.Wakeups(), len(c.monoTimes())
					h.advance(time.Minute)
					runs, wakeups := len(c.monoTimes())-r0, h.clock.Wakeups()-w0
					if runs < 29 || runs > 31 {
						t.Errorf("minute %d after the step: %d runs, want 30 (one every 2s)", minute, runs)
					}
					if wakeups > wakeupsBefore+1 {
						t.Errorf("minute %d after the step: %d timer wakeups, want at most %d as before it", minute, wakeups, wakeupsBefore+1)
					}
				}

				// The run queued before the step keeps its time on the
				// monotonic clock (nothing tells the scheduler of the step
				// until it wakes); a cron spec re-aligns from that run on.
				monos, walls := c.monoTimes(), c.callTimes()
				first := len(monos)
				for i, m := range monos {
					if m > stepAt {
						first = i
						break
					}
				}
				for i := 1; i < len(monos); i++ {
					gap := monos[i] - monos[i-1]
					lo := 2 * time.Second
					if spec != "@every 2s" && i == first+1 {
						// The next even second of the new wall clock is
						// 1s or 2s on.
						lo = time.Second
					}
					if gap < lo || gap > 2*time.Second {
						t.Errorf("runs %d and %d are %v apart on the monotonic clock, want %v to 2s", i-1, i, gap, lo)
					}
				}
				if spec == "@every 2s" {
					return
				}
				// The cron spec still names wall-clock seconds.
				for i := first + 1; i < len(walls); i++ {
					if walls[i].Second()%2 != 0 {
						t.Errorf("run %d at %v after the step, want an even second of the wall clock", i, walls[i].Format(time.TimeOnly))
					}
				}
			})
		}
	}
}

// TestSchedulerWallClockStepFastInterval steps the wall clock while a
// cron-scheduled check runs on its fast interval (its verdict is
// changing): the fast runs keep their interval, and the check returns to
// the cron spec's seconds of the stepped wall clock once its verdict
// settles.
func TestSchedulerWallClockStepFastInterval(t *testing.T) {
	for _, step := range []time.Duration{3 * time.Second, -3 * time.Second} {
		t.Run(fmt.Sprintf("%+v", step), func(t *testing.T) {
			h := newHarness(t, SchedulerOptions{})
			// Up, then failing: the first failure switches it to the fast
			// interval until the verdict is down.
			c := h.checker("tcp 10.0.0.1:80", script("PPPPFFFFFF"))
			sched, err := ParseSchedule("*/10 * * * * *")
			if err != nil {
				t.Fatal(err)
			}
			check := CheckSpec{Checker: c, Schedule: sched, Timeout: 200 * time.Millisecond, FastInterval: 500 * time.Millisecond, Fall: 5}
			if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{check}}}); err != nil {
				t.Fatal(err)
			}
			h.s.Start()
			// Runs 0-4: passes at :10 and :10.5 (fast before the first
			// verdict), :20 and :30, the first failure at :40.
			h.advance(40 * time.Second)
			h.clock.StepWall(step)
			h.advance(time.Minute)
			monos, walls := c.monoTimes(), c.callTimes()
			if len(monos) < 10 {
				t.Fatalf("%d runs, want at least 10", len(monos))
			}
			for i := 5; i < 9; i++ {
				if gap := monos[i] - monos[i-1]; gap != 500*time.Millisecond {
					t.Errorf("fast runs %d and %d are %v apart, want 500ms", i-1, i, gap)
				}
			}
			// The fifth failure (run 8) made it down: back on the cron
			// spec, in the wall clock's new setting.
			for i := 9; i < len(walls); i++ {
				if walls[i].Second()%10 != 0 || walls[i].Nanosecond() != 0 {
					t.Errorf("run %d at %v once down, want a multiple of 10s on the wall clock", i, walls[i].Format(time.TimeOnly+".000"))
				}
			}
		})
	}
}
