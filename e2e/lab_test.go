//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// commandTimeout bounds every command a test runs in the VM.
const commandTimeout = 30 * time.Second

// requireLab fails the test unless it runs inside the lab VM, whose init
// exports LAB (the share's mount point) to the guest script.
func requireLab(t *testing.T) {
	t.Helper()
	if os.Getenv("LAB") == "" {
		t.Fatal("e2e tests only run inside the lab VM: use lab/e2e (make e2e)")
	}
}

// labEnv returns a variable topology.sh exported, failing the test when it
// is missing.
func labEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: the guest script did not build the topology", name)
	}
	return v
}

// inNS runs a command in network namespace ns ("root": the VM's own) and
// returns its standard output, failing the test when it does not succeed.
func inNS(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := tryInNS(t, ns, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryInNS is inNS that returns the error (with the command's stderr)
// instead of failing the test.
func tryInNS(t *testing.T, ns string, args ...string) (string, error) {
	t.Helper()
	// Not t.Context(): that is cancelled before cleanups run, and cleanups
	// run commands too.
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if ns != "root" {
		args = append([]string{"nsenter", "--net=/run/netns/" + ns}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), &commandError{ns: ns, args: args, stderr: stderr.String(), err: err}
	}
	return string(out), nil
}

// commandError is a failed command with what it printed on stderr.
type commandError struct {
	ns     string
	args   []string
	stderr string
	err    error
}

func (e *commandError) Error() string {
	return "in " + e.ns + ": " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + strings.TrimSpace(e.stderr)
}

func (e *commandError) Unwrap() error { return e.err }
