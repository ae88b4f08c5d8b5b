package collector

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPromtoolCheckMetrics lints the golden expositions with the real
// promtool (Debian package prometheus). Outside CI a missing promtool skips
// the test; in CI (CI set) it fails it, so the lint cannot silently vanish.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI (apt-get install prometheus): %v", err)
		}
		t.Skipf("promtool not installed (apt-get install prometheus): %v", err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.prom"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d golden files, want at least 3: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var out bytes.Buffer
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &out, &out
			if err := cmd.Run(); err != nil || out.Len() > 0 {
				t.Errorf("promtool check metrics < %s: %v\n%s", f, err, out.String())
			}
		})
	}
}
