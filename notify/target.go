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
	ep                                    episode

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

// episode is a target's drop episode: it starts with the first
// notification the full queue drops, which is logged, and ends once the
// queue has drained (a delivery left it empty) and episodeQuiet has
// passed without a drop. A receiver that is down keeps the queue full, so
// its whole outage is one episode however far apart the drops are.
type episode struct {
	mu       sync.Mutex
	on       bool
	drained  bool          // a delivery left the queue empty since the last drop
	lastDrop time.Duration // on the target's clock
	dropped  uint64        // in this episode
}

// enqueue queues n without ever waiting; a full queue drops it.
func (t *target) enqueue(n *Notification) {
	select {
	case t.queue <- n:
		return
	default:
	}
	t.dropped.Add(1)
	now := t.clock.Monotonic()
	e := &t.ep
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.on && e.drained && now-e.lastDrop >= episodeQuiet {
		// The queue drained too soon after the last drop for deliver to
		// end the episode, and nothing was dropped since: it ended.
		t.endEpisodeLocked()
	}
	e.lastDrop, e.drained = now, false
	e.dropped++
	if !e.on {
		e.on = true
		t.log.Warn("notification queue full: dropping notifications for this target until it drains (the receiver is down or slow)",
			"queue_size", t.cfg.QueueSize, "event", n.Event.String())
	}
}

// endEpisodeLocked ends the drop episode, logging how many it dropped.
func (t *target) endEpisodeLocked() {
	t.log.Info("notification queue has room again", "dropped", t.ep.dropped)
	t.ep.on, t.ep.dropped = false, 0
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
// queue drained, before it ends: a burst that a fast-failing target
// drains in between is one episode, logged once.
const episodeQuiet = time.Second

// deliver sends one notification, then notes whether that left the queue
// empty, which ends a drop episode once nothing was dropped for
// episodeQuiet.
func (t *target) deliver(n *Notification) {
	pdus, err := t.varbinds(n)
	if err != nil {
		t.failed.Add(1)
		t.logErr("cannot build notification", err)
	} else if pdus != nil {
		t.send(pdus)
	}
	t.delivered()
}

// delivered notes whether a delivery left the queue empty, and ends the
// drop episode if so and nothing was dropped for episodeQuiet.
func (t *target) delivered() {
	e := &t.ep
	e.mu.Lock()
	defer e.mu.Unlock()
	// Under the lock: a drop that comes after this look at the queue
	// clears drained again.
	if !e.on || len(t.queue) != 0 {
		return
	}
	e.drained = true
	if t.clock.Monotonic()-e.lastDrop >= episodeQuiet {
		t.endEpisodeLocked()
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
	select {
	case <-t.abandon:
		// The error is shutdown's closing of the socket.
		t.logErr("notification abandoned at shutdown", errStopping)
		return
	default:
	}
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
	t.connMu.Lock()
	defer t.connMu.Unlock()
	select {
	case <-t.abandon:
		// shutdown looked for a socket to close before this one was
		// there: it must not wait for an acknowledgement.
		_ = g.Conn.Close()
		return errStopping
	default:
	}
	t.client = g
	t.conn = g.Conn
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
			"type", typeName(t.cfg.Inform), "version", t.cfg.SNMP.Version.String())
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
		// Closed, not given a past deadline: gosnmp sets its own deadline
		// before each wait, which undid one set just before it, and an
		// inform then waited its whole timeout. On a closed socket a
		// wait in progress ends and the next write fails at once;
		// connect opens no other after abandon.
		_ = t.conn.Close()
	}
	t.connMu.Unlock()
	<-t.done
}
