package health

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads cron specs with an optional seconds field
// ("*/5 * * * * *", "0 */2 * * * *", "*/10 * * * *") and descriptors
// ("@hourly"); "@every" is read by ParseSchedule itself.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Every is a cron.Schedule that fires every Interval, which may be shorter
// than a second (cron's own "@every" rounds to whole seconds). The
// scheduler starts each check of this schedule at a random offset within
// the first interval, so that many checks spread out.
type Every struct {
	Interval time.Duration
}

// Next returns t + Interval.
func (e Every) Next(t time.Time) time.Time { return t.Add(e.Interval) }

// String returns the schedule as "@every 500ms".
func (e Every) String() string { return "@every " + e.Interval.String() }

// ParseSchedule reads a check's schedule: "@every DURATION" (Go duration
// syntax, sub-second allowed: "@every 500ms", "@every 2s"), a cron spec
// whose seconds field is optional ("*/5 * * * * *" every 5 seconds,
// "*/2 * * * *" every 2 minutes, optionally prefixed "CRON_TZ=Europe/Paris"),
// or a cron descriptor ("@hourly").
func ParseSchedule(spec string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(s, "@every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w (want e.g. \"@every 500ms\" or \"@every 2s\")", spec, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("schedule %q: the interval must be positive", spec)
		}
		return Every{Interval: d}, nil
	}
	sched, err := cronParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w (want \"@every 2s\" or a cron spec with optional seconds such as \"*/5 * * * * *\")", spec, err)
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires", spec)
	}
	return sched, nil
}

// scheduleInterval returns the fixed interval of s, or 0 for a schedule
// (a cron spec) whose gaps vary.
func scheduleInterval(s cron.Schedule) time.Duration {
	switch s := s.(type) {
	case Every:
		return s.Interval
	case *Every:
		return s.Interval
	case cron.ConstantDelaySchedule:
		return s.Delay
	}
	return 0
}

// slot is a run time on both of the clock's readings. mono, the monotonic
// reading the run is due at, orders the heap and arms the timer, so that
// a step of the wall clock moves no run. wall is the wall time the run
// stands for: the cron spec's time, or for an interval the wall clock's
// reading expected at mono. A cron spec computes its next time from it.
type slot struct {
	mono time.Duration
	wall time.Time // without a monotonic reading: Sub compares wall times
}

// now reads both of the scheduler's clocks.
func (s *Scheduler) now() slot {
	return slot{mono: s.clock.Monotonic(), wall: s.clock.Now().Round(0)}
}

// at returns the slot of monotonic reading mono, as seen from now.
func (now slot) at(mono time.Duration) slot {
	return slot{mono: mono, wall: now.wall.Add(mono - now.mono)}
}

// wallStepTolerance is the least change of the wall clock against the
// monotonic clock that counts as a step. The kernel slews both clocks
// alike (NTP's frequency corrections), so only a step (date -s, an NTP
// step, a leap second, a resumed VM) changes their difference; reading
// the two clocks one after the other adds nanoseconds of noise, which
// must not count.
const wallStepTolerance = 100 * time.Millisecond

// wallStep returns how far the wall clock was set (forwards positive)
// between the readings from and now.
func wallStep(from, now slot) time.Duration {
	return now.wall.Sub(from.wall) - (now.mono - from.mono)
}

// after returns the check's run time after the one at from in mode m:
// from plus the mode's interval on the monotonic clock, or the cron
// spec's next time after from's wall time, converted to the monotonic
// clock as the wall clock reads now. When the wall clock was stepped
// since from, the cron spec counts from the wall time from.mono has in
// the clock's new setting, so that the checks keep their cadence in
// real time and re-align to the wall clock's new seconds. ok is false
// when the cron spec never fires again.
func (c *check) after(m checkMode, from, now slot) (next slot, ok bool) {
	if iv := c.modeInterval(m); iv > 0 {
		return now.at(from.mono + iv), true
	}
	base := from.wall
	if step := wallStep(from, now); step >= wallStepTolerance || step <= -wallStepTolerance {
		base = base.Add(step)
	}
	w := c.spec.Schedule.Next(base)
	if w.IsZero() {
		return slot{}, false
	}
	w = w.Round(0)
	return slot{mono: now.mono + w.Sub(now.wall), wall: w}, true
}

// never stands for the next run of a schedule that has none (a cron spec
// that cannot be satisfied).
func never(now slot) slot { return now.at(now.mono + 100*365*24*time.Hour) }
