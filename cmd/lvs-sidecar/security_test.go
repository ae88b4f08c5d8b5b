package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// securityRow is one case of TestSecurityRules: a start of the real
// binary that must be refused, or one request to it.
type securityRow struct {
	name string
	// users: a web config with the administrator admin (admin-pw) and
	// the scrape user prometheus (scrape-pw); otherwise webConfig, if set,
	// is the whole web config file.
	users     bool
	webConfig string
	flags     []string

	// refuse: the start must exit 1 with this message.
	refuse string

	// Otherwise one request; body "" with POST enables rs1's maintenance.
	method, path string
	user, pass   string
	header       map[string]string
	body         string
	// editWebConfig, if set, replaces the web config file after the
	// start, before the request.
	editWebConfig string
	code          int
	want          string // in the answer's message
	// writes: the request changes something (the state file for the
	// maintenance API, the configuration for the reload); otherwise
	// nothing may change. by: the administrator the record must name.
	writes bool
	by     string
}

// forged are headers that proxies and other tools use to pass a user
// name; none of them may decide who the record names.
var forged = map[string]string{
	"X-Forwarded-User":    "mallory",
	"X-Remote-User":       "mallory",
	"Remote-User":         "mallory",
	"X-WEBAUTH-USER":      "mallory",
	"X-Auth-Request-User": "mallory",
}

// TestSecurityRules is the table of issue 8's write-protection rules over
// the real binary: writes are off by default (403 naming the flag, nothing
// changes, the state file stays byte for byte), turning them on without
// authentication or with an administrator the web config does not have
// refuses to start with a message saying what to add, a scrape user may
// read but gets 403 on writes, an administrator may write, and the record
// names the authenticated administrator whatever headers or fields claim.
func TestSecurityRules(t *testing.T) {
	admin := []string{"--web.enable-admin-api", "--web.admin-user=admin"}
	lifecycle := []string{"--web.enable-lifecycle", "--web.admin-user=admin"}
	both := []string{"--web.enable-admin-api", "--web.enable-lifecycle", "--web.admin-user=admin"}
	noUsers := "http_server_config:\n  http2: true\n"
	post, get := http.MethodPost, http.MethodGet
	mpath, rpath := web.MaintenancePath, web.ReloadPath

	for _, r := range []securityRow{
		// Off by default.
		{name: "default: maintenance POST is off", method: post, path: mpath, code: 403,
			want: "the sidecar refuses writes: POST /api/v1/maintenance is off; start lvs-sidecar with --web.enable-admin-api"},
		{name: "default: reload is off", method: post, path: rpath, code: 403,
			want: "the sidecar refuses writes: POST /-/reload is off; start lvs-sidecar with --web.enable-lifecycle"},
		{name: "default: DELETE is a write too", method: http.MethodDelete, path: mpath, code: 403, want: "--web.enable-admin-api"},
		{name: "default: reads stay on", method: get, path: mpath, code: 200, want: `"by": "seed"`},
		{name: "default: a forged Authorization header is no identity", method: post, path: mpath, user: "admin", pass: "anything",
			header: forged, code: 403, want: "--web.enable-admin-api"},
		{name: "default: the landing page says writes are off", method: get, path: "/", code: 200,
			want: "POST /api/v1/maintenance: off (--web.enable-admin-api turns it on)"},
		{name: "basic auth, flags off: the would-be admin is refused", users: true, method: post, path: mpath, user: "admin", pass: "admin-pw",
			code: 403, want: "--web.enable-admin-api"},
		{name: "basic auth, only --web.admin-user: still off", users: true, flags: []string{"--web.admin-user=admin"}, method: post, path: rpath,
			user: "admin", pass: "admin-pw", code: 403, want: "--web.enable-lifecycle"},
		{name: "lifecycle on: the admin API stays off", users: true, flags: lifecycle, method: post, path: mpath, user: "admin", pass: "admin-pw",
			code: 403, want: "--web.enable-admin-api"},
		{name: "admin API on: reload stays off", users: true, flags: admin, method: post, path: rpath, user: "admin", pass: "admin-pw",
			code: 403, want: "--web.enable-lifecycle"},

		// Turned on without authentication: no start.
		{name: "admin API without a web config", flags: admin,
			refuse: "--web.enable-admin-api turns on writes, which need authentication: add --web.config.file=FILE with basic_auth_users, and --web.admin-user=NAME for each of those users who may write"},
		{name: "lifecycle without a web config", flags: []string{"--web.enable-lifecycle"},
			refuse: "--web.enable-lifecycle turns on writes, which need authentication: add --web.config.file=FILE"},
		{name: "web config without basic_auth_users", webConfig: noUsers, flags: both,
			refuse: "--web.enable-admin-api and --web.enable-lifecycle turn on writes, which need authentication: --web.config.file WEB has no basic_auth_users; add the users there"},
		{name: "no --web.admin-user", users: true, flags: []string{"--web.enable-admin-api"},
			refuse: "--web.enable-admin-api turns on writes for administrators only: name at least one with --web.admin-user=NAME, a user of basic_auth_users in WEB (admin, prometheus)"},
		{name: "an admin the web config does not have", users: true, flags: []string{"--web.enable-admin-api", "--web.admin-user=admin", "--web.admin-user=root"},
			refuse: `--web.admin-user=root: no user "root" in basic_auth_users of WEB: add it there, or name one of admin, prometheus`},

		// Turned on: administrators write, scrape users read.
		{name: "on: no credentials", users: true, flags: both, method: post, path: mpath, code: 401},
		{name: "on: wrong password", users: true, flags: both, method: post, path: mpath, user: "admin", pass: "scrape-pw", code: 401},
		{name: "on: scrape user writes", users: true, flags: both, method: post, path: mpath, user: "prometheus", pass: "scrape-pw", header: map[string]string{"X-Forwarded-User": "admin"},
			code: 403, want: `user "prometheus" is not an admin: POST /api/v1/maintenance is for the users named with --web.admin-user; "prometheus" may only read`},
		{name: "on: scrape user reloads", users: true, flags: both, method: post, path: rpath, user: "prometheus", pass: "scrape-pw",
			code: 403, want: `user "prometheus" is not an admin`},
		{name: "on: scrape user reads", users: true, flags: both, method: get, path: mpath, user: "prometheus", pass: "scrape-pw", code: 200, want: `"by": "seed"`},
		{name: "on: the landing page names the admins", users: true, flags: both, method: get, path: "/", user: "prometheus", pass: "scrape-pw", code: 200,
			want: "POST /api/v1/maintenance: on, for the administrators admin"},
		{name: "on: admin writes", users: true, flags: both, method: post, path: mpath, user: "admin", pass: "admin-pw",
			code: 200, want: `"by": "admin"`, writes: true, by: "admin"},
		{name: "on: admin reloads", users: true, flags: both, method: post, path: rpath, user: "admin", pass: "admin-pw",
			code: 200, want: "configuration reloaded", writes: true},

		// by comes from the password, nothing else.
		{name: "on: headers claim another user", users: true, flags: both, method: post, path: mpath, user: "admin", pass: "admin-pw", header: forged,
			code: 200, want: `"by": "admin"`, writes: true, by: "admin"},
		{name: "on: a by field in the body", users: true, flags: both, method: post, path: mpath, user: "admin", pass: "admin-pw",
			body: `{"service": "web", "server": "RS1", "enabled": true, "by": "mallory"}`, code: 400, want: `unknown field "by"`},
		{name: "on: basic_auth_users removed while running", users: true, flags: both, editWebConfig: noUsers,
			method: post, path: mpath, user: "admin", pass: "anything", header: forged, code: 403,
			want: "the sidecar refuses writes: --web.config.file WEB has no basic_auth_users any more"},
	} {
		t.Run(r.name, func(t *testing.T) { r.run(t) })
	}
}

func (r securityRow) run(t *testing.T) {
	dir := t.TempDir()
	rs1, rs2 := newListener(t, "127.0.0.1:0"), newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(rs1.addr, rs2.addr))
	state := filepath.Join(dir, "maintenance.json")
	seed, err := actuator.LoadMaintenance(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := seed.Apply(actuator.MaintenanceChange{Service: "tcp/192.0.2.10:80", Server: rs2.addr, Enabled: true, Reason: "seeded", By: "seed"}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--config.file=" + cfg, "--state.file=" + state}, r.flags...)
	webFile := filepath.Join(dir, "web.yml")
	switch {
	case r.users:
		writeFile(t, dir, "web.yml", basicAuthUsers(t, "admin", "admin-pw", "prometheus", "scrape-pw"))
	case r.webConfig != "":
		writeFile(t, dir, "web.yml", r.webConfig)
	default:
		webFile = ""
	}
	if webFile != "" {
		args = append(args, "--web.config.file="+webFile)
	}
	expand := func(s string) string {
		return strings.NewReplacer("WEB", webFile, "RS1", rs1.addr).Replace(s)
	}
	unchanged := func() {
		t.Helper()
		after, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("the state file changed:\nbefore %s\nafter  %s", before, after)
		}
	}

	if r.refuse != "" {
		code, out := runToExit(t, append([]string{"--web.listen-address=127.0.0.1:0"}, args...)...)
		out = strings.ReplaceAll(out, `\"`, `"`) // logfmt quotes the message
		if code != 1 || !strings.Contains(out, expand(r.refuse)) {
			t.Errorf("exit %d, output:\n%s\nwant exit 1 and %q", code, out, expand(r.refuse))
		}
		if strings.Contains(out, `msg="Listening on"`) {
			t.Errorf("it listened before refusing:\n%s", out)
		}
		unchanged()
		return
	}

	s := start(t, args...)
	if r.editWebConfig != "" {
		writeFile(t, dir, "web.yml", r.editWebConfig)
	}
	body := r.body
	if body == "" && r.method == http.MethodPost && r.path == web.MaintenancePath {
		body = `{"service": "web", "server": "RS1", "enabled": true, "reason": "security table"}`
	}
	req, err := http.NewRequest(r.method, "http://"+s.addr+r.path, strings.NewReader(expand(body)))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	msg := string(answer)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var e web.APIError
		if json.Unmarshal(answer, &e) == nil && e.Error != "" {
			msg = e.Error
		}
	}
	if resp.StatusCode != r.code || !strings.Contains(msg, expand(r.want)) {
		t.Errorf("%s %s: %d %s\nwant %d with %q", r.method, r.path, resp.StatusCode, msg, r.code, expand(r.want))
	}
	if strings.Contains(msg, "mallory") {
		t.Errorf("the answer repeats a forged identity: %s", msg)
	}

	// The log line of a change may reach us just after the answer.
	waitLogs := func(want ...string) string {
		t.Helper()
		var logs string
		testutil.Poll(t, 5*time.Second, 10*time.Millisecond, func() error {
			logs = s.logs()
			for _, w := range want {
				if !strings.Contains(logs, w) {
					return fmt.Errorf("the log lacks %q:\n%s", w, logs)
				}
			}
			return nil
		})
		return logs
	}
	switch {
	case r.path == web.MaintenancePath && r.writes:
		var f struct{ Entries []actuator.MaintenanceEntry }
		data, err := os.ReadFile(state)
		if err != nil || json.Unmarshal(data, &f) != nil {
			t.Fatalf("state file after the write: %s (%v)", data, err)
		}
		found := false
		for _, e := range f.Entries {
			if e.Server == rs1.addr {
				found = true
				if e.By != r.by {
					t.Errorf("the state file records by %q, want %q: %s", e.By, r.by, data)
				}
			}
		}
		if !found || bytes.Contains(data, []byte("mallory")) {
			t.Errorf("state file after the write: %s; want rs1 by %s and no forged name", data, r.by)
		}
		// The log names the user and, apart, the address it came from.
		if logs := waitLogs(`msg="maintenance enabled`, `by=`+r.by+` remote=127.0.0.1:`); strings.Contains(logs, "mallory") {
			t.Errorf("the log names a forged user:\n%s", logs)
		}
	case r.path == web.ReloadPath && r.writes:
		waitLogs(`msg="configuration reload requested" trigger="POST /-/reload" by=admin remote=127.0.0.1:`, `msg="reloaded configuration"`)
	default:
		unchanged()
		// Give a change that should not happen the time to show.
		time.Sleep(100 * time.Millisecond)
		logs := s.logs()
		if strings.Contains(logs, "maintenance enabled") || strings.Contains(logs, "reload requested") || strings.Contains(logs, `msg="reloaded configuration"`) {
			t.Errorf("a refused or read request changed something:\n%s", logs)
		}
	}
}
