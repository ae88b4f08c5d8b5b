package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/notify"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// statusSidecar runs the binary with a configuration of two real
// servers (listeners on loopback), a state file, and a web configuration
// with the administrator admin (admin-pw) and the scrape user prometheus
// (scrape-pw), the admin API on.
func statusSidecar(t *testing.T) (s *sidecar, state, rs1 string) {
	t.Helper()
	dir := t.TempDir()
	l1, l2 := newListener(t, "127.0.0.1:0"), newListener(t, "127.0.0.1:0")
	cfg := writeFile(t, dir, "lvs.yml", healthConfig(l1.addr, l2.addr))
	webFile := writeFile(t, dir, "web.yml", basicAuthUsers(t, "admin", "admin-pw", "prometheus", "scrape-pw"))
	state = filepath.Join(dir, "maintenance.json")
	s = start(t, "--config.file="+cfg, "--state.file="+state, "--web.config.file="+webFile,
		"--web.enable-admin-api", "--web.admin-user=admin")
	return s, state, l1.addr
}

// request sends one request to the sidecar and returns the answer, without
// following redirects.
func request(t *testing.T, method, url, user, pass string, form url.Values, header map[string]string) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(data)
}

var tokenRE = regexp.MustCompile(`name="token" value="([^"]+)"`)

// TestStatusPageSecurity runs the status page in the real binary behind
// exporter-toolkit's basic auth: 401 without credentials on the page and
// on its POST, a read-only user sees the states but no buttons and gets
// 403 on the POST, a cross-site POST or one without the page's token is
// refused and changes nothing, and the administrator's button puts the
// server into maintenance through the maintenance API's code (the state
// file names the administrator) and the page then shows it.
func TestStatusPageSecurity(t *testing.T) {
	s, state, rs1 := statusSidecar(t)
	base := "http://" + s.addr
	unchanged := func(what string) {
		t.Helper()
		if data, err := os.ReadFile(state); err == nil && bytes.Contains(data, []byte(rs1)) {
			t.Errorf("%s: the state file has %s: %s", what, rs1, data)
		}
	}

	for _, path := range []string{web.StatusPath, web.StatusAPIPath, "/status/assets/status.css"} {
		if code, _, _ := request(t, "GET", base+path, "", "", nil, nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, code)
		}
	}
	code, _, reader := request(t, "GET", base+web.StatusPath, "prometheus", "scrape-pw", nil, nil)
	if code != 200 || !strings.Contains(reader, rs1) || !strings.Contains(reader, `<span class="st st-`) || strings.Contains(reader, `name="token"`) ||
		!strings.Contains(reader, "Maintenance buttons are for the administrators (admin)") {
		t.Fatalf("the reader's page: %d, has %s: %v, has a token: %v", code, rs1, strings.Contains(reader, rs1), strings.Contains(reader, `name="token"`))
	}
	code, _, admin := request(t, "GET", base+web.StatusPath, "admin", "admin-pw", nil, nil)
	m := tokenRE.FindStringSubmatch(admin)
	if code != 200 || m == nil || !strings.Contains(admin, `<button name="enabled" value="true">Maintenance</button>`) {
		t.Fatalf("the administrator's page: %d, token %v", code, m)
	}
	token := m[1]
	form := url.Values{"token": {token}, "service": {"tcp/192.0.2.10:80"}, "server": {rs1}, "enabled": {"true"}, "reason": {"from the page <b>"}}
	action := base + web.StatusMaintenancePath + "?" + url.Values{"return": {"service=web"}, "anchor": {"s1-r1"}}.Encode()

	for _, tc := range []struct {
		name       string
		user, pass string
		form       url.Values
		header     map[string]string
		code       int
		want       string
	}{
		{"no credentials", "", "", form, nil, 401, "Unauthorized"},
		{"read-only user", "prometheus", "scrape-pw", form, nil, 403, `user "prometheus" is not an admin`},
		{"cross-site Origin", "admin", "admin-pw", form, map[string]string{"Origin": "https://evil.example"}, 403, "refuses writes from other sites"},
		{"Sec-Fetch-Site cross-site", "admin", "admin-pw", form, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "other sites"},
		{"no token", "admin", "admin-pw", url.Values{"service": form["service"], "server": form["server"], "enabled": {"true"}}, nil, 403, "token is not valid"},
		{"a bad token", "admin", "admin-pw", url.Values{"token": {"x" + token}, "service": form["service"], "server": form["server"], "enabled": {"true"}}, nil, 403, "token is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := request(t, "POST", action, tc.user, tc.pass, tc.form, tc.header)
			if code != tc.code || !strings.Contains(strings.ReplaceAll(body, "&#34;", `"`), tc.want) {
				t.Errorf("%d %s\nwant %d with %q", code, body, tc.code, tc.want)
			}
			unchanged(tc.name)
		})
	}

	code, h, body := request(t, "POST", action, "admin", "admin-pw", form, map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"})
	if code != http.StatusSeeOther || h.Get("Location") != "/status?service=web#s1-r1" {
		t.Fatalf("the administrator's button: %d Location %q %s", code, h.Get("Location"), body)
	}
	data, err := os.ReadFile(state)
	if err != nil || !bytes.Contains(data, []byte(rs1)) || !bytes.Contains(data, []byte(`"by": "admin"`)) {
		t.Errorf("the state file after the button: %s (%v)", data, err)
	}
	testutil.Poll(t, 5*time.Second, 20*time.Millisecond, func() error {
		if logs := s.logs(); !strings.Contains(logs, `msg="maintenance enabled`) || !strings.Contains(logs, "by=admin remote=127.0.0.1:") {
			return fmt.Errorf("the log lacks the change:\n%s", logs)
		}
		return nil
	})
	_, _, page := request(t, "GET", base+"/status?service=web", "admin", "admin-pw", nil, nil)
	if !strings.Contains(page, `<span class="st st-maintenance">maintenance</span>`) || !strings.Contains(page, "“from the page &lt;b&gt;” by admin") ||
		!strings.Contains(page, `<button name="enabled" value="false">End maintenance</button>`) {
		t.Errorf("the page after the button does not show the maintenance")
	}
	// The API of the maintenance lists the same entry: one store.
	_, _, list := request(t, "GET", base+web.MaintenancePath, "prometheus", "scrape-pw", nil, nil)
	if !strings.Contains(list, `"reason": "from the page \u003cb\u003e"`) {
		t.Errorf("GET %s after the button: %s", web.MaintenancePath, list)
	}

	// And off again from the page.
	lift := url.Values{"token": {token}, "service": {"web"}, "server": {rs1}, "enabled": {"false"}}
	if code, _, body := request(t, "POST", base+web.StatusMaintenancePath, "admin", "admin-pw", lift, nil); code != http.StatusSeeOther {
		t.Errorf("lifting from the page: %d %s", code, body)
	}
	if data, _ := os.ReadFile(state); bytes.Contains(data, []byte(rs1)) {
		t.Errorf("the state file still has %s after the lift: %s", rs1, data)
	}
}

// TestStatusAPI runs GET /api/v1/status against the real binary: the
// services of the configuration with a state per real server, the
// director's name, the configuration file and its SHA-256, a stale flag
// (this machine has no IPVS, or the lab's tables differ), and the recent
// events, which the scheduler's first verdicts fill.
func TestStatusAPI(t *testing.T) {
	s, _, rs1 := statusSidecar(t)
	base := "http://" + s.addr
	var v web.StatusView
	testutil.Poll(t, 10*time.Second, 50*time.Millisecond, func() error {
		code, _, body := request(t, "GET", base+web.StatusAPIPath, "prometheus", "scrape-pw", nil, nil)
		if code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return err
		}
		if len(v.Services) != 1 || len(v.Services[0].RealServers) != 2 {
			return fmt.Errorf("services %+v", v.Services)
		}
		for _, e := range v.Events {
			if e.Kind == web.EventHealth && e.Server == rs1 && e.Code == "up" {
				return nil
			}
		}
		return fmt.Errorf("no up event for %s yet: %+v", rs1, v.Events)
	})
	host, _ := os.Hostname()
	if v.Director != host || !strings.HasSuffix(v.ConfigFile, "/lvs.yml") || len(v.ConfigSHA256) != 64 {
		t.Errorf("header: director %q (host %q), config %q %q", v.Director, host, v.ConfigFile, v.ConfigSHA256)
	}
	if r := v.Services[0].RealServers[0]; r.Server != rs1 || r.Verdict != "up" || r.LastCheck == nil || r.LastCheck.Class != "open" {
		t.Errorf("%s: %+v", rs1, r)
	}
	if !haveKernelIPVS() && (!v.Stale || !strings.Contains(v.StaleReason, "the IPVS table could not be read")) {
		t.Errorf("no IPVS here, but stale %v %q", v.Stale, v.StaleReason)
	}
	_, _, landing := request(t, "GET", base+"/", "prometheus", "scrape-pw", nil, nil)
	if !strings.Contains(landing, `href="/status"`) {
		t.Errorf("the landing page does not link /status")
	}
}

// TestOnActionFansOut: the controller's action hook hands every action
// to the status page's recent events beside the notifier, and is nil
// when nothing listens.
func TestOnActionFansOut(t *testing.T) {
	if onAction(nil) != nil || onAction(&checks{}) != nil {
		t.Errorf("a hook without listeners")
	}
	a := actuator.Action{Time: time.Now(), Kind: actuator.ActionUpdateWeight, Service: "tcp/192.0.2.10:80", Name: "web", Server: "10.0.0.1:80",
		OldWeight: 1, NewWeight: 0, Reason: actuator.ReasonDrain}
	for _, withNotifier := range []bool{false, true} {
		hc := &checks{events: web.NewEvents(4)}
		if withNotifier {
			hc.notifier = notify.New(&config.Config{}, notify.Options{})
		}
		onAction(hc)(a)
		got := hc.events.List()
		if len(got) != 1 || got[0].What != "drained: weight 1 → 0" || got[0].ServiceName != "web" {
			t.Errorf("notifier too: %v; events %+v", withNotifier, got)
		}
	}
}
