package notify

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// errStopping is why a notification still queued at the drain deadline
// is not sent.
var errStopping = errors.New("the sidecar stopped before it could be sent")

// target is one receiver: its queue, its goroutine and its GoSNMP.
type target struct {
	cfg      config.NotifyTarget
	director string
	start    time.Time // for sysUpTime and the v3 engine time
	boots    uint32
	clock    health.Clock // times the drop episodes
	log      *slog.Logger

	queue chan *Notification
	stop  chan struct{} // closed: send what is queued until the drain deadline, then return
	done  chan struct{} // closed when run returns
	// abandon is closed once the drain deadline passes: a send in
	// progress (an inform waiting) ends.
	abandon     chan struct{}
	abandonOnce sync.Once

	sent, acked, failed, dropped, retried atomic.Uint64
	dropping                              atomic.Bool // a drop episode is on (logged once)
	droppedInEpisode                      atomic.Uint64
	lastDrop                              atomic.Int64 // the clock's monotonic reading

	// Owned by run's goroutine.
	client  *gosnmp.GoSNMP
	lastErr string
	// conn is client's socket, for shutdown to unblock a wait.
	connMu sync.Mutex
	conn   net.Conn
}

func newTarget(cfg config.NotifyTarget, director string, start time.Time, clock health.Clock, log *slog.Logger) *target {
	return &target{cfg: cfg, director: director, start: start, boots: bootCount(start), clock: clock,
		log: log.With("target", cfg.Name, "address", cfg.Address), queue: make(chan *Notification, cfg.QueueSize),
		stop: make(chan struct{}), done: make(chan struct{}), abandon: make(chan struct{})}
}

// enqueue queues n without ever waiting; a full queue drops it.
func (t *target) enqueue(n *Notification) {
	select {
	case t.queue <- n:
		return
	default:
	}
	t.dropped.Add(1)
	t.droppedInEpisode.Add(1)
	now := int64(t.clock.Monotonic())
	last := t.lastDrop.Swap(now)
	// A new episode: none was on, or the last drop is so long ago that
	// the queue had room meanwhile (no delivery since noticed it).
	if !t.dropping.Swap(true) || time.Duration(now-last) >= episodeQuiet {
		t.log.Warn("notification queue full: dropping notifications for this target until it drains (the receiver is down or slow)",
			"queue_size", t.cfg.QueueSize, "event", n.Event.String())
	}
}

// run sends queued notifications until stop, then what is still queued
// until abandon.
func (t *target) run() {
	defer close(t.done)
	defer t.closeClient()
	for {
		select {
		case n := <-t.queue:
			t.deliver(n)
		case <-t.stop:
			for {
				select {
				case n := <-t.queue:
					select {
					case <-t.abandon:
						return
					default:
					}
					t.deliver(n)
				default:
					return
				}
			}
		}
	}
}

// episodeQuiet is how long a drop episode must go without a drop, its
// queue empty, before it ends: a burst that a fast-failing target drains
// in between is one episode, logged once.
const episodeQuiet = time.Second

// deliver sends one notification and ends a drop episode once the queue
// is empty and nothing was dropped for episodeQuiet.
func (t *target) deliver(n *Notification) {
	pdus, err := t.varbinds(n)
	if err != nil {
		t.failed.Add(1)
		t.logErr("cannot build notification", err)
	} else if pdus != nil {
		t.send(pdus)
	}
	if t.dropping.Load() && len(t.queue) == 0 && t.clock.Monotonic()-time.Duration(t.lastDrop.Load()) >= episodeQuiet {
		t.dropping.Store(false)
		t.log.Info("notification queue has room again", "dropped", t.droppedInEpisode.Swap(0))
	}
}

// varbinds returns the PDUs of n in the target's mode; nil when the mode
// has no notification for it.
func (t *target) varbinds(n *Notification) ([]gosnmp.SnmpPDU, error) {
	if t.cfg.Mode == config.ModeKeepalived {
		return keepalivedVarbinds(n, t.director, t.uptime())
	}
	return sidecarVarbinds(n, t.director, t.uptime())
}

// uptime is sysUpTime: hundredths of a second since the notifier started.
func (t *target) uptime() uint32 {
	return uint32(time.Since(t.start) / (10 * time.Millisecond)) //nolint:gosec // wraps after 497 days, as TimeTicks do
}

// send sends a trap once, or an inform until it is acknowledged: after a
// timeout the inform is sent again with the timeout doubled (at most 8
// times the configured one), Retries times.
func (t *target) send(pdus []gosnmp.SnmpPDU) {
	attempts := 1
	if t.cfg.Inform {
		attempts += t.cfg.Retries
	}
	var err error
	for i := range attempts {
		// After the drain deadline nothing more is sent (a notification
		// still queued, or a retry).
		select {
		case <-t.abandon:
			t.failed.Add(1)
			t.logErr("notification abandoned at shutdown", errStopping)
			return
		default:
		}
		if i > 0 {
			t.retried.Add(1)
		}
		if err = t.connect(); err == nil {
			t.client.Timeout = min(t.cfg.Timeout<<i, 8*t.cfg.Timeout)
			if usm, ok := t.client.SecurityParameters.(*gosnmp.UsmSecurityParameters); ok && !t.cfg.Inform {
				usm.AuthoritativeEngineTime = uint32(time.Since(t.start) / time.Second) //nolint:gosec
			}
			_, err = t.client.SendTrap(gosnmp.SnmpTrap{Variables: pdus, IsInform: t.cfg.Inform})
		}
		if err == nil {
			t.sent.Add(1)
			if t.cfg.Inform {
				t.acked.Add(1)
			}
			if t.lastErr != "" {
				t.lastErr = ""
				t.log.Info("notifications reach the target again")
			}
			return
		}
		if !t.cfg.Inform {
			break
		}
	}
	t.failed.Add(1)
	t.logErr("notification not delivered", err)
	// A fresh socket (and, for v3 informs, a fresh discovery of the
	// receiver's engine ID and time) for the next one: the receiver may
	// have restarted.
	t.closeClient()
}

// connect opens the client's socket if it has none.
func (t *target) connect() error {
	if t.client != nil && t.client.Conn != nil {
		return nil
	}
	g, err := newClient(&t.cfg, t.director, t.boots)
	if err != nil {
		return err
	}
	if err := g.Connect(); err != nil {
		return err
	}
	t.client = g
	t.connMu.Lock()
	t.conn = g.Conn
	t.connMu.Unlock()
	return nil
}

// closeClient closes the client's socket and forgets the client.
func (t *target) closeClient() {
	if t.client != nil && t.client.Conn != nil {
		_ = t.client.Conn.Close()
	}
	t.client = nil
	t.connMu.Lock()
	t.conn = nil
	t.connMu.Unlock()
}

// logErr logs the first failure of an episode, which ends when a
// notification gets through again (logged too): a receiver that is down
// gives two lines, not one per notification, whatever the errors say
// (they name the socket's local port, new for every attempt). gosnmp's
// errors carry no secrets: they name the address and the problem.
func (t *target) logErr(msg string, err error) {
	if err == nil {
		err = errors.New("unknown error")
	}
	if t.lastErr == "" {
		t.lastErr = err.Error()
		t.log.Warn(msg+"; further failures are counted in ipvs_notify_failed_total until one gets through", "err", err,
			"type", typeName(t.cfg.Inform), "version", t.cfg.Version.String())
	}
}

func typeName(inform bool) string {
	if inform {
		return "inform"
	}
	return "trap"
}

// shutdown stops the target: what is queued is still sent until ctx is
// done, then a send in progress is abandoned. It returns when run has.
func (t *target) shutdown(ctx context.Context) {
	close(t.stop)
	select {
	case <-t.done:
		return
	case <-ctx.Done():
	}
	t.abandonOnce.Do(func() { close(t.abandon) })
	t.connMu.Lock()
	if t.conn != nil {
		// Unblocks a read waiting for an acknowledgement.
		_ = t.conn.SetDeadline(time.Now())
	}
	t.connMu.Unlock()
	<-t.done
}
