package health

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// matchesRegistry checks that the scheduler's text writer and its
// registry-path reference (registryCollector) expose the same families,
// samples and bytes for s as it is now.
func matchesRegistry(t *testing.T, s *Scheduler) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(registryCollector{s})
	testutil.MatchesRegistry(t, testutil.Gather(t, reg), testutil.SourceText(t, s))
}

// TestMetricsTextMatchesRegistry is what keeps the scheduler's two
// exposition paths from drifting apart, through the life of a set of
// targets: before any result, with verdicts of every kind and results of
// every class, after an Update that adds, keeps and removes targets and
// checks, and with label values that need escaping. Servers, services and
// check names are given out of order, so that the text writer's order
// must be the registry's (by label values, in label name order).
func TestMetricsTextMatchesRegistry(t *testing.T) {
	h := newHarness(t, SchedulerOptions{MaxInFlight: 64})
	classes := map[string][]Result{
		"up":       script("P"),
		"down":     script("F"),
		"flapping": script("PPFFPF"),
		"filtered": {{Class: ClassFiltered, Latency: 300 * time.Millisecond, Reason: "no answer"}},
		"timeout":  {{Class: ClassTimeout, Latency: 500 * time.Millisecond}},
		"error":    {{Class: ClassError, Latency: 7 * time.Millisecond}, {Class: ClassOpen, Latency: 2500 * time.Microsecond}},
		"local":    {{Class: ClassLocalError, Reason: "no file descriptor left"}},
		"never":    nil, // no result yet: its first run is within the hour
	}
	spec := func(name, kind, class string, rise, fall int) CheckSpec {
		sp := every(h.checker(kind+" "+class+" "+name, classes[class]), time.Second, 500*time.Millisecond)
		if class == "never" {
			sp.Schedule = Every{time.Hour}
		}
		sp.Name, sp.Rise, sp.Fall = name, rise, fall
		return sp
	}
	targets := func(gen int) []Target {
		var ts []Target
		// Services and servers out of order; the same server in two
		// services; servers whose order differs from their services'.
		for i, key := range [][2]string{
			{"tcp/192.0.2.2:80", "10.0.0.9:80"}, {"tcp/192.0.2.1:80", "10.0.0.9:80"},
			{"udp/192.0.2.1:53", "10.0.0.10:53"}, {"tcp/192.0.2.1:80", "10.0.0.1:80"},
			{"fwmark/42/ipv6", "[2001:db8::1]:443"}, {"tcp/192.0.2.3:443", "10.0.0.2:443"},
		} {
			if gen == 1 && i == 2 {
				continue // removed by the second Update
			}
			kinds := []string{"up", "down", "flapping", "filtered", "timeout", "error", "local", "never"}
			checks := []CheckSpec{spec("tcp:80", "tcp", kinds[i%len(kinds)], 2, 2)}
			if i%2 == 0 {
				checks = append(checks, spec("http:80/", "http", kinds[(i+3)%len(kinds)], 1, 3))
			}
			if i == 4 {
				checks = append(checks, spec("icmp", "icmp", "never", 1, 1), spec("a-first", "udp", "up", 1, 1))
			}
			if gen == 1 && i == 0 {
				checks = checks[:1] // a check removed, another added below
				checks = append(checks, spec("zz-new", "tcp", "down", 1, 1))
			}
			ts = append(ts, Target{Service: key[0], Server: key[1], Checks: checks})
		}
		if gen == 1 {
			ts = append(ts, Target{Service: "tcp/192.0.2.1:80", Server: "10.0.0.0:80", Checks: []CheckSpec{spec("tcp:80", "tcp", "up", 1, 1)}})
		}
		return ts
	}
	if err := h.s.Update(targets(0)); err != nil {
		t.Fatal(err)
	}
	t.Run("before start", func(t *testing.T) { matchesRegistry(t, h.s) })
	h.s.Start()
	h.advance(7 * time.Second)
	t.Run("running", func(t *testing.T) { matchesRegistry(t, h.s) })
	if err := h.s.Update(targets(1)); err != nil {
		t.Fatal(err)
	}
	t.Run("updated", func(t *testing.T) { matchesRegistry(t, h.s) })
	h.advance(3 * time.Second)
	t.Run("updated and running", func(t *testing.T) { matchesRegistry(t, h.s) })

	t.Run("escaping", func(t *testing.T) {
		h := newHarness(t, SchedulerOptions{})
		odd := []string{`a"b`, `back\slash`, "new\nline", `\"`, "ünïcödé"}
		var ts []Target
		for i, v := range odd {
			c := every(h.checker("tcp "+v, script("PF")), time.Second, 500*time.Millisecond)
			c.Name = v
			ts = append(ts, Target{Service: "svc " + v, Server: fmt.Sprintf("%s:%d", v, i), Checks: []CheckSpec{c}})
		}
		if err := h.s.Update(ts); err != nil {
			t.Fatal(err)
		}
		h.s.Start()
		h.advance(3 * time.Second)
		matchesRegistry(t, h.s)
	})

	t.Run("many targets", func(t *testing.T) {
		if testing.Short() {
			t.Skip("2,000 targets")
		}
		h := newHarness(t, SchedulerOptions{})
		var ts []Target
		for i := range 2000 {
			c := every(h.checker("tcp x", script(strings.Repeat("PF", i%3+1))), time.Second, 500*time.Millisecond)
			c.Name = "tcp:80"
			ts = append(ts, Target{Service: fmt.Sprintf("tcp/192.0.2.%d:80", i%7), Server: fmt.Sprintf("10.0.%d.%d:80", i/256, i%256), Checks: []CheckSpec{c}})
		}
		if err := h.s.Update(ts); err != nil {
			t.Fatal(err)
		}
		h.s.Start()
		h.advance(4 * time.Second)
		matchesRegistry(t, h.s)
	})
}
