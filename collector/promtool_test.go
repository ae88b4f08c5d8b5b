package collector

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestPromtoolCheckMetrics lints the golden expositions with the real
// promtool (Debian package prometheus). Outside CI a missing promtool skips
// the test; in CI (CI set) it fails it, so the lint cannot silently vanish.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := lookPromtool(t)
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
			checkMetrics(t, promtool, f, in)
		})
	}
}

// TestPromtoolCheckHandler lints what /metrics serves through Handler, the
// exporter's own families and the text writer's together, for the golden
// tables and a synthetic one.
func TestPromtoolCheckHandler(t *testing.T) {
	promtool := lookPromtool(t)
	for name, st := range map[string]step{
		"table.json":                   {snap: loadTable(t)},
		"unreadable table":             {err: fmt.Errorf("read the IPVS table: %w", ipvs.ErrModuleNotLoaded)},
		"synthetic, 1000 destinations": {snap: syntheticTable(t, 1000)},
	} {
		t.Run(name, func(t *testing.T) {
			h := newServingHandler(t, newTestCollector(sourceOf(st), Options{}), HandlerOpts{})
			checkMetrics(t, promtool, "/metrics", strings.NewReader(body(t, serve(h, "gzip"))))
		})
	}
}

// lookPromtool finds promtool, or skips the test outside CI.
func lookPromtool(t *testing.T) string {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI (apt-get install prometheus): %v", err)
		}
		t.Skipf("promtool not installed (apt-get install prometheus): %v", err)
	}
	return promtool
}

// checkMetrics runs promtool check metrics on in, which must pass without a
// word.
func checkMetrics(t *testing.T, promtool, what string, in io.Reader) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("promtool check metrics < %s: %v\n%s", what, err, out.String())
	}
}
