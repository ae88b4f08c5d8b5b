package actuator_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
	"github.com/lvs-sidecar/lvs-sidecar/notify"
)

// TestPassesDoNotWaitForNotifications runs a Controller (Run, on a
// FakeClock, period 1 h so that only verdict changes make writes) whose
// OnAction hook is a Notifier's Action, as main wires it, with two inform
// targets of queue size 4 and a 30 s timeout: a socket that reads and
// never answers (hung) and a loopback port with nothing listening. Over
// 36 verdict changes two seconds apart it drains and restores six real
// servers: each change makes one write (its targeted write, with the
// full pass that follows it writing nothing), its action handed to the
// hook, while the hung target's queue stays full; the drops are counted
// and logged once.
func TestPassesDoNotWaitForNotifications(t *testing.T) {
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var (
		recvMu   sync.Mutex
		received int
	)
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
			recvMu.Lock()
			received++
			recvMu.Unlock()
		}
	}()
	closedAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreeUDPPort(t))

	const service = "tcp/192.0.2.10:80"
	vip := netip.MustParseAddr("192.0.2.10")
	key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: vip, Port: 80}
	kernel := ipvs.Service{ServiceKey: key, Scheduler: "wrr", Netmask: 0xffffffff}
	var (
		yml     strings.Builder
		servers []string
	)
	weight := map[string]int{}
	yml.WriteString("controller: {period: 1h}\nservices:\n  - name: web\n    address: 192.0.2.10:80\n    scheduler: wrr\n    real_servers:\n")
	for i := 1; i <= 8; i++ {
		server, w := fmt.Sprintf("10.0.0.%d:80", i), 1+i%3
		fmt.Fprintf(&yml, "      - {address: %s, weight: %d, forward: nat}\n", server, w)
		servers = append(servers, server)
		weight[server] = w
		kernel.Destinations = append(kernel.Destinations, ipvs.Destination{Family: ipvs.FamilyIPv4,
			Address: netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i)), Port: 80, Weight: int32(w), Forward: ipvs.ForwardMasq})
	}
	fmt.Fprintf(&yml, `notifications:
  director: lb1
  targets:
    - {name: hung, address: %s, community: public, type: inform, timeout: 30s, retries: 1, queue_size: 4, send: [action, panic]}
    - {name: closed, address: %s, community: public, type: inform, timeout: 30s, retries: 1, queue_size: 4, send: [action, panic]}
`, sink.LocalAddr(), closedAddr)
	cfg, err := config.Parse([]byte(yml.String()), "test.yml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml.String())
	}

	clock := health.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	logs := &testutil.SyncBuffer{}
	n := notify.New(cfg, notify.Options{Clock: clock, Hostname: func() (string, error) { return "lb1", nil },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	table := actuator.NewFakeTable(kernel)
	verdicts := actuator.NewFakeVerdicts()
	for _, s := range servers {
		verdicts.Set(service, s, health.StateUp)
	}
	var (
		actMu   sync.Mutex
		actions []actuator.Action
		longest time.Duration
		full    int // calls made while the hung target's queue was full
	)
	ctl, err := actuator.New(cfg, actuator.Options{Reader: table, Writer: table, Verdicts: verdicts, Clock: clock,
		OnAction: func(a actuator.Action) {
			st, _ := n.Stats("hung")
			start := time.Now()
			n.Action(a)
			d := time.Since(start)
			actMu.Lock()
			actions = append(actions, a)
			longest = max(longest, d)
			if st.Queued == 4 {
				full++
			}
			actMu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- ctl.Run(ctx) }()
	defer func() {
		cancel()
		<-runDone
	}()
	// The first pass finds the table as the file wants it.
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if ctl.Status().Passes == 0 {
			return fmt.Errorf("no pass yet")
		}
		return nil
	})
	if w := table.TakeWrites(); len(w) != 0 {
		t.Fatalf("first pass wrote %v to a table that matches the file", w)
	}

	// Six rounds: three servers drained one after the other, then
	// restored; at most three of eight down, never a panic.
	var steps []struct {
		server string
		state  health.State
	}
	for round := range 6 {
		for _, st := range []health.State{health.StateDown, health.StateUp} {
			for j := range 3 {
				steps = append(steps, struct {
					server string
					state  health.State
				}{servers[(3*round+j)%len(servers)], st})
			}
		}
	}
	for i, step := range steps {
		clock.Advance(2 * time.Second)
		verdicts.Set(service, step.server, step.state)
		w := weight[step.server]
		if step.state == health.StateDown {
			w = 0
		}
		want := fmt.Sprintf("update %s %s w=%d ", service, step.server, w)
		var writes []string
		// The verdict change is written at once (a targeted write, or
		// the full pass it may meet that the clock's step started).
		testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
			writes = append(writes, table.TakeWrites()...)
			if len(writes) == 0 {
				return fmt.Errorf("step %d (%s %s): no write: the controller is waiting", i, step.server, step.state)
			}
			return nil
		})
		if st := ctl.Status(); st.LastError != "" || len(writes) != 1 || !strings.HasPrefix(writes[0], want) {
			t.Fatalf("step %d (%s %s): error %q, writes %v; want one write %q...", i, step.server, step.state,
				st.LastError, writes, want)
		}
	}

	// The hook hears of a write after the write returns: the last one
	// may still be on its way when the table already has it.
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		actMu.Lock()
		defer actMu.Unlock()
		if len(actions) < len(steps) {
			return fmt.Errorf("%d of %d actions reached the hook so far", len(actions), len(steps))
		}
		return nil
	})
	actMu.Lock()
	got, longestAction, fullCalls := len(actions), longest, full
	kinds := map[string]int{}
	for _, a := range actions {
		kinds[fmt.Sprintf("%s/%s", a.Kind, a.Reason)]++
	}
	actMu.Unlock()
	if got != len(steps) {
		t.Errorf("%d actions reached the hook, want one per write: %d (%v)", got, len(steps), kinds)
	}
	testutil.Poll(t, 10*time.Second, 10*time.Millisecond, func() error {
		recvMu.Lock()
		defer recvMu.Unlock()
		if received == 0 {
			return fmt.Errorf("the hung receiver got no inform")
		}
		if st, _ := n.Stats("closed"); st.Queued != 0 || st.Failed+st.Dropped != uint64(len(steps)) {
			return fmt.Errorf("closed port: %+v, want the %d informs failed or dropped", st, len(steps))
		}
		return nil
	})
	hung, _ := n.Stats("hung")
	closed, _ := n.Stats("closed")
	t.Logf("%d passes, %d actions (%v); hung target %+v; closed port %+v", ctl.Status().Passes, got, kinds, hung, closed)
	t.Logf("Action: %d calls, longest %v; %d with the hung target's queue full", got, longestAction, fullCalls)
	if accounted := hung.Queued + int(hung.Dropped+hung.Failed); hung.Sent != 0 || hung.Acked != 0 || hung.Dropped == 0 ||
		accounted < len(steps)-1 || accounted > len(steps) {
		t.Errorf("hung target: %+v, want nothing sent, drops, and the %d informs queued, in flight (at most one), failed or dropped",
			hung, len(steps))
	}
	if closed.Sent != 0 || closed.Acked != 0 || closed.Failed == 0 {
		t.Errorf("closed port: %+v, want failures and nothing sent", closed)
	}
	for _, c := range []struct {
		msg, target string
		want        int
	}{{"notification queue full", "hung", 1}, {"notification not delivered", "closed", 1}} {
		lines := 0
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, c.msg) && strings.Contains(line, "target="+c.target+" ") {
				lines++
			}
		}
		if lines != c.want {
			t.Errorf("%d %q lines for %s, want %d:\n%s", lines, c.msg, c.target, c.want, logs)
		}
	}

	closeDone := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		n.Close(ctx)
		close(closeDone)
	}()
	select {
	case <-closeDone:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return within 20 s with a 100 ms deadline: it waits for the hung inform")
	}
}
