//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestControllerMaintenance runs lvs-sidecar the safe way, with basic
// auth (--web.config.file with bcrypt hashes for an administrator and a
// scrape user) and the admin API on for the administrator only
// (--web.enable-admin-api --web.admin-user), and puts real servers into
// maintenance and back: rs2 through POST /api/v1/maintenance, rs3 with
// `lvs-sidecar maintenance enable|list|disable` run in the director's
// namespace. A server in maintenance is drained (weight 0) while its
// checks keep running and passing; lifting the maintenance restores its
// declared weight. POSTs without credentials or with a wrong password get
// 401, the scrape user's get 403, and none changes anything; the CLI
// without credentials or as the scrape user exits 1 saying why.
func TestControllerMaintenance(t *testing.T) {
	requireLab(t)
	svc := ctlService{name: "ctl-maint", port: 8091, onFailure: "drain", panic: "50%",
		servers: []ctlServer{{n: 1, weight: 3}, {n: 2, weight: 2}, {n: 3, weight: 1}}}
	svc.prepare(t)
	for _, s := range svc.servers {
		listenInRS(t, rsNS(s.n), svc.port)
	}
	const user, password = "admin", "e2e-maintenance"
	const scrapeUser, scrapePassword = "prometheus", "e2e-scrape"
	web := webConfigWithUsers(t, user, password, scrapeUser, scrapePassword)
	sc := startSidecarAuth(t, web, user, password, "--config.file="+svc.config(t, "managed"),
		"--web.enable-admin-api", "--web.admin-user="+user)
	k := directorKernel(t)
	key := svc.key(t)
	declared := svc.declaredWeights()
	rs2, rs3 := svc.server(2), svc.server(3)
	k.awaitWeights(t, key, declared, 15*time.Second)

	post := func(client *http.Client, enabled bool, server string) (int, string) {
		t.Helper()
		body := fmt.Sprintf(`{"service": %q, "server": %q, "enabled": %v, "reason": "e2e api"}`, svc.name, server, enabled)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, sc.base+"/api/v1/maintenance", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST /api/v1/maintenance: %v", err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(answer)
	}
	// ipvs_real_server_maintenance is 1 in maintenance, absent (0)
	// otherwise: a 0 series is an error.
	inMaintenance := func(server string) float64 {
		t.Helper()
		v, ok := metric(sc.scrape(t), "ipvs_real_server_maintenance", "service", key, "server", server)
		if ok && v != 1 {
			t.Fatalf("ipvs_real_server_maintenance for %s is %v: written only while 1", server, v)
		}
		return v
	}

	t.Run("unauthenticated", func(t *testing.T) {
		wrong := httpInNS("director")
		wrong.Transport = basicAuth{user, "not-the-password", wrong.Transport}
		for name, client := range map[string]*http.Client{"no credentials": httpInNS("director"), "wrong password": wrong} {
			if code, body := post(client, true, rs2); code != http.StatusUnauthorized {
				t.Errorf("POST with %s: %d %s, want 401", name, code, body)
			}
		}
		scrape := httpInNS("director")
		scrape.Transport = basicAuth{scrapeUser, scrapePassword, scrape.Transport}
		if code, body := post(scrape, true, rs2); code != http.StatusForbidden || !strings.Contains(body, "is not an admin") {
			t.Errorf("POST as the scrape user: %d %s, want 403 saying it is not an admin", code, body)
		}
		// Given time to act, nothing did.
		time.Sleep(ctlPeriod)
		if v := inMaintenance(rs2); v != 0 {
			t.Errorf("after refused POSTs, ipvs_real_server_maintenance of rs2 = %v, want 0", v)
		}
		if w := k.mustWeights(t, key); !weightsMatch(w, declared) {
			t.Errorf("after refused POSTs the kernel has %v, want %v", w, declared)
		}
	})

	t.Run("API", func(t *testing.T) {
		code, body := post(sc.client, true, rs2)
		sent := time.Now()
		if code != http.StatusOK || !changed(body, true) {
			t.Fatalf("POST enable rs2: %d %s, want 200 and changed", code, body)
		}
		drained := k.awaitWeights(t, key, with(declared, rs2, 0), 5*time.Second)
		t.Logf("POST enable rs2: weight 0 after %v", drained.Sub(sent).Round(time.Millisecond))
		if v := inMaintenance(rs2); v != 1 {
			t.Errorf("ipvs_real_server_maintenance of rs2 = %v, want 1", v)
		}
		checksKeepPassing(t, sc, k, key, rs2, with(declared, rs2, 0))

		code, body = post(sc.client, false, rs2)
		if code != http.StatusOK || !changed(body, false) {
			t.Fatalf("POST disable rs2: %d %s, want 200 and changed", code, body)
		}
		k.awaitWeights(t, key, declared, 5*time.Second)
		if v := inMaintenance(rs2); v != 0 {
			t.Errorf("ipvs_real_server_maintenance of rs2 = %v after disable, want 0", v)
		}
	})

	t.Run("CLI", func(t *testing.T) {
		pwFile := filepath.Join(t.TempDir(), "password")
		if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cli := func(auth bool, args ...string) (string, error) {
			t.Helper()
			args = append([]string{"lvs-sidecar", "maintenance"}, append(args, "--url", sc.base)...)
			if auth {
				args = append(args, "--user", user, "--password-file", pwFile)
			}
			return tryInNS(t, "director", args...)
		}
		target := []string{"--service", key, "--server", rs3}

		out, err := cli(true, append([]string{"enable", "--reason", "e2e cli"}, target...)...)
		if err != nil || !strings.Contains(out, "is now in maintenance") {
			t.Fatalf("maintenance enable: %q, %v", out, err)
		}
		k.awaitWeights(t, key, with(declared, rs3, 0), 5*time.Second)
		out, err = cli(true, "list")
		if err != nil || !strings.Contains(out, rs3) || !strings.Contains(out, "e2e cli") {
			t.Errorf("maintenance list: %q, %v; want rs3 with its reason", out, err)
		}
		checksKeepPassing(t, sc, k, key, rs3, with(declared, rs3, 0))

		// Without credentials, or as the scrape user: refused, exit 1,
		// and rs3 stays drained.
		out, err = cli(false, append([]string{"disable"}, target...)...)
		var ce *commandError
		var exit *exec.ExitError
		if !errors.As(err, &ce) || !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(ce.stderr, "authentication failed") {
			t.Errorf("maintenance disable without credentials: %q, %v; want exit 1 saying authentication failed", out, err)
		}
		out, err = tryInNS(t, "director", "env", "LVS_SIDECAR_PASSWORD="+scrapePassword,
			"lvs-sidecar", "maintenance", "disable", "--url", sc.base, "--user", scrapeUser, "--service", key, "--server", rs3)
		if !errors.As(err, &ce) || !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(ce.stderr, `user "prometheus" is not an admin`) {
			t.Errorf("maintenance disable as the scrape user: %q, %v; want exit 1 saying it is not an admin", out, err)
		}
		if v := inMaintenance(rs3); v != 1 {
			t.Errorf("after a refused disable, ipvs_real_server_maintenance of rs3 = %v, want 1", v)
		}

		out, err = cli(true, append([]string{"disable"}, target...)...)
		if err != nil || !strings.Contains(out, "out of maintenance") {
			t.Fatalf("maintenance disable: %q, %v", out, err)
		}
		k.awaitWeights(t, key, declared, 5*time.Second)
	})
}

// changed reports whether body, the API's answer to a POST, says the
// request changed the server's maintenance to enabled.
func changed(body string, enabled bool) bool {
	var e struct {
		Enabled bool  `json:"enabled"`
		Changed *bool `json:"changed"`
	}
	return json.Unmarshal([]byte(body), &e) == nil && e.Enabled == enabled && e.Changed != nil && *e.Changed
}

// checksKeepPassing checks, for about three check intervals, that server
// stays up with more passing checks while the kernel keeps want.
func checksKeepPassing(t *testing.T, sc *daemon, k *kernel, key, server string, want map[string]int64) {
	t.Helper()
	passes := func() (up, open float64) {
		s := sc.scrape(t)
		up, _ = metric(s, "ipvs_real_server_health_state", "service", key, "server", server, "state", "up")
		return up, sum(s, "ipvs_real_server_health_checks_total", "service", key, "server", server, "result", "open")
	}
	up0, open0 := passes()
	for end := time.Now().Add(3 * ctlInterval); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if w := k.mustWeights(t, key); !weightsMatch(w, want) {
			t.Fatalf("in maintenance the kernel has %v, want %v", w, want)
		}
	}
	up1, open1 := passes()
	if up0 != 1 || up1 != 1 || open1 <= open0 {
		t.Errorf("in maintenance %s: health up %v → %v, passing checks %v → %v; want up with checks still passing", server, up0, up1, open0, open1)
	}
}
