package testutil

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// childEnv marks a test binary run by InChild.
const childEnv = "LVS_SIDECAR_TEST_CHILD"

// InChild runs the calling test again, alone, in a child process of the
// test binary, and fails t unless it passes there; it returns false then.
// In the child it returns true: the test does its work there. For tests
// that change what belongs to the whole process (resource limits).
func InChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child process failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the child process did not run the test:\n%s", out)
	}
	t.Logf("child:\n%s", out)
	return false
}

// LowestFreeFD returns the lowest descriptor number the process does not
// use: with RLIMIT_NOFILE set to it, opening any file fails with EMFILE.
func LowestFreeFD(t *testing.T) uint64 {
	t.Helper()
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	self := uint64(dir.Fd())
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		t.Fatal(err)
	}
	used := make(map[uint64]bool)
	for _, name := range names {
		// The directory's own descriptor is closed again: free.
		if n, err := strconv.ParseUint(name, 10, 64); err == nil && n != self {
			used[n] = true
		}
	}
	var free uint64
	for used[free] && free < 1<<20 {
		free++
	}
	if free <= 2 {
		t.Fatalf("fd %d is free: stdin, stdout or stderr is closed", free)
	}
	return free
}
