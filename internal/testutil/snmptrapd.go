package testutil

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Snmptrapd is Debian's snmptrapd on a loopback port, printing one line
// per notification ("TRAP " and the varbinds, tab-separated) decoded with
// the SMIv2 base modules, LVS-SIDECAR-MIB and KEEPALIVED-MIB.
type Snmptrapd struct {
	// Addr is the host:port it listens on.
	Addr string
	out  *SyncBuffer
}

// FreeUDPPort returns a loopback UDP port nothing listens on now.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// StartSnmptrapd runs snmptrapd with conf (its snmptrapd.conf) until the
// test ends; mibDir is the repository's mib/ directory. It skips the test
// without snmptrapd, unless CI is set.
func StartSnmptrapd(t testing.TB, conf, mibDir string) *Snmptrapd {
	t.Helper()
	bin := LookTool(t, "snmptrapd", "snmptrapd")
	mibs := BaseMIBs(t) + ":" + mibDir + ":" + KeepalivedMIBs(t)
	dir := t.TempDir()
	confPath := filepath.Join(dir, "snmptrapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 { // the port may be taken between FreeUDPPort and the bind
		d := &Snmptrapd{Addr: fmt.Sprintf("127.0.0.1:%d", FreeUDPPort(t)), out: &SyncBuffer{}}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "-f", "-Lo", "-n", "-C", "-c", confPath, "-M", mibs,
			"-m", "SNMPv2-MIB:LVS-SIDECAR-MIB:KEEPALIVED-MIB", "-F", `TRAP %v\n`, "udp:"+d.Addr)
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

// Output is everything snmptrapd printed so far, its log lines included
// ("Authentication failed for USER", ...).
func (d *Snmptrapd) Output() string { return d.out.String() }

// Traps returns the notifications snmptrapd printed, one string each.
func (d *Snmptrapd) Traps() []string {
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

// Wait returns the first notification that has every one of varbinds
// ("NAME = TYPE: VALUE", as snmptrapd prints them), each exactly, waiting
// up to 10 s for it.
func (d *Snmptrapd) Wait(t testing.TB, varbinds ...string) string {
	t.Helper()
	var found string
	Poll(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, tr := range d.Traps() {
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
		return fmt.Errorf("no notification with %q among %d", varbinds, len(d.Traps()))
	})
	return found
}
