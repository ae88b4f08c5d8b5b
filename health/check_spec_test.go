package health

import (
	"testing"
	"time"
)

// constSchedule is a schedule type that is neither Every nor a pointer.
type constSchedule struct{ every []time.Duration }

func (c constSchedule) Next(t time.Time) time.Time { return t.Add(c.every[0]) }

// TestSharedSpecs: specs alike but for their Checker share one
// checkSpec, with the defaults applied; any other difference, or a
// schedule that cannot be a map key, gets its own.
func TestSharedSpecs(t *testing.T) {
	m := make(sharedSpecsOf)
	spec := func(name string, sched any) *CheckSpec {
		s := &CheckSpec{Name: name, Checker: namedChecker("tcp 10.0.0.1:80"), Schedule: Every{2 * time.Second}, Timeout: time.Second}
		if c, ok := sched.(constSchedule); ok {
			s.Schedule = c
		}
		return s
	}
	a := m.share(spec("tcp:80", nil), "tcp")
	if b := m.share(spec("tcp:80", nil), "tcp"); b != a {
		t.Errorf("alike specs: two checkSpecs")
	}
	if a.Rise != DefaultRise || a.Fall != DefaultFall || a.Name != "tcp:80" || a.Type != "tcp" {
		t.Errorf("checkSpec %+v: want the defaults applied", *a)
	}
	if b := m.share(spec("tcp:81", nil), "tcp"); b == a {
		t.Errorf("specs of two names: one checkSpec")
	}
	other := spec("tcp:80", nil)
	other.Jitter = time.Millisecond
	if b := m.share(other, "tcp"); b == a {
		t.Errorf("specs of two jitters: one checkSpec")
	}
	c := constSchedule{every: []time.Duration{time.Second}}
	if x, y := m.share(spec("x", c), "tcp"), m.share(spec("x", c), "tcp"); x == y {
		t.Errorf("a schedule that cannot be a map key: shared")
	}
	if b := (sharedSpecsOf)(nil).share(spec("tcp:80", nil), "tcp"); b == a || *b != *a {
		t.Errorf("without a map: %p %+v, want a copy of %+v", b, *b, *a)
	}
}
