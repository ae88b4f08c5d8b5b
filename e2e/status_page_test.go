//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// statusRefresh is the refresh the test asks the page for (?refresh=):
// what the page shows must follow the kernel within one refresh.
const statusRefresh = 2 * time.Second

// TestStatusPageFollowsKill watches /status of the sidecar driving real
// IPVS while a real server is killed and comes back with slow_start:
// sampling the kernel's weight (/proc/net/ip_vs) and the page's state
// text for that server every 100 ms, the page shows drained once the
// kernel has weight 0, ramping while the weight climbs, and up at the
// declared weight, each within one refresh of the page (the refresh it
// announces in data-refresh) after the kernel got there.
func TestStatusPageFollowsKill(t *testing.T) {
	requireLab(t)
	const slowStart = 4 * time.Second
	svc := ctlService{name: "status-page", port: 8095, onFailure: "drain", slowStart: slowStart, panic: "0%",
		servers: []ctlServer{{n: 1, weight: 100}, {n: 2, weight: 2}, {n: 3, weight: 1}}}
	svc.prepare(t)
	ls := map[int]*rsListener{}
	for _, s := range svc.servers {
		ls[s.n] = listenInRS(t, rsNS(s.n), svc.port)
	}
	sc := startSidecar(t, "--config.file="+svc.config(t, "managed"))
	k := directorKernel(t)
	key, server := svc.key(t), svc.server(1)
	declared := svc.declaredWeights()
	k.awaitWeights(t, key, declared, 15*time.Second)

	page := fmt.Sprintf("/status?refresh=%d", int(statusRefresh.Seconds()))
	row := regexp.MustCompile(`(?s)<th scope="row">` + regexp.QuoteMeta(server) + `.*?<span class="st st-([a-z]+)">([a-z]+)</span>`)
	refreshRE := regexp.MustCompile(`data-refresh="(\d+)"`)
	pageState := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		body, err := sc.get(ctx, page)
		if err != nil {
			t.Fatalf("GET %s: %v", page, err)
		}
		if m := refreshRE.FindSubmatch(body); m == nil || string(m[1]) != strconv.Itoa(int(statusRefresh.Seconds())) {
			t.Fatalf("%s does not announce a refresh of %v (data-refresh: %q)", page, statusRefresh, m)
		}
		m := row.FindSubmatch(body)
		if m == nil {
			t.Fatalf("%s has no row for %s:\n%s", page, server, body)
		}
		if string(m[1]) != string(m[2]) {
			t.Fatalf("%s: the state's class %q and text %q differ", server, m[1], m[2])
		}
		return string(m[2])
	}
	if s := pageState(); s != "up" {
		t.Fatalf("before the kill the page shows %s as %s, want up", server, s)
	}

	// kernel is the state the kernel's weight says: drained at 0,
	// ramping between, up at the declared weight.
	kernelState := func() string {
		switch w := k.mustWeights(t, key)[server]; {
		case w == 0:
			return "drained"
		case w < declared[server]:
			return "ramping"
		default:
			return "up"
		}
	}
	type seen struct{ kernel, page time.Time }
	phases := map[string]*seen{"drained": {}, "ramping": {}, "up": {}}
	var order []string // the page's states, in order, without repeats
	sample := func(start time.Time, until string, limit time.Duration) {
		t.Helper()
		for deadline := start.Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			ks := kernelState()
			now := time.Now()
			if p := phases[ks]; p != nil && p.kernel.IsZero() {
				p.kernel = now
			}
			ps := pageState()
			now = time.Now()
			if p := phases[ps]; p != nil && p.page.IsZero() && !phases[ps].kernel.IsZero() {
				p.page = now
			}
			if len(order) == 0 || order[len(order)-1] != ps {
				order = append(order, ps)
				t.Logf("%v: the page shows %s as %s (kernel: %s)", now.Sub(start).Round(time.Millisecond), server, ps, ks)
			}
			if ps == until && ks == until {
				return
			}
		}
		t.Fatalf("the page did not reach %s within %v: states shown %v", until, limit, order)
	}

	killed := time.Now()
	ls[1].close(t)
	sample(killed, "drained", 2*ctlDrainBound)
	order = order[:0]
	phases["up"] = &seen{} // the up before the kill is not the one after the ramp
	ls[1].open(t)
	sample(time.Now(), "up", slowStart+10*time.Second)

	for _, name := range []string{"drained", "ramping", "up"} {
		p := phases[name]
		switch {
		case p.kernel.IsZero():
			t.Errorf("the kernel never showed %s as %s", server, name)
		case p.page.IsZero():
			t.Errorf("the page never showed %s as %s (the kernel did)", server, name)
		default:
			lag := p.page.Sub(p.kernel)
			t.Logf("%s: on the page %v after the kernel", name, lag.Round(time.Millisecond))
			if lag > statusRefresh {
				t.Errorf("%s: the page showed it %v after the kernel, more than one refresh (%v)", name, lag, statusRefresh)
			}
		}
	}
}
