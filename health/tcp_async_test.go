package health

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
	"golang.org/x/sys/unix"
)

// The TCP checks' tests, each check run on the event loop as the
// scheduler runs it (startAsync).
func TestTCPLoopbackAsync(t *testing.T) {
	testTCPLoopback(t, func(c *TCP) Checker { return tcpAsync{c: c} })
}

func TestTCPNamespaceAsync(t *testing.T) {
	testTCPNamespace(t, func(c *TCP) Checker { return tcpAsync{c: c} })
}

// The same with every socket read by the loop, after epoll's events: on
// loopback and veth pairs the connect is over before it returns, so that
// the look startAsync takes before it waits ends most runs.
func TestTCPLoopbackAsyncEpoll(t *testing.T) {
	testTCPLoopback(t, func(c *TCP) Checker { return tcpAsync{c: c, epoll: true} })
}

func TestTCPNamespaceAsyncEpoll(t *testing.T) {
	testTCPNamespace(t, func(c *TCP) Checker { return tcpAsync{c: c, epoll: true} })
}

// tcpAsync is a Checker whose Check runs its TCP's startAsync, as the
// scheduler does, and waits for the result. Canceling Check's context
// cancels the run.
type tcpAsync struct {
	c *TCP
	// epoll: the run skips its look at the connect's state before it
	// waits (as after a run whose look found it still running).
	epoll bool
}

func (a tcpAsync) String() string { return a.c.String() }

func (a tcpAsync) Check(ctx context.Context) Result {
	_, _, timeout := probeDeadline(ctx)
	if a.epoll {
		a.c.peek.Store(tcpPeekWaits)
	}
	ch := make(chan Result, 1)
	cancel, res, started := a.c.startAsync(timeout, sinkFunc(func(r Result) { ch <- r }))
	if !started {
		return res
	}
	stop := context.AfterFunc(ctx, func() {
		if ctx.Err() == context.Canceled {
			cancel()
		}
	})
	defer stop()
	return <-ch
}

// The scheduler runs many TCP checks at once on the event loop, to open
// and closed loopback ports, and classifies each as Check would.
func TestSchedulerTCPAsync(t *testing.T) {
	var targets []Target
	want := map[string]Class{}
	for i := range 200 {
		addr := probeLoopbacks[i%len(probeLoopbacks)]
		var target netip.AddrPort
		class := ClassOpen
		if i%4 == 3 {
			target, class = probeClosedPort(t, addr, unix.SOCK_STREAM), ClassClosed
		} else {
			_, target = probeListenTCP(t, addr)
		}
		server := fmt.Sprintf("rs%d", i)
		want[server] = class
		targets = append(targets, Target{Service: svc, Server: server, Checks: []CheckSpec{
			{Name: "tcp", Checker: NewTCP(target, TCPOptions{}), Schedule: Every{time.Hour}, Timeout: 10 * time.Second}}})
	}
	s := NewScheduler(SchedulerOptions{})
	if err := s.Update(targets); err != nil {
		t.Fatal(err)
	}
	startNow(s)
	defer stopScheduler(t, s)
	testutil.Poll(t, 30*time.Second, 10*time.Millisecond, func() error {
		for _, st := range s.Status() {
			if st.Checks[0].LastTime.IsZero() {
				return fmt.Errorf("%s not checked yet", st.Server)
			}
		}
		return nil
	})
	for _, st := range s.Status() {
		if c := st.Checks[0].Last; c.Class != want[st.Server] || c.Latency <= 0 {
			t.Errorf("%s: %s %q latency %v, want %s", st.Server, c.Class, c.Reason, c.Latency, want[st.Server])
		}
	}
}

// startNow starts s with every check due now, not at a random offset
// within its interval.
func startNow(s *Scheduler) {
	s.Start()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, srv := range s.servers {
		for _, c := range srv.checks {
			c.nominal = now
			s.queueLocked(c)
		}
	}
	s.armLocked(now)
}

// A run waiting on the event loop for a target that never answers ends when
// its check is removed, long before its timeout; Stop waits for the
// others until its context is done, then cancels them, and the loop ends
// them as canceled.
func TestSchedulerTCPAsyncCancels(t *testing.T) {
	n := probeNewNet(t, "", probeTargetFirewall)
	ns, err := ipvs.OpenNetNS("/run/netns/"+n.checker.name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	netns := NewNetNS(ns.Do, ns.Generation)
	dropped := func(server string) Target {
		c := netns.apply(NewTCP(netip.AddrPortFrom(n.target4, probePortDropped), TCPOptions{}))
		return Target{Service: svc, Server: server, Checks: []CheckSpec{
			{Name: "tcp", Checker: c, Schedule: Every{2 * time.Hour}, Timeout: time.Hour}}}
	}
	s := NewScheduler(SchedulerOptions{})
	if err := s.Update([]Target{dropped("a"), dropped("b")}); err != nil {
		t.Fatal(err)
	}
	startNow(s)
	running := func(want int) func() error {
		return func() error {
			if got := s.running.Load(); got != int64(want) {
				return fmt.Errorf("%d runs hold a slot, want %d", got, want)
			}
			return nil
		}
	}
	testutil.Poll(t, 30*time.Second, 10*time.Millisecond, running(2))
	if async, goroutine := asyncRuns(s); async != 2 || goroutine != 0 {
		t.Errorf("%d runs on the event loop and %d in a goroutine, want 2 and 0", async, goroutine)
	}
	if err := s.Update([]Target{dropped("b")}); err != nil {
		t.Fatal(err)
	}
	testutil.Poll(t, 30*time.Second, 10*time.Millisecond, running(1))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); err == nil {
		t.Error("Stop returned no error while a check was running")
	}
	// Stop cancels the runs left and returns; the loop ends them.
	testutil.Poll(t, 30*time.Second, 10*time.Millisecond, func() error {
		if got := s.pending.Load(); got != 0 {
			return fmt.Errorf("%d runs pending after Stop", got)
		}
		return nil
	})
	st, _ := s.StatusOf(svc, "b")
	if c := st.Checks[0].Last; c.Class != ClassError || c.Reason != probeCanceledReason {
		t.Errorf("run ended by Stop: %s %q, want the canceled error", c.Class, c.Reason)
	}
}

// A TCP check whose connect did not complete at once goes to the loop
// without looking again, but every tcpPeekEvery'th run looks, and one
// that then finds the handshake over looks every time again. The
// listener's accept queue (backlog 0: one connection) is full for the
// first run, whose SYN the kernel drops.
func TestTCPDialPeeks(t *testing.T) {
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	target := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*unix.SockaddrInet4).Port))
	filler, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(filler)
	if err := unix.Connect(filler, sa); err != nil {
		t.Fatal(err)
	}

	c := NewTCP(target, TCPOptions{})
	dial := func() bool {
		fd, _, res, pending := c.dialPeek()
		if pending {
			unix.Close(fd)
		} else if res.Class != ClassOpen {
			t.Fatalf("dial: %s %q, want open", res.Class, res.Reason)
		}
		return pending
	}
	if !dial() {
		t.Fatal("the first connect completed at once with the accept queue full")
	}
	// Empty the queue: connects complete at once from now on.
	nfd, _, err := unix.Accept(lfd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(nfd)
	accept := func() {
		for {
			nfd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK)
			if err != nil {
				return
			}
			unix.Close(nfd)
		}
	}
	if err := unix.SetNonblock(lfd, true); err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for dial() {
		accept()
		if skipped++; skipped > tcpPeekEvery {
			t.Fatalf("%d runs after the first did not look whether the connect was over", skipped)
		}
	}
	accept()
	if skipped != tcpPeekEvery-1 {
		t.Errorf("%d runs went to the loop without a look, want %d", skipped, tcpPeekEvery-1)
	}
	for range 3 {
		if dial() {
			t.Fatal("a run went to the loop without a look after one had found the connect over")
		}
		accept()
	}
}
