//go:build e2e

package e2e

// Helpers to run lvs-sidecar (and node_exporter) in a lab namespace, scrape
// it from the test process, and read the kernel's own view of the table.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// inNetNS runs fn on an OS thread that is in network namespace ns (a name
// under /run/netns): sockets fn opens live in ns, whichever namespace they
// are used from later. "root" is the VM's own namespace, this process's.
func inNetNS(ns string, fn func() error) error {
	if ns == "root" {
		return fn()
	}
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return fmt.Errorf("enter namespace: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so it ends with its goroutine rather
		// than running other goroutines in the wrong namespace.
		return fmt.Errorf("leave namespace %s: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// dialInNS dials from network namespace ns. Addresses must be IP literals
// (a name lookup would run elsewhere).
func dialInNS(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetNS(ns, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// httpInNS returns an HTTP client whose connections start in namespace ns,
// one per request (IPVS schedules connections, not requests).
func httpInNS(ns string) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialInNS(ctx, ns, network, addr)
			},
		},
	}
}

// httpGet fetches url with client and returns the body; a status other
// than 200 is an error.
func httpGet(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// poll calls check every 100ms until it returns nil, and fails the test
// with check's last error when timeout passes first.
func poll(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	testutil.Poll(t, timeout, 100*time.Millisecond, check)
}

// daemon is a server process a test started in a namespace: lvs-sidecar
// or node_exporter, listening on 127.0.0.1 there.
type daemon struct {
	name   string
	ns     string
	base   string // http://127.0.0.1:PORT
	client *http.Client
	cmd    *exec.Cmd
	stderr testutil.SyncBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// nextPort hands out listening ports: each daemon gets its own, so that a
// previous one's lingering socket never matters.
var nextPort atomic.Int32

func init() { nextPort.Store(19960) }

// startDaemon starts program in namespace ns with args plus
// --web.listen-address on a port of its own, waits until path answers 200,
// and stops the process when the test ends.
func startDaemon(t *testing.T, ns, path, program string, args ...string) *daemon {
	t.Helper()
	return startDaemonAs(t, nil, ns, path, program, args...)
}

// startDaemonAs is startDaemon with the process attributes attr (user,
// capabilities; nil for none). The process is started from a thread inside
// ns, so it is born in that namespace without needing the privilege to
// enter it (nsenter would, which an unprivileged user lacks).
func startDaemonAs(t *testing.T, attr *syscall.SysProcAttr, ns, path, program string, args ...string) *daemon {
	t.Helper()
	return startDaemonWithin(t, daemonStartBound, attr, ns, path, program, args...)
}

// daemonStartBound is how long a daemon may take to answer: generous,
// because on a loaded CI host the single-vCPU TCG guest has been seen
// taking 4 s from loading its config to listening.
const daemonStartBound = 45 * time.Second

// startDaemonWithin is startDaemonAs that waits up to timeout for path to
// answer.
func startDaemonWithin(t *testing.T, timeout time.Duration, attr *syscall.SysProcAttr, ns, path, program string, args ...string) *daemon {
	t.Helper()
	port := int(nextPort.Add(1))
	d := &daemon{
		name:   program,
		ns:     ns,
		base:   "http://127.0.0.1:" + strconv.Itoa(port),
		client: httpInNS(ns),
		exited: make(chan struct{}),
	}
	bin, err := exec.LookPath(program)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, append([]string{"--web.listen-address=127.0.0.1:" + strconv.Itoa(port)}, args...)...)
	d.cmd.Stderr = &d.stderr
	d.cmd.Stdout = &d.stderr
	d.cmd.SysProcAttr = attr
	if err := inNetNS(ns, d.cmd.Start); err != nil {
		t.Fatalf("start %s in namespace %s: %v", program, ns, err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.stop(t) })

	poll(t, timeout, func() error {
		select {
		case <-d.exited:
			t.Fatalf("%s exited: %v; its log:\n%s", program, d.err, d.log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := d.get(ctx, path)
		return err
	})
	return d
}

func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.exited:
	default:
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	}
	if t.Failed() {
		t.Logf("%s's log:\n%s", d.name, d.log())
	}
}

// get fetches path from the daemon.
func (d *daemon) get(ctx context.Context, path string) ([]byte, error) {
	return httpGet(ctx, d.client, d.base+path)
}

// log returns what the process printed so far.
func (d *daemon) log() string { return d.stderr.String() }

// startSidecar starts lvs-sidecar in the director's namespace with args.
func startSidecar(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startDaemon(t, "director", "/metrics", "lvs-sidecar", args...)
}

// tryScrape scrapes lvs-sidecar and parses the result.
func (d *daemon) tryScrape(ctx context.Context) (*Scrape, error) {
	body, err := d.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	return ParseScrape(bytes.NewReader(body))
}

// scrape is tryScrape that fails the test on an error.
func (d *daemon) scrape(t *testing.T) *Scrape {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := d.tryScrape(ctx)
	if err != nil {
		t.Fatalf("scrape lvs-sidecar: %v", err)
	}
	return s
}

// ipvsadmStats reads `ipvsadm -Ln --stats --exact` in the director's
// namespace.
func ipvsadmStats(t *testing.T) *Table {
	t.Helper()
	tab, err := ParseIpvsadmStats(inNS(t, "director", "ipvsadm", "-Ln", "--stats", "--exact"))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// procIPVS reads /proc/net/ip_vs and /proc/net/ip_vs_stats in the
// director's namespace: the table with scheduler, forwarding method,
// weight, connection counts and host totals.
func procIPVS(t *testing.T) *Table {
	t.Helper()
	tab, err := ParseProcIPVS(inNS(t, "director", "cat", "/proc/net/ip_vs"))
	if err != nil {
		t.Fatal(err)
	}
	if tab.Totals, err = ParseProcStats(inNS(t, "director", "cat", "/proc/net/ip_vs_stats")); err != nil {
		t.Fatal(err)
	}
	return tab
}

// ipvsLoaded reports whether the ip_vs module is loaded: its proc file is
// there.
func ipvsLoaded(t *testing.T) bool {
	t.Helper()
	_, err := os.Stat("/proc/net/ip_vs")
	switch {
	case err == nil:
		return true
	case errors.Is(err, os.ErrNotExist):
		return false
	}
	t.Fatal(err)
	return false
}

// lsmodIPVS lists the loaded modules whose name starts with ip_vs.
func lsmodIPVS(t *testing.T) []string {
	t.Helper()
	var mods []string
	for line := range strings.Lines(inNS(t, "root", "cat", "/proc/modules")) {
		if name, _, _ := strings.Cut(line, " "); strings.HasPrefix(name, "ip_vs") {
			mods = append(mods, name)
		}
	}
	return mods
}

// labRS and labRS6 return real server n's addresses, as lab_rs and lab_rs6
// in lab/guest/topology.sh print them.
func labRS(n int) netip.Addr  { return netip.MustParseAddr(fmt.Sprintf("203.0.113.1%d", n)) }
func labRS6(n int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8:2::1%d", n)) }
