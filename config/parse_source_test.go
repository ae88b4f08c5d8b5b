package config

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// TestLoadSource: Load records the path and the SHA-256 of the bytes it
// parsed; Parse records nothing (Parse(Marshal(c)) must equal c).
func TestLoadSource(t *testing.T) {
	data := []byte("services:\n  - name: web\n    address: 192.0.2.1:80\n    real_servers: [{address: 10.0.0.1:80, forward: nat}]\n")
	path := filepath.Join(t.TempDir(), "lvs.yml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if c.Source.Path != path || c.Source.SHA256 != hex.EncodeToString(sum[:]) || len(c.Source.SHA256) != 64 {
		t.Errorf("Source = %+v, want %s and %x", c.Source, path, sum)
	}
	p, err := Parse(data, path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source != (Source{}) {
		t.Errorf("Parse set Source %+v", p.Source)
	}
}
