package web

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestDeriveState is the table of the real server states: every state
// from its inputs, and the order in which the inputs win.
func TestDeriveState(t *testing.T) {
	up, down, unknown := "up", "down", "unknown"
	for _, tc := range []struct {
		name string
		in   stateInput
		want ServerState
	}{
		{"up at its weight", stateInput{tableRead: true, inTable: true, kernelWeight: 2, declared: true, declaredWeight: 2, verdict: up, reason: "up"}, ServerUp},
		{"up, lowered by load", stateInput{tableRead: true, inTable: true, kernelWeight: 1, declared: true, declaredWeight: 2, verdict: up, reason: "load"}, ServerUp},
		{"up standby of declared weight 0", stateInput{tableRead: true, inTable: true, kernelWeight: 0, declared: true, declaredWeight: 0, verdict: up, reason: "up"}, ServerUp},
		{"down, drained", stateInput{tableRead: true, inTable: true, kernelWeight: 0, declared: true, declaredWeight: 1, verdict: down, reason: "drain"}, ServerDrained},
		{"down, still weighted (panic)", stateInput{tableRead: true, inTable: true, kernelWeight: 1, declared: true, declaredWeight: 1, verdict: down, reason: "panic"}, ServerDown},
		{"down, weighted (dry_run)", stateInput{tableRead: true, inTable: true, kernelWeight: 1, declared: true, declaredWeight: 1, verdict: down, reason: "drain"}, ServerDown},
		{"down standby of weight 0", stateInput{tableRead: true, inTable: true, kernelWeight: 0, declared: true, declaredWeight: 0, verdict: down, reason: "drain"}, ServerDown},
		{"down, removed", stateInput{tableRead: true, inTable: false, declared: true, declaredWeight: 1, verdict: down, reason: "remove"}, ServerRemoved},
		{"up, not in the table yet", stateInput{tableRead: true, inTable: false, declared: true, declaredWeight: 1, verdict: up, reason: "up"}, ServerRemoved},
		{"up, drained by hand", stateInput{tableRead: true, inTable: true, kernelWeight: 0, declared: true, declaredWeight: 3, verdict: up, reason: "up"}, ServerDrained},
		{"ramping", stateInput{tableRead: true, inTable: true, kernelWeight: 1, declared: true, declaredWeight: 4, verdict: up, reason: "slow_start"}, ServerRamping},
		{"ramping from 0", stateInput{tableRead: true, inTable: true, kernelWeight: 0, declared: true, declaredWeight: 4, verdict: up, reason: "slow_start"}, ServerRamping},
		{"maintenance wins over up", stateInput{tableRead: true, inTable: true, kernelWeight: 2, declared: true, declaredWeight: 2, verdict: up, maintenance: true, reason: "up"}, ServerMaintenance},
		{"maintenance wins over no verdict", stateInput{tableRead: true, inTable: true, kernelWeight: 0, declared: true, declaredWeight: 2, verdict: unknown, maintenance: true}, ServerMaintenance},
		{"maintenance out of the table", stateInput{tableRead: true, declared: true, declaredWeight: 2, verdict: down, maintenance: true, reason: "maintenance"}, ServerMaintenance},
		{"maintenance, table unreadable", stateInput{verdict: up, maintenance: true}, ServerMaintenance},
		{"no verdict yet", stateInput{tableRead: true, inTable: true, kernelWeight: 1, declared: true, declaredWeight: 1, verdict: unknown, reason: "no_verdict"}, ServerUnknown},
		{"no verdict, drained before a restart", stateInput{tableRead: true, inTable: true, kernelWeight: 0, declared: true, declaredWeight: 1, verdict: unknown, reason: "no_verdict"}, ServerUnknown},
		{"undeclared, unchecked", stateInput{tableRead: true, inTable: true, kernelWeight: 1, verdict: unknown, reason: StateUndeclared}, ServerUnknown},
		{"undeclared, discovered up", stateInput{tableRead: true, inTable: true, kernelWeight: 1, verdict: up, reason: StateUndeclared}, ServerUp},
		{"undeclared at weight 0", stateInput{tableRead: true, inTable: true, kernelWeight: 0, verdict: up, reason: StateUndeclared}, ServerDrained},
		{"table unreadable, up", stateInput{declared: true, declaredWeight: 1, verdict: up, reason: "up"}, ServerUp},
		{"table unreadable, down", stateInput{declared: true, declaredWeight: 1, verdict: down, reason: "drain"}, ServerDown},
		{"table unreadable, no verdict", stateInput{declared: true, declaredWeight: 1, verdict: unknown}, ServerUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deriveState(tc.in); got != tc.want {
				t.Errorf("deriveState(%+v) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	// Every state is reachable and named once.
	if len(ServerStates) != 7 {
		t.Errorf("ServerStates = %v", ServerStates)
	}
}

// TestEventsRing: the ring keeps the newest events in order, newest
// first, drops the oldest when full, and takes events from many
// goroutines while others read (run with -race).
func TestEventsRing(t *testing.T) {
	r := NewEvents(3)
	if got := r.List(); len(got) != 0 {
		t.Fatalf("empty ring lists %v", got)
	}
	for i := 1; i <= 5; i++ {
		r.Add(EventView{Time: t0.Add(time.Duration(i) * time.Second), What: fmt.Sprint(i)})
		var whats []string
		for _, e := range r.List() {
			whats = append(whats, e.What)
		}
		want := []string{"1"}
		switch i {
		case 2:
			want = []string{"2", "1"}
		case 3:
			want = []string{"3", "2", "1"}
		case 4:
			want = []string{"4", "3", "2"}
		case 5:
			want = []string{"5", "4", "3"}
		}
		if !slices.Equal(whats, want) {
			t.Errorf("after %d events: %v, want %v", i, whats, want)
		}
	}
	if NewEvents(0).List() == nil || len(NewEvents(0).buf) != DefaultEvents {
		t.Errorf("NewEvents(0) does not keep DefaultEvents")
	}

	big := NewEvents(50)
	var wg sync.WaitGroup
	const writers, each = 8, 500
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				big.Add(EventView{Server: fmt.Sprint(w), What: fmt.Sprint(i)})
			}
		}()
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := len(big.List()); n > 50 {
				t.Errorf("List has %d events, more than the ring's 50", n)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	got := big.List()
	if len(got) != 50 {
		t.Fatalf("after %d events the ring lists %d, want 50", writers*each, len(got))
	}
	// Per writer, newest first: each writer's numbers decrease down the
	// list, and the very newest of each is its last.
	last := map[string]int{}
	for _, e := range got {
		var n int
		fmt.Sscan(e.What, &n)
		if prev, ok := last[e.Server]; ok && n >= prev {
			t.Errorf("writer %s: %d listed after %d (not newest first)", e.Server, n, prev)
		}
		last[e.Server] = n
	}
}

// TestEventText: verdict changes and actions say what and why in words.
func TestEventText(t *testing.T) {
	ev := fixtureEvents()
	want := [][2]string{
		{"restored: weight 0 → 1", "up, slow start"},
		{"drained: weight 1 → 0", "down, drain"},
		{"down (was up)", "http: error, HTTP 503, want 200 " + xss + " in 30.0ms"},
	}
	if len(ev) != len(want) {
		t.Fatalf("%d events: %+v", len(ev), ev)
	}
	for i, w := range want {
		if ev[i].What != w[0] || ev[i].Why != w[1] {
			t.Errorf("event %d: %q / %q, want %q / %q", i, ev[i].What, ev[i].Why, w[0], w[1])
		}
	}
	panicky := actionView(actuator.Action{Kind: actuator.ActionPanicEnter, Service: "tcp/192.0.2.10:80", CapacityUp: 1, CapacityJudged: 3, CapacityPercent: 33.33333, PanicThreshold: 50})
	if panicky.What != "panic: nothing is drained" || panicky.Why != "healthy capacity 33.3% (1 of 3 declared weight judged), threshold 50%" {
		t.Errorf("panic: %q / %q", panicky.What, panicky.Why)
	}
	first := healthEventView(health.Event{New: health.StateUp, Old: health.StateUnknown, Check: "tcp", Result: health.Result{Class: health.ClassOpen, Latency: 900 * time.Microsecond}})
	if first.What != "first verdict: up" || first.Why != "tcp: open in 900µs" {
		t.Errorf("first verdict: %q / %q", first.What, first.Why)
	}
}

// TestRates: the first answer has no rates; the second has them over the
// interval between the two; a counter that went backwards gives null,
// never a negative rate; an answer less than minRateInterval after the
// last keeps the older baseline.
func TestRates(t *testing.T) {
	var tr rateTracker
	v1 := buildStatus(fixture(t, 0), nil, t0, &tr)
	if v1.RateIntervalSeconds != nil || v1.Services[0].Rates != nil || v1.Services[0].RealServers[0].Rates != nil {
		t.Fatalf("first answer has rates: %v %+v", v1.RateIntervalSeconds, v1.Services[0].Rates)
	}
	v2 := buildStatus(fixture(t, 1), nil, t0.Add(10*time.Second), &tr)
	if v2.RateIntervalSeconds == nil || *v2.RateIntervalSeconds != 10 {
		t.Fatalf("second answer: interval %v, want 10", v2.RateIntervalSeconds)
	}
	// web grows 50 connections, 1e5 bytes in and 1e6 out per step;
	// 10.0.0.1 (weight 2) 20 connections, 1000 bytes in, 20000 out.
	if r := v2.Services[0].Rates; r == nil || r.ConnsPerSecond != 5 || r.BytesInPerSecond != 1e4 || r.BytesOutPerSecond != 1e5 {
		t.Errorf("service rates %+v, want 5 conn/s, 1e4 B/s in, 1e5 out", r)
	}
	if r := v2.Services[0].RealServers[0].Rates; r == nil || r.ConnsPerSecond != 2 || r.BytesInPerSecond != 100 || r.BytesOutPerSecond != 2000 {
		t.Errorf("10.0.0.1 rates %+v, want 2 conn/s, 100 B/s in, 2000 out", r)
	}
	if r := v2.Services[0].RealServers[5].Rates; r != nil {
		t.Errorf("10.0.0.6 is not in the table but has rates %+v", r)
	}

	// Half a second later: computed against the same baseline (t0), not
	// over half a second.
	v3 := buildStatus(fixture(t, 1), nil, t0.Add(10500*time.Millisecond), &tr)
	if v3.RateIntervalSeconds == nil || *v3.RateIntervalSeconds != 10.5 {
		t.Errorf("an answer 0.5 s after the last: interval %v, want 10.5 (the older baseline)", v3.RateIntervalSeconds)
	}

	// 10.0.0.1 was created again: its counters restarted.
	v4 := buildStatus(fixture(t, -1), nil, t0.Add(20*time.Second), &tr)
	if r := v4.Services[0].RealServers[0].Rates; r != nil {
		t.Errorf("counters went backwards, rates %+v, want null", r)
	}
	if r := v4.Services[0].RealServers[1].Rates; r == nil || r.ConnsPerSecond < 0 {
		t.Errorf("10.0.0.2 with growing counters: %+v", r)
	}
	data, _ := json.Marshal(v4.Services[0].RealServers[0])
	if !bytes.Contains(data, []byte(`"rates":null`)) {
		t.Errorf("a reset is not null in JSON: %s", data)
	}

	// The clock went back: no rates, and a fresh start.
	v5 := buildStatus(fixture(t, 1), nil, t0, &tr)
	if v5.RateIntervalSeconds != nil {
		t.Errorf("after the clock went back: interval %v", *v5.RateIntervalSeconds)
	}

	// Direct: equal, growing, reset, no interval.
	a := counters{conns: 10, bytesIn: 100, bytesOut: 1000}
	if r := rate(a, a, true, time.Second); r == nil || *r != (RatesView{}) {
		t.Errorf("no traffic: %+v", r)
	}
	if r := rate(counters{conns: 10, bytesIn: 99, bytesOut: 1000}, a, true, time.Second); r != nil {
		t.Errorf("bytes in went backwards: %+v", r)
	}
	if r := rate(a, a, true, 0); r != nil {
		t.Errorf("zero interval: %+v", r)
	}
	if r := rate(a, a, false, time.Second); r != nil {
		t.Errorf("no previous sample: %+v", r)
	}
}

// goldenView is the fixture's second answer (with rates) as the page's
// handler builds it, and a stale answer: the table unreadable and the
// controller's last success 30 s old.
func goldenViews(t *testing.T) map[string]StatusView {
	t.Helper()
	var tr rateTracker
	buildStatus(fixture(t, 0), fixtureEvents(), t0, &tr)
	normal := buildStatus(fixture(t, 1), fixtureEvents(), t0.Add(10*time.Second), &tr)

	in := fixture(t, 0)
	in.Snapshot, in.SnapshotErr = nil, errNoIPVS
	in.Status.LastSuccess, in.Status.LastError = t0.Add(-30*time.Second), "read table: "+errNoIPVS.Error()
	stale := buildStatus(in, nil, t0, &tr)
	return map[string]StatusView{"status.json": normal, "status_stale.json": stale}
}

// TestStatusGolden: the JSON of /api/v1/status is stable: a change of
// its schema or of what the fixture gives shows in the golden files
// (go test ./web -run Golden -update rewrites them).
func TestStatusGolden(t *testing.T) {
	for name, v := range goldenViews(t) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s differs from the golden file (run with -update if the change is meant):\n%s", name, lineDiff(string(want), buf.String()))
		}
	}
}

// TestStatusGoldenContent: what the golden answer must say, so that
// -update cannot bless a wrong one: the states of the fixture's rows,
// the header, the stale flag and the escaping of JSON (no raw "<").
func TestStatusGoldenContent(t *testing.T) {
	views := goldenViews(t)
	v := views["status.json"]
	var states []string
	for _, r := range v.Services[0].RealServers {
		states = append(states, r.Server+" "+string(r.State))
	}
	want := []string{"10.0.0.1:80 up", "10.0.0.2:80 drained", "10.0.0.3:80 maintenance", "10.0.0.4:80 ramping", "10.0.0.5:80 unknown", "10.0.0.6:80 removed", "10.0.0.9:80 drained"}
	if !slices.Equal(states, want) {
		t.Errorf("states:\n%v\nwant\n%v", states, want)
	}
	web := v.Services[0]
	if web.PersistenceSeconds != 300 || web.PanicThreshold != 50 || web.CapacityDeclared != 8 || web.CapacityUp != 4 || web.CapacityShare == nil || *web.CapacityShare != 0.5 {
		t.Errorf("web: persistence %d, threshold %v, capacity %d/%d share %v", web.PersistenceSeconds, web.PanicThreshold, web.CapacityUp, web.CapacityDeclared, web.CapacityShare)
	}
	if web.StateCounts[ServerDrained] != 2 || web.StateCounts[ServerUp] != 1 || len(web.StateCounts) != len(ServerStates) {
		t.Errorf("state counts %v", web.StateCounts)
	}
	r1, r2, r3, r4 := web.RealServers[0], web.RealServers[1], web.RealServers[2], web.RealServers[3]
	if r1.LoadFactor == nil || *r1.LoadFactor != 0.75 || r1.ControllerReason != "load" || r1.LastCheck == nil || r1.LastCheck.LatencySeconds != 0.0012 {
		t.Errorf("10.0.0.1: %+v", r1)
	}
	if r2.LastCheck == nil || r2.LastCheck.Name != "http" || r2.LastCheck.Class != "error" || r2.Since == nil || !r2.Since.Equal(t0.Add(10*time.Second-5*time.Minute)) {
		t.Errorf("10.0.0.2: the failing check decides, since the verdict changed: %+v %v", r2.LastCheck, r2.Since)
	}
	if r3.MaintenanceBy != "admin" || r3.MaintenanceSince == nil || !strings.HasPrefix(r3.MaintenanceReason, "kernel upgrade") || r3.Since == nil || !r3.Since.Equal(t0.Add(-30*time.Minute)) {
		t.Errorf("10.0.0.3: maintenance since is the later change: %+v", r3)
	}
	if r4.SlowStartProgress == nil || *r4.SlowStartProgress != 1.0/3 {
		t.Errorf("10.0.0.4: slow start %v", r4.SlowStartProgress)
	}
	if v.Director != "lvs1."+xss || v.ConfigFile != "/etc/lvs-sidecar/lvs.yml" || len(v.ConfigSHA256) != 64 || v.Stale || v.StaleReason != "" ||
		len(v.PanicServices) != 0 || v.Controller == nil || v.Controller.Mode != "managed" || len(v.Events) != 3 || v.Events[0].ServiceName != "web" {
		t.Errorf("header: %+v", v)
	}
	if v.Events[2].ServiceName != "web" {
		t.Errorf("a health event gets its service's name from the configuration: %+v", v.Events[2])
	}
	s := views["status_stale.json"]
	if !s.Stale || !strings.Contains(s.StaleReason, "the IPVS table could not be read ("+errNoIPVS.Error()+")") ||
		!strings.Contains(s.StaleReason, "the controller's last successful pass was 30s ago, at 2025-03-01T11:59:30Z (period 5s); last error: read table") {
		t.Errorf("stale: %v %q", s.Stale, s.StaleReason)
	}
	for _, r := range s.Services[0].RealServers {
		if r.State == ServerRemoved || r.State == ServerDrained || r.State == ServerRamping {
			t.Errorf("table unreadable, but %s is %s (that needs the table)", r.Server, r.State)
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("<script>")) {
		t.Errorf("the JSON has a raw <script>: encoding/json escapes < as \\u003c")
	}
}

// TestStatusNotStaleYet: two controller periods without a pass are not
// stale (the third is); a controller that never passed is not stale
// before its first pass, and is after a failed one.
func TestStatusNotStaleYet(t *testing.T) {
	for _, tc := range []struct {
		name     string
		age      time.Duration
		passes   uint64
		never    bool
		want     bool
		wantText string
	}{
		{"fresh", time.Second, 10, false, false, ""},
		{"two periods", 10 * time.Second, 10, false, false, ""},
		{"over three periods", 16 * time.Second, 10, false, true, "the controller's last successful pass was 16s ago"},
		{"before the first pass", 0, 0, true, false, ""},
		{"only failed passes", 0, 3, true, true, "the controller has not completed a pass without error yet (3 tried; last error: boom)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fixture(t, 0)
			in.Status.Passes, in.Status.LastSuccess = tc.passes, t0.Add(-tc.age)
			if tc.never {
				in.Status.LastSuccess, in.Status.LastError = time.Time{}, "boom"
			}
			v := buildStatus(in, nil, t0, nil)
			if v.Stale != tc.want || !strings.Contains(v.StaleReason, tc.wantText) {
				t.Errorf("stale %v %q, want %v with %q", v.Stale, v.StaleReason, tc.want, tc.wantText)
			}
		})
	}
}

// TestStatusJSONDocumented: every field of /api/v1/status is in the
// README's reference of it, so the manual cannot fall behind the schema.
func TestStatusJSONDocumented(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "### The status API"
	text := string(data)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	section := text[i+len(heading)+2:]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	if j := strings.Index(section, "\n### "); j >= 0 {
		section = section[:j]
	}
	keys := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				// state_counts' keys are the states, listed apart.
				if _, isState := parseServerState(k); !isState {
					keys[k] = true
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for name, v := range goldenViews(t) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		walk(doc)
		if len(keys) < 40 {
			t.Fatalf("%s: only %d keys", name, len(keys))
		}
	}
	keys["ipvs_error"] = true // only in answers with an unreadable table
	var missing []string
	for k := range keys {
		if !regexp.MustCompile("`" + regexp.QuoteMeta(k) + "`").MatchString(section) {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("fields of /api/v1/status missing from the README's %q: %v", heading, missing)
	}
	for _, st := range ServerStates {
		if !strings.Contains(section, "`"+string(st)+"`") {
			t.Errorf("state %s is not in the README's %q", st, heading)
		}
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
			shown++
		}
	}
	return b.String()
}
