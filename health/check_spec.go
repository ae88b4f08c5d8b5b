package health

import (
	"reflect"
	"time"

	"github.com/robfig/cron/v3"
)

// checkSpec is what a check keeps of its CheckSpec but the Checker
// (check.checker), with the defaults applied: its name, kind and timing.
// The checks whose specs are alike share one (sharedSpecsOf): at 10,000
// checks of one kind, a copy in each check cost 112 bytes a check.
type checkSpec struct {
	Name, Type   string // the CheckSpec's name() and kind()
	Schedule     cron.Schedule
	Timeout      time.Duration
	Rise, Fall   int // the CheckSpec's rise() and fall()
	FastInterval time.Duration
	DownInterval time.Duration
	Jitter       time.Duration
}

func (c *checkSpec) rise() int { return c.Rise }

func (c *checkSpec) fall() int { return c.Fall }

// sharedSpecsOf holds the checkSpecs of one Update by value, so that
// checks alike get one; it lives for the Update only (Scheduler.specs),
// and a check kept by the next one takes that one's.
type sharedSpecsOf map[checkSpec]*checkSpec

// share returns the checkSpec of spec, whose kind() is kind: one already
// made for a spec alike, or a new one. A schedule of a type whose values
// cannot be map keys gets a checkSpec of its own.
func (m sharedSpecsOf) share(spec *CheckSpec, kind string) *checkSpec {
	cs := checkSpec{Name: spec.name(), Type: kind, Schedule: spec.Schedule, Timeout: spec.Timeout,
		Rise: spec.rise(), Fall: spec.fall(),
		FastInterval: spec.FastInterval, DownInterval: spec.DownInterval, Jitter: spec.Jitter}
	if m == nil || !shareable(spec.Schedule) {
		return &cs
	}
	if p := m[cs]; p != nil {
		return p
	}
	p := &cs
	m[cs] = p
	return p
}

// shareable reports whether s can be part of a map key: an Every, or a
// pointer (cron's own schedules are), compared by identity. Other types
// might hold what cannot be hashed.
func shareable(s cron.Schedule) bool {
	if _, ok := s.(Every); ok {
		return true
	}
	t := reflect.TypeOf(s)
	return t != nil && t.Kind() == reflect.Pointer
}
