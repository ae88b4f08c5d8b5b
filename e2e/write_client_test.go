//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// writeRequestTimeout bounds one request of writeClient.
const writeRequestTimeout = 5 * time.Second

// writeClient sends HTTP requests from inside a network namespace (the
// lab's client), one TCP connection per request: IPVS schedules
// connections, not requests, so a kept-alive connection would hide what the
// scheduler does.
type writeClient struct {
	http *http.Client
}

// newWriteClient returns a client whose connections are opened in the
// network namespace at nsPath.
func newWriteClient(t *testing.T, nsPath string) *writeClient {
	t.Helper()
	ns, err := os.Open(nsPath)
	if err != nil {
		t.Fatalf("open network namespace: %v", err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			// A socket belongs to the namespace of the thread that makes
			// it. This thread never leaves the client's namespace: it is
			// never unlocked, so the runtime ends it with the goroutine
			// instead of reusing it. The socket itself is usable anywhere.
			runtime.LockOSThread()
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{err: fmt.Errorf("enter %s: %w", nsPath, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.conn, r.err
	}
	return &writeClient{http: &http.Client{
		Timeout: writeRequestTimeout,
		Transport: &http.Transport{
			DialContext:       dial,
			DisableKeepAlives: true,
		},
	}}
}

// get fetches url and returns its body without surrounding space: the
// lab's real servers answer with their name ("rs1").
func (c *writeClient) get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		return "", fmt.Errorf("GET %s: read the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// answers sends n requests to url and counts the answers by the name of the
// real server that gave them. Failed requests are returned apart.
func (c *writeClient) answers(ctx context.Context, url string, n int) (map[string]int, []error) {
	got := map[string]int{}
	var failed []error
	for i := range n {
		name, err := c.get(ctx, url)
		if err != nil {
			failed = append(failed, fmt.Errorf("request %d: %w", i+1, err))
			continue
		}
		got[name]++
	}
	return got, failed
}
