package testutil

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// LookTool returns the path of a command a Debian package installs, or
// skips the test without it; in CI (CI set) a missing tool fails the test.
// pkg names the package for the message (make deps installs it).
func LookTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (make deps; apt-get install %s): %v", name, pkg, err)
		}
		t.Skipf("%s not installed (apt-get install %s): %v", name, pkg, err)
	}
	return path
}

// BaseMIBsVersion is the npm package net-snmp whose lib/mibs ships the
// SMIv2 base modules (SNMPv2-SMI, SNMPv2-TC, SNMPv2-CONF), which Debian
// main does not (snmp-mibs-downloader is in non-free).
const BaseMIBsVersion = "net-snmp@3.29.2"

// baseMIBs are the modules LVS-SIDECAR-MIB imports from.
var baseMIBs = []string{"SNMPv2-SMI", "SNMPv2-TC", "SNMPv2-CONF"}

// BaseMIBs returns a directory holding the SMIv2 base modules as
// MODULE.txt, for smilint (SMIPATH) and net-snmp's tools (-M). They are
// fetched once with `npm pack` into .cache/mibs/ at the top of the
// repository (git ignores it) and reused. Without npm, or when the fetch
// fails, the test is skipped, or fails in CI.
func BaseMIBs(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".cache", "mibs", strings.ReplaceAll(BaseMIBsVersion, "@", "-"))
	if haveAll(dir) {
		return dir
	}
	npm := LookTool(t, "npm", "npm")
	tmp := t.TempDir()
	cmd := exec.Command(npm, "pack", "--silent", BaseMIBsVersion)
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil {
		fail(t, "npm pack %s: %v\n%s", BaseMIBsVersion, err, out)
	}
	tgz := filepath.Join(tmp, strings.TrimSpace(lastLine(string(out))))
	if err := extractMIBs(tgz, tmp); err != nil {
		fail(t, "unpack %s: %v", tgz, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range baseMIBs {
		// Written whole, then renamed: a parallel test never reads half
		// a module.
		data, err := os.ReadFile(filepath.Join(tmp, m+".mib"))
		if err != nil {
			fail(t, "%s has no %s: %v", BaseMIBsVersion, m, err)
		}
		part := filepath.Join(dir, m+".txt.part")
		if err := os.WriteFile(part, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(part, filepath.Join(dir, m+".txt")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func haveAll(dir string) bool {
	for _, m := range baseMIBs {
		if _, err := os.Stat(filepath.Join(dir, m+".txt")); err != nil {
			return false
		}
	}
	return true
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// extractMIBs writes package/lib/mibs/*.mib of the npm tarball into dir.
func extractMIBs(tgz, dir string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	found := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := filepath.Base(h.Name)
		if h.Typeflag != tar.TypeReg || filepath.Dir(h.Name) != "package/lib/mibs" || !strings.HasSuffix(name, ".mib") {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, 4<<20))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
		found++
	}
	if found == 0 {
		return errors.New("no package/lib/mibs/*.mib in it")
	}
	return nil
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
