package notify

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// trapd is snmptrapd with the repository's MIB.
type trapd struct{ *testutil.Snmptrapd }

func startTrapd(t *testing.T, conf string) trapd {
	t.Helper()
	return trapd{testutil.StartSnmptrapd(t, conf, filepath.Join("..", "mib"))}
}

func (d trapd) traps() []string { return d.Traps() }

func (d trapd) wait(t *testing.T, varbinds ...string) string {
	t.Helper()
	return d.Wait(t, varbinds...)
}

func freeUDPPort(t *testing.T) int { return testutil.FreeUDPPort(t) }

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
