package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// maintenanceSeries is the maintenance gauge of a real server of the
// service in healthConfig: 1 while in maintenance, absent otherwise.
func maintenanceSeries(server string) string {
	return `ipvs_real_server_maintenance{server="` + server + `",service="tcp/192.0.2.10:80"}`
}

// apiCall sends a request to the maintenance API with a JSON body (none
// when body is "") and returns status, headers and body.
func apiCall(t *testing.T, method, url, user, pass, body string) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(out)
}

// maintenanceSetup runs the binary with one service ("web",
// tcp/192.0.2.10:80) of two loopback real servers, basic auth (the
// administrator admin, s3cret, and the scrape user prometheus, scrape),
// the admin and lifecycle APIs on, and a state file; it returns the
// sidecar, the servers and the files.
type maintenanceSetup struct {
	s                  *sidecar
	rs1, rs2           *listener
	config, web, state string
}

func startMaintenance(t *testing.T, extra ...string) *maintenanceSetup {
	t.Helper()
	dir := t.TempDir()
	m := &maintenanceSetup{rs1: newListener(t, "127.0.0.1:0"), rs2: newListener(t, "127.0.0.1:0")}
	m.config = writeFile(t, dir, "lvs.yml", healthConfig(m.rs1.addr, m.rs2.addr))
	m.web = writeFile(t, dir, "web.yml", basicAuthUsers(t, "admin", "s3cret", "prometheus", "scrape"))
	m.state = filepath.Join(dir, "maintenance.json")
	m.s = start(t, append([]string{"--config.file=" + m.config, "--web.config.file=" + m.web, "--state.file=" + m.state,
		"--web.enable-admin-api", "--web.enable-lifecycle", "--web.admin-user=admin"}, extra...)...)
	return m
}

func (m *maintenanceSetup) url() string { return "http://" + m.s.addr + web.MaintenancePath }

// TestMaintenanceAPI drives POST and GET /api/v1/maintenance of the real
// binary: refused without credentials (and nothing changes), enable by
// service name, the gauge, the list, lift by service key, and every kind
// of bad request with its status and message.
func TestMaintenanceAPI(t *testing.T) {
	m := startMaintenance(t)
	auth := []string{"admin", "s3cret"}
	rs1 := m.rs1.addr
	waitAbsent(t, m.s, auth, maintenanceSeries(rs1), 5*time.Second)

	enable := `{"service": "web", "server": "` + rs1 + `", "enabled": true, "reason": "kernel upgrade"}`
	for _, cred := range [][2]string{{"", ""}, {"admin", "wrong"}} {
		if code, _, _ := apiCall(t, http.MethodPost, m.url(), cred[0], cred[1], enable); code != http.StatusUnauthorized {
			t.Errorf("POST with credentials %q: status %d, want 401", cred, code)
		}
	}
	if code, _, _ := apiCall(t, http.MethodGet, m.url(), "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET without credentials: status %d, want 401", code)
	}
	_, body := get(t, http.DefaultClient, "http://"+m.s.addr+"/metrics", "admin", "s3cret")
	if v, ok := metric(body, maintenanceSeries(rs1)); ok {
		t.Errorf("after unauthenticated POSTs %s = %v, want absent (0)", maintenanceSeries(rs1), v)
	}
	if strings.Contains(m.s.logs(), "maintenance enabled") {
		t.Errorf("an unauthenticated POST changed the state:\n%s", m.s.logs())
	}

	code, _, text := apiCall(t, http.MethodPost, m.url(), "admin", "s3cret", enable)
	if code != http.StatusOK {
		t.Fatalf("enable: %d %s", code, text)
	}
	var e web.MaintenanceEntry
	if err := json.Unmarshal([]byte(text), &e); err != nil {
		t.Fatalf("enable answer %s: %v", text, err)
	}
	if e.Service != "tcp/192.0.2.10:80" || e.ServiceName != "web" || e.Server != rs1 || !e.Enabled || e.Changed == nil || !*e.Changed ||
		e.Reason != "kernel upgrade" || e.By != "admin" || time.Since(e.Since) > time.Minute {
		t.Errorf("enable answer: %s", text)
	}
	waitMetric(t, m.s, auth, maintenanceSeries(rs1), 1, 5*time.Second)
	_, body = get(t, http.DefaultClient, "http://"+m.s.addr+"/metrics", "admin", "s3cret")
	if v, _ := metric(body, maintenanceSeries(m.rs2.addr)); v != 0 {
		t.Errorf("the other real server's gauge is %v, want 0", v)
	}
	if !strings.Contains(m.s.logs(), `msg="maintenance enabled: the controller drains the real server whatever its checks say" service=tcp/192.0.2.10:80 service_name=web server=`+rs1+` reason="kernel upgrade" by=admin`) {
		t.Errorf("log does not record the change once with who and why:\n%s", m.s.logs())
	}

	// Again: 200, nothing changed, no second log line.
	code, _, text = apiCall(t, http.MethodPost, m.url(), "admin", "s3cret", enable)
	if code != http.StatusOK || !strings.Contains(text, `"changed": false`) {
		t.Errorf("second enable: %d %s", code, text)
	}
	if n := strings.Count(m.s.logs(), "maintenance enabled"); n != 1 {
		t.Errorf("%d log lines for one change", n)
	}

	code, _, text = apiCall(t, http.MethodGet, m.url(), "admin", "s3cret", "")
	var list web.MaintenanceList
	if err := json.Unmarshal([]byte(text), &list); code != http.StatusOK || err != nil {
		t.Fatalf("list: %d %s (%v)", code, text, err)
	}
	if len(list.Entries) != 1 || list.Entries[0].Server != rs1 || list.Entries[0].Reason != "kernel upgrade" || !list.Entries[0].Enabled {
		t.Errorf("list: %s", text)
	}

	for _, tc := range []struct {
		name, method, contentType, body string
		code                            int
		want                            string
	}{
		{"unknown server", "POST", "application/json", `{"service": "web", "server": "127.0.0.1:1", "enabled": true}`, 404,
			`unknown real server 127.0.0.1:1: web (tcp/192.0.2.10:80) has no such real server`},
		{"unknown service", "POST", "application/json", `{"service": "mail", "server": "` + rs1 + `", "enabled": true}`, 404,
			`unknown service \"mail\"`},
		{"unknown service key", "POST", "application/json", `{"service": "tcp/192.0.2.10:81", "server": "` + rs1 + `", "enabled": true}`, 404,
			`unknown service \"tcp/192.0.2.10:81\"`},
		{"bad JSON", "POST", "application/json", `{"service": "web", `, 400, "invalid JSON"},
		{"unknown field", "POST", "application/json", `{"service": "web", "server": "` + rs1 + `", "enable": true}`, 400, `unknown field \"enable\"`},
		{"no enabled", "POST", "application/json", `{"service": "web", "server": "` + rs1 + `"}`, 400, `\"enabled\" is required`},
		{"no server", "POST", "application/json", `{"service": "web", "enabled": true}`, 400, "give both service and server"},
		{"bad server", "POST", "application/json", `{"service": "web", "server": "host:80", "enabled": true}`, 400, "want ADDRESS:PORT"},
		{"two objects", "POST", "application/json", `{"service": "web", "server": "` + rs1 + `", "enabled": false} {}`, 400, "more than one object"},
		{"long reason", "POST", "application/json", `{"service": "web", "server": "` + rs1 + `", "enabled": false, "reason": "` + strings.Repeat("x", 2000) + `"}`, 400, "at most 1024"},
		{"form post", "POST", "application/x-www-form-urlencoded", `service=web`, 415, "Content-Type: application/json"},
		{"text post", "POST", "text/plain", `{"service": "web", "server": "` + rs1 + `", "enabled": false}`, 415, "Content-Type: application/json"},
		{"PUT", "PUT", "application/json", `{}`, 405, "POST changes one"},
		{"DELETE", "DELETE", "", ``, 405, "POST changes one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, m.url(), strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.SetBasicAuth("admin", "s3cret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("status %d, body %s; want %d and %q", resp.StatusCode, out, tc.code, tc.want)
			}
			if tc.code == 405 && resp.Header.Get("Allow") != "GET, HEAD, POST" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
			var e web.APIError
			if err := json.Unmarshal(out, &e); err != nil || e.Error == "" {
				t.Errorf("the error is not JSON {\"error\": ...}: %s", out)
			}
		})
	}
	// None of the bad requests changed anything.
	_, body = get(t, http.DefaultClient, "http://"+m.s.addr+"/metrics", "admin", "s3cret")
	if v, _ := metric(body, maintenanceSeries(rs1)); v != 1 {
		t.Errorf("after the bad requests %s = %v, want 1", maintenanceSeries(rs1), v)
	}

	// Lift by the service key, written loosely.
	code, _, text = apiCall(t, http.MethodPost, m.url(), "admin", "s3cret",
		`{"service": "TCP/192.0.2.10:80", "server": "`+rs1+`", "enabled": false}`)
	if code != http.StatusOK || !strings.Contains(text, `"changed": true`) || !strings.Contains(text, `"enabled": false`) {
		t.Fatalf("disable: %d %s", code, text)
	}
	waitAbsent(t, m.s, auth, maintenanceSeries(rs1), 5*time.Second)
	if _, _, text = apiCall(t, http.MethodGet, m.url(), "admin", "s3cret", ""); !strings.Contains(text, `"entries": []`) {
		t.Errorf("list after the lift: %s", text)
	}
	if !strings.Contains(m.s.logs(), `msg="maintenance lifted: the controller restores the real server's weight as its checks allow" service=tcp/192.0.2.10:80 service_name=web server=`+rs1) {
		t.Errorf("log does not record the lift:\n%s", m.s.logs())
	}
}

// TestMaintenanceSurvivesRestart: a server in maintenance when the
// sidecar stops is in maintenance when it starts again with the same
// --state.file, without any request.
func TestMaintenanceSurvivesRestart(t *testing.T) {
	m := startMaintenance(t)
	auth := []string{"admin", "s3cret"}
	code, _, text := apiCall(t, http.MethodPost, m.url(), "admin", "s3cret",
		`{"service": "web", "server": "`+m.rs2.addr+`", "enabled": true, "reason": "disk swap"}`)
	if code != http.StatusOK {
		t.Fatalf("enable: %d %s", code, text)
	}
	if err := m.s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sidecar did not stop on SIGINT")
	}

	s2 := start(t, "--config.file="+m.config, "--web.config.file="+m.web, "--state.file="+m.state)
	waitMetric(t, s2, auth, maintenanceSeries(m.rs2.addr), 1, 5*time.Second)
	waitAbsent(t, s2, auth, maintenanceSeries(m.rs1.addr), 5*time.Second)
	if !strings.Contains(s2.logs(), `msg="real server in maintenance (from --state.file): drained until lifted" service=tcp/192.0.2.10:80 server=`+m.rs2.addr) ||
		!strings.Contains(s2.logs(), `reason="disk swap"`) {
		t.Errorf("the restarted sidecar does not log the maintenance it read:\n%s", s2.logs())
	}
}

// TestMaintenanceBadStateFile: a state file that cannot be read stops the
// start (running on would put its servers back into service).
func TestMaintenanceBadStateFile(t *testing.T) {
	dir := t.TempDir()
	rs := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs.addr))
	for _, tc := range []struct{ name, state, want string }{
		{"corrupt", writeFile(t, dir, "m.json", `{"version": 1, "entries": [`), "delete it to lift every maintenance"},
		{"no directory", filepath.Join(dir, "missing", "m.json"), "its directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runToExit(t, "--web.listen-address=127.0.0.1:0", "--config.file="+cfg, "--state.file="+tc.state)
			if code != 1 || !strings.Contains(out, "--state.file") || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output:\n%s\nwant 1 and a message naming --state.file and %q", code, out, tc.want)
			}
		})
	}
}

// TestMaintenanceWithoutConfig: without --config.file the API says there
// is no configuration, to reads and to an administrator's writes.
func TestMaintenanceWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	webCfg := writeFile(t, dir, "web.yml", basicAuthConfig(t, "admin", "s3cret"))
	s := start(t, "--state.file="+filepath.Join(dir, "m.json"), "--web.config.file="+webCfg, "--web.enable-admin-api", "--web.admin-user=admin")
	if !strings.Contains(s.logs(), "--state.file and --controller.mode do nothing without --config.file") {
		t.Errorf("no warning that --state.file does nothing:\n%s", s.logs())
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		body := ""
		if method == http.MethodPost {
			body = `{"service": "web", "server": "10.0.0.1:80", "enabled": true}`
		}
		code, _, text := apiCall(t, method, "http://"+s.addr+web.MaintenancePath, "admin", "s3cret", body)
		if code != http.StatusNotFound || !strings.Contains(text, "no configuration") {
			t.Errorf("%s: %d %s; want 404 saying there is no configuration", method, code, text)
		}
	}
}

// TestMaintenanceCLI runs `lvs-sidecar maintenance` against the running
// binary: exit codes, messages, credentials from a file and from the
// environment.
func TestMaintenanceCLI(t *testing.T) {
	m := startMaintenance(t)
	auth := []string{"admin", "s3cret"}
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "pw", "s3cret\n")
	badPW := writeFile(t, dir, "bad", "guess\n")
	url := "--url=http://" + m.s.addr
	target := []string{"--service=web", "--server=" + m.rs1.addr}

	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no credentials", nil, append([]string{"maintenance", "enable", url, "--reason=patching"}, target...), 1,
			"", "lvs-sidecar: maintenance enable: authentication failed: give --user and --password-file"},
		{"wrong password", nil, append([]string{"maintenance", "enable", url, "--user=admin", "--password-file=" + badPW}, target...), 1,
			"", `authentication failed for user "admin"`},
		{"scrape user", []string{passwordEnv + "=scrape"}, append([]string{"maintenance", "enable", url, "--user=prometheus"}, target...), 1,
			"", `lvs-sidecar: maintenance enable: user "prometheus" is not an admin: POST /api/v1/maintenance is for the users named with --web.admin-user; "prometheus" may only read (403 Forbidden)`},
		{"scrape user lists", []string{passwordEnv + "=scrape"}, []string{"maintenance", "list", url, "--user=prometheus"}, 0,
			"no real server is in maintenance", ""},
		{"enable", nil, append([]string{"maintenance", "enable", url, "--user=admin", "--password-file=" + pwFile, "--reason=patching"}, target...), 0,
			"real server " + m.rs1.addr + " of web (tcp/192.0.2.10:80) is now in maintenance", ""},
		{"enable again, password from the environment", []string{passwordEnv + "=s3cret"},
			append([]string{"maintenance", "enable", url, "--user=admin"}, target...), 0, "was already in maintenance (since ", ""},
		{"list", []string{passwordEnv + "=s3cret"}, []string{"maintenance", "list", url, "--user=admin"}, 0,
			"tcp/192.0.2.10:80  web   " + m.rs1.addr, ""},
		{"unknown server", []string{passwordEnv + "=s3cret"},
			[]string{"maintenance", "enable", url, "--user=admin", "--service=web", "--server=127.0.0.1:1"}, 1,
			"", "lvs-sidecar: maintenance enable: unknown real server 127.0.0.1:1: web (tcp/192.0.2.10:80) has no such real server in " + m.config + " or the IPVS table (404 Not Found)"},
		{"password without user", []string{passwordEnv + "=s3cret"}, []string{"maintenance", "list", url}, 2,
			"", "a password without --user"},
		{"missing --server", nil, []string{"maintenance", "enable", url, "--service=web"}, 2,
			"", "required flag(s) '--server' not provided"},
		{"nothing listening", nil, []string{"maintenance", "list", "--url=http://127.0.0.1:1"}, 1,
			"", "cannot reach lvs-sidecar at http://127.0.0.1:1"},
		{"disable", []string{passwordEnv + "=s3cret"},
			append([]string{"maintenance", "disable", url, "--user=admin"}, target...), 0, "is out of maintenance", ""},
		{"list empty", []string{passwordEnv + "=s3cret"}, []string{"maintenance", "list", url, "--user=admin"}, 0,
			"no real server is in maintenance", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q, stderr with %q", code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
			}
			if tc.code != 0 && stdout != "" {
				t.Errorf("a failure printed to stdout: %s", stdout)
			}
			if tc.name == "no credentials" || tc.name == "wrong password" || tc.name == "scrape user" {
				_, body := get(t, http.DefaultClient, "http://"+m.s.addr+"/metrics", "admin", "s3cret")
				if v, _ := metric(body, maintenanceSeries(m.rs1.addr)); v != 0 {
					t.Errorf("a refused request put the server into maintenance")
				}
			}
			if tc.name == "enable" {
				waitMetric(t, m.s, auth, maintenanceSeries(m.rs1.addr), 1, 5*time.Second)
			}
			if tc.name == "disable" {
				waitAbsent(t, m.s, auth, maintenanceSeries(m.rs1.addr), 5*time.Second)
			}
		})
	}
}

// TestMaintenanceCLIWritesOff: against a sidecar started without
// --web.enable-admin-api, enable and disable exit 1 saying which flag the
// sidecar needs, and list still works.
func TestMaintenanceCLIWritesOff(t *testing.T) {
	dir := t.TempDir()
	rs := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs.addr))
	webCfg := writeFile(t, dir, "web.yml", basicAuthConfig(t, "admin", "s3cret"))
	s := start(t, "--config.file="+cfg, "--web.config.file="+webCfg)
	env := []string{passwordEnv + "=s3cret"}
	url := "--url=http://" + s.addr
	for _, cmd := range []string{"enable", "disable"} {
		code, out, errOut := runCLI(t, env, "maintenance", cmd, url, "--user=admin", "--service=web", "--server="+rs.addr)
		want := "lvs-sidecar: maintenance " + cmd + ": the sidecar refuses writes: POST /api/v1/maintenance is off; start lvs-sidecar with --web.enable-admin-api"
		if code != 1 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", cmd, code, out, errOut, want)
		}
	}
	if code, out, errOut := runCLI(t, env, "maintenance", "list", url, "--user=admin"); code != 0 || !strings.Contains(out, "no real server is in maintenance") {
		t.Errorf("list: exit %d, %s%s", code, out, errOut)
	}
}

// TestMaintenanceCLITLS: over HTTPS the CLI trusts --ca-file, refuses an
// unknown certificate, and accepts any with --insecure-skip-verify.
func TestMaintenanceCLITLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, _ := selfSigned(t)
	cert := writeFile(t, dir, "tls.crt", string(certPEM))
	key := writeFile(t, dir, "tls.key", string(keyPEM))
	webCfg := writeFile(t, dir, "web.yml", "tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+"\n"+basicAuthConfig(t, "admin", "s3cret"))
	rs := newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs.addr))
	s := start(t, "--config.file="+cfg, "--web.config.file="+webCfg, "--web.enable-admin-api", "--web.admin-user=admin")
	env := []string{passwordEnv + "=s3cret"}
	url := "--url=https://" + s.addr

	if code, out, errOut := runCLI(t, env, "maintenance", "list", url, "--user=admin", "--ca-file="+cert); code != 0 || !strings.Contains(out, "no real server is in maintenance") {
		t.Errorf("with --ca-file: exit %d, %s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, env, "maintenance", "list", url, "--user=admin"); code != 1 || !strings.Contains(errOut, "certificate") {
		t.Errorf("without --ca-file: exit %d, %s; want 1 and a certificate error", code, errOut)
	}
	if code, out, errOut := runCLI(t, env, "maintenance", "enable", url, "--user=admin", "--insecure-skip-verify", "--service=tcp/192.0.2.10:80", "--server="+rs.addr); code != 0 || !strings.Contains(out, "now in maintenance") {
		t.Errorf("with --insecure-skip-verify: exit %d, %s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, env, "maintenance", "list", url, "--user=admin", "--ca-file="+key); code != 2 || !strings.Contains(errOut, "--ca-file: no PEM certificate") {
		t.Errorf("a key as --ca-file: exit %d, %s", code, errOut)
	}
}

// runCLI runs the binary with extra environment variables, expecting it
// to exit by itself; it returns the exit code, stdout and stderr.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runBinary(t, "", append(filteredEnv(), env...), args...)
}

// filteredEnv is this process's environment without the CLI's
// credentials, so a developer's own settings cannot change the results.
func filteredEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, passwordEnv+"=") && !strings.HasPrefix(kv, "LVS_SIDECAR_USER=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestMaintenanceAfterServerRemoved: a real server the configuration no
// longer lists cannot enter maintenance, but one already in it stays (and
// shows), and can still be lifted.
func TestMaintenanceAfterServerRemoved(t *testing.T) {
	m := startMaintenance(t)
	auth := []string{"admin", "s3cret"}
	rs2 := m.rs2.addr
	enable := `{"service": "web", "server": "` + rs2 + `", "enabled": true}`
	if code, _, text := apiCall(t, http.MethodPost, m.url(), "admin", "s3cret", enable); code != http.StatusOK {
		t.Fatalf("enable: %d %s", code, text)
	}
	if err := os.WriteFile(m.config, []byte(healthConfig(m.rs1.addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, text := post(t, "http://"+m.s.addr+"/-/reload", "admin", "s3cret"); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, text)
	}

	if code, _, text := apiCall(t, http.MethodPost, m.url(), "admin", "s3cret", enable); code != http.StatusNotFound {
		t.Errorf("enable a removed server: %d %s, want 404", code, text)
	}
	if _, _, text := apiCall(t, http.MethodGet, m.url(), "admin", "s3cret", ""); !strings.Contains(text, `"server": "`+rs2+`"`) {
		t.Errorf("the list lost the removed server's maintenance: %s", text)
	}
	waitMetric(t, m.s, auth, maintenanceSeries(rs2), 1, 5*time.Second)

	code, _, text := apiCall(t, http.MethodPost, m.url(), "admin", "s3cret", `{"service": "web", "server": "`+rs2+`", "enabled": false}`)
	if code != http.StatusOK || !strings.Contains(text, `"changed": true`) {
		t.Fatalf("lift a removed server: %d %s", code, text)
	}
	_, body := get(t, http.DefaultClient, "http://"+m.s.addr+"/metrics", "admin", "s3cret")
	if _, ok := metric(body, maintenanceSeries(rs2)); ok {
		t.Errorf("a removed server out of maintenance still has a series")
	}
}
