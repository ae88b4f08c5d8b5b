package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// listener is a TCP port on loopback the test opens and closes: the real
// server the sidecar checks.
type listener struct {
	addr string
	ln   net.Listener
}

func newListener(t testing.TB, addr string) *listener {
	t.Helper()
	l := &listener{addr: addr}
	l.open(t)
	t.Cleanup(l.close)
	return l
}

func (l *listener) open(t testing.TB) {
	t.Helper()
	if err := l.listen(); err != nil {
		t.Fatal(err)
	}
}

// listen is open for a goroutine that is not the test's own, which must
// not call Fatal: it returns the error instead.
func (l *listener) listen() error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	l.ln, l.addr = ln, ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return nil
}

func (l *listener) close() {
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
}

func (l *listener) port() string {
	_, p, _ := net.SplitHostPort(l.addr)
	return p
}

// healthConfig is a config with one service whose real servers are the
// given loopback addresses, each checked by tcp every 200ms.
func healthConfig(servers ...string) string {
	var b strings.Builder
	b.WriteString("services:\n  - name: web\n    address: 192.0.2.10:80\n    real_servers:\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "      - {address: %s, forward: nat}\n", s)
	}
	b.WriteString(`    checks:
      - {type: tcp, schedule: "@every 200ms", timeout: 100ms, rise: 2, fall: 2}
`)
	return b.String()
}

// metric returns the value of the sample whose name and labels (as written
// in the exposition) are series, and whether there is one.
func metric(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// stateSeries is the health state series of a real server of the
// service in healthConfig in state (unknown, up, down): 1 while it is in
// that state, absent otherwise.
func stateSeries(server, state string) string {
	return fmt.Sprintf(`ipvs_real_server_health_state{server=%q,service="tcp/192.0.2.10:80",state=%q}`, server, state)
}

// checkedServer reports whether body has a health state series of a
// real server of the service in healthConfig: whether it is checked.
func checkedServer(body, server string) bool {
	return strings.Contains(body, fmt.Sprintf(`ipvs_real_server_health_state{server=%q,service="tcp/192.0.2.10:80",`, server))
}

// waitAbsent polls the metrics until the checks' families are in and
// series is not, or fails after within. series is a 0/1 flag written
// only while 1 (absent means 0): a 0 sample of it fails at once.
func waitAbsent(t *testing.T, s *sidecar, auth []string, series string, within time.Duration) {
	t.Helper()
	pollMetrics(t, s, auth, within, func(body string) (bool, string) {
		v, ok := metric(body, series)
		if ok && v == 0 {
			t.Fatalf("%s is 0: a flag written only while 1 has a 0 series", series)
		}
		return !ok && strings.Contains(body, "\nipvs_health_real_servers "), fmt.Sprintf("%s is still %v", series, v)
	})
}

// waitMetric polls the metrics until series has value want, or fails
// after within; it returns how long it took.
func waitMetric(t *testing.T, s *sidecar, auth []string, series string, want float64, within time.Duration) time.Duration {
	t.Helper()
	return pollMetrics(t, s, auth, within, func(body string) (bool, string) {
		if v, ok := metric(body, series); ok && v == want {
			return true, ""
		}
		var lines []string
		for _, l := range strings.Split(body, "\n") {
			if strings.Contains(l, "health") || strings.Contains(l, "reload") {
				lines = append(lines, l)
			}
		}
		return false, fmt.Sprintf("%s did not become %v; last scrape:\n%s", series, want, strings.Join(lines, "\n"))
	})
}

// pollMetrics scrapes the sidecar's metrics (as auth's user and
// password, when given) every 20 ms until done says the body is what it
// waits for, and returns how long that took; after within it fails with
// what done said of the last scrape.
func pollMetrics(t *testing.T, s *sidecar, auth []string, within time.Duration, done func(body string) (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	c := &http.Client{Timeout: 5 * time.Second}
	user, pass := "", ""
	if len(auth) == 2 {
		user, pass = auth[0], auth[1]
	}
	for {
		_, body := get(t, c, "http://"+s.addr+"/metrics", user, pass)
		ok, why := done(body)
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("after %s: %s", within, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countLines counts log lines matching re.
func countLines(log string, re *regexp.Regexp) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// margin is what a loaded CI machine may add to the timing bounds below:
// scheduling of the sidecar's goroutines and of this test's scrapes.
const margin = time.Second

// TestHealthVerdicts runs the binary with a tcp check against a listener
// the test owns: up while it listens, down within fall × interval +
// timeout of closing it (with one log line naming the check, the class and
// the reason), up again within rise × interval of reopening it.
func TestHealthVerdicts(t *testing.T) {
	rs := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, t.TempDir(), "lvs.yml", healthConfig(rs.addr))
	s := start(t, "--config.file="+cfg)
	const (
		interval = 200 * time.Millisecond
		timeout  = 100 * time.Millisecond
		rise     = 2
		fall     = 2
	)
	// The first run starts at a random offset within the first interval.
	waitMetric(t, s, nil, stateSeries(rs.addr, "up"), 1, interval+rise*interval+margin)

	rs.close()
	took := waitMetric(t, s, nil, stateSeries(rs.addr, "down"), 1, fall*interval+timeout+margin)
	checkDown := fmt.Sprintf(`ipvs_real_server_health_check_down{check="tcp:%s",server=%q,service="tcp/192.0.2.10:80"}`, rs.port(), rs.addr)
	if _, body := get(t, &http.Client{}, "http://"+s.addr+"/metrics", "", ""); !strings.Contains(body, checkDown+" 1\n") {
		t.Errorf("/metrics lacks %s 1 while the server is down", checkDown)
	}
	t.Logf("down %s after the listener closed (bound: fall × interval + timeout = %s)", took.Round(time.Millisecond), fall*interval+timeout)
	down := regexp.MustCompile(`level=WARN .*msg="real server down" service=tcp/192\.0\.2\.10:80 server=` + regexp.QuoteMeta(rs.addr) +
		` from=up to=down check=tcp:` + rs.port() + ` result=closed reason="connection refused \(RST\)" latency=`)
	// The line is written before the metric changes; give the pipe a moment.
	deadline := time.Now().Add(margin)
	for countLines(s.logs(), down) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Later failures must not log again.
	time.Sleep(3 * interval)
	if n := countLines(s.logs(), down); n != 1 {
		t.Errorf("%d log lines for the down transition, want 1 matching %s:\n%s", n, down, s.logs())
	}

	rs.open(t)
	took = waitMetric(t, s, nil, stateSeries(rs.addr, "up"), 1, rise*interval+margin)
	t.Logf("up %s after the listener reopened (bound: rise × interval = %s)", took.Round(time.Millisecond), rise*interval)

	_, body := get(t, &http.Client{}, "http://"+s.addr+"/metrics", "", "")
	for _, want := range []string{
		fmt.Sprintf(`ipvs_real_server_health_last_transition_timestamp_seconds{server=%q,service="tcp/192.0.2.10:80"} `, rs.addr),
		`ipvs_health_real_servers 1`,
		`lvs_sidecar_config_last_reload_successful 1`,
		`lvs_sidecar_config_last_reload_success_timestamp_seconds `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, checkDown) {
		t.Errorf("/metrics has %s once the server is up again", checkDown)
	}
	readmeDocumentsMetrics(t, body)
}

// post sends a POST and returns status and body.
func post(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestReload: an invalid file on SIGHUP keeps the running checks and says
// why; a fixed file on POST /-/reload applies; the endpoint is behind the
// web config's basic auth, for the administrator only, and only takes
// POST.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	web := writeFile(t, dir, "web.yml", basicAuthUsers(t, "admin", "s3cret", "prometheus", "scrape"))
	auth := []string{"admin", "s3cret"}
	rs1 := newListener(t, "127.0.0.1:0")
	rs2 := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs1.addr))
	s := start(t, "--web.config.file="+web, "--config.file="+cfg, "--web.enable-lifecycle", "--web.admin-user=admin")
	base := "http://" + s.addr
	waitMetric(t, s, auth, stateSeries(rs1.addr, "up"), 1, 3*time.Second)
	_, body := get(t, &http.Client{}, base+"/metrics", auth[0], auth[1])
	since1 := fmt.Sprintf(`ipvs_real_server_health_last_transition_timestamp_seconds{server=%q,service="tcp/192.0.2.10:80"}`, rs1.addr)
	upSince, _ := metric(body, since1)
	ts1, ok := metric(body, "lvs_sidecar_config_last_reload_success_timestamp_seconds")
	if !ok || ts1 < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("reload timestamp %v (present %v), want the start time", ts1, ok)
	}
	reloads := func(step string, body string, success, failure float64) {
		t.Helper()
		s, sok := metric(body, `lvs_sidecar_config_reloads_total{result="success"}`)
		f, fok := metric(body, `lvs_sidecar_config_reloads_total{result="failure"}`)
		if !sok || !fok || s != success || f != failure {
			t.Errorf("%s: reloads success %v (present %v), failure %v (present %v); want %v and %v", step, s, sok, f, fok, success, failure)
		}
	}
	reloads("at start", body, 0, 0)
	checksRun := func() float64 {
		_, body := get(t, &http.Client{}, base+"/metrics", auth[0], auth[1])
		v, _ := metric(body, fmt.Sprintf(`ipvs_real_server_health_checks_total{check="tcp:%s",result="open",server=%q,service="tcp/192.0.2.10:80"}`, rs1.port(), rs1.addr))
		return v
	}

	// Line 6 is the weight.
	invalid := strings.Replace(healthConfig(rs1.addr, rs2.addr), "forward: nat}\n    checks", "forward: nat, weight: -3}\n    checks", 1)
	writeFile(t, dir, "lvs.yml", invalid)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, s, auth, "lvs_sidecar_config_last_reload_successful", 0, 5*time.Second)
	// The log lines may reach the pipe just after the metric changes.
	for _, want := range []string{
		cfg + ":6: services[0].real_servers[1].weight: must be between 0 and 65535, got -3",
		`msg="configuration reload failed; the previous configuration stays in use" trigger=SIGHUP`,
	} {
		testutil.Poll(t, 2*time.Second, 20*time.Millisecond, func() error {
			if !strings.Contains(s.logs(), want) {
				return fmt.Errorf("log lacks %q:\n%s", want, s.logs())
			}
			return nil
		})
	}
	// The old checks keep running: more passes, still up, no new server.
	before := checksRun()
	testutil.Poll(t, 3*time.Second, 50*time.Millisecond, func() error {
		if checksRun() <= before {
			return fmt.Errorf("checks stopped running after the failed reload (checks_total stays %v)", before)
		}
		return nil
	})
	_, body = get(t, &http.Client{}, base+"/metrics", auth[0], auth[1])
	if v, ok := metric(body, stateSeries(rs1.addr, "up")); !ok || v != 1 {
		t.Errorf("after the failed reload %s = %v (present %v), want 1", stateSeries(rs1.addr, "up"), v, ok)
	}
	if checkedServer(body, rs2.addr) {
		t.Errorf("the invalid file's new real server is checked")
	}
	reloads("after the failed SIGHUP", body, 0, 1)

	// POST with the file still invalid: 400 and the problem.
	code, text := post(t, base+"/-/reload", auth[0], auth[1])
	if code != http.StatusBadRequest || !strings.Contains(text, cfg+":6: services[0].real_servers[1].weight") {
		t.Errorf("POST /-/reload of an invalid file: %d %q, want 400 naming %s:6", code, text, cfg)
	}

	// Without credentials, nothing happens.
	writeFile(t, dir, "lvs.yml", healthConfig(rs1.addr, rs2.addr))
	if code, _ := post(t, base+"/-/reload", "", ""); code != http.StatusUnauthorized {
		t.Errorf("POST /-/reload without credentials: status %d, want 401", code)
	}
	if code, _ := post(t, base+"/-/reload", "admin", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("POST /-/reload with a wrong password: status %d, want 401", code)
	}
	if code, text := post(t, base+"/-/reload", "prometheus", "scrape"); code != http.StatusForbidden || !strings.Contains(text, `user "prometheus" is not an admin`) {
		t.Errorf("POST /-/reload by the scrape user: %d %q, want 403 saying it is not an admin", code, text)
	}
	_, body = get(t, &http.Client{}, base+"/metrics", auth[0], auth[1])
	if checkedServer(body, rs2.addr) {
		t.Errorf("a refused POST /-/reload applied the file")
	}
	// The invalid POST counted; the refused ones did not.
	reloads("after the refused POSTs", body, 0, 2)

	// GET is not a reload.
	req, _ := http.NewRequest(http.MethodGet, base+"/-/reload", nil)
	req.SetBasicAuth(auth[0], auth[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET /-/reload: status %d, Allow %q; want 405 and POST", resp.StatusCode, resp.Header.Get("Allow"))
	}

	code, text = post(t, base+"/-/reload", auth[0], auth[1])
	if code != http.StatusOK {
		t.Fatalf("POST /-/reload of the fixed file: %d %q", code, text)
	}
	_, body = get(t, &http.Client{}, base+"/metrics", auth[0], auth[1])
	if v, _ := metric(body, "lvs_sidecar_config_last_reload_successful"); v != 1 {
		t.Errorf("reload gauge %v after a successful reload, want 1", v)
	}
	reloads("after the good POST", body, 1, 2)
	if ts2, _ := metric(body, "lvs_sidecar_config_last_reload_success_timestamp_seconds"); ts2 <= ts1 {
		t.Errorf("reload timestamp %v, want later than the start's %v", ts2, ts1)
	}
	// The new server appears; the old one kept its verdict (no new
	// transition to up).
	waitMetric(t, s, auth, stateSeries(rs2.addr, "up"), 1, 3*time.Second)
	_, body = get(t, &http.Client{}, base+"/metrics", auth[0], auth[1])
	if v, ok := metric(body, since1); !ok || v != upSince {
		t.Errorf("%s last changed state at %v (present %v), want %v, when it went up: the reload must keep its state", rs1.addr, v, ok, upSince)
	}
	if !strings.Contains(s.logs(), `msg="reloaded configuration"`) {
		t.Errorf("log does not say the configuration was reloaded:\n%s", s.logs())
	}
}

// TestWithoutConfigFile: the exporter alone has no health or reload
// metrics, survives a SIGHUP, and /-/reload says there is nothing to
// reload.
func TestWithoutConfigFile(t *testing.T) {
	s := start(t)
	base := "http://" + s.addr
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Poll(t, 5*time.Second, 20*time.Millisecond, func() error {
		if logs := s.logs(); !strings.Contains(logs, "SIGHUP ignored: no --config.file to reload") {
			return fmt.Errorf("SIGHUP not logged:\n%s", logs)
		}
		return nil
	})
	code, body := get(t, &http.Client{}, base+"/metrics", "", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics after SIGHUP: status %d", code)
	}
	for _, name := range []string{"ipvs_health_", "ipvs_real_server_health_", "lvs_sidecar_config_"} {
		if strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics has %s* without --config.file", name)
		}
	}
	if code, text := post(t, base+"/-/reload", "", ""); code != http.StatusForbidden || !strings.Contains(text, "start lvs-sidecar with --web.enable-lifecycle") {
		t.Errorf("POST /-/reload without --web.enable-lifecycle: %d %q, want 403 naming the flag", code, text)
	}
	dir := t.TempDir()
	webCfg := writeFile(t, dir, "web.yml", basicAuthConfig(t, "admin", "s3cret"))
	s = start(t, "--web.config.file="+webCfg, "--web.enable-lifecycle", "--web.admin-user=admin")
	if code, text := post(t, "http://"+s.addr+"/-/reload", "admin", "s3cret"); code != http.StatusBadRequest || !strings.Contains(text, "without --config.file") {
		t.Errorf("POST /-/reload without --config.file: %d %q, want 400", code, text)
	}
}

// TestDiscoveryWithoutIPVS: discovery on a kernel without IPVS warns once
// and checks the declared real servers anyway. (Discovery of a real table
// is proven in the lab VM.)
func TestDiscoveryWithoutIPVS(t *testing.T) {
	if haveKernelIPVS() {
		t.Skip("this kernel has IPVS; discovery of a real table is proven in the lab VM")
	}
	rs := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, t.TempDir(), "lvs.yml", healthConfig(rs.addr)+"discovery: {enabled: true}\n")
	s := start(t, "--config.file="+cfg, "--discovery.refresh-interval=100ms")
	waitMetric(t, s, nil, stateSeries(rs.addr, "up"), 1, 3*time.Second)
	time.Sleep(500 * time.Millisecond) // several refreshes
	warn := regexp.MustCompile(`level=WARN .*msg="discovery: cannot read the IPVS table; discovered real servers stay as they were".*modprobe ip_vs`)
	if n := countLines(s.logs(), warn); n != 1 {
		t.Errorf("%d warnings about the unreadable table, want 1:\n%s", n, s.logs())
	}
}

// TestLocalErrorReadiness: checks the director cannot send (a
// source_address it does not have) freeze the real server's verdict: an
// up server stays up, the episode is logged once, the metrics count the
// frozen server, and /-/ready stays 200 (ready for scraping) while saying
// the sidecar is not ready for acting, until the checks run again.
func TestLocalErrorReadiness(t *testing.T) {
	dir := t.TempDir()
	rs := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs.addr))
	s := start(t, "--config.file="+cfg)
	waitMetric(t, s, nil, stateSeries(rs.addr, "up"), 1, 3*time.Second)
	ready := func() (int, string) { return get(t, &http.Client{}, "http://"+s.addr+"/-/ready", "", "") }
	if code, body := ready(); code != http.StatusOK || body != "Ready\n" {
		t.Errorf("/-/ready before: %d %q, want 200 Ready", code, body)
	}

	// 192.0.2.123 (TEST-NET-1) is on no interface of a test machine.
	writeFile(t, dir, "lvs.yml", strings.Replace(healthConfig(rs.addr), "fall: 2}", "fall: 2, source_address: 192.0.2.123}", 1))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, s, nil, "ipvs_health_local_error_real_servers", 1, 5*time.Second)
	code, body := ready()
	if code != http.StatusOK || !strings.HasPrefix(body, "Ready for scraping; not ready for acting: 1 real server has checks that cannot run on this director (local_error)") {
		t.Errorf("/-/ready while frozen: %d %q, want 200 and not ready for acting", code, body)
	}
	if code, body := get(t, &http.Client{}, "http://"+s.addr+"/-/ready?for=acting", "", ""); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, "Not ready for acting: 1 real server(s) have checks that cannot run on this director (local_error)") {
		t.Errorf("/-/ready?for=acting while frozen: %d %q, want 503 and why", code, body)
	}
	time.Sleep(5 * 200 * time.Millisecond) // five more local errors
	_, metrics := get(t, &http.Client{}, "http://"+s.addr+"/metrics", "", "")
	if v, ok := metric(metrics, stateSeries(rs.addr, "up")); !ok || v != 1 {
		t.Errorf("%s = %v while frozen, want 1 (still up)", stateSeries(rs.addr, "up"), v)
	}
	series := fmt.Sprintf(`ipvs_real_server_health_checks_total{check="tcp:%s",result="local_error",server=%q,service="tcp/192.0.2.10:80"}`, rs.port(), rs.addr)
	if v, _ := metric(metrics, series); v < 5 {
		t.Errorf("%s = %v, want at least 5", series, v)
	}
	frozen := regexp.MustCompile(`level=WARN .*verdict is frozen.* server=` + regexp.QuoteMeta(rs.addr) + `.* reason=".*EADDRNOTAVAIL`)
	if n := countLines(s.logs(), frozen); n != 1 {
		t.Errorf("%d log lines for the episode, want 1 matching %s", n, frozen)
	}

	writeFile(t, dir, "lvs.yml", healthConfig(rs.addr))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, s, nil, "ipvs_health_local_error_real_servers", 0, 5*time.Second)
	if code, body := ready(); code != http.StatusOK || body != "Ready\n" {
		t.Errorf("/-/ready after: %d %q, want 200 Ready", code, body)
	}
	// This machine has no ip_vs: the controller still cannot act, and
	// says why; the local error no longer is the reason.
	if code, body := get(t, &http.Client{}, "http://"+s.addr+"/-/ready?for=acting", "", ""); code != http.StatusServiceUnavailable ||
		strings.Contains(body, "local_error") || !strings.Contains(body, "ip_vs") {
		t.Errorf("/-/ready?for=acting after: %d %q, want 503 naming the unreadable table", code, body)
	}
}

// TestReloadsCounted goes through checks.reload, the path SIGHUP and
// POST /-/reload take: the load at start counts for neither result, an
// invalid file and an unreadable one count as failures, a valid one as a
// success, each once.
func TestReloadsCounted(t *testing.T) {
	dir := t.TempDir()
	good := healthConfig("127.0.0.1:1")
	path := writeFile(t, dir, "lvs.yml", good)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	c, err := newChecks(context.Background(), path, cfg, nil, options{}, logger)
	if err != nil {
		t.Fatal(err)
	}
	c.events = web.NewEvents(0)
	want := func(step string, success, failure float64) {
		t.Helper()
		s := value(t, c.reloads.WithLabelValues("success"))
		f := value(t, c.reloads.WithLabelValues("failure"))
		if s != success || f != failure {
			t.Errorf("%s: reloads success %v failure %v, want %v and %v", step, s, f, success, failure)
		}
	}
	want("after the load at start", 0, 0)

	writeFile(t, dir, "lvs.yml", strings.Replace(good, "forward: nat}", "forward: nat, weight: -3}", 1))
	var invalid *reloadError
	if err := c.reload(context.Background(), "test"); !errors.As(err, &invalid) {
		t.Fatalf("reload of an invalid file: %v, want a reloadError", err)
	}
	want("after an invalid file", 0, 1)
	if v := value(t, c.reloadOK); v != 0 {
		t.Errorf("last_reload_successful %v after a failed reload, want 0", v)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := c.reload(context.Background(), "test"); err == nil {
		t.Fatal("reload of a missing file succeeded")
	}
	want("after a missing file", 0, 2)

	writeFile(t, dir, "lvs.yml", healthConfig("127.0.0.1:1", "127.0.0.1:2"))
	if err := c.reload(context.Background(), "test"); err != nil {
		t.Fatalf("reload of a valid file: %v", err)
	}
	want("after a valid file", 1, 2)
	if v := value(t, c.reloadOK); v != 1 {
		t.Errorf("last_reload_successful %v after a good reload, want 1", v)
	}
	if n := len(c.sched.Status()); n != 2 {
		t.Errorf("%d real servers checked after the good reload, want the file's 2", n)
	}
	// The status page's recent events have every reload, newest first,
	// a failed one with its first problem.
	var codes []string
	for _, e := range c.events.List() {
		if e.Kind != web.EventConfig || e.Why == "" {
			t.Errorf("reload event %+v: want kind config and a why", e)
		}
		codes = append(codes, e.Code)
	}
	if want := []string{"reload", "reload_failed", "reload_failed"}; !slices.Equal(codes, want) {
		t.Errorf("recent events %v, want %v", codes, want)
	}
	if ev := c.events.List(); len(ev) == 3 && !strings.Contains(ev[2].Why, "weight") {
		t.Errorf("the invalid file's event does not say what is wrong: %+v", ev[2])
	}
}

// value reads the one sample of a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	switch {
	case out.Counter != nil:
		return out.Counter.GetValue()
	case out.Gauge != nil:
		return out.Gauge.GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", m.Desc())
	return 0
}
