package ipvs

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// stallSocket is a netlink socket whose peer never answers: Receive blocks
// until the deadline set with SetDeadline passes, like a real socket's
// recvmsg, or until Close.
type stallSocket struct {
	mu        sync.Mutex
	deadline  time.Time
	wake      chan struct{} // closed and replaced when deadline or closed change
	closed    bool
	sent      int
	deadlines []time.Time
}

func newStallSocket() *stallSocket { return &stallSocket{wake: make(chan struct{})} }

func (s *stallSocket) poke() {
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *stallSocket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.poke()
	return nil
}

func (s *stallSocket) Send(netlink.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent++
	return nil
}

func (s *stallSocket) SendMessages(m []netlink.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent += len(m)
	return nil
}

func (s *stallSocket) Receive() ([]netlink.Message, error) {
	for {
		s.mu.Lock()
		closed, d, wake := s.closed, s.deadline, s.wake
		s.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		var expired <-chan time.Time
		if !d.IsZero() {
			if !time.Now().Before(d) {
				return nil, os.ErrDeadlineExceeded
			}
			timer := time.NewTimer(time.Until(d))
			defer timer.Stop()
			expired = timer.C
		}
		select {
		case <-expired:
			return nil, os.ErrDeadlineExceeded
		case <-wake:
		}
	}
}

func (s *stallSocket) SetDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = t
	s.deadlines = append(s.deadlines, t)
	s.poke()
	return nil
}

func (s *stallSocket) SetReadDeadline(t time.Time) error  { return s.SetDeadline(t) }
func (s *stallSocket) SetWriteDeadline(t time.Time) error { return s.SetDeadline(t) }

func (s *stallSocket) sentCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

func stallReader(t *testing.T, timeout time.Duration) (*Reader, *stallSocket) {
	t.Helper()
	sock := newStallSocket()
	r, err := NewReader(ReaderOptions{
		Timeout: timeout,
		Dial:    func() (*genetlink.Conn, error) { return genetlink.NewConn(netlink.NewConn(sock, 1)), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, sock
}

func TestSnapshotContextDeadline(t *testing.T) {
	r, sock := stallReader(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()

	start := time.Now()
	_, err := r.Snapshot(ctx)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed > time.Second {
		t.Errorf("Snapshot returned after %v, the deadline was 100ms", elapsed)
	}
	sock.mu.Lock()
	defer sock.mu.Unlock()
	if len(sock.deadlines) == 0 || !sock.deadlines[0].Equal(want) {
		t.Errorf("socket deadlines %v, want first %v (the context's)", sock.deadlines, want)
	}
	if !sock.closed {
		t.Errorf("the socket of a timed-out Snapshot was kept")
	}
}

func TestSnapshotOptionsTimeout(t *testing.T) {
	r, _ := stallReader(t, 50*time.Millisecond)
	start := time.Now()
	_, err := r.Snapshot(context.Background())
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Snapshot returned after %v, Timeout was 50ms", elapsed)
	}
}

func TestSnapshotCancel(t *testing.T) {
	r, sock := stallReader(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := r.Snapshot(ctx)
		errc <- err
	}()
	// Cancel once the request is out and the reader waits for the reply.
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		if sock.sentCount() == 0 {
			return errors.New("no request sent")
		}
		return nil
	})
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Snapshot still blocked 5s after cancel")
	}
}

func TestSnapshotWaitsForSnapshotInProgressWithinDeadline(t *testing.T) {
	r, _ := stallReader(t, time.Hour)
	ctx1, cancel1 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel1()
	go func() { _, _ = r.Snapshot(ctx1) }()
	// Let the first Snapshot take the reader, then ask with a shorter bound.
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		if len(r.sem) == 0 {
			return errors.New("first Snapshot did not start")
		}
		return nil
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err := r.Snapshot(ctx2)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > 250*time.Millisecond {
		t.Errorf("waited %v for the other Snapshot, past its own 20ms deadline", elapsed)
	}
}
