package notify

import (
	"context"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// TestServersUp: a real server counts as up from its change to up until
// its next change, whatever the order of the events and however many
// repeat one state.
func TestServersUp(t *testing.T) {
	n := New(&config.Config{}, Options{Hostname: func() (string, error) { return "d", nil }})
	defer n.Close(context.Background())
	const svc = "tcp/192.0.2.1:80"
	steps := []struct {
		server string
		state  health.State
		want   int
	}{
		{"10.0.0.2:80", health.StateUp, 1},
		{"10.0.0.1:80", health.StateUp, 2},
		{"10.0.0.1:80", health.StateUp, 2},
		{"10.0.0.3:80", health.StateDown, 2},
		{"10.0.0.2:80", health.StateDown, 1},
		{"10.0.0.3:80", health.StateUp, 2},
		{"10.0.0.1:80", health.StateUnknown, 1},
		{"10.0.0.3:80", health.StateDown, 0},
	}
	for i, s := range steps {
		n.mu.Lock()
		n.setUpLocked(svc, s.server, s.state == health.StateUp)
		got := len(n.up[svc])
		n.mu.Unlock()
		if got != s.want {
			t.Fatalf("step %d (%s %s): %d up, want %d", i, s.server, s.state, got, s.want)
		}
	}
}
