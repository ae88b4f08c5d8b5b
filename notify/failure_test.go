package notify

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// down is a state change the tests publish; server tells them apart.
func down(server string) health.Event {
	return health.Event{Time: time.Now(), Service: "tcp/192.0.2.10:80", Server: server, Old: health.StateUp, New: health.StateDown,
		Check: "tcp-80", Result: health.Result{Class: health.ClassClosed}}
}

// TestSnmptrapdRejectsWrongKey: a v3 trap authenticated with another
// passphrase than the receiver's user is not printed by snmptrapd (a
// trap with the right one, sent after it, is); an inform with the wrong
// key is never acknowledged, so it counts as failed after its retries
// and the log says so, without the passphrase.
func TestSnmptrapdRejectsWrongKey(t *testing.T) {
	d := startTrapd(t, trapdConf(EngineID(&config.NotifyTarget{}, "lb1"), "SHA-256", "AES"))
	v3 := func(name, user, typ, auth string) string {
		return `    - {name: ` + name + `, address: ` + d.Addr + `, version: v3, type: ` + typ + `, user: ` + user +
			`, auth_protocol: SHA256, auth_passphrase: ` + auth + `, priv_protocol: AES, priv_passphrase: ` + privPass + `, timeout: 200ms, retries: 2}`
	}
	log, logs := testLogger()
	n := New(testConfig(t, v3("bad", "trapuser", "trap", "wrong-pass-999"), v3("good", "trapuser", "trap", authPass),
		v3("badinform", "informuser", "inform", "wrong-pass-999")), Options{Logger: log, Hostname: hostname})
	n.HealthEvent(down("10.0.0.1:80"))
	d.wait(t, `LVS-SIDECAR-MIB::lsNotifyServer = STRING: 10.0.0.1:80`)
	testutil.Poll(t, 10*time.Second, 20*time.Millisecond, func() error {
		if s, _ := n.Stats("badinform"); s.Failed == 0 {
			return errorf("inform with the wrong key not failed yet: %+v", s)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
	// The good trap target sent the state change and the stop; snmptrapd
	// printed those two and nothing of the bad key's. Close returns once
	// the stop is sent, not once snmptrapd has printed it: wait for the
	// stop and for both of the bad target's traps to have been rejected
	// before counting.
	d.wait(t, "SNMPv2-MIB::snmpTrapOID.0 = OID: LVS-SIDECAR-MIB::lsSidecarStop")
	testutil.Poll(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := strings.Count(d.Output(), "Authentication failed for trapuser"); got < 2 {
			return errorf("snmptrapd rejected %d of the bad key's 2 traps so far", got)
		}
		return nil
	})
	if got := len(d.traps()); got != 2 {
		t.Errorf("snmptrapd printed %d notifications, want 2 (only the right key's):\n%s", got, strings.Join(d.traps(), "\n"))
	}
	bad, _ := n.Stats("badinform")
	if bad.Acked != 0 || bad.Sent != 0 || bad.Failed < 1 || bad.Retries < 2 {
		t.Errorf("inform with the wrong key: %+v, want failed after 2 retries, none acknowledged", bad)
	}
	if !strings.Contains(logs.String(), "notification not delivered") || !strings.Contains(logs.String(), "target=badinform") {
		t.Errorf("no log line about the failed inform:\n%s", logs)
	}
	if strings.Contains(logs.String(), "wrong-pass-999") || strings.Contains(logs.String(), privPass) {
		t.Errorf("a passphrase is in the log:\n%s", logs)
	}
}

type testError string

func (e testError) Error() string { return string(e) }

func errorf(format string, args ...any) error { return testError(fmt.Sprintf(format, args...)) }

// TestDownReceiverNeverBlocks: with a receiver that never answers (a
// bound UDP socket that reads nothing) the inform target's queue fills
// and further notifications are dropped and counted, logged once, while
// publishing stays a matter of microseconds. A closed port makes the
// informs fail, counted too.
func TestDownReceiverNeverBlocks(t *testing.T) {
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	closed := freeUDPPort(t)
	log, logs := testLogger()
	n := New(testConfig(t,
		`    - {name: silent, address: `+sink.LocalAddr().String()+`, community: public, type: inform, timeout: 1s, retries: 1, queue_size: 10}`,
		`    - {name: closed, address: 127.0.0.1:`+itoa(closed)+`, community: public, type: inform, timeout: 100ms, retries: 0, queue_size: 10}`),
		Options{Logger: log, Hostname: hostname})
	const events = 10000
	start := time.Now()
	for i := range events {
		n.HealthEvent(down("10.0.0." + itoa(i%250+1) + ":80"))
	}
	took := time.Since(start)
	t.Logf("published %d notifications to 2 stuck targets in %v (%v each)", events, took, took/events)
	// No bound on took here: that publishing never waits for a receiver
	// is shown on a fake clock by health's
	// TestChecksKeepTimingWithReceiversDown, and its cost is measured by
	// BenchmarkFullQueue.
	s, _ := n.Stats("silent")
	// One may be in flight, queue_size wait: the rest are dropped.
	if s.Dropped < events-11 || s.Queued > 10 || s.Sent != 0 {
		t.Errorf("silent target: %+v, want at least %d dropped, at most 10 queued", s, events-11)
	}
	for _, target := range []string{"silent", "closed"} {
		if got := logs.count("notification queue full", "target="+target); got != 1 {
			t.Errorf("%d queue-full log lines of %s, want one for the burst:\n%s", got, target, logs)
		}
	}
	testutil.Poll(t, 10*time.Second, 20*time.Millisecond, func() error {
		if c, _ := n.Stats("closed"); c.Failed == 0 {
			return errorf("closed port: no failure yet: %+v", c)
		}
		return nil
	})
	if got := logs.count("notification not delivered", "target=closed"); got != 1 {
		t.Errorf("%d failure log lines of the closed port's target, want one for the episode:\n%s", got, logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	n.Close(ctx)
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %v with a 200ms deadline", d)
	}
}

func itoa(i int) string { return fmt.Sprint(i) }

// TestCloseAbandonsAtDeadline: Close gives up on an inform that waits for
// a hung receiver when its context is done, whenever that falls: before
// the target's socket is open, while gosnmp sets up its wait, or during
// it. Before the fix about one Close in 12 waited out the inform's
// whole timeout (25 of 300 here; this test failed within its first 10
// runs each of 5 times): shutdown's past deadline on the socket landed
// just before gosnmp set its own, or before the socket existed. Now
// shutdown closes the socket, and connect opens none after.
func TestCloseAbandonsAtDeadline(t *testing.T) {
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	const timeout = 2 * time.Second
	cfg := testConfig(t, `    - {name: hung, address: `+sink.LocalAddr().String()+`, community: public, type: inform, timeout: 2s, retries: 3, queue_size: 4}`)
	for i := range 300 {
		log, logs := testLogger()
		n := New(cfg, Options{Logger: log, Hostname: hostname})
		n.HealthEvent(down("10.0.0.1:80"))
		// Vary where the target's goroutine is when the deadline passes.
		if i%3 == 1 {
			time.Sleep(time.Duration(i%50) * time.Microsecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*10*time.Microsecond)
		start := time.Now()
		n.Close(ctx)
		took := time.Since(start)
		cancel()
		if took >= timeout {
			t.Fatalf("run %d: Close took %v with a deadline of %v: it waited for the inform's %v timeout\n%s",
				i, took, time.Duration(i%7)*10*time.Microsecond, timeout, logs)
		}
		s := n.finalStats(t, "hung")
		if s.Sent != 0 || s.Acked != 0 {
			t.Fatalf("run %d: %+v: the hung receiver acknowledged nothing", i, s)
		}
		if strings.Contains(logs.String(), "notification not delivered") {
			t.Fatalf("run %d: an inform abandoned at shutdown is logged as not delivered:\n%s", i, logs)
		}
	}
}
