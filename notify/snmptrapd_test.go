package notify

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// trapd is Debian's snmptrapd on a loopback port, printing one line per
// notification ("TRAP " and the varbinds, tab-separated) decoded with
// LVS-SIDECAR-MIB and KEEPALIVED-MIB.
type trapd struct {
	addr string
	out  *testutil.SyncBuffer
}

// freeUDPPort returns a loopback UDP port nothing listens on now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startTrapd runs snmptrapd with conf (its snmptrapd.conf) until the test
// ends.
func startTrapd(t *testing.T, conf string) *trapd {
	t.Helper()
	bin := testutil.LookTool(t, "snmptrapd", "snmptrapd")
	mibs := testutil.BaseMIBs(t) + ":" + filepath.Join("..", "mib") + ":" + testutil.KeepalivedMIBs(t)
	dir := t.TempDir()
	confPath := filepath.Join(dir, "snmptrapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 { // the port may be taken between freeUDPPort and the bind
		port := freeUDPPort(t)
		d := &trapd{addr: fmt.Sprintf("127.0.0.1:%d", port), out: &testutil.SyncBuffer{}}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "-f", "-Lo", "-n", "-C", "-c", confPath, "-M", mibs,
			"-m", "SNMPv2-MIB:LVS-SIDECAR-MIB:KEEPALIVED-MIB", "-F", `TRAP %v\n`, "udp:"+d.addr)
		cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+filepath.Join(dir, "persist"), "HOME="+dir)
		cmd.Stdout, cmd.Stderr = d.out, d.out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			cancel()
			<-exited
			if t.Failed() {
				t.Logf("snmptrapd output:\n%s", d.out)
			}
		})
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Contains(d.out.String(), "NET-SNMP version") {
				return d
			}
			select {
			case <-exited:
				deadline = time.Time{}
			case <-time.After(20 * time.Millisecond):
			}
		}
		cancel()
		if !strings.Contains(d.out.String(), "Address already in use") {
			t.Fatalf("snmptrapd did not start:\n%s", d.out)
		}
	}
	t.Fatal("snmptrapd found no free port")
	return nil
}

// traps returns the notifications snmptrapd printed, one string each.
func (d *trapd) traps() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(d.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "TRAP "); ok {
			out = append(out, line)
		}
	}
	return out
}

// wait returns the first notification that has every one of varbinds
// ("NAME = TYPE: VALUE", as snmptrapd prints them), each exactly.
func (d *trapd) wait(t *testing.T, varbinds ...string) string {
	t.Helper()
	var found string
	testutil.Poll(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, tr := range d.traps() {
			have := map[string]bool{}
			for _, vb := range strings.Split(tr, "\t") {
				have[strings.TrimSpace(vb)] = true
			}
			ok := true
			for _, p := range varbinds {
				ok = ok && have[p]
			}
			if ok {
				found = tr
				return nil
			}
		}
		return fmt.Errorf("no notification with %q among %d", varbinds, len(d.traps()))
	})
	return found
}

// varbindNames returns the names of a printed notification's varbinds, in
// order.
func varbindNames(trap string) []string {
	var names []string
	for _, vb := range strings.Split(trap, "\t") {
		if name, _, ok := strings.Cut(strings.TrimSpace(vb), " = "); ok {
			names = append(names, name)
		}
	}
	return names
}

// logBuffer is a log sink the tests read.
type logBuffer struct{ testutil.SyncBuffer }

// count returns how many lines contain every one of parts.
func (b *logBuffer) count(parts ...string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// testLogger returns a logger into a buffer.
func testLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
