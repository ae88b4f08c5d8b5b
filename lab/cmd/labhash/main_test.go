package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestRun: the printed hash verifies the password and no other; a missing
// password is a usage error.
func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"s3cret"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	hash := []byte(strings.TrimSpace(out.String()))
	if err := bcrypt.CompareHashAndPassword(hash, []byte("s3cret")); err != nil {
		t.Errorf("the hash %s does not verify its password: %v", hash, err)
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte("s3cret2")); err == nil {
		t.Errorf("the hash %s verifies another password", hash)
	}
	if code := run(nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage: labhash PASSWORD") {
		t.Errorf("no argument: exit %d, %q", code, errOut.String())
	}
}
