package health

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// metricValue returns the one sample of s's family name whose labels
// include labels.
func metricValue(t *testing.T, s *Scheduler, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	for _, f := range gather(t, s) {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				found := false
				for _, p := range m.GetLabel() {
					if p.GetName() == k && p.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			return m
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

// gather returns s's families as /metrics has them: written by the text
// writer, parsed by expfmt.
func gather(t *testing.T, s *Scheduler) []*dto.MetricFamily {
	t.Helper()
	return testutil.ParseText(t, testutil.SourceText(t, s))
}

// compareText checks that the named families of s, in the text format,
// are exactly the lines of want (in any order).
func compareText(t *testing.T, s *Scheduler, want string, names ...string) {
	t.Helper()
	var b strings.Builder
	for _, f := range gather(t, s) {
		if slices.Contains(names, f.GetName()) {
			if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	lines := func(s string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			out = append(out, strings.TrimSpace(l))
		}
		slices.Sort(out)
		return out
	}
	got, exp := lines(b.String()), lines(want)
	for _, l := range exp {
		if !slices.Contains(got, l) {
			t.Errorf("missing: %s", l)
		}
	}
	for _, l := range got {
		if !slices.Contains(exp, l) {
			t.Errorf("unexpected: %s", l)
		}
	}
}

func countSeries(t *testing.T, s *Scheduler, name string) int {
	t.Helper()
	for _, f := range gather(t, s) {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

func TestMetricsExactValues(t *testing.T) {
	h := newHarness(t, SchedulerOptions{MaxInFlight: 8})
	web := h.checker("tcp 10.0.0.1:80", script("PPFFF"))
	page := h.checker("http GET http://10.0.0.1:80/", []Result{{Class: ClassOpen, Latency: 3 * time.Millisecond}})
	other := h.checker("tcp 10.0.0.2:80", []Result{{Class: ClassFiltered, Latency: 300 * time.Millisecond, Reason: "no answer"}})
	webSpec := every(web, time.Second, 500*time.Millisecond)
	webSpec.Name = "tcp:80"
	webSpec.Rise, webSpec.Fall = 2, 3
	pageSpec := every(page, time.Second, 500*time.Millisecond)
	pageSpec.Name = "http:80/"
	pageSpec.Rise = 1
	otherSpec := every(other, time.Second, 500*time.Millisecond)
	otherSpec.Name = "tcp:80"
	otherSpec.Fall = 1
	if err := h.s.Update([]Target{
		{Service: svc, Server: rs1, Checks: []CheckSpec{webSpec, pageSpec}},
		{Service: svc, Server: rs2, Checks: []CheckSpec{otherSpec}},
	}); err != nil {
		t.Fatal(err)
	}

	// Before Start: every series that exists without a result.
	const before = `
# HELP ipvs_health_checks Checks the health checker runs, over all real servers.
# TYPE ipvs_health_checks gauge
ipvs_health_checks 3
# HELP ipvs_health_real_servers Real servers the health checker watches.
# TYPE ipvs_health_real_servers gauge
ipvs_health_real_servers 2
# HELP ipvs_health_max_checks_in_flight How many checks may run at once; due checks wait for a free slot.
# TYPE ipvs_health_max_checks_in_flight gauge
ipvs_health_max_checks_in_flight 8
# HELP ipvs_real_server_health_state The real server's health state (unknown, up or down): one series per real server, 1, labelled with the current state; a change of state replaces the series.
# TYPE ipvs_real_server_health_state gauge
ipvs_real_server_health_state{server="10.0.0.1:80",service="tcp/192.0.2.1:80",state="unknown"} 1
ipvs_real_server_health_state{server="10.0.0.2:80",service="tcp/192.0.2.1:80",state="unknown"} 1
`
	compareText(t, h.s, before,
		"ipvs_health_checks", "ipvs_health_real_servers", "ipvs_health_max_checks_in_flight",
		"ipvs_real_server_health_state", "ipvs_real_server_health_check_down",
		"ipvs_real_server_health_last_transition_timestamp_seconds")

	h.s.Start()
	h.advance(5 * time.Second) // web: P P F F F, page: 5 × P, other: 5 × filtered

	// web is down since its fifth run: t0 + offset + 4s.
	down := web.callTimes()[4]
	otherDown := other.callTimes()[0]
	after := `
# HELP ipvs_real_server_health_state The real server's health state (unknown, up or down): one series per real server, 1, labelled with the current state; a change of state replaces the series.
# TYPE ipvs_real_server_health_state gauge
ipvs_real_server_health_state{server="10.0.0.1:80",service="tcp/192.0.2.1:80",state="down"} 1
ipvs_real_server_health_state{server="10.0.0.2:80",service="tcp/192.0.2.1:80",state="down"} 1
# HELP ipvs_real_server_health_last_transition_timestamp_seconds When the real server's health state last changed (Unix time, to the millisecond); absent before its first verdict.
# TYPE ipvs_real_server_health_last_transition_timestamp_seconds gauge
ipvs_real_server_health_last_transition_timestamp_seconds{server="10.0.0.1:80",service="tcp/192.0.2.1:80"} ` + unixSeconds(down) + `
ipvs_real_server_health_last_transition_timestamp_seconds{server="10.0.0.2:80",service="tcp/192.0.2.1:80"} ` + unixSeconds(otherDown) + `
# HELP ipvs_real_server_health_check_down 1 while the check's rise/fall verdict is down; absent otherwise (up, or unknown before its first verdict).
# TYPE ipvs_real_server_health_check_down gauge
ipvs_real_server_health_check_down{check="tcp:80",server="10.0.0.1:80",service="tcp/192.0.2.1:80"} 1
ipvs_real_server_health_check_down{check="tcp:80",server="10.0.0.2:80",service="tcp/192.0.2.1:80"} 1
# HELP ipvs_real_server_health_checks_total Runs of the check by result: open (passed), closed, filtered, timeout, error, local_error (could not run on this director; counts neither as a pass nor as a failure); a result other than open appears once it happened.
# TYPE ipvs_real_server_health_checks_total counter
ipvs_real_server_health_checks_total{check="http:80/",result="open",server="10.0.0.1:80",service="tcp/192.0.2.1:80"} 5
ipvs_real_server_health_checks_total{check="tcp:80",result="closed",server="10.0.0.1:80",service="tcp/192.0.2.1:80"} 3
ipvs_real_server_health_checks_total{check="tcp:80",result="open",server="10.0.0.1:80",service="tcp/192.0.2.1:80"} 2
ipvs_real_server_health_checks_total{check="tcp:80",result="filtered",server="10.0.0.2:80",service="tcp/192.0.2.1:80"} 5
ipvs_real_server_health_checks_total{check="tcp:80",result="open",server="10.0.0.2:80",service="tcp/192.0.2.1:80"} 0
`
	compareText(t, h.s, after,
		"ipvs_real_server_health_state",
		"ipvs_real_server_health_last_transition_timestamp_seconds", "ipvs_real_server_health_check_down",
		"ipvs_real_server_health_checks_total")
	// The duration histograms: one per check type and result, not per target.
	m := metricValue(t, h.s, "ipvs_health_check_duration_seconds", map[string]string{"type": "tcp", "result": "closed"})
	if got := m.GetHistogram(); got.GetSampleCount() != 3 || got.GetSampleSum() != 0.003 {
		t.Errorf("duration histogram type=tcp result=closed: %d samples, sum %v; want 3, 0.003", got.GetSampleCount(), got.GetSampleSum())
	}
	for _, b := range m.GetHistogram().GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 0.001 {
			want = 3
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("duration bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	for _, tc := range []struct {
		typ, result string
		count       uint64
	}{{"tcp", "open", 2}, {"tcp", "filtered", 5}, {"http", "open", 5}} {
		m := metricValue(t, h.s, "ipvs_health_check_duration_seconds", map[string]string{"type": tc.typ, "result": tc.result})
		if got := m.GetHistogram().GetSampleCount(); got != tc.count {
			t.Errorf("duration histogram type=%s result=%s: %d samples, want %d", tc.typ, tc.result, got, tc.count)
		}
	}
	if got := metricValue(t, h.s, "ipvs_health_scheduler_lag_seconds", nil).GetHistogram(); got.GetSampleCount() != 15 || got.GetSampleSum() != 0 {
		t.Errorf("lag: %d samples, sum %v; want 15 on time", got.GetSampleCount(), got.GetSampleSum())
	}

	// Removing a target removes its series: nothing stale.
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{webSpec, pageSpec}}}); err != nil {
		t.Fatal(err)
	}
	if n := countSeries(t, h.s, "ipvs_real_server_health_state"); n != 1 {
		t.Errorf("%d state series after removing a target, want 1", n)
	}
	if n := countSeries(t, h.s, "ipvs_real_server_health_checks_total"); n != 3 {
		t.Errorf("%d checks_total series after removing a target, want 3 (open twice, closed)", n)
	}
}

// unixSeconds is t in Unix seconds to the millisecond, as the
// last-transition family writes it: its own arithmetic, not the
// package's.
func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.Truncate(time.Millisecond).UnixNano()/1e6)/1e3, 'g', -1, 64)
}

// TestSnapshotAllocationsDoNotGrow: a scrape of the health families
// allocates what it allocates whatever the number of real servers: the
// label sets are the layout's, the per-server state is copied into
// scratch kept between scrapes, and the lines are built in the output
// buffer (issue 12: no per-scrape allocation proportional to the series).
func TestSnapshotAllocationsDoNotGrow(t *testing.T) {
	allocs := func(n int) float64 {
		s := benchScheduler(t, n)
		defer s.Stop(t.Context())
		bw := bufio.NewWriterSize(io.Discard, 64<<10)
		pw := promtext.NewWriter(bw)
		return testing.AllocsPerRun(5, func() {
			s.Snapshot()(pw)
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(100), allocs(2000)
	if large > small+5 {
		t.Errorf("a scrape of 2,000 real servers makes %.0f allocations, of 100 %.0f: it grows with the series", large, small)
	}
	t.Logf("allocations per scrape: %.0f at 100 real servers, %.0f at 2,000", small, large)
}
