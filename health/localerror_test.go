package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// TestLocalErrorFDLimit runs TCP checks against a healthy loopback server
// in a child process, lowers the child's RLIMIT_NOFILE to the descriptors
// it has open, and requires the checks to be local errors that leave the
// server up (its verdict frozen, not failing), and the server to be
// unfrozen once the limit is raised again.
func TestLocalErrorFDLimit(t *testing.T) {
	if testutil.InChild(t) {
		localFDLimitChild(t)
	}
}

func localFDLimitChild(t *testing.T) {
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
	var logs testutil.SyncBuffer
	s := NewScheduler(SchedulerOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	spec := every(NewTCP(l.Addr().(*net.TCPAddr).AddrPort(), TCPOptions{}), 100*time.Millisecond, 50*time.Millisecond)
	spec.Name, spec.Rise, spec.Fall = "tcp", 2, 2
	if err := s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	var downs atomic.Int64
	s.Subscribe(func(ev Event) {
		if ev.New == StateDown {
			downs.Add(1)
		}
	})
	s.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	}()
	status := func() ServerStatus { return s.Status()[0] }
	testutil.Poll(t, 5*time.Second, 10*time.Millisecond, func() error {
		if st := status().State; st != StateUp {
			return fmt.Errorf("the server is %s, want up before the limit is lowered", st)
		}
		return nil
	})

	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	limit := testutil.LowestFreeFD(t)
	lowered := syscall.Rlimit{Cur: limit, Max: orig.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	localCount := func() int {
		n := 0
		for _, c := range status().Checks {
			if c.Last.Class == ClassLocalError {
				n++
			}
		}
		return n
	}
	start := time.Now()
	var firstLocal Result
	for seen := 0; seen < 10; {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d local errors in 10s with the fd limit at %d, want 10; last result %+v", seen, limit, status().Checks[0].Last)
		}
		st := status()
		if st.State != StateUp {
			t.Fatalf("the server is %s with the fd limit reached, want still up (frozen)", st.State)
		}
		if c := st.Checks[0]; c.Last.Class == ClassLocalError {
			if firstLocal.Reason == "" {
				firstLocal = c.Last
			}
			if st.LocalError == "" || s.LocalErrors() != 1 {
				t.Errorf("a local error, but LocalError %q and LocalErrors %d", st.LocalError, s.LocalErrors())
			}
			seen = int(metricValue(t, s, "ipvs_real_server_health_checks_total",
				map[string]string{"check": "tcp", "result": "local_error"}).GetCounter().GetValue())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Raise it before asserting: t.Fatal's own output must not need an fd.
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Logf("with the fd limit at %d: %s", limit, firstLocal.Reason)
	if !strings.Contains(firstLocal.Reason, "EMFILE") {
		t.Errorf("local error %q, want the fd limit (EMFILE) named", firstLocal.Reason)
	}
	if st := status(); st.State != StateUp || downs.Load() != 0 {
		t.Errorf("after 10 local errors: %s, %d down events; want up, none", st.State, downs.Load())
	}
	testutil.Poll(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n, st := localCount(), status(); n != 0 || st.LocalError != "" || s.LocalErrors() != 0 || st.Checks[0].Last.Class != ClassOpen {
			return fmt.Errorf("after raising the limit: last %s, LocalError %q, LocalErrors %d; want open, none, 0",
				st.Checks[0].Last.Class, st.LocalError, s.LocalErrors())
		}
		return nil
	})
	if n := strings.Count(logs.String(), "verdict is frozen"); n != 1 {
		t.Errorf("the episode was logged %d times, want once:\n%s", n, logs.String())
	}
}
