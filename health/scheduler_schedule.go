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
