package actuator

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// TestMetricsTextMatchesRegistry is what keeps the controller's two
// exposition paths from drifting apart, through the life of a
// configuration: before the first pass, after passes with real servers of
// every reason, after a targeted write, and after a reload that adds,
// keeps and removes services and real servers (the layouts are rebuilt).
// Services are declared out of order, their real servers too, and one
// real server is in two services, so that the text writer's order must be
// the registry's: by label values in label name order (reason first for
// desired_weight). TestMetricsGolden and the other tests that read the
// exposition check the same on their states.
func TestMetricsTextMatchesRegistry(t *testing.T) {
	declare := func(services ...string) string {
		var b strings.Builder
		b.WriteString("services:\n")
		for _, s := range services {
			b.WriteString(s)
		}
		return b.String()
	}
	// "192.0.2.20" sorts before "192.0.2.3"; 10.0.0.9 is in both.
	a := `  - name: a
    address: 192.0.2.3:80
    slow_start: 60s
    real_servers:
      - {address: 10.0.0.9:80, weight: 2}
      - {address: 10.0.0.10:80, weight: 1}
      - {address: 10.0.0.2:80, weight: 3}
`
	b := `  - name: b
    address: 192.0.2.20:80
    panic_threshold: 60%
    real_servers:
      - {address: 10.0.0.9:80, weight: 1}
      - {address: 10.0.0.1:80, weight: 1}
      - {address: 10.0.0.5:80, weight: 1}
`
	c6 := `  - name: c
    address: "[2001:db8::1]:443"
    on_failure: remove
    real_servers:
      - {address: "[2001:db8::a]:443", weight: 1}
      - {address: "[2001:db8::9]:443", weight: 4}
`
	r := newRig(t, parseConfig(t, declare(a, b, c6)), newFakeTable())
	t.Run("before the first pass", func(t *testing.T) { matchesRegistry(t, r.c) })

	sa, sb, sc := "tcp/192.0.2.3:80", "tcp/192.0.2.20:80", "tcp/[2001:db8::1]:443"
	r.v.set(sa, "10.0.0.9:80", health.StateUp)
	r.v.set(sa, "10.0.0.10:80", health.StateDown)
	r.v.set(sb, "10.0.0.9:80", health.StateDown)
	r.v.set(sb, "10.0.0.1:80", health.StateDown)
	r.v.set(sb, "10.0.0.5:80", health.StateUp)
	r.v.set(sc, "[2001:db8::a]:443", health.StateDown)
	r.v.set(sc, "[2001:db8::9]:443", health.StateUp)
	r.admin.put(sa, "10.0.0.2:80", true)
	r.pass()
	t.Run("first pass", func(t *testing.T) { matchesRegistry(t, r.c) })
	r.v.set(sa, "10.0.0.10:80", health.StateUp)
	r.clock.Advance(10 * time.Second)
	r.pass()
	r.table.handEdit(r.c.config().Services[0].Key, "10.0.0.9:80", 7)
	r.pass()
	t.Run("slow start, drift, panic", func(t *testing.T) { matchesRegistry(t, r.c) })
	// A verdict change between passes: its targeted write counts in
	// ipvs_controller_targeted_total and is timed in
	// ipvs_controller_verdict_to_write_seconds.
	r.subscribe()
	r.v.set(sa, "10.0.0.10:80", health.StateDown)
	if w, full := r.target(); full || len(w) != 1 {
		t.Fatalf("targeted write: %q, full pass %v; want one write", w, full)
	}
	t.Run("targeted write", func(t *testing.T) { matchesRegistry(t, r.c) })

	// A reload: a service and a real server go, others come.
	d := `  - name: d
    fwmark: 42
    real_servers:
      - {address: 10.0.0.7:80, weight: 1}
`
	r.c.Update(parseConfig(t, declare(strings.Replace(b, "      - {address: 10.0.0.1:80, weight: 1}\n", "      - {address: 10.0.0.0:80, weight: 9}\n", 1), d, a)))
	t.Run("reloaded, before its pass", func(t *testing.T) { matchesRegistry(t, r.c) })
	r.pass()
	t.Run("reloaded", func(t *testing.T) { matchesRegistry(t, r.c) })

	t.Run("many real servers", func(t *testing.T) {
		var svcs []string
		for i := range 40 {
			var s strings.Builder
			fmt.Fprintf(&s, "  - name: s%d\n    address: 192.0.2.%d:%d\n    real_servers:\n", i, 40-i, 1000+i%3)
			for j := range 25 {
				fmt.Fprintf(&s, "      - {address: 10.%d.0.%d:80, weight: %d, forward: nat}\n", j%3, (j*7+i)%250+1, 1+j%4)
			}
			svcs = append(svcs, s.String())
		}
		r := newRig(t, parseConfig(t, declare(svcs...)), newFakeTable())
		for i, s := range r.c.config().Services {
			for j, rs := range s.RealServers {
				r.v.set(s.Key.String(), rs.Address.String(), []health.State{health.StateUp, health.StateDown, health.StateUnknown}[(i+j)%3])
			}
		}
		r.pass()
		matchesRegistry(t, r.c)
	})
}

// TestFamiliesMatchDescriptors: Families, by which collector.Handler
// keeps a family from appearing twice in /metrics, names exactly the
// families of the registry-path reference, histograms included.
func TestFamiliesMatchDescriptors(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	ch := make(chan *prometheus.Desc)
	go func() {
		registryCollector{r.c}.Describe(ch)
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	var described []string
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in descriptor %s", d)
		}
		described = append(described, m[1])
	}
	got := slices.Sorted(slices.Values(r.c.Families()))
	slices.Sort(described)
	if !slices.Equal(got, described) {
		t.Errorf("Families:\n %q\nthe reference describes:\n %q", got, described)
	}
}
