package health

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

type namedChecker string

func (n namedChecker) Check(context.Context) Result { return Result{} }
func (n namedChecker) String() string               { return string(n) }

func TestValidateTargets(t *testing.T) {
	ok := func() CheckSpec {
		return CheckSpec{Checker: namedChecker("tcp 10.0.0.1:80"), Schedule: Every{2 * time.Second}, Timeout: time.Second}
	}
	with := func(f func(*CheckSpec)) []Target {
		c := ok()
		f(&c)
		return []Target{{Service: svc, Server: rs1, Checks: []CheckSpec{c}}}
	}
	spec, err := ParseSchedule("*/5 * * * * *")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		targets []Target
		want    string // substring of the error; empty for valid
	}{
		{"valid", with(func(*CheckSpec) {}), ""},
		{"valid cron spec with any timeout", with(func(c *CheckSpec) { c.Schedule, c.Timeout = spec, 4*time.Second }), ""},
		{"valid fast and down intervals", with(func(c *CheckSpec) {
			c.FastInterval, c.DownInterval, c.Jitter = 1500*time.Millisecond, 10*time.Second, 500*time.Millisecond
		}), ""},
		{"no service", []Target{{Server: rs1, Checks: []CheckSpec{ok()}}}, `target 0 (service "", server "10.0.0.1:80"): service and server must be set`},
		{"not UTF-8", []Target{{Service: "tcp/\xff", Server: rs1, Checks: []CheckSpec{ok()}}}, "must be UTF-8"},
		{"duplicate server", []Target{{Service: svc, Server: rs1, Checks: []CheckSpec{ok()}}, {Service: svc, Server: rs1, Checks: []CheckSpec{ok()}}},
			`target 1 (service "tcp/192.0.2.1:80", server "10.0.0.1:80"): duplicate real server of the service`},
		{"no checks", []Target{{Service: svc, Server: rs1}}, "no checks"},
		{"bad combine", []Target{{Service: svc, Server: rs1, Combine: 9, Checks: []CheckSpec{ok()}}}, "combine must be all or any, not 9"},
		{"no checker", with(func(c *CheckSpec) { c.Checker = nil }), "check 0: no checker"},
		{"duplicate check name", []Target{{Service: svc, Server: rs1, Checks: []CheckSpec{ok(), ok()}}}, `check "tcp 10.0.0.1:80": duplicate name`},
		{"no schedule", with(func(c *CheckSpec) { c.Schedule = nil }), `check "tcp 10.0.0.1:80": no schedule`},
		{"no timeout", with(func(c *CheckSpec) { c.Timeout = 0 }), "timeout 0s must be positive"},
		{"timeout as long as the interval", with(func(c *CheckSpec) { c.Timeout = 2 * time.Second }), "timeout 2s must be shorter than the interval 2s"},
		{"timeout longer than the fast interval", with(func(c *CheckSpec) { c.FastInterval = 500 * time.Millisecond }), "timeout 1s must be shorter than the fast interval 500ms"},
		{"timeout longer than the down interval", with(func(c *CheckSpec) { c.DownInterval = time.Second }), "timeout 1s must be shorter than the down interval 1s"},
		{"jitter as long as the interval", with(func(c *CheckSpec) { c.Jitter = 2 * time.Second }), "jitter 2s must be shorter than the interval 2s"},
		{"negative rise", with(func(c *CheckSpec) { c.Rise = -1 }), "rise -1 and fall 0 must not be negative"},
		{"negative jitter", with(func(c *CheckSpec) { c.Jitter = -1 }), "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateTargets(tt.targets)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			// Update rejects the same targets and keeps what it had.
			s := NewScheduler(SchedulerOptions{Clock: NewFakeClock(t0)})
			if err := s.Update(with(func(*CheckSpec) {})); err != nil {
				t.Fatal(err)
			}
			if err := s.Update(tt.targets); (err == nil) != (tt.want == "") {
				t.Errorf("Update: %v", err)
			}
			if tt.want != "" && len(s.Status()) != 1 {
				t.Errorf("a rejected Update changed the targets: %+v", s.Status())
			}
		})
	}
}

func TestValidateTargetsNamesEveryProblem(t *testing.T) {
	err := validateTargets([]Target{
		{Service: svc, Server: rs1},
		{Service: svc, Server: rs2, Checks: []CheckSpec{{Checker: namedChecker("x"), Schedule: Every{time.Second}}}},
	})
	if err == nil || !strings.Contains(err.Error(), "no checks") || !strings.Contains(err.Error(), "timeout 0s") {
		t.Errorf("error %v, want both problems", err)
	}
}

func TestCheckSpecDefaults(t *testing.T) {
	c := CheckSpec{Checker: namedChecker("http GET http://10.0.0.1:80/healthz")}
	if c.name() != "http GET http://10.0.0.1:80/healthz" || c.kind() != "http" || c.rise() != DefaultRise || c.fall() != DefaultFall {
		t.Errorf("defaults: name %q, type %q, rise %d, fall %d", c.name(), c.kind(), c.rise(), c.fall())
	}
	c = CheckSpec{Name: "web", Type: "https", Checker: namedChecker("http x"), Rise: 5, Fall: 1}
	if c.name() != "web" || c.kind() != "https" || c.rise() != 5 || c.fall() != 1 {
		t.Errorf("set: name %q, type %q, rise %d, fall %d", c.name(), c.kind(), c.rise(), c.fall())
	}
}

func TestParseSchedule(t *testing.T) {
	from := time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC)
	tests := []struct {
		spec string
		next []time.Duration // offsets from "from" of the next runs
		err  string
	}{
		{spec: "@every 500ms", next: []time.Duration{500 * time.Millisecond, time.Second}},
		{spec: "@every 2s", next: []time.Duration{2 * time.Second, 4 * time.Second}},
		{spec: " @every 1m30s ", next: []time.Duration{90 * time.Second}},
		{spec: "*/5 * * * * *", next: []time.Duration{4 * time.Second, 9 * time.Second}},
		{spec: "0 */2 * * * *", next: []time.Duration{2*time.Minute - time.Second, 4*time.Minute - time.Second}},
		{spec: "*/2 * * * *", next: []time.Duration{2*time.Minute - time.Second}},
		{spec: "@hourly", next: []time.Duration{time.Hour - time.Second}},
		{spec: "CRON_TZ=UTC 30 * * * * *", next: []time.Duration{29 * time.Second}},
		{spec: "@every", err: `schedule "@every": time: invalid duration`},
		{spec: "@every 2", err: `missing unit in duration`},
		{spec: "@every -1s", err: "the interval must be positive"},
		{spec: "@every 0s", err: "the interval must be positive"},
		{spec: "", err: "empty spec string"},
		{spec: "* * *", err: "expected 5 to 6 fields"},
		{spec: "61 * * * * *", err: "above maximum"},
		{spec: "0 0 0 30 2 *", err: "never fires"},
		{spec: "@fortnightly", err: "unrecognized descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			at := from
			for _, want := range tt.next {
				at = s.Next(at)
				if got := at.Sub(from); got != want {
					t.Errorf("next run at +%v, want +%v", got, want)
				}
			}
		})
	}
}

func TestScheduleInterval(t *testing.T) {
	spec, _ := ParseSchedule("*/5 * * * * *")
	for _, tt := range []struct {
		s    cron.Schedule
		want time.Duration
	}{
		{Every{300 * time.Millisecond}, 300 * time.Millisecond},
		{&Every{time.Second}, time.Second},
		{cron.Every(5 * time.Second), 5 * time.Second},
		{spec, 0},
	} {
		if got := scheduleInterval(tt.s); got != tt.want {
			t.Errorf("scheduleInterval(%#v) = %v, want %v", tt.s, got, tt.want)
		}
	}
	if got := (Every{250 * time.Millisecond}).String(); got != "@every 250ms" {
		t.Errorf("String = %q", got)
	}
}

func TestMaxInFlightFor(t *testing.T) {
	spec, err := ParseSchedule("*/5 * * * * *")
	if err != nil {
		t.Fatal(err)
	}
	check := func(sched cron.Schedule, timeout, fast time.Duration) CheckSpec {
		return CheckSpec{Checker: namedChecker("x"), Schedule: sched, Timeout: timeout, FastInterval: fast}
	}
	targets := func(n int, c CheckSpec) []Target {
		out := make([]Target, n)
		for i := range out {
			out[i] = Target{Checks: []CheckSpec{c, c}}
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		targets []Target
		want    int
	}{
		{"none", nil, MinMaxInFlight},
		{"few", targets(10, check(Every{time.Second}, 500*time.Millisecond, 0)), MinMaxInFlight},
		{"10,000 checks every 2s for 1s", targets(5000, check(Every{2 * time.Second}, time.Second, 0)), 5000},
		{"the fast interval counts", targets(5000, check(Every{2 * time.Second}, 100*time.Millisecond, 200*time.Millisecond)), 5000},
		{"cron spec every 5s", targets(1000, check(spec, 4*time.Second, 0)), 1600},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxInFlightFor(tt.targets, t0); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	s := NewScheduler(SchedulerOptions{Clock: NewFakeClock(t0)})
	ts := targets(5000, check(Every{2 * time.Second}, time.Second, 0))
	for i := range ts {
		ts[i].Service, ts[i].Server = svc, strconv.Itoa(i)
		ts[i].Checks[1].Name = "other"
	}
	if err := s.Update(ts); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, s, "ipvs_health_max_checks_in_flight", nil).GetGauge().GetValue(); got != 5000 {
		t.Errorf("automatic bound %v after Update, want 5000", got)
	}
	s = NewScheduler(SchedulerOptions{Clock: NewFakeClock(t0), MaxInFlight: 7})
	if err := s.Update(ts); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, s, "ipvs_health_max_checks_in_flight", nil).GetGauge().GetValue(); got != 7 {
		t.Errorf("fixed bound %v after Update, want 7", got)
	}
}
