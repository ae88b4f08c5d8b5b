package health

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// Defaults of CheckSpec's zero fields: HAProxy's rise and fall.
const (
	DefaultRise = 2
	DefaultFall = 3
)

// Combine says how the verdicts of a real server's checks make its state.
type Combine uint8

const (
	// CombineAll (the default): the real server is up when every check is
	// up, down as soon as one check is down.
	CombineAll Combine = iota
	// CombineAny: the real server is up as soon as one check is up, down
	// when every check is down.
	CombineAny
)

// String returns "all" or "any".
func (c Combine) String() string {
	switch c {
	case CombineAll:
		return "all"
	case CombineAny:
		return "any"
	}
	return fmt.Sprintf("combine(%d)", uint8(c))
}

// Target is one real server of one virtual service and the checks that
// decide its state. Service and Server identify it, in metrics, logs and
// events, and across Scheduler.Update calls.
type Target struct {
	// Service names the virtual service, as ipvs.ServiceKey.String() does:
	// "tcp/192.0.2.1:80", "fwmark/42/ipv4".
	Service string
	// Server is the real server's address and port: "10.0.0.1:80",
	// "[2001:db8::1]:80".
	Server string
	// Combine says how the checks' verdicts make the server's state.
	Combine Combine
	// Checks are the server's checks, at least one.
	Checks []CheckSpec
}

// CheckSpec is one check of a real server: what to run, when, and how many
// results make a verdict. Zero values take the defaults documented on each
// field.
type CheckSpec struct {
	// Name identifies the check within its Target, in the "check" metric
	// label and across Update calls; keep it short ("tcp:80",
	// "http:80/healthz"). Default: Checker.String().
	Name string
	// Type groups checks of one kind in the duration histogram ("tcp",
	// "http"). Default: the first word of Checker.String().
	Type string
	// Checker probes the target.
	Checker Checker
	// Schedule says when the check runs while its verdict is stable:
	// ParseSchedule's result, or Every{d}.
	Schedule cron.Schedule
	// Timeout bounds one run (the context deadline Check gets); it must be
	// shorter than every interval below and than an Every schedule's.
	Timeout time.Duration
	// Rise consecutive passes make the check up, Fall consecutive failures
	// make it down (also from unknown, at start). Defaults DefaultRise and
	// DefaultFall.
	Rise, Fall int
	// FastInterval, when set, replaces Schedule while the verdict is
	// changing (HAProxy's fastinter): a failure seen while up, a pass seen
	// while down, or any result before the first verdict.
	FastInterval time.Duration
	// DownInterval, when set, replaces Schedule while the check is down
	// and no pass has been seen since (HAProxy's downinter).
	DownInterval time.Duration
	// Jitter delays each run by a random duration in [0, Jitter), so that
	// checks on the same schedule do not start together; it must be
	// shorter than every interval above. Every schedules also start at a
	// random offset within their first interval, jitter or not.
	Jitter time.Duration
}

// name returns the check's Name or its default.
func (c *CheckSpec) name() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Checker.String()
}

// kind returns the check's Type or its default.
func (c *CheckSpec) kind() string {
	if c.Type != "" {
		return c.Type
	}
	if f := strings.Fields(c.Checker.String()); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

func (c *CheckSpec) rise() int {
	if c.Rise > 0 {
		return c.Rise
	}
	return DefaultRise
}

func (c *CheckSpec) fall() int {
	if c.Fall > 0 {
		return c.Fall
	}
	return DefaultFall
}

// validateTargets checks everything Update needs: unique (service, server)
// pairs, unique check names per server, and each check's fields.
func validateTargets(targets []Target) error {
	var errs []error
	seen := make(map[serverKey]bool, len(targets))
	for i := range targets {
		t := &targets[i]
		where := fmt.Sprintf("target %d (service %q, server %q)", i, t.Service, t.Server)
		if t.Service == "" || t.Server == "" {
			errs = append(errs, fmt.Errorf("%s: service and server must be set", where))
		}
		if !utf8.ValidString(t.Service) || !utf8.ValidString(t.Server) {
			errs = append(errs, fmt.Errorf("%s: service and server must be UTF-8 (they are label values)", where))
		}
		key := serverKey{t.Service, t.Server}
		if seen[key] {
			errs = append(errs, fmt.Errorf("%s: duplicate real server of the service", where))
		}
		seen[key] = true
		if t.Combine != CombineAll && t.Combine != CombineAny {
			errs = append(errs, fmt.Errorf("%s: combine must be all or any, not %d", where, t.Combine))
		}
		if len(t.Checks) == 0 {
			errs = append(errs, fmt.Errorf("%s: no checks", where))
		}
		names := make(map[string]bool, len(t.Checks))
		for j := range t.Checks {
			c := &t.Checks[j]
			if c.Checker == nil {
				errs = append(errs, fmt.Errorf("%s: check %d: no checker", where, j))
				continue
			}
			name := c.name()
			if names[name] {
				errs = append(errs, fmt.Errorf("%s: check %q: duplicate name; give each check of a real server its own name", where, name))
			}
			names[name] = true
			if !utf8.ValidString(name) || !utf8.ValidString(c.kind()) {
				errs = append(errs, fmt.Errorf("%s: check %q: name and type must be UTF-8 (they are label values)", where, name))
			}
			if err := validateCheck(c); err != nil {
				errs = append(errs, fmt.Errorf("%s: check %q: %w", where, name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func validateCheck(c *CheckSpec) error {
	if c.Schedule == nil {
		return errors.New("no schedule")
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("timeout %v must be positive", c.Timeout)
	}
	if c.Rise < 0 || c.Fall < 0 {
		return fmt.Errorf("rise %d and fall %d must not be negative", c.Rise, c.Fall)
	}
	if c.FastInterval < 0 || c.DownInterval < 0 || c.Jitter < 0 {
		return fmt.Errorf("fast interval %v, down interval %v and jitter %v must not be negative", c.FastInterval, c.DownInterval, c.Jitter)
	}
	for _, iv := range []struct {
		what string
		d    time.Duration
	}{
		{"interval", scheduleInterval(c.Schedule)},
		{"fast interval", c.FastInterval},
		{"down interval", c.DownInterval},
	} {
		if iv.d == 0 {
			continue
		}
		if c.Timeout >= iv.d {
			return fmt.Errorf("timeout %v must be shorter than the %s %v", c.Timeout, iv.what, iv.d)
		}
		if c.Jitter >= iv.d {
			return fmt.Errorf("jitter %v must be shorter than the %s %v", c.Jitter, iv.what, iv.d)
		}
	}
	return nil
}

// maxInFlightFor returns the automatic bound on running checks: how many
// would run at once if every check took its whole timeout at its fastest
// rate, at least MinMaxInFlight.
func maxInFlightFor(targets []Target, now time.Time) int {
	var sum float64
	for i := range targets {
		for j := range targets[i].Checks {
			c := &targets[i].Checks[j]
			if iv := c.shortestInterval(now); iv > 0 {
				sum += c.Timeout.Seconds() / iv.Seconds()
			}
		}
	}
	return max(MinMaxInFlight, int(math.Ceil(sum)))
}

// shortestInterval returns the shortest time between two runs of the
// check: of its fast, down and Every intervals, or for a cron spec the gap
// between its next two times after now.
func (c *CheckSpec) shortestInterval(now time.Time) time.Duration {
	iv := scheduleInterval(c.Schedule)
	if iv == 0 {
		if next := c.Schedule.Next(now); !next.IsZero() {
			iv = c.Schedule.Next(next).Sub(next)
		}
	}
	for _, d := range []time.Duration{c.FastInterval, c.DownInterval} {
		if d > 0 && (iv <= 0 || d < iv) {
			iv = d
		}
	}
	return iv
}
