//go:build e2e

package e2e

// Reading health verdicts during a test: from lvs-sidecar's /metrics or from
// a scheduler of the test's own, in the same metric families, and timing how
// long a real server takes to change state.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// verdictSource returns the metric families of a health checker under
// test.
type verdictSource func(ctx context.Context) (map[string]*dto.MetricFamily, error)

// sidecarVerdicts reads lvs-sidecar's /metrics.
func sidecarVerdicts(d *daemon) verdictSource {
	return func(ctx context.Context) (map[string]*dto.MetricFamily, error) {
		body, err := d.get(ctx, "/metrics")
		if err != nil {
			return nil, err
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("parse lvs-sidecar's metrics: %w", err)
		}
		return fams, nil
	}
}

// serverVerdict is what the health metrics say about one real server.
type serverVerdict struct {
	up    bool   // state is up
	state string // the state of its ipvs_real_server_health_state series
	// states counts its ipvs_real_server_health_state series: exactly
	// one, the current state's.
	states int
	// since is ipvs_real_server_health_last_transition_timestamp_seconds;
	// zero before the first verdict.
	since time.Time
	// results sums ipvs_real_server_health_checks_total over the server's
	// checks, by result.
	results map[string]float64
}

// readVerdicts returns the verdict of every real server in fams by its
// server label. A server without exactly one state series, of value 1,
// is an error.
func readVerdicts(fams map[string]*dto.MetricFamily) (map[string]*serverVerdict, error) {
	out := map[string]*serverVerdict{}
	get := func(m *dto.Metric) *serverVerdict {
		s := label(m, "server")
		if out[s] == nil {
			out[s] = &serverVerdict{results: map[string]float64{}}
		}
		return out[s]
	}
	for _, m := range fams["ipvs_real_server_health_state"].GetMetric() {
		v := get(m)
		v.states++
		if value(m) == 1 {
			v.state = label(m, "state")
			v.up = v.state == "up"
		}
	}
	for _, m := range fams["ipvs_real_server_health_last_transition_timestamp_seconds"].GetMetric() {
		sec, frac := math.Modf(value(m))
		get(m).since = time.Unix(int64(sec), int64(frac*1e9))
	}
	for _, m := range fams["ipvs_real_server_health_checks_total"].GetMetric() {
		get(m).results[label(m, "result")] += value(m)
	}
	for s, v := range out {
		if v.states != 1 || v.state == "" {
			return nil, fmt.Errorf("real server %s: %d ipvs_real_server_health_state series, state %q; want one, of value 1", s, v.states, v.state)
		}
	}
	return out, nil
}

// verdictPoll is how often awaitState reads the verdicts. A change is seen
// at most this long plus one read's duration after it happened: the
// granularity the tests allow on top of the checks' own bounds.
const (
	verdictPoll        = 100 * time.Millisecond
	verdictGranularity = 250 * time.Millisecond
)

// stateChange is a real server's change of state as a test saw it.
type stateChange struct {
	// transition is from the action that caused the change to the
	// transition timestamp of the metrics; seen to the first read that
	// showed it.
	transition, seen time.Duration
	verdict          *serverVerdict
}

// awaitState reads src until server is in state want, and returns how
// long after cause that took. Every read must show each of steady up. It
// fails the test when limit passes first.
func awaitState(t *testing.T, src verdictSource, server, want string, steady []string, cause time.Time, limit time.Duration) stateChange {
	t.Helper()
	return awaitStateFrom(t, src, server, want, steady, cause, cause.Add(limit), true)
}

// awaitInitial waits until server first reaches state want, however
// early that happened (the checks start with the sidecar, before the
// test's clock does).
func awaitInitial(t *testing.T, src verdictSource, server, want string, limit time.Duration) {
	t.Helper()
	awaitStateFrom(t, src, server, want, nil, time.Now(), time.Now().Add(limit), false)
}

func awaitStateFrom(t *testing.T, src verdictSource, server, want string, steady []string, cause, deadline time.Time, strict bool) stateChange {
	t.Helper()
	limit := deadline.Sub(cause)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fams, err := src(ctx)
		cancel()
		now := time.Now()
		if err != nil {
			t.Fatalf("read the verdicts: %v", err)
		}
		vs, err := readVerdicts(fams)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steady {
			if v := vs[s]; v == nil || !v.up {
				t.Fatalf("%s is not up (%s) %v after %s's change began: %s", s, describeVerdict(v), now.Sub(cause).Round(time.Millisecond), server, describeVerdicts(vs))
			}
		}
		if v := vs[server]; v != nil && v.state == want {
			if strict && v.since.Before(cause) {
				t.Fatalf("%s is %s since %v, before the change began at %v", server, want, v.since, cause)
			}
			return stateChange{transition: v.since.Sub(cause), seen: now.Sub(cause), verdict: v}
		}
		if now.After(deadline) {
			t.Fatalf("%s is not %s %v after the change began: %s", server, want, limit, describeVerdicts(vs))
		}
		time.Sleep(verdictPoll)
	}
}

func describeVerdict(v *serverVerdict) string {
	if v == nil {
		return "no health metrics"
	}
	return fmt.Sprintf("state %q, results %v", v.state, v.results)
}

func describeVerdicts(vs map[string]*serverVerdict) string {
	var b strings.Builder
	for _, s := range sortedKeys(vs) {
		fmt.Fprintf(&b, "\n\t%s: %s", s, describeVerdict(vs[s]))
	}
	return b.String()
}

// durationStats formats the minimum, median and maximum of ds.
func durationStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v, median %v, max %v (n=%d)", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]), len(s))
}
