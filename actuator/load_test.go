package actuator

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// fakeLoad is a LoadSource whose samples the test sets; each set is one
// new good answer (or a stale load).
type fakeLoad struct {
	mu      sync.Mutex
	samples map[destKey]fakeSample
}

type fakeSample struct {
	value float64
	seq   uint64
	fresh bool
}

func newFakeLoad() *fakeLoad { return &fakeLoad{samples: make(map[destKey]fakeSample)} }

// answer records a new good answer of value.
func (f *fakeLoad) answer(service, server string, value float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.samples[destKey{service, server}]
	s.value, s.fresh = value, true
	s.seq++
	f.samples[destKey{service, server}] = s
}

func (f *fakeLoad) stale(service, server string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.samples[destKey{service, server}]
	s.fresh = false
	f.samples[destKey{service, server}] = s
}

func (f *fakeLoad) Load(service, server string) (float64, uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.samples[destKey{service, server}]
	return s.value, s.seq, s.fresh
}

// loadRig is web with rs1 (weight 100) and rs2 (weight 100), both with a
// load block: start 2, full 6, floor 20%, max_step 10%, hysteresis 0.5;
// extra goes into the service.
func loadRig(t *testing.T, extra string) *rig {
	t.Helper()
	cfg := parseConfig(t, `
defaults:
  load: {community: c, interval: 1s, timeout: 500ms, start: 2, full: 6, floor: 20%, max_step: 10%, hysteresis: 0.5}
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
`+indent(extra, "    ")+`
    real_servers:
      - {address: `+rs1+`, weight: 100, forward: nat}
      - {address: `+rs2+`, weight: 100, forward: nat}
controller: {period: 30s}
`)
	r := &rig{t: t, table: newFakeTable(), v: newFakeVerdicts(), clock: health.NewFakeClock(epoch), logs: &syncBuffer{}, load: newFakeLoad()}
	m, err := LoadMaintenance(t.TempDir() + "/state.json")
	if err != nil {
		t.Fatal(err)
	}
	r.admin = &fakeAdmin{m}
	r.c = r.newController(cfg)
	r.v.set(web, rs1, health.StateUp)
	r.v.set(web, rs2, health.StateUp)
	r.pass()
	return r
}

// weights answers load for rs1 n times, a pass after each, and returns
// the kernel's weights of rs1 after each pass.
func (r *rig) loadSteps(load float64, n int) []int32 {
	var out []int32
	for range n {
		r.load.answer(web, rs1, load)
		r.pass()
		out = append(out, r.table.weight(webKey, rs1))
	}
	return out
}

func sameWeights(a []int32, b ...int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLoadWeightSteps: a busy server's weight falls to declared × f(load)
// by at most max_step per answer, noise within the hysteresis moves
// nothing, and it climbs back the same way; the reason is load while it
// is lowered, and the metrics show the factor and the effective weight.
func TestLoadWeightSteps(t *testing.T) {
	r := loadRig(t, "")
	if w := r.table.weight(webKey, rs1); w != 100 {
		t.Fatalf("without a load answer: weight %d, want the declared 100", w)
	}
	// Load 4 is halfway from start 2 to full 6: factor 0.6, weight 60,
	// reached in steps of 10.
	if got := r.loadSteps(4, 5); !sameWeights(got, 90, 80, 70, 60, 60) {
		t.Errorf("falling weights %v, want 90 80 70 60 60", got)
	}
	st := r.rsStatus(web, rs1)
	if st.ReasonCode != ReasonLoad || st.DesiredWeight != 60 || st.Load == nil || st.Load.Weight != 60 {
		t.Errorf("status %+v, load %+v", st, st.Load)
	}
	scrape := exposition(t, r.c)
	for _, line := range []string{
		`ipvs_real_server_load_factor{server="10.0.0.1:80",service="tcp/192.0.2.10:80"} 0.6`,
		`ipvs_real_server_effective_weight{server="10.0.0.1:80",service="tcp/192.0.2.10:80"} 60`,
		`ipvs_real_server_desired_weight{reason="load",server="10.0.0.1:80",service="tcp/192.0.2.10:80"} 60`,
		`ipvs_real_server_effective_weight{server="10.0.0.2:80",service="tcp/192.0.2.10:80"} 100`,
	} {
		if !strings.Contains(scrape, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ipvs_real_server_load_factor", "ipvs_real_server_effective_weight"} {
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("%s is not in the README's metrics tables", name)
		}
	}
	// Noise: 4.4 is within the hysteresis of 4.
	if got := r.loadSteps(4.4, 3); !sameWeights(got, 60, 60, 60) {
		t.Errorf("noise moved the weight: %v", got)
	}
	// Back to idle: up again in steps.
	if got := r.loadSteps(1, 5); !sameWeights(got, 70, 80, 90, 100, 100) {
		t.Errorf("rising weights %v, want 70 80 90 100 100", got)
	}
	if st := r.rsStatus(web, rs1); st.ReasonCode != ReasonUp {
		t.Errorf("reason %s at the declared weight, want up", st.ReasonCode)
	}
	// A pass without a new answer makes no step.
	r.load.answer(web, rs1, 6)
	r.pass()
	r.pass()
	if w := r.table.weight(webKey, rs1); w != 90 {
		t.Errorf("two passes for one answer: weight %d, want 90", w)
	}
	if n := r.logs.count("level=INFO", "load: real server weight changed"); n != 2 {
		t.Errorf("%d info lines for the two moves that reached their target, want 2:\n%s", n, r.logs)
	}
}

// TestLoadWeightFloor: a saturated server ends at the floor, never 0;
// several answers between two passes still make one step, so no write
// changes the weight by more than max_step.
func TestLoadWeightFloor(t *testing.T) {
	r := loadRig(t, "")
	got := r.loadSteps(50, 10)
	if last := got[len(got)-1]; last != 20 {
		t.Errorf("weights %v end at %d, want the floor 20", got, last)
	}
	for _, w := range got {
		if w < 20 {
			t.Fatalf("weight %d below the floor: %v", w, got)
		}
	}
	// Three answers between two passes: one step.
	r.loadSteps(1, 1)
	r.load.answer(web, rs1, 1)
	r.load.answer(web, rs1, 1)
	r.load.answer(web, rs1, 1)
	r.pass()
	if w := r.table.weight(webKey, rs1); w != 40 {
		t.Errorf("after three answers from 30: weight %d, want one step to 40", w)
	}
}

// TestLoadStaleGivesDeclared: a stale load gives the declared weight back
// at once, and a fresh one starts again from there.
func TestLoadStaleGivesDeclared(t *testing.T) {
	r := loadRig(t, "")
	r.loadSteps(6, 8)
	if w := r.table.weight(webKey, rs1); w != 20 {
		t.Fatalf("weight %d, want 20", w)
	}
	r.load.stale(web, rs1)
	r.pass()
	if w := r.table.weight(webKey, rs1); w != 100 {
		t.Errorf("stale load: weight %d, want the declared 100", w)
	}
	st := r.rsStatus(web, rs1)
	if st.ReasonCode != ReasonUp || st.Load == nil || st.Load.Fresh || st.Load.Factor != 1 {
		t.Errorf("stale: reason %s load %+v", st.ReasonCode, st.Load)
	}
	if got := r.loadSteps(6, 1); !sameWeights(got, 90) {
		t.Errorf("fresh again: %v, want a step from the declared weight", got)
	}
}

// TestLoadPrecedence: a down server is drained whatever its load,
// maintenance wins, panic and fail open use the declared weights, and
// slow start ramps towards the effective weight.
func TestLoadPrecedence(t *testing.T) {
	t.Run("down drains", func(t *testing.T) {
		r := loadRig(t, "")
		r.loadSteps(4, 4)
		r.v.set(web, rs1, health.StateDown)
		r.pass()
		if w := r.table.weight(webKey, rs1); w != 0 {
			t.Errorf("down: weight %d, want 0", w)
		}
		if st := r.rsStatus(web, rs1); st.ReasonCode != ReasonDrain {
			t.Errorf("reason %s", st.ReasonCode)
		}
	})
	t.Run("maintenance", func(t *testing.T) {
		r := loadRig(t, "")
		r.loadSteps(4, 4)
		if _, _, err := r.admin.Apply(MaintenanceChange{Service: web, Server: rs1, Enabled: true}); err != nil {
			t.Fatal(err)
		}
		r.pass()
		if w := r.table.weight(webKey, rs1); w != 0 {
			t.Errorf("maintenance: weight %d, want 0", w)
		}
	})
	t.Run("panic uses declared", func(t *testing.T) {
		r := loadRig(t, "panic_threshold: 60%")
		r.loadSteps(4, 4)
		r.v.set(web, rs2, health.StateDown)
		r.pass()
		if w := r.table.weight(webKey, rs1); w != 100 {
			t.Errorf("panic: weight %d, want the declared 100", w)
		}
		if st := r.rsStatus(web, rs1); st.ReasonCode != ReasonPanic {
			t.Errorf("reason %s, want panic", st.ReasonCode)
		}
	})
	t.Run("fail open", func(t *testing.T) {
		r := loadRig(t, "")
		r.load.answer(web, rs2, 6)
		r.pass()
		r.v.set(web, rs1, health.StateDown)
		r.v.set(web, rs2, health.StateDown)
		r.pass()
		if w := r.table.weight(webKey, rs2); w != 100 {
			t.Errorf("fail open: weight %d, want the declared 100", w)
		}
	})
	t.Run("slow start ramps to the effective weight", func(t *testing.T) {
		r := loadRig(t, "slow_start: 10s")
		r.loadSteps(4, 4) // effective 60
		r.v.set(web, rs1, health.StateDown)
		r.pass()
		r.v.set(web, rs1, health.StateUp)
		var ramp []int32
		for start := r.clock.Now(); r.clock.Now().Sub(start) < 12*time.Second; {
			next := r.c.pass(context.Background())
			ramp = append(ramp, r.table.weight(webKey, rs1))
			r.clock.Advance(min(next, time.Second))
		}
		for i, w := range ramp {
			if w > 60 {
				t.Fatalf("ramp %v goes above the effective weight 60", ramp)
			}
			if i > 0 && w < ramp[i-1] {
				t.Fatalf("ramp %v falls", ramp)
			}
		}
		if ramp[0] >= 60 || ramp[len(ramp)-1] != 60 {
			t.Errorf("ramp %v: want from below 60 up to 60", ramp)
		}
		if st := r.rsStatus(web, rs1); st.ReasonCode != ReasonLoad {
			t.Errorf("after the ramp: reason %s, want load", st.ReasonCode)
		}
	})
}

// TestLoadNextPass: while a weight moves, the next pass is due within the
// poll interval, not the 30s period.
func TestLoadNextPass(t *testing.T) {
	r := loadRig(t, "")
	r.load.answer(web, rs1, 6)
	if next := r.c.pass(context.Background()); next > time.Second {
		t.Errorf("next pass in %s while the weight moves, want at most the 1s interval", next)
	}
	r.loadSteps(6, 10)
	if next := r.c.pass(context.Background()); next != 30*time.Second {
		t.Errorf("next pass in %s at the target, want the period", next)
	}
}

// TestLoadReloadDeclared: a reload that lowers the declared weight keeps
// the effective weight at most the new declared one at once, then steps
// with the new step size to declared × factor.
func TestLoadReloadDeclared(t *testing.T) {
	r := loadRig(t, "")
	r.loadSteps(4, 4) // 60 of 100
	cfg := parseConfig(t, `
defaults:
  load: {community: c, interval: 1s, timeout: 500ms, start: 2, full: 6, floor: 20%, max_step: 20%, hysteresis: 0.5}
services:
  - name: web
    address: `+webVIP+`
    scheduler: wrr
    real_servers:
      - {address: `+rs1+`, weight: 50, forward: nat}
      - {address: `+rs2+`, weight: 100, forward: nat}
controller: {period: 30s}
`)
	r.c.Update(cfg)
	r.pass()
	if w := r.table.weight(webKey, rs1); w != 50 {
		t.Errorf("after the reload to 50: weight %d, want 50 at once", w)
	}
	if got := r.loadSteps(4, 3); !sameWeights(got, 40, 30, 30) {
		t.Errorf("weights %v after the reload, want 40 30 30 (factor 0.6 of 50, steps of 10)", got)
	}
}
