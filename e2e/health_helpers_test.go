//go:build e2e

package e2e

// Helpers of the health-check tests: TCP listeners the test controls in the
// real servers' namespaces, nftables drops there, and checks run from the
// director's namespace.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// rsListener is a TCP listener on all addresses of a real server's
// namespace that accepts connections and closes them at once, counting
// them. close and open stop and restart it on the same port: while it is
// closed the port answers SYNs with a RST.
type rsListener struct {
	ns      string
	port    int
	accepts atomic.Int64

	mu   sync.Mutex
	ln   net.Listener
	done chan struct{} // closed when the accept loop of ln returned
}

// listenInRS opens a listener on port in namespace ns and closes it when the
// test ends.
func listenInRS(t *testing.T, ns string, port int) *rsListener {
	t.Helper()
	l := &rsListener{ns: ns, port: port}
	l.open(t)
	t.Cleanup(func() { l.close(t) })
	return l
}

// open starts listening (again); it fails the test when the port is taken.
func (l *rsListener) open(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		t.Fatalf("listener on %s:%d is already open", l.ns, l.port)
	}
	err := inNetNS(l.ns, func() error {
		var err error
		l.ln, err = net.Listen("tcp", ":"+strconv.Itoa(l.port))
		return err
	})
	if err != nil {
		t.Fatalf("listen on port %d in %s: %v", l.port, l.ns, err)
	}
	ln, done := l.ln, make(chan struct{})
	l.done = done
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			l.accepts.Add(1)
			c.Close()
		}
	}()
}

// close stops listening and waits until the accept loop returned; closing a
// closed listener does nothing.
func (l *rsListener) close(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return
	}
	if err := l.ln.Close(); err != nil {
		t.Errorf("close listener on %s:%d: %v", l.ns, l.port, err)
	}
	<-l.done
	l.ln = nil
}

// nftDrop is an nftables table in a namespace that drops incoming TCP
// packets to some ports: to the checks, those ports are filtered.
type nftDrop struct {
	ns, table string
}

// dropTCP makes namespace ns drop every incoming TCP packet to one of ports
// until the returned rule is removed (at the latest when the test ends).
func dropTCP(t *testing.T, ns string, ports ...int) *nftDrop {
	t.Helper()
	d := &nftDrop{ns: ns, table: fmt.Sprintf("lvs_test_drop_%d", nextPort.Add(1))}
	set := ""
	for i, p := range ports {
		if i > 0 {
			set += ", "
		}
		set += strconv.Itoa(p)
	}
	rules := fmt.Sprintf(`table inet %s {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport { %s } drop
	}
}
`, d.table, set)
	file := filepath.Join(t.TempDir(), d.table+".nft")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	inNS(t, ns, "nft", "-f", file)
	t.Cleanup(func() { d.remove(t) })
	return d
}

// remove deletes the rule; removing it twice does nothing.
func (d *nftDrop) remove(t *testing.T) {
	t.Helper()
	if d.table == "" {
		return
	}
	if _, err := tryInNS(t, d.ns, "nft", "delete", "table", "inet", d.table); err != nil {
		t.Errorf("remove the drop rule: %v", err)
	}
	d.table = ""
}

// checkInNS runs one check from a thread in namespace ns, with timeout as
// its deadline. The TCP and SYN checkers open their sockets in Check, on
// the calling thread, so those sockets live in ns (a SYN scanner's raw
// sockets live where NewSYNScanner ran).
func checkInNS(ns string, c health.Checker, timeout time.Duration) (health.Result, error) {
	var r health.Result
	err := inNetNS(ns, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r = c.Check(ctx)
		return nil
	})
	return r, err
}

// synScannerInNS opens a SYN scanner whose raw sockets live in namespace
// ns, closed when the test ends.
func synScannerInNS(t *testing.T, ns string) *health.SYNScanner {
	t.Helper()
	var s *health.SYNScanner
	err := inNetNS(ns, func() error {
		var err error
		s, err = health.NewSYNScanner()
		return err
	})
	if err != nil {
		t.Fatalf("SYN scanner in %s: %v", ns, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("close the SYN scanner: %v", err)
		}
	})
	return s
}
