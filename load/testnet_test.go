package load

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// Helpers for the tests against Debian's snmpd: network namespaces the
// test creates (a director and one per real server, joined by veth
// pairs with documentation addresses that exist only inside them), and
// snmpd instances in them whose laLoadInt.1 the test sets.

// needTool skips the test without root or without the Debian tool,
// except in CI (CI set), where either must fail the run.
func needTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the snmpd tests need root (network namespaces), and CI must run them as root")
		}
		t.Skip("the snmpd tests need root (network namespaces)")
	}
	return testutil.LookTool(t, tool, pkg)
}

// netns is a network namespace the test made, deleted at its end.
type netns struct {
	t    *testing.T
	name string
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	n := &netns{t: t, name: fmt.Sprintf("lvs-load-%08x", rand.Uint32())}
	run(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", n.name, err, out)
		}
	})
	run(t, "ip", "-n", n.name, "link", "set", "lo", "up")
	return n
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// do runs fn on a thread inside the namespace: the poller's Options.Do.
// The thread is never unlocked, so the runtime discards it afterwards.
func (n *netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + n.name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// lab is a director namespace and real server namespaces, each real
// server i linked to the director by a /30: the director has
// 198.51.100.(4i+1), the real server 198.51.100.(4i+2).
type lab struct {
	director *netns
	servers  []*netns
}

func newLab(t *testing.T, n int) *lab {
	t.Helper()
	l := &lab{director: newNetns(t)}
	for i := range n {
		rs := newNetns(t)
		d, r := fmt.Sprintf("d%d", i), fmt.Sprintf("r%d", i)
		run(t, "ip", "-n", l.director.name, "link", "add", d, "type", "veth", "peer", "name", r, "netns", rs.name)
		run(t, "ip", "-n", l.director.name, "addr", "add", l.directorAddr(i).String()+"/30", "dev", d)
		run(t, "ip", "-n", rs.name, "addr", "add", l.serverAddr(i).String()+"/30", "dev", r)
		run(t, "ip", "-n", l.director.name, "addr", "add", l.directorAddr6(i).String()+"/64", "dev", d, "nodad")
		run(t, "ip", "-n", rs.name, "addr", "add", l.serverAddr6(i).String()+"/64", "dev", r, "nodad")
		run(t, "ip", "-n", l.director.name, "link", "set", d, "up")
		run(t, "ip", "-n", rs.name, "link", "set", r, "up")
		l.servers = append(l.servers, rs)
	}
	for i := range n {
		// The carrier comes up asynchronously (linkwatch).
		testutil.Poll(t, 5*time.Second, 10*time.Millisecond, func() error {
			out, err := exec.Command("ip", "-n", l.director.name, "-o", "link", "show", fmt.Sprintf("d%d", i)).CombinedOutput()
			if err == nil && strings.Contains(string(out), "state UP") {
				return nil
			}
			return fmt.Errorf("d%d is not up: %v: %s", i, err, out)
		})
	}
	return l
}

func (l *lab) directorAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 51, 100, byte(4*i + 1)})
}

// directorAddr6 and serverAddr6 are the link's IPv6 addresses:
// 2001:db8:9:i::1 and ::2.
func (l *lab) directorAddr6(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, byte(i), 15: 1})
}

func (l *lab) serverAddr6(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, byte(i), 15: 2})
}

func (l *lab) serverAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 51, 100, byte(4*i + 2)})
}

// snmpd is one Debian snmpd in a real server's namespace, serving
// laLoadInt.1 from a file through a pass_persist script (so the test
// sets the load without restarting it) and whatever else extra says.
type snmpd struct {
	t       *testing.T
	bin     string
	ns      *netns
	addr    netip.Addr
	dir     string
	valFile string
	cmd     *exec.Cmd
}

// newSnmpd writes the configuration (agentaddress, a community
// restricted to the director's address, an SNMPv3 authPriv user, the
// laLoadInt.1 script, and extra lines) and starts snmpd; the initial
// laLoadInt is load.
func newSnmpd(t *testing.T, bin string, ns *netns, addr, director netip.Addr, load int, extra string) *snmpd {
	t.Helper()
	s := &snmpd{t: t, bin: bin, ns: ns, addr: addr, dir: t.TempDir()}
	s.valFile = filepath.Join(s.dir, "laLoadInt")
	s.setLoad(load)
	script := filepath.Join(s.dir, "laLoadInt.sh")
	if err := os.WriteFile(script, []byte(testutil.LoadPassScript), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`agentaddress udp:%s:161,udp6:[%s]:161
rocommunity director-only %s/32
rocommunity6 director-only %s/128
createUser lvsdirector SHA-256 auth-passphrase-1 AES priv-passphrase-1
rouser lvsdirector priv
pass_persist .1.3.6.1.4.1.2021.10.1.5.1 /bin/sh %s %s
%s
`, addr, v6(addr), director, v6(director), script, s.valFile, extra)
	if err := os.WriteFile(filepath.Join(s.dir, "snmpd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// v6 maps a lab IPv4 address to the IPv6 one of the same end of its
// link (198.51.100.(4i+1) to 2001:db8:9:i::1, +2 to ::2).
func v6(a netip.Addr) netip.Addr {
	b := a.As4()
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, b[3] / 4, 15: b[3] % 4})
}

func (s *snmpd) setLoad(v int) {
	s.t.Helper()
	// Write then rename, so the script never reads half a number.
	tmp := s.valFile + ".new"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", v)), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, s.valFile); err != nil {
		s.t.Fatal(err)
	}
}

// start runs snmpd in the foreground (-f) with only this configuration
// (-C -c) and waits until it listens.
func (s *snmpd) start() {
	s.t.Helper()
	log := filepath.Join(s.dir, "snmpd.log")
	s.cmd = exec.Command("ip", "netns", "exec", s.ns.name, s.bin, "-f", "-C", "-c", filepath.Join(s.dir, "snmpd.conf"),
		"-Lf", log, "-p", filepath.Join(s.dir, "snmpd.pid"))
	s.cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+filepath.Join(s.dir, "persist"), "MIBS=")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start snmpd: %v", err)
	}
	testutil.Poll(s.t, 10*time.Second, 20*time.Millisecond, func() error {
		out, err := exec.Command("ip", "netns", "exec", s.ns.name, "ss", "-Hlun", "src", s.addr.String()+":161").CombinedOutput()
		if err == nil && strings.Contains(string(out), ":161") {
			return nil
		}
		data, _ := os.ReadFile(log)
		return fmt.Errorf("snmpd does not listen on %s:161 yet: %s\n%s", s.addr, out, lastLines(string(data), 5))
	})
}

// stop stops snmpd (SIGTERM) and waits for it.
func (s *snmpd) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
