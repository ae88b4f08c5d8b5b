package dashboards

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQueriesRunInPrometheus runs every panel and variable query of the
// committed dashboards in a real Prometheus (Debian's prometheus package)
// that scraped a real lvs-sidecar on loopback (its checks on loopback too), with variables substituted
// as Grafana would ($__rate_interval = 4 × the scrape interval, the other
// variables All = ".*"). Every query must run without error; the ones over
// series this machine has (no ip_vs here, so no table) must return data.
func TestQueriesRunInPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and a sidecar")
	}
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not found: make deps installs it")
		}
		t.Skip("prometheus not found (make deps installs it)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "lvs-sidecar")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/lvs-sidecar").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sidecarAddr, promAddr := freePort(t), freePort(t)
	// Checks only on loopback: one real server that answers, one that
	// does not. dry_run: the controller writes nothing (no ip_vs here).
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	conf := fmt.Sprintf(`services:
  - name: web
    address: 127.0.0.1:80
    checks:
      - {type: tcp, schedule: "@every 1s", timeout: 500ms}
    real_servers:
      - {address: "%s", forward: nat}
      - {address: "%s", forward: nat}
controller:
  mode: dry_run
  period: 1s
`, up.Addr(), freePort(t))
	confFile := filepath.Join(dir, "lvs-sidecar.yml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := exec.Command(bin, "--config.file="+confFile, "--web.listen-address="+sidecarAddr)
	var scLog strings.Builder
	sc.Stdout, sc.Stderr = &scLog, &scLog
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sc.Process.Kill(); _ = sc.Wait() }()

	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: lvs-sidecar\n    static_configs:\n      - targets: ['%s']\n", sidecarAddr)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	pr := exec.Command(prom, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=error")
	if err := pr.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pr.Process.Kill(); _ = pr.Wait() }()

	query := func(expr string) (int, error) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(expr))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return 0, err
		}
		if r.Status != "success" {
			return 0, fmt.Errorf("%s", r.Error)
		}
		return len(r.Data.Result), nil
	}
	// Wait until enough scrapes for a rate over 4 s.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := query(`sum_over_time(up{job="lvs-sidecar"}[10s]) >= 6`)
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape the sidecar: %v\nsidecar log:\n%s", err, scLog.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	present := scraped(t, "http://"+sidecarAddr+"/metrics")

	dashes, err := Committed()
	if err != nil {
		t.Fatal(err)
	}
	ran, withData := 0, 0
	for _, d := range dashes {
		// Every variable is All (.*) here: without ip_vs there is no
		// service for the single-valued $service to take, so its
		// matcher becomes a regular expression too.
		vars := map[string]string{}
		exprs := []string{}
		for _, v := range d.Variables {
			vars[v.Name] = ".*"
			exprs = append(exprs, v.Selector)
		}
		for _, tg := range d.Targets {
			exprs = append(exprs, tg.Expr)
		}
		for _, e := range exprs {
			e = strings.ReplaceAll(e, `service="$service"`, `service=~"$service"`)
			s, err := Substitute(e, RateInterval(time.Second), vars)
			if err != nil {
				t.Errorf("%s: %v", d.File, err)
				continue
			}
			n, err := query(s)
			ran++
			if err != nil {
				t.Errorf("%s: %s: %v", d.File, e, err)
				continue
			}
			if n > 0 {
				withData++
			} else if allPresent(e, present) {
				t.Errorf("%s: %s returned nothing though the sidecar exports its series", d.File, e)
			} else if testing.Verbose() {
				t.Logf("%s: no data (series absent without ip_vs): %s", d.File, e)
			}
		}
	}
	t.Logf("%d queries ran without error, %d returned data (no ip_vs here: table series absent)", ran, withData)
}

// allPresent reports whether every metric name in expr was in the scrape.
func allPresent(expr string, present map[string]bool) bool {
	n := 0
	for _, w := range metricWord.FindAllString(expr, -1) {
		if strings.HasPrefix(w, "ipvs_") || strings.HasPrefix(w, "lvs_sidecar_") || strings.HasPrefix(w, "process_") || strings.HasPrefix(w, "go_") {
			n++
			if !present[w] {
				return false
			}
		}
	}
	return n > 0
}

func scraped(t *testing.T, u string) map[string]bool {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	out := map[string]bool{}
	for _, line := range strings.Split(b.String(), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		out[metricWord.FindString(line)] = true
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The embedded dashboards are the committed files, and Substitute leaves
// nothing of Grafana's syntax behind.
func TestCommittedMatchesFiles(t *testing.T) {
	dashes, err := Committed()
	if err != nil {
		t.Fatal(err)
	}
	files := loadAll(t)
	if len(dashes) != len(files) {
		t.Fatalf("Committed returned %d dashboards, want %d", len(dashes), len(files))
	}
	for _, d := range dashes {
		want := 0
		for _, p := range files[d.File].Panels {
			want += len(p.Targets)
		}
		if len(d.Targets) != want || want == 0 {
			t.Errorf("%s: %d targets, the file has %d", d.File, len(d.Targets), want)
		}
		vars := map[string]string{}
		for _, v := range d.Variables {
			if v.Selector == "" || v.Label == "" {
				t.Errorf("%s: variable %s: selector %q label %q", d.File, v.Name, v.Selector, v.Label)
			}
			vars[v.Name] = "x"
		}
		for _, q := range d.Targets {
			s, err := Substitute(q.Expr, 8*time.Second, vars)
			if err != nil {
				t.Errorf("%s: %v", d.File, err)
			} else if strings.Contains(s, "$") {
				t.Errorf("%s: %q left a variable in %q", d.File, q.Expr, s)
			}
		}
	}
	if _, err := Substitute(`up{job=~"$nope"}`, time.Second, map[string]string{}); err == nil {
		t.Error("Substitute took an unknown variable")
	}
	if s, _ := Substitute(`rate(x[$__rate_interval])`, RateInterval(2*time.Second), nil); s != `rate(x[8s])` {
		t.Errorf("$__rate_interval at 2s scrape: %s, want rate(x[8s])", s)
	}
}
