package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestServesWithoutIPVS runs the binary on this machine, whose kernel has no
// IPVS: the process must keep serving, say ipvs_up 0, and log the fix.
func TestServesWithoutIPVS(t *testing.T) {
	if haveKernelIPVS() {
		t.Skip("this kernel has IPVS loaded; the no-IPVS behaviour is proven in the lab VM instead")
	}
	s := start(t)
	base := "http://" + s.addr
	c := &http.Client{}

	code, body := get(t, c, base+"/metrics", "", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: status %d", code)
	}
	for _, want := range []string{
		"\nipvs_up 0\n",
		"\nipvs_scrape_success 0\n",
		"\nipvs_scrape_duration_seconds ",
		"\nlvs_sidecar_build_info{",
		"\ngo_goroutines ",
		"\nprocess_cpu_seconds_total ",
		"\npromhttp_metric_handler_requests_total{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(body, "ipvs_service_") || strings.Contains(body, "ipvs_real_server_") {
		t.Errorf("/metrics has table series although the table could not be read")
	}

	for path, want := range map[string]string{
		"/-/healthy": "Healthy",
		"/-/ready":   "Ready",
		"/":          "/metrics",
	} {
		code, body := get(t, c, base+path, "", "")
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: status %d, body lacks %q", path, code, want)
		}
	}

	// The startup probe and the scrape failed the same way: the reason and
	// its fix are logged once, not once per scrape.
	get(t, c, base+"/metrics", "", "")
	logs := s.logs()
	if n := strings.Count(logs, "modprobe ip_vs"); n != 1 {
		t.Errorf("log names the fix (modprobe ip_vs) %d times, want exactly 1:\n%s", n, logs)
	}
}

// TestCustomTelemetryPath checks --web.telemetry-path moves the metrics.
func TestCustomTelemetryPath(t *testing.T) {
	s := start(t, "--web.telemetry-path=/ipvs-metrics")
	c := &http.Client{}
	if code, body := get(t, c, "http://"+s.addr+"/ipvs-metrics", "", ""); code != 200 || !strings.Contains(body, "ipvs_up ") {
		t.Errorf("/ipvs-metrics: status %d, has ipvs_up: %v", code, strings.Contains(body, "ipvs_up "))
	}
	if code, _ := get(t, c, "http://"+s.addr+"/metrics", "", ""); code != http.StatusNotFound {
		t.Errorf("/metrics after moving the telemetry path: status %d, want 404", code)
	}
}

// TestBadInput checks that bad flags and files end the process at once with
// a message that names what is wrong, and a non-zero code.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--web.listen-adress=:1"}, 2, "unknown long flag '--web.listen-adress'"},
		{"bad duration", []string{"--ipvs.timeout=soon"}, 2, "--ipvs.timeout"},
		{"bad log level", []string{"--log.level=loud"}, 2, "loud"},
		{"missing web config", []string{"--web.config.file=" + dir + "/nope.yml"}, 1, dir + "/nope.yml"},
		{"invalid web config", []string{"--web.config.file=" + writeFile(t, dir, "bad.yml", "basic_auth_users: [1, 2]\n")}, 1, "bad.yml"},
		{"unknown key in web config", []string{"--web.config.file=" + writeFile(t, dir, "typo.yml", "tls_server_confg: {}\n")}, 1, "tls_server_confg"},
		{"missing netns", []string{"--ipvs.netns=" + dir + "/no-such-ns"}, 1, dir + "/no-such-ns"},
		{"relative telemetry path", []string{"--web.telemetry-path=metrics"}, 1, "--web.telemetry-path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runToExit(t, append([]string{"--web.listen-address=127.0.0.1:0"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.code, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output does not name %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestVersion checks --version prints the build information.
func TestVersion(t *testing.T) {
	code, out := runToExit(t, "--version")
	if code != 0 || !strings.Contains(out, "lvs-sidecar, version") {
		t.Errorf("--version: exit %d, output %q", code, out)
	}
}
