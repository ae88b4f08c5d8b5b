package health

import (
	"encoding/json"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

func localErr(reason string) Result {
	return Result{Class: ClassLocalError, Latency: time.Microsecond, Reason: reason}
}

// TestSchedulerLocalErrorFreezes: a local error counts neither as a pass
// nor as a failure. An up server whose checks cannot run stays up through
// any number of them, its rise/fall counters untouched, and is frozen
// (Status, LocalErrors, metrics) until a check runs again; the episode is
// logged once when it starts and once when it ends, whatever the number
// of checks and runs in it.
func TestSchedulerLocalErrorFreezes(t *testing.T) {
	var buf testutil.SyncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, SchedulerOptions{Logger: logger})
	const emfile = "socket: too many open files (EMFILE)"
	// Up after two passes, then one failure, then local errors, then
	// failures: the failure before the local errors and the two after
	// make three in a row, the fall.
	tcp := h.checker("tcp 10.0.0.1:80", []Result{
		pass(time.Millisecond), pass(time.Millisecond), fail(time.Millisecond),
		localErr(emfile), localErr(emfile), localErr(emfile), localErr(emfile), localErr(emfile),
		fail(time.Millisecond), fail(time.Millisecond),
	})
	http := h.checker("http GET http://10.0.0.1:80/", []Result{
		pass(time.Millisecond), pass(time.Millisecond), pass(time.Millisecond),
		localErr(emfile), localErr(emfile), localErr(emfile), localErr(emfile), localErr(emfile),
		pass(time.Millisecond),
	})
	tcpSpec, httpSpec := every(tcp, time.Second, 500*time.Millisecond), every(http, time.Second, 500*time.Millisecond)
	tcpSpec.Name, httpSpec.Name = "tcp:80", "http:80/"
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{tcpSpec, httpSpec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(3 * time.Second) // P P F, P P P: up
	if st := h.status(svc, rs1); st.State != StateUp || st.LocalError != "" || h.s.LocalErrors() != 0 {
		t.Fatalf("after three runs: %s, local error %q, LocalErrors %d; want up, none, 0", st.State, st.LocalError, h.s.LocalErrors())
	}
	h.advance(5 * time.Second) // five local errors each
	st := h.status(svc, rs1)
	if st.State != StateUp {
		t.Errorf("after local errors: %s, want still up", st.State)
	}
	if want := "tcp:80: " + emfile; st.LocalError != want && st.LocalError != "http:80/: "+emfile {
		t.Errorf("LocalError = %q, want %q (or the http check's)", st.LocalError, want)
	}
	if st.LocalErrorSince.IsZero() || st.LocalErrorSince.After(h.clock.Now()) {
		t.Errorf("LocalErrorSince = %v, want the episode's start", st.LocalErrorSince)
	}
	for _, c := range st.Checks {
		if c.Last.Class != ClassLocalError {
			t.Errorf("check %s: last result %s, want local_error", c.Name, c.Last.Class)
		}
	}
	// The counters are where the local errors found them.
	if c := st.Checks[0]; c.State != StateUp || c.Fails != 1 || c.Passes != 0 {
		t.Errorf("tcp check frozen at %s, %d passes, %d fails; want up, 0, 1", c.State, c.Passes, c.Fails)
	}
	if got := h.s.LocalErrors(); got != 1 {
		t.Errorf("LocalErrors = %d, want 1 (one server, two checks)", got)
	}
	if got := metricValue(t, h.s, "ipvs_health_local_error_real_servers", nil).GetGauge().GetValue(); got != 1 {
		t.Errorf("ipvs_health_local_error_real_servers = %v, want 1", got)
	}
	if got := metricValue(t, h.s, "ipvs_real_server_health_checks_total",
		map[string]string{"check": "tcp:80", "result": "local_error"}).GetCounter().GetValue(); got != 5 {
		t.Errorf("checks_total{result=local_error} = %v, want 5", got)
	}
	if got := metricValue(t, h.s, "ipvs_real_server_health_state", map[string]string{"state": "up"}).GetGauge().GetValue(); got != 1 {
		t.Errorf("ipvs_real_server_health_state{state=\"up\"} = %v while frozen, want 1", got)
	}

	h.advance(time.Second) // tcp fails (its second in a row), http passes
	if st := h.status(svc, rs1); st.LocalError != "" || !st.LocalErrorSince.IsZero() || h.s.LocalErrors() != 0 {
		t.Errorf("after the checks ran again: local error %q since %v, LocalErrors %d; want none", st.LocalError, st.LocalErrorSince, h.s.LocalErrors())
	}
	if st := h.status(svc, rs1); st.State != StateUp {
		t.Errorf("after the first failure since: %s, want still up (two failures in a row)", st.State)
	}
	h.advance(time.Second) // the third failure in a row
	if st := h.status(svc, rs1); st.State != StateDown {
		t.Errorf("after the third failure in a row: %s, want down", st.State)
	}

	var frozen, unfrozen int
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		switch {
		case strings.Contains(m["msg"].(string), "verdict is frozen"):
			frozen++
			if m["level"] != "WARN" || m["server"] != rs1 || m["reason"] != emfile || m["state"] != "up" {
				t.Errorf("frozen line %v, want WARN with server, reason and state", m)
			}
		case strings.Contains(m["msg"].(string), "no longer frozen"):
			unfrozen++
			if m["level"] != "INFO" || m["frozen_for"] == nil {
				t.Errorf("unfrozen line %v, want INFO with frozen_for", m)
			}
		}
	}
	if frozen != 1 || unfrozen != 1 {
		t.Errorf("%d frozen and %d unfrozen lines for one episode of 10 local errors, want 1 each:\n%s", frozen, unfrozen, buf.String())
	}
}

// TestSchedulerLocalErrorRemoved: removing a frozen check or server ends
// its episode in the count.
func TestSchedulerLocalErrorRemoved(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	a := h.checker("tcp 10.0.0.1:80", []Result{localErr("no route")})
	b := h.checker("tcp 10.0.0.2:80", []Result{localErr("no route")})
	c := h.checker("icmp 10.0.0.2", nil)
	targets := []Target{
		{Service: svc, Server: rs1, Checks: []CheckSpec{every(a, time.Second, 500*time.Millisecond)}},
		{Service: svc, Server: "10.0.0.2:80", Checks: []CheckSpec{every(b, time.Second, 500*time.Millisecond), every(c, time.Second, 500*time.Millisecond)}},
	}
	if err := h.s.Update(targets); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(2 * time.Second)
	if got := h.s.LocalErrors(); got != 2 {
		t.Fatalf("LocalErrors = %d, want 2", got)
	}
	targets = []Target{{Service: svc, Server: "10.0.0.2:80", Checks: []CheckSpec{every(c, time.Second, 500*time.Millisecond)}}}
	if err := h.s.Update(targets); err != nil {
		t.Fatal(err)
	}
	if got := h.s.LocalErrors(); got != 0 {
		t.Errorf("LocalErrors = %d after removing the frozen server and check, want 0", got)
	}
	if st := h.status(svc, "10.0.0.2:80"); st.LocalError != "" {
		t.Errorf("LocalError = %q after removing the check in local error, want none", st.LocalError)
	}
}

// TestSchedulerVerdicts: Verdicts is Status without the checks, in the
// same order (by service, then server, whatever the targets' order), the
// local error and its start included.
func TestSchedulerVerdicts(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	const svc2 = "tcp/192.0.2.0:443"
	up := h.checker("tcp 10.0.0.2:80", []Result{pass(time.Millisecond)})
	down := h.checker("tcp 10.0.0.1:80", []Result{fail(time.Millisecond)})
	local := h.checker("tcp 10.0.0.1:443", []Result{pass(time.Millisecond), localErr("socket: too many open files (EMFILE)")})
	spec := func(c Checker, name string) []CheckSpec {
		s := every(c, time.Second, 500*time.Millisecond)
		s.Name = name
		return []CheckSpec{s}
	}
	if err := h.s.Update([]Target{
		{Service: svc, Server: rs2, Checks: spec(up, "tcp:80")},
		{Service: svc2, Server: rs1, Checks: spec(local, "tcp:443")},
		{Service: svc, Server: rs1, Checks: spec(down, "tcp:80")},
	}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(3 * time.Second)
	status, verdicts := h.s.Status(), h.s.Verdicts()
	if len(verdicts) != len(status) || len(status) != 3 {
		t.Fatalf("%d verdicts, %d statuses, want 3 each", len(verdicts), len(status))
	}
	states := map[State]bool{}
	for i := range status {
		want := status[i]
		if len(want.Checks) == 0 {
			t.Errorf("%s %s: Status has no checks", want.Service, want.Server)
		}
		want.Checks = nil
		if !reflect.DeepEqual(verdicts[i], want) {
			t.Errorf("verdict %d = %+v, want %+v", i, verdicts[i], want)
		}
		states[want.State] = true
	}
	if got := []string{verdicts[0].Service + " " + verdicts[0].Server, verdicts[1].Service + " " + verdicts[1].Server, verdicts[2].Service + " " + verdicts[2].Server}; !slices.Equal(got,
		[]string{svc2 + " " + rs1, svc + " " + rs1, svc + " " + rs2}) {
		t.Errorf("order %v, want by service, then server", got)
	}
	if !states[StateUp] || !states[StateDown] {
		t.Errorf("states %v: the test wants an up and a down server", states)
	}
	if verdicts[0].LocalError == "" || verdicts[0].LocalErrorSince.IsZero() {
		t.Errorf("%s %s: local error %q since %v, want one", svc2, rs1, verdicts[0].LocalError, verdicts[0].LocalErrorSince)
	}
}
