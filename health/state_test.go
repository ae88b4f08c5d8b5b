package health

import (
	"strings"
	"testing"
)

// results spells a sequence of check results: P a pass, F a failure.
func results(s string) []bool {
	out := make([]bool, 0, len(s))
	for _, r := range s {
		out = append(out, r == 'P')
	}
	return out
}

// states spells a sequence of states: U unknown, u up, d down.
func states(s string) []State {
	out := make([]State, 0, len(s))
	for _, r := range s {
		switch r {
		case 'U':
			out = append(out, StateUnknown)
		case 'u':
			out = append(out, StateUp)
		case 'd':
			out = append(out, StateDown)
		}
	}
	return out
}

func stateString(ss []State) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteByte(map[State]byte{StateUnknown: 'U', StateUp: 'u', StateDown: 'd'}[s])
	}
	return b.String()
}

func TestVerdictObserve(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		results    string
		want       string // the state after each result
		changes    int
	}{
		{"startup: unknown until rise passes", 2, 3, "PP", "Uu", 1},
		{"startup: unknown until fall failures", 2, 3, "FFF", "UUd", 1},
		{"startup: rise 1 is up at once", 1, 1, "P", "u", 1},
		{"startup: fall 1 is down at once", 1, 1, "F", "d", 1},
		{"startup: a failure restarts the rise count", 3, 3, "PPFPPP", "UUUUUu", 1},
		{"rise then fall", 2, 3, "PPFFF", "Uuuud", 2},
		{"fall then rise", 2, 3, "FFFPP", "UUddu", 2},
		{"up survives fall-1 failures", 2, 3, "PPFFPFF", "Uuuuuuu", 1},
		{"down survives rise-1 passes", 3, 2, "FFPPFPP", "Udddddd", 1},
		{"flapping never decides, rise=fall=2", 2, 2, "PFPFPFPFPF", "UUUUUUUUUU", 0},
		{"flapping keeps up, rise=fall=2", 2, 2, "PPFPFPFPF", "Uuuuuuuuu", 1},
		{"flapping keeps down, rise=fall=2", 2, 2, "FFPFPFPFP", "Udddddddd", 1},
		{"long run of passes changes once", 2, 2, "PPPPPPPP", "Uuuuuuuu", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v verdict
			var got []State
			changes := 0
			for _, pass := range results(tt.results) {
				if v.observe(pass, tt.rise, tt.fall) {
					changes++
				}
				got = append(got, v.state)
			}
			want := stateString(states(tt.want))
			if stateString(got) != want {
				t.Errorf("states %s, want %s", stateString(got), want)
			}
			if changes != tt.changes {
				t.Errorf("%d changes, want %d", changes, tt.changes)
			}
		})
	}
}

func TestVerdictMode(t *testing.T) {
	tests := []struct {
		name    string
		results string
		want    checkMode
	}{
		{"no result yet", "", modeNormal},
		{"a result before the first verdict", "P", modeFast},
		{"a failure before the first verdict", "F", modeFast},
		{"up and stable", "PP", modeNormal},
		{"a failure while up", "PPF", modeFast},
		{"a pass after a failure while up", "PPFP", modeNormal},
		{"down and stable", "FFF", modeDown},
		{"a pass while down", "FFFP", modeFast},
		{"a failure after a pass while down", "FFFPF", modeDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v verdict
			for _, pass := range results(tt.results) {
				v.observe(pass, 2, 3)
			}
			if got := v.mode(); got != tt.want {
				t.Errorf("mode %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCombineStates(t *testing.T) {
	tests := []struct {
		name   string
		mode   Combine
		checks string
		prev   State
		want   State
	}{
		{"all: every check up", CombineAll, "uu", StateUnknown, StateUp},
		{"all: one down", CombineAll, "ud", StateUp, StateDown},
		{"all: one down, one unknown", CombineAll, "dU", StateUnknown, StateDown},
		{"all: one up, one unknown at start", CombineAll, "uU", StateUnknown, StateUnknown},
		{"all: a new check does not unsettle an up server", CombineAll, "uU", StateUp, StateUp},
		{"all: a new check does not unsettle a down server", CombineAll, "uU", StateDown, StateDown},
		{"any: one up", CombineAny, "du", StateDown, StateUp},
		{"any: every check down", CombineAny, "dd", StateUp, StateDown},
		{"any: down and unknown at start", CombineAny, "dU", StateUnknown, StateUnknown},
		{"any: down and unknown keeps up", CombineAny, "dU", StateUp, StateUp},
		{"single check up", CombineAll, "u", StateDown, StateUp},
		{"single check unknown", CombineAll, "U", StateUnknown, StateUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := combineStates(tt.mode, states(tt.checks), tt.prev); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateUnknown: "unknown", StateUp: "up", StateDown: "down", 7: "state(7)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", s, got, want)
		}
	}
}
