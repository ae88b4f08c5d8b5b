//go:build e2e

package e2e

// Helpers of the controller tests (reconcile_*_test.go): a configuration
// that declares one NAT service on the lab's VIP with TCP checks, HTTP
// responders in the real servers' namespaces, the director's kernel table
// read straight from /proc, a client sending steady traffic through the
// VIP, and lvs-sidecar behind basic auth.
//
// The controller tests live in files named reconcile_*: Go runs test files
// in name order, and TestModuleNotLoaded (module_test.go) must be the
// first test of the binary that touches ip_vs through this process. These
// tests only drive lvs-sidecar and ipvsadm processes, but sorting after
// "module" keeps that rule without relying on it.

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"golang.org/x/crypto/bcrypt"
)

// The checks every controller test declares, and the controller's period:
// a server that stops answering is down after ctlFall failed checks, so
// drained within ctlFall × ctlInterval + ctlTimeout, plus the controller's
// reaction (it passes at once on a verdict change).
const (
	ctlInterval = 500 * time.Millisecond
	ctlTimeout  = 300 * time.Millisecond
	ctlRise     = 2
	ctlFall     = 3
	ctlPeriod   = time.Second
)

// ctlDrainBound is the bound from a real server's death to its
// drain in the kernel: fall × interval + timeout + 1 s.
const ctlDrainBound = ctlFall*ctlInterval + ctlTimeout + time.Second

// ctlServer is a declared real server: rsN of the lab, on its service's
// port.
type ctlServer struct {
	n, weight    int
	upper, lower int // thresholds, 0: none
}

// ctlService is the one service a controller test declares: a TCP NAT
// service on LAB_VIP:port with rs1..rs3 (as servers says) on the same
// port.
type ctlService struct {
	name      string
	port      int
	onFailure string        // drain or remove
	slowStart time.Duration // 0: none
	panic     string        // panic_threshold, "0%": off
	load      string        // the service's load block (flow style); "": none
	servers   []ctlServer
}

// vip returns the service's VIP:PORT.
func (s ctlService) vip(t *testing.T) string {
	t.Helper()
	return netip.AddrPortFrom(netip.MustParseAddr(labEnv(t, "LAB_VIP")), uint16(s.port)).String()
}

// key returns the service's label in metrics and logs: tcp/VIP:PORT.
func (s ctlService) key(t *testing.T) string {
	t.Helper()
	return "tcp/" + s.vip(t)
}

// server returns real server n's ADDR:PORT in the service.
func (s ctlService) server(n int) string {
	return netip.AddrPortFrom(labRS(n), uint16(s.port)).String()
}

// config writes the configuration file declaring s, with mode as
// controller.mode, and returns its path.
func (s ctlService) config(t *testing.T, mode string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `services:
  - name: %s
    address: %s
    protocol: tcp
    scheduler: wrr
    on_failure: %s
    slow_start: %v
    panic_threshold: %s
`, s.name, s.vip(t), s.onFailure, s.slowStart, s.panic)
	if s.load != "" {
		fmt.Fprintf(&b, "    load: %s\n", s.load)
	}
	b.WriteString("    real_servers:\n")
	for _, rs := range s.servers {
		fmt.Fprintf(&b, "      - {address: %s, weight: %d, forward: nat, upper_threshold: %d, lower_threshold: %d}\n",
			s.server(rs.n), rs.weight, rs.upper, rs.lower)
	}
	fmt.Fprintf(&b, `    checks:
      - {type: tcp, schedule: "@every %v", timeout: %v, rise: %d, fall: %d, fast_interval: 0s, down_interval: 0s, jitter: 0s}
controller:
  mode: %s
  period: %v
`, ctlInterval, ctlTimeout, ctlRise, ctlFall, mode, ctlPeriod)
	file := filepath.Join(t.TempDir(), s.name+".yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// prepare loads ip_vs and makes sure the service is deleted when the test
// ends. Call it before starting the sidecar: cleanups run last first, so
// the sidecar is stopped before the service goes.
func (s ctlService) prepare(t *testing.T) {
	t.Helper()
	inNS(t, "root", "modprobe", "ip_vs")
	vip := s.vip(t)
	deleteService(t, vip) // a failed earlier run's leftovers
	t.Cleanup(func() { deleteService(t, vip) })
}

// deleteService deletes TCP service vip from the director's table, if it
// is there.
func deleteService(t *testing.T, vip string) {
	t.Helper()
	if !strings.Contains(inNS(t, "director", "ipvsadm", "-Ln"), vip) {
		return
	}
	if _, err := tryInNS(t, "director", "ipvsadm", "-D", "-t", vip); err != nil {
		t.Errorf("delete service %s: %v", vip, err)
	}
}

// createByHand builds the service and its declared real servers with
// ipvsadm, as an operator's script would.
func (s ctlService) createByHand(t *testing.T) {
	t.Helper()
	inNS(t, "director", "ipvsadm", "-A", "-t", s.vip(t), "-s", "wrr")
	for _, rs := range s.servers {
		args := []string{"ipvsadm", "-a", "-t", s.vip(t), "-r", s.server(rs.n), "-m", "-w", strconv.Itoa(rs.weight)}
		if rs.upper > 0 {
			args = append(args, "-x", strconv.Itoa(rs.upper))
		}
		if rs.lower > 0 {
			args = append(args, "-y", strconv.Itoa(rs.lower))
		}
		inNS(t, "director", args...)
	}
}

// kernel reads the director's table from /proc/PID/net/ip_vs of the
// process that anchors the director's namespace (topology.sh's lab_ns):
// no process to start, so it can be sampled every 50 ms.
type kernel struct {
	path string
}

// directorKernel returns the director's table reader.
func directorKernel(t *testing.T) *kernel {
	t.Helper()
	pid, err := os.ReadFile("/run/netns/director.pid")
	if err != nil {
		t.Fatalf("the director's anchor process: %v", err)
	}
	return &kernel{path: "/proc/" + strings.TrimSpace(string(pid)) + "/net/ip_vs"}
}

// table reads and parses the table.
func (k *kernel) table() (*Table, error) {
	data, err := os.ReadFile(k.path)
	if err != nil {
		return nil, err
	}
	return ParseProcIPVS(string(data))
}

// weights returns the weight of each real server of service (a key like
// tcp/VIP:PORT) by ADDR:PORT; a missing service has none.
func (k *kernel) weights(service string) (map[string]int64, error) {
	tab, err := k.table()
	if err != nil {
		return nil, err
	}
	w := map[string]int64{}
	if svc := tab.Services[service]; svc != nil {
		for name, rs := range svc.Servers {
			w[name] = rs.Weight
		}
	}
	return w, nil
}

// mustWeights is weights that fails the test on an error.
func (k *kernel) mustWeights(t *testing.T, service string) map[string]int64 {
	t.Helper()
	w, err := k.weights(service)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// awaitWeights polls the kernel every 50 ms until want holds for every
// server it names (-1: not in the table), and returns when it first held.
func (k *kernel) awaitWeights(t *testing.T, service string, want map[string]int64, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := k.mustWeights(t, service)
		now := time.Now()
		if weightsMatch(got, want) {
			return now
		}
		if now.After(deadline) {
			t.Fatalf("kernel weights of %s not %v within %v: %v", service, want, timeout, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// weightsMatch reports whether got has want's weight for every server want
// names; -1 wants the server absent.
func weightsMatch(got, want map[string]int64) bool {
	for server, w := range want {
		g, ok := got[server]
		if w < 0 && ok || w >= 0 && (!ok || g != w) {
			return false
		}
	}
	return true
}

// declaredWeights returns what the kernel has for s once every server is
// up: its declared weights.
func (s ctlService) declaredWeights() map[string]int64 {
	w := map[string]int64{}
	for _, rs := range s.servers {
		w[s.server(rs.n)] = int64(rs.weight)
	}
	return w
}

// with returns a copy of w with server set to weight.
func with(w map[string]int64, server string, weight int64) map[string]int64 {
	c := make(map[string]int64, len(w))
	for k, v := range w {
		c[k] = v
	}
	c[server] = weight
	return c
}

// saveTable returns `ipvsadm -S -n` of the director: the table's rules,
// without counters, in the kernel's order.
func saveTable(t *testing.T) string {
	t.Helper()
	return inNS(t, "director", "ipvsadm", "-S", "-n")
}

// httpRS is an HTTP responder in a real server's namespace answering every
// request with the server's name (rsN). close stops it and cuts its
// connections, like a crashed server: the port answers SYNs with a RST
// until open starts it again.
type httpRS struct {
	ns   string
	port int

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{} // closed when Serve returned
}

// serveHTTPInRS starts a responder on port in real server n's namespace,
// stopped when the test ends.
func serveHTTPInRS(t *testing.T, n, port int) *httpRS {
	t.Helper()
	h := &httpRS{ns: rsNS(n), port: port}
	h.open(t)
	t.Cleanup(func() { h.close(t) })
	return h
}

func (h *httpRS) open(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		t.Fatalf("responder of %s:%d is already running", h.ns, h.port)
	}
	var ln net.Listener
	err := inNetNS(h.ns, func() error {
		var err error
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(h.port))
		return err
	})
	if err != nil {
		t.Fatalf("listen on port %d in %s: %v", h.port, h.ns, err)
	}
	name := h.ns
	h.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, name)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	h.done = make(chan struct{})
	srv, done := h.srv, h.done
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
}

func (h *httpRS) close(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv == nil {
		return
	}
	if err := h.srv.Close(); err != nil {
		t.Errorf("stop the responder of %s:%d: %v", h.ns, h.port, err)
	}
	<-h.done
	h.srv = nil
}

// request is one request of a client's steady traffic.
type request struct {
	start, end time.Time
	server     string // the body: which real server answered
	err        error
}

// traffic sends one request at a time from the client namespace, a new
// connection each, every interval, and records every one.
type traffic struct {
	mu   sync.Mutex
	reqs []request
	stop chan struct{}
	done chan struct{}
}

// startTraffic starts requests to url every interval until stopped (at
// the latest when the test ends).
func startTraffic(t *testing.T, url string, interval time.Duration) *traffic {
	t.Helper()
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{})}
	client := httpInNS("client")
	client.Timeout = 3 * time.Second
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tr.stop:
				return
			case <-tick.C:
			}
			r := request{start: time.Now()}
			body, err := httpGet(context.Background(), client, url)
			r.end, r.server, r.err = time.Now(), string(body), err
			tr.mu.Lock()
			tr.reqs = append(tr.reqs, r)
			tr.mu.Unlock()
		}
	}()
	t.Cleanup(tr.halt)
	return tr
}

// halt stops the traffic and waits for the request in flight.
func (tr *traffic) halt() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	<-tr.done
}

// requests returns the requests recorded so far.
func (tr *traffic) requests() []request {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]request(nil), tr.reqs...)
}

// awaitRequests waits until n requests that started at or after since
// have ended, successful or not.
func (tr *traffic) awaitRequests(t *testing.T, since time.Time, n int, timeout time.Duration) {
	t.Helper()
	poll(t, timeout, func() error {
		got := 0
		for _, r := range tr.requests() {
			if !r.start.Before(since) {
				got++
			}
		}
		if got < n {
			return fmt.Errorf("%d requests since %v, want %d", got, since.Format("15:04:05.000"), n)
		}
		return nil
	})
}

// metric returns the value of the series of family name whose labels
// include labels (name, value pairs), and whether there is exactly one.
func metric(s *Scrape, name string, labels ...string) (float64, bool) {
	var found []*dto.Metric
	if fam := s.Families[name]; fam != nil {
	next:
		for _, m := range fam.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if label(m, labels[i]) != labels[i+1] {
					continue next
				}
			}
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return value(found[0]), true
}

// sum adds up every series of family name whose labels include labels.
func sum(s *Scrape, name string, labels ...string) float64 {
	total := 0.0
	if fam := s.Families[name]; fam != nil {
	next:
		for _, m := range fam.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if label(m, labels[i]) != labels[i+1] {
					continue next
				}
			}
			total += value(m)
		}
	}
	return total
}

// awaitMetric scrapes d until the series of name with labels has want.
func awaitMetric(t *testing.T, d *daemon, timeout time.Duration, want float64, name string, labels ...string) {
	t.Helper()
	poll(t, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := d.tryScrape(ctx)
		if err != nil {
			return err
		}
		if v, ok := metric(s, name, labels...); !ok || v != want {
			return fmt.Errorf("%s%v = %v (found: %v), want %v", name, labels, v, ok, want)
		}
		return nil
	})
}

// basicAuth is an http.RoundTripper that adds basic-auth credentials.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

// webConfigWithUsers writes an exporter-toolkit web config with the
// basic-auth users given as user, password, user, password... and returns
// its path. The bcrypt cost is the lowest: every request is verified, and
// the VM has no CPU to spare.
func webConfigWithUsers(t *testing.T, userPass ...string) string {
	t.Helper()
	b := []byte("basic_auth_users:\n")
	for i := 0; i+1 < len(userPass); i += 2 {
		hash, err := bcrypt.GenerateFromPassword([]byte(userPass[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b = fmt.Appendf(b, "  %s: %s\n", userPass[i], hash)
	}
	file := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// startSidecarAuth starts lvs-sidecar in the director's namespace with
// --web.config.file=webConfig and args, like startSidecar, and scrapes it
// with user and password.
func startSidecarAuth(t *testing.T, webConfig, user, password string, args ...string) *daemon {
	t.Helper()
	port := int(nextPort.Add(1))
	client := httpInNS("director")
	client.Transport = basicAuth{user, password, client.Transport}
	d := &daemon{
		name:   "lvs-sidecar",
		ns:     "director",
		base:   "http://127.0.0.1:" + strconv.Itoa(port),
		client: client,
		exited: make(chan struct{}),
	}
	bin, err := exec.LookPath("lvs-sidecar")
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, append([]string{"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
		"--web.config.file=" + webConfig}, args...)...)
	d.cmd.Stderr = &d.stderr
	d.cmd.Stdout = &d.stderr
	if err := inNetNS("director", d.cmd.Start); err != nil {
		t.Fatalf("start lvs-sidecar in the director's namespace: %v", err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.stop(t) })
	poll(t, 15*time.Second, func() error {
		select {
		case <-d.exited:
			t.Fatalf("lvs-sidecar exited: %v; its log:\n%s", d.err, d.log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := d.get(ctx, "/metrics")
		return err
	})
	return d
}

// terminate sends SIGTERM to the daemon and waits until it exited, failing
// the test unless it exits with status 0 within 10 s.
func (d *daemon) terminate(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", d.name, err)
	}
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still runs 10 s after SIGTERM; its log:\n%s", d.name, d.log())
	}
	if d.err != nil {
		t.Errorf("%s exited with %v after SIGTERM; its log:\n%s", d.name, d.err, d.log())
	}
}
