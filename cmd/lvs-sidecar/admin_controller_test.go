package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// waitLog polls the sidecar's log until it matches re.
func waitLog(t *testing.T, s *sidecar, re *regexp.Regexp, within time.Duration) {
	t.Helper()
	testutil.Poll(t, within, 10*time.Millisecond, func() error {
		if logs := s.logs(); !re.MatchString(logs) {
			return fmt.Errorf("no log line matching %s:\n%s", re, logs)
		}
		return nil
	})
}

// TestControllerWithoutIPVS runs the binary with a configuration on this
// machine, whose kernel has no IPVS: the controller starts, says why it
// cannot act and what to do, the sidecar keeps serving, a maintenance
// change makes the controller pass at once (not at its period), and
// SIGTERM stops it leaving the table alone. The real kernel's side is the
// lab's job.
func TestControllerWithoutIPVS(t *testing.T) {
	if haveKernelIPVS() {
		t.Skip("this kernel has IPVS loaded; the controller is proven against it in the lab VM")
	}
	rs := newListener(t, "127.0.0.1:0")
	dir := t.TempDir()
	// An hour's period: every pass the test sees has a trigger.
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs.addr)+"controller:\n  period: 1h\n")
	web := writeFile(t, dir, "web.yml", basicAuthConfig(t, "admin", "s3cret"))
	s := start(t, "--config.file="+cfg, "--web.config.file="+web, "--web.enable-admin-api", "--web.admin-user=admin")
	auth := []string{"admin", "s3cret"}

	waitLog(t, s, regexp.MustCompile(`msg="controller started: it drains, removes, restores and re-weights the declared real servers and restores hand-made changes" mode=managed mode_from="controller.mode in --config.file" period=1h0m0s`), 5*time.Second)
	waitLog(t, s, regexp.MustCompile(`level=ERROR .*msg="controller cannot read the IPVS table; nothing changes until it can" err=".*modprobe ip_vs`), 5*time.Second)
	waitMetric(t, s, auth, `ipvs_controller_mode{mode="managed"}`, 1, 5*time.Second)

	// Run's first pass, then the one the first verdict triggers: exactly
	// two, since the period is an hour.
	waitMetric(t, s, auth, stateSeries(rs.addr, "up"), 1, 5*time.Second)
	waitMetric(t, s, auth, "ipvs_controller_reconciles_total", 2, 5*time.Second)

	m := &maintenanceSetup{s: s}
	for i, enabled := range []string{"true", "false"} {
		code, _, text := apiCall(t, http.MethodPost, m.url(), "admin", "s3cret",
			`{"service": "web", "server": "`+rs.addr+`", "enabled": `+enabled+`}`)
		if code != http.StatusOK {
			t.Fatalf("enabled %s: %d %s", enabled, code, text)
		}
		waitMetric(t, s, auth, "ipvs_controller_reconciles_total", float64(3+i), 5*time.Second)
	}

	// Still serving, and still unable to read: each distinct error is
	// logged once, not once per pass.
	if code, _ := get(t, http.DefaultClient, "http://"+s.addr+"/-/healthy", "admin", "s3cret"); code != http.StatusOK {
		t.Errorf("/-/healthy: %d", code)
	}
	if n := strings.Count(s.logs(), "controller cannot read the IPVS table"); n != 1 {
		t.Errorf("the controller logged its read error %d times over 4 passes, want once", n)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if !strings.Contains(s.logs(), `msg="controller stopped; the IPVS table is left as it is (nothing is restored or removed on exit)"`) {
		t.Errorf("the log does not say the controller stopped and left the table:\n%s", s.logs())
	}
}

// TestControllerModeFlag: --controller.mode overrides the file's mode, at
// start and after a reload; a bad value exits 2 naming the flag.
func TestControllerModeFlag(t *testing.T) {
	rs := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, t.TempDir(), "lvs.yml", healthConfig(rs.addr)+"controller:\n  mode: observe\n")

	s := start(t, "--config.file="+cfg)
	waitMetric(t, s, nil, `ipvs_controller_mode{mode="observe"}`, 1, 5*time.Second)
	if !strings.Contains(s.logs(), `mode=observe mode_from="controller.mode in --config.file"`) {
		t.Errorf("the start log does not give the file's mode:\n%s", s.logs())
	}

	s = start(t, "--config.file="+cfg, "--controller.mode=dry_run")
	waitMetric(t, s, nil, `ipvs_controller_mode{mode="dry_run"}`, 1, 5*time.Second)
	if !strings.Contains(s.logs(), `msg="controller started: it computes, logs and exports the weights it wants and writes nothing" mode=dry_run mode_from=--controller.mode`) {
		t.Errorf("the start log does not give the flag's mode:\n%s", s.logs())
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload passes the file's observe; the flag must still win.
	waitLog(t, s, regexp.MustCompile(`msg="reloaded configuration"`), 5*time.Second)
	waitMetric(t, s, nil, `ipvs_controller_mode{mode="dry_run"}`, 1, 5*time.Second)
	_, body := get(t, http.DefaultClient, "http://"+s.addr+"/metrics", "", "")
	if v, ok := metric(body, `ipvs_controller_mode{mode="observe"}`); ok && v != 0 {
		t.Errorf("after the reload the mode is observe too (%v)", v)
	}

	code, out := runToExit(t, "--web.listen-address=127.0.0.1:0", "--config.file="+cfg, "--controller.mode=yolo")
	if code != 2 || !strings.Contains(out, `--controller.mode: "yolo" is not one of managed, observe, dry_run`) {
		t.Errorf("a bad --controller.mode: exit %d, output:\n%s", code, out)
	}
}
