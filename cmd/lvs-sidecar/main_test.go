package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the lvs-sidecar built once for all tests in this package: the
// tests exercise the real program, its flags, logs and exit codes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lvs-sidecar-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "lvs-sidecar")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("build lvs-sidecar: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sidecar is one running lvs-sidecar process.
type sidecar struct {
	cmd  *exec.Cmd
	addr string // host:port it listens on
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

var listeningRE = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// start runs the binary on an ephemeral loopback port and waits until it
// says where it listens.
func start(t testing.TB, args ...string) *sidecar {
	t.Helper()
	args = append([]string{"--web.listen-address=127.0.0.1:0"}, args...)
	s := &sidecar{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		_ = s.cmd.Wait()
		if t.Failed() {
			t.Logf("lvs-sidecar log:\n%s", s.logs())
		}
	})
	select {
	case s.addr = <-addrc:
	case <-s.done:
		t.Fatalf("lvs-sidecar exited before listening:\n%s", s.logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("lvs-sidecar did not listen within 20s:\n%s", s.logs())
	}
	return s
}

func (s *sidecar) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// get fetches a URL and returns status and body.
func get(t testing.TB, c *http.Client, url string, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// runBinary runs the binary with args, stdin and an environment (nil:
// this process's), expecting it to exit by itself within 20 s; it returns
// the exit code, stdout and stderr.
func runBinary(t *testing.T, stdin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("lvs-sidecar %v did not exit within 20s:\n%s%s", args, stdout.String(), stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// runToExit runs the binary expecting it to exit by itself, and returns
// its exit code and everything it printed.
func runToExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, stdout, stderr := runBinary(t, "", nil, args...)
	return code, stdout + stderr
}

func haveKernelIPVS() bool {
	_, err := os.Stat("/proc/net/ip_vs")
	return err == nil
}
