package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// minInterval is the shortest schedule or check interval accepted: shorter
// ones are typos ("@every 1ns") rather than health checks.
const minInterval = 10 * time.Millisecond

// cronParser accepts cron specs with an optional leading seconds field and
// descriptors (@hourly, ...), as the architecture decided.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// gapProbeStart is where the smallest gap of a cron spec is looked for: a
// fixed instant, in UTC (no daylight-saving jumps), so the result does not
// depend on when or where the file is loaded.
var gapProbeStart = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// parseSchedule parses a schedule; the error text is the message for the
// user (without the field path).
func parseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		every, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return Schedule{}, fmt.Errorf("invalid interval in %q: write it like \"@every 2s\" or \"@every 500ms\"", spec)
		}
		if every < minInterval {
			return Schedule{}, fmt.Errorf("interval in %q must be at least %s", spec, minInterval)
		}
		return Schedule{Spec: spec, Interval: every}, nil
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		// robfig/cron panics on a TZ= prefix without a spec after it, and a
		// time zone changes nothing for checks a few seconds apart.
		return Schedule{}, fmt.Errorf("time zone prefixes are not supported in %q: checks run in local time", spec)
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("invalid cron spec %q: %v; use a cron spec with seconds like \"*/5 * * * * *\", or \"@every 2s\"", spec, err)
	}
	gap, ok := smallestGap(sched)
	if !ok {
		return Schedule{}, fmt.Errorf("cron spec %q never fires twice", spec)
	}
	return Schedule{Spec: spec, Interval: gap, Cron: sched}, nil
}

// smallestGap returns the smallest time between consecutive firings among
// the first 100 firings after gapProbeStart or within one year of the first,
// whichever comes first. Cron specs repeat within a year except for day-of-
// week/leap-year alignments, whose gaps are days, not the seconds a check
// timeout is compared with.
func smallestGap(s cron.Schedule) (time.Duration, bool) {
	t := s.Next(gapProbeStart)
	if t.IsZero() {
		return 0, false
	}
	end := t.AddDate(1, 0, 0)
	var gap time.Duration
	for range 100 {
		next := s.Next(t)
		if next.IsZero() {
			break
		}
		if g := next.Sub(t); gap == 0 || g < gap {
			gap = g
		}
		if next.After(end) {
			break
		}
		t = next
	}
	return gap, gap > 0
}
