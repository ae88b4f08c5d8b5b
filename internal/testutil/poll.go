package testutil

import (
	"testing"
	"time"
)

// Poll calls check every interval until it returns nil, and fails the
// test with check's last error once timeout has passed. check runs on the
// test's goroutine, so it may call t.Fatal itself for a failure that
// waiting cannot mend.
func Poll(t testing.TB, timeout, every time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		time.Sleep(every)
	}
}
