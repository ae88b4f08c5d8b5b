package actuator

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// TestRunner: the overriding mode holds at start and after an Update that
// brings the file's own; Start says what the mode does and where it comes
// from; Stop gives up at its deadline while Run still runs, and once Run
// has returned closes the writer, once.
func TestRunner(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     *config.ControllerMode
		want     config.ControllerMode
		logParts []string
	}{
		{"file's mode", nil, config.ControllerManaged, []string{"controller started: it drains, removes, restores", "mode=managed", `mode_from="from the file"`}},
		{"flag's mode", new(config.ControllerDryRun), config.ControllerDryRun, []string{"controller started: it computes, logs and exports the weights it wants and writes nothing", "mode=dry_run", "mode_from=--the-flag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			var closed atomic.Int32
			table := newFakeTable(webTable())
			r, err := NewRunner(webConfig(t, "", ""), RunnerOptions{
				Options: Options{Reader: table, Writer: table, Verdicts: newFakeVerdicts(), Logger: slog.New(slog.NewTextHandler(logs, nil))},
				Mode:    tc.mode, ModeFrom: "--the-flag", ConfigModeFrom: "from the file",
				Close: func() error { closed.Add(1); return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Controller().Status().Mode; got != tc.want {
				t.Errorf("mode at start %s, want %s", got, tc.want)
			}
			ctx, cancel := context.WithCancel(context.Background())
			r.Start(ctx)
			if logs.count(tc.logParts...) != 1 {
				t.Errorf("no start line with %q in:\n%s", tc.logParts, logs)
			}
			r.Update(webConfig(t, "", "controller: {mode: managed}"))
			if got := r.Controller().Status().Mode; got != tc.want {
				t.Errorf("mode after the reload %s, want %s", got, tc.want)
			}

			short, done := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer done()
			if err := r.Stop(short); !errors.Is(err, context.DeadlineExceeded) || closed.Load() != 0 {
				t.Errorf("Stop while Run runs: %v, closed %d times", err, closed.Load())
			}
			cancel()
			long, done2 := context.WithTimeout(context.Background(), 10*time.Second)
			defer done2()
			if err := r.Stop(long); err != nil || closed.Load() != 1 {
				t.Errorf("Stop after Run: %v, closed %d times, want once", err, closed.Load())
			}
			if !strings.Contains(logs.String(), "controller stopped; the IPVS table is left as it is") {
				t.Errorf("no stop line in:\n%s", logs)
			}
		})
	}
}

// TestRunnerCloseError: Stop reports what closing the writer said.
func TestRunnerCloseError(t *testing.T) {
	table := newFakeTable(webTable())
	boom := errors.New("close failed")
	r, err := NewRunner(webConfig(t, "", ""), RunnerOptions{Options: Options{Reader: table, Writer: table, Verdicts: newFakeVerdicts()},
		Close: func() error { return boom }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.Start(ctx)
	cancel()
	stopCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	if err := r.Stop(stopCtx); !errors.Is(err, boom) {
		t.Errorf("Stop: %v, want %v", err, boom)
	}
}

// TestActionHooks: every hook hears every action, in order; nil hooks are
// skipped, and no hook at all is a nil OnAction.
func TestActionHooks(t *testing.T) {
	if ActionHooks() != nil || ActionHooks(nil, nil) != nil {
		t.Error("a hook without listeners")
	}
	var got []string
	hook := func(name string) func(Action) {
		return func(a Action) { got = append(got, name+" "+a.Server) }
	}
	ActionHooks(nil, hook("one"))(Action{Server: rs1})
	ActionHooks(hook("a"), nil, hook("b"))(Action{Server: rs2})
	want := []string{"one " + rs1, "a " + rs2, "b " + rs2}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %q, want %q", got, want)
	}
}
