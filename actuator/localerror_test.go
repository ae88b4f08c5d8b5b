package actuator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestLocalErrorHoldsServer: a real server whose check cannot run on the
// director (health's local_error) is held as the table has it, even when
// its frozen verdict is down, and the controller is not ready for acting
// meanwhile; once its check runs again, its verdict acts.
func TestLocalErrorHoldsServer(t *testing.T) {
	r := newRig(t, webConfig(t, "", ""), newFakeTable(webTable()))
	r.all(health.StateUp)
	wantWrites(t, r.pass())
	if ok, why := r.c.Status().ReadyForActing(); !ok {
		t.Fatalf("not ready for acting with all up: %s", why)
	}
	r.v.set(web, rs2, health.StateDown)
	r.v.localError(web, rs2, "tcp:80: cannot open a socket: too many open files (EMFILE)")
	wantWrites(t, r.pass())
	rs := r.rsStatus(web, rs2)
	if rs.Decided || rs.LocalError == "" || !strings.Contains(rs.ReasonText(), "local_error") {
		t.Errorf("held server status %+v", rs)
	}
	if ok, why := r.c.Status().ReadyForActing(); ok || !strings.Contains(why, "1 real server(s) held") {
		t.Errorf("ready for acting %v (%s) with a held server", ok, why)
	}
	r.v.localError(web, rs2, "")
	wantWrites(t, r.pass(), "update "+web+" 10.0.0.2:80 w=0 fwd=masq th=0/0")
	if ok, _ := r.c.Status().ReadyForActing(); !ok {
		t.Error("still not ready for acting")
	}
}

// TestFDLimitChangesNoWeight runs the real health scheduler with TCP
// checks of four healthy loopback real servers in two services, and the
// controller on a fake table, in a child process whose RLIMIT_NOFILE is
// then lowered to the descriptors it has open: every check fails with
// EMFILE, fleet-wide. That is the director's trouble: the checks are
// local errors, every verdict stays up (frozen), and passes made during
// it write nothing; the controller says it is not ready for acting, and
// is again once the limit is back.
func TestFDLimitChangesNoWeight(t *testing.T) {
	if testutil.InChild(t) {
		fdLimitChild(t)
	}
}

func fdLimitChild(t *testing.T) {
	var servers []netip.AddrPort
	for range 4 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if err == nil {
					c.Close()
				}
			}
		}()
		servers = append(servers, l.Addr().(*net.TCPAddr).AddrPort())
	}
	yml := "services:\n"
	keys := []ipvs.ServiceKey{webKey, {Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: webKey.Address.Next(), Port: 443}}
	var tables []ipvs.Service
	var targets []health.Target
	for i, k := range keys {
		yml += fmt.Sprintf("  - name: s%d\n    address: %s\n    real_servers:\n", i, netip.AddrPortFrom(k.Address, k.Port))
		tbl := ipvs.Service{ServiceKey: k, Scheduler: "wlc"}
		for _, a := range servers[2*i : 2*i+2] {
			yml += fmt.Sprintf("      - {address: %s, weight: 3, forward: nat}\n", a)
			d := dest(a.String(), 3)
			tbl.Destinations = append(tbl.Destinations, d)
			targets = append(targets, health.Target{Service: k.String(), Server: a.String(), Checks: []health.CheckSpec{{
				Name: "tcp", Checker: health.NewTCP(a, health.TCPOptions{}), Schedule: health.Every{Interval: 100 * time.Millisecond},
				Timeout: 50 * time.Millisecond, Rise: 2, Fall: 2}}})
		}
		tables = append(tables, tbl)
	}
	table := newFakeTable(tables...)
	var logs testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	sched := health.NewScheduler(health.SchedulerOptions{Logger: logger})
	if err := sched.Update(targets); err != nil {
		t.Fatal(err)
	}
	sched.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sched.Stop(ctx)
	}()
	c, err := New(parseConfig(t, yml), Options{Reader: table, Writer: table, Verdicts: sched, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Poll(t, 5*time.Second, 10*time.Millisecond, func() error {
		for _, st := range sched.Status() {
			if st.State != health.StateUp {
				return fmt.Errorf("%s is %s, want up before the limit is lowered", st.Server, st.State)
			}
		}
		return nil
	})
	c.pass(context.Background())
	if w := table.takeWrites(); len(w) != 0 {
		t.Fatalf("writes with every server up at its declared weight: %q", w)
	}

	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	lowest := testutil.LowestFreeFD(t)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lowest, Max: orig.Max}); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	// About ten check runs of each server with the fd limit reached, a
	// pass every 100 ms.
	deadline := time.Now().Add(10 * time.Second)
	passes := 0
	for {
		c.pass(context.Background())
		passes++
		if w := table.takeWrites(); len(w) != 0 {
			restore()
			t.Fatalf("writes while the director is out of descriptors: %q\n%s", w, logs.String())
		}
		for _, st := range sched.Status() {
			if st.State != health.StateUp {
				restore()
				t.Fatalf("%s is %s with the fd limit reached, want up (frozen)\n%s", st.Server, st.State, logs.String())
			}
		}
		if held := c.Status().LocalErrorHolds; held == len(servers) && passes >= 20 {
			break
		}
		if time.Now().After(deadline) {
			restore()
			t.Fatalf("after 10 s, %d of %d servers held by local errors; status %+v", c.Status().LocalErrorHolds, len(servers), sched.Status())
		}
		time.Sleep(100 * time.Millisecond)
	}
	ok, why := c.Status().ReadyForActing()
	restore()
	if ok || !strings.Contains(why, "local_error") {
		t.Errorf("ready for acting %v (%s) with every check out of descriptors", ok, why)
	}
	t.Logf("%d passes with the fd limit at %d: no write, every verdict up; not ready for acting: %s", passes, lowest, why)

	testutil.Poll(t, 5*time.Second, 20*time.Millisecond, func() error {
		c.pass(context.Background())
		if ok, why := c.Status().ReadyForActing(); !ok {
			return fmt.Errorf("not ready for acting after the limit is back: %s", why)
		}
		return nil
	})
	if w := table.takeWrites(); len(w) != 0 {
		t.Errorf("writes after the limit is back: %q", w)
	}
}
