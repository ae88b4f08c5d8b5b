//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestHealthClockStep steps the VM's wall clock with date -s, forwards and
// back by 3 s, under a running lvs-sidecar whose real server has a cron
// check ("*/2 * * * * *") and an @every 2s check, and reads the cadence
// and the process's CPU time from its metrics: each check keeps one run
// every 2 s, and the sidecar stays idle (a scheduler that keeps due times
// on the wall clock spins on its timer after a step).
func TestHealthClockStep(t *testing.T) {
	requireLab(t)
	server := netip.AddrPortFrom(labRS(1), 80) // busybox httpd
	file := filepath.Join(t.TempDir(), "clock.yml")
	cfg := fmt.Sprintf(`services:
  - name: clock-e2e
    address: %s
    protocol: tcp
    scheduler: rr
    real_servers:
      - {address: %s, forward: nat}
    checks:
      - {type: tcp, schedule: "*/2 * * * * *", timeout: 500ms, rise: 1, fall: 3, jitter: 0s}
      - {type: tcp, schedule: "@every 2s", timeout: 500ms, rise: 1, fall: 3, jitter: 0s}
controller: {mode: dry_run}
`, netip.AddrPortFrom(netip.MustParseAddr(labEnv(t, "LAB_VIP")), healthOpenPort), server)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startSidecar(t, "--config.file="+file)
	src := sidecarVerdicts(d)
	checks := []string{"tcp:80", "tcp:80#2"}

	// sample reads the runs of each check and the process's CPU seconds.
	sample := func() (map[string]float64, float64) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fams, err := src(ctx)
		if err != nil {
			t.Fatalf("read the metrics: %v", err)
		}
		runs := map[string]float64{}
		for _, m := range fams["ipvs_real_server_health_checks_total"].GetMetric() {
			runs[label(m, "check")] += value(m)
		}
		var cpu float64
		for _, m := range fams["process_cpu_seconds_total"].GetMetric() {
			cpu = value(m)
		}
		return runs, cpu
	}
	stepped := time.Duration(0)
	step := func(d time.Duration) {
		t.Helper()
		to := time.Now().Add(d).UTC().Format("2006-01-02 15:04:05")
		if out, err := exec.Command("date", "-u", "-s", to).CombinedOutput(); err != nil {
			t.Fatalf("date -s %s: %v: %s", to, err, out)
		}
		stepped += d
	}
	t.Cleanup(func() {
		if stepped != 0 {
			step(-stepped)
		}
	})
	// window measures each check's runs and the CPU time over span.
	const span = 20 * time.Second
	window := func(what string) {
		t.Helper()
		runs0, cpu0 := sample()
		start := time.Now() // monotonic: the steps do not move it
		time.Sleep(span)
		runs1, cpu1 := sample()
		took := time.Since(start)
		for _, c := range checks {
			n := runs1[c] - runs0[c]
			// One run every 2 s, give or take the windows' edges and a
			// cron run the step moves by a second.
			lo, hi := took.Seconds()/2-2, took.Seconds()/2+2
			if n < lo || n > hi {
				t.Errorf("%s: check %s ran %v times in %v, want %.0f to %.0f (one every 2s)", what, c, n, took.Round(time.Millisecond), lo, hi)
			}
		}
		// Idle is a few percent of one CPU under TCG; a timer spinning
		// for the step's 3 s of every 4 s is most of it.
		if cpu := cpu1 - cpu0; cpu > 0.25*took.Seconds() {
			t.Errorf("%s: the sidecar used %.2fs of CPU in %v, want it idle", what, cpu, took.Round(time.Millisecond))
		}
		t.Logf("%s: runs %v -> %v, CPU %.2fs in %v", what, runs0, runs1, cpu1-cpu0, took.Round(time.Millisecond))
	}

	poll(t, 15*time.Second, func() error {
		runs, _ := sample()
		for _, c := range checks {
			if runs[c] < 2 {
				return fmt.Errorf("check %s has run %v times", c, runs[c])
			}
		}
		return nil
	})
	window("before any step")
	step(3 * time.Second)
	window("after +3s")
	step(-3 * time.Second)
	window("after -3s")
	if v := readVerdictsOf(t, src)[server.String()]; v == nil || !v.up {
		t.Errorf("the real server is not up after the steps: %s", describeVerdict(v))
	}
}

// readVerdictsOf reads the verdicts of src once.
func readVerdictsOf(t *testing.T, src verdictSource) map[string]*serverVerdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fams, err := src(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := readVerdicts(fams)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}
