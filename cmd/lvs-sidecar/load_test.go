package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// lookSnmpd finds Debian's snmpd, or skips the test outside CI.
func lookSnmpd(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/snmpd", "/sbin/snmpd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("snmpd"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("snmpd is required in CI (apt-get install snmpd)")
	}
	t.Skip("snmpd not installed (apt-get install snmpd)")
	return ""
}

// startLoopbackSnmpd runs snmpd on 127.0.0.1 at a free UDP port with
// laLoadInt.1 fixed at laLoadInt, and returns the port.
func startLoopbackSnmpd(t *testing.T, laLoadInt int) int {
	t.Helper()
	bin := lookSnmpd(t)
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf("agentaddress udp:127.0.0.1:%d\nrocommunity loopback-only 127.0.0.1/32\noverride .1.3.6.1.4.1.2021.10.1.5.1 integer %d\n", port, laLoadInt)
	writeFile(t, dir, "snmpd.conf", conf)
	cmd := exec.Command(bin, "-f", "-C", "-c", filepath.Join(dir, "snmpd.conf"), "-Lf", filepath.Join(dir, "snmpd.log"), "-p", filepath.Join(dir, "pid"))
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+filepath.Join(dir, "persist"), "MIBS=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return port
}

// TestLoadPollsReload: the binary polls the load of the real servers a
// reload gives a load block (here from a real snmpd on loopback) and
// exports it, never prints the community, and stops when a reload takes
// the block away.
func TestLoadPollsReload(t *testing.T) {
	port := startLoopbackSnmpd(t, 250)
	dir := t.TempDir()
	rs := newListener(t, "127.0.0.1:0")
	plain := healthConfig(rs.addr)
	cfg := writeFile(t, dir, "lvs.yml", plain)
	s := start(t, "--config.file="+cfg)
	series := fmt.Sprintf(`ipvs_real_server_load{server=%q,service="tcp/192.0.2.10:80"}`, rs.addr)
	waitMetric(t, s, nil, stateSeries(rs.addr, "up"), 1, 5*time.Second)
	if _, body := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+s.addr+"/metrics", "", ""); strings.Contains(body, "ipvs_real_server_load{") {
		t.Fatalf("a load series without a load block")
	}

	withLoad := strings.Replace(plain, "    checks:", fmt.Sprintf(
		"    load: {community: loopback-only, port: %d, interval: 200ms, timeout: 100ms, start: 1, full: 5}\n    checks:", port), 1)
	writeFile(t, dir, "lvs.yml", withLoad)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, s, nil, series, 2.5, 10*time.Second)
	_, body := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+s.addr+"/metrics", "", "")
	for _, want := range []string{
		fmt.Sprintf(`ipvs_real_server_load_stale{server=%q,service="tcp/192.0.2.10:80"} 0`, rs.addr),
		fmt.Sprintf(`ipvs_real_server_load_poll_errors_total{server=%q,service="tcp/192.0.2.10:80"} 0`, rs.addr),
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(body, "loopback-only") || strings.Contains(s.logs(), "loopback-only") {
		t.Errorf("the community is in the metrics or the log")
	}

	writeFile(t, dir, "lvs.yml", plain)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Poll(t, 10*time.Second, 50*time.Millisecond, func() error {
		if _, body := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+s.addr+"/metrics", "", ""); strings.Contains(body, series) {
			return fmt.Errorf("the load is still polled after the reload took the block away")
		}
		return nil
	})
}
