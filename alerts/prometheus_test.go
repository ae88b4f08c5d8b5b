package alerts

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestRulesInRealPrometheus loads the rules into a real Prometheus (Debian
// package prometheus) that scrapes a real lvs-sidecar on loopback, and
// checks that every rule evaluates without an error and that the table
// alert follows the sidecar's own ipvs_up. Outside the lab there is no IPVS
// table with services, so this proves evaluation and metric names, not the
// per-service alerts (the promtool unit tests cover those).
func TestRulesInRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and the sidecar")
	}
	prom := lookBinary(t, "prometheus")
	dir := t.TempDir()
	sidecar := filepath.Join(dir, "lvs-sidecar")
	if out, err := exec.Command("go", "build", "-o", sidecar, "../cmd/lvs-sidecar").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Checks only reach loopback: one real server listening, one not.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	sidecarConf := filepath.Join(dir, "lvs-sidecar.yml")
	if err := os.WriteFile(sidecarConf, []byte(fmt.Sprintf(`services:
  - name: web
    address: 127.0.0.1:80
    real_servers:
      - {address: %s, forward: nat}
      - {address: %s, forward: nat}
`, ln.Addr(), freeAddr(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	sidecarAddr, promAddr := freeAddr(t), freeAddr(t)
	start(t, sidecar, "--config.file="+sidecarConf, "--web.listen-address="+sidecarAddr)

	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: lvs-sidecar
    static_configs: [{targets: [%q]}]
`, rules, sidecarAddr)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, prom, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")

	deadline := time.Now().Add(60 * time.Second)
	for {
		groups, up := rulesState(t, promAddr)
		evaluated, total := 0, 0
		for _, g := range groups {
			for _, r := range g.Rules {
				total++
				if r.Health == "ok" {
					evaluated++
				}
			}
		}
		var state string
		for _, g := range groups {
			for _, r := range g.Rules {
				if r.LastError != "" {
					t.Fatalf("rule %s: %s", r.Name, r.LastError)
				}
				if r.Name == "IPVSTableUnreadable" {
					state = r.State
				}
			}
		}
		// ipvs_up 0 (no ip_vs here) must take the alert to pending within a
		// few evaluations; with ip_vs loaded it stays inactive.
		want := map[string]string{"0": "pending", "1": "inactive"}[up]
		if up != "" && total > 0 && evaluated == total && state == want {
			t.Logf("%d rules evaluated without error; ipvs_up %s, IPVSTableUnreadable %s", total, up, state)
			return
		}
		if time.Now().After(deadline) {
			t.Logf("IPVSTableUnreadable %q, want %q", state, want)
			for _, g := range groups {
				for _, r := range g.Rules {
					t.Logf("rule %s: health %q, error %q", r.Name, r.Health, r.LastError)
				}
			}
			t.Fatalf("after 60 s: %d of %d rules evaluated, ipvs_up %q", evaluated, total, up)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type ruleGroup struct {
	Rules []struct {
		Name      string `json:"name"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
		State     string `json:"state"`
	} `json:"rules"`
}

// rulesState returns Prometheus's rule groups and the scraped ipvs_up ("" while
// not scraped yet); nothing while Prometheus does not answer yet.
func rulesState(t *testing.T, addr string) ([]ruleGroup, string) {
	t.Helper()
	var rules struct {
		Data struct {
			Groups []ruleGroup `json:"groups"`
		} `json:"data"`
	}
	if !getJSON("http://"+addr+"/api/v1/rules", &rules) {
		return nil, ""
	}
	var q struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if !getJSON("http://"+addr+"/api/v1/query?query=ipvs_up", &q) || len(q.Data.Result) != 1 {
		return rules.Data.Groups, ""
	}
	v, _ := q.Data.Result[0].Value[1].(string)
	return rules.Data.Groups, v
}

func getJSON(url string, v any) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(v) == nil
}

// start runs a command for the rest of the test and stops it at the end.
func start(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	log, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", filepath.Base(name), b)
		}
		log.Close()
	})
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// lookBinary finds a Debian-packaged tool, or skips the test outside CI (as
// collector/promtool_test.go does): in CI (CI set) a missing tool fails.
func lookBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (apt-get install prometheus): %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install prometheus): %v", name, err)
	}
	return p
}
