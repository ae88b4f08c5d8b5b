package health

import (
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// probeHTTPServer serves probeHTTPHandler on l (TLS when tls is set) until
// the test ends and counts the connections it accepted.
type probeHTTPServer struct {
	srv   *httptest.Server
	addr  netip.AddrPort
	conns atomic.Int64
}

func probeNewHTTPServer(t *testing.T, l net.Listener, tls bool) *probeHTTPServer {
	t.Helper()
	s := &probeHTTPServer{}
	s.srv = httptest.NewUnstartedServer(probeHTTPHandler(t))
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	s.addr = l.Addr().(*net.TCPAddr).AddrPort()
	return s
}

// probeHTTPHandler answers the test paths.
func probeHTTPHandler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		// What the checker sends: one request per connection, its
		// User-Agent, the Host asked for.
		if !r.Close {
			t.Errorf("request without Connection: close")
		}
		fmt.Fprintf(w, "ok\nhost=%s\nua=%s\nmethod=%s\n", r.Host, r.UserAgent(), r.Method)
	})
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 100<<10)+"MARKER")
	})
	mux.HandleFunc("/hangup", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	})
	mux.HandleFunc("/stalled-body", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	return mux
}

// probeSilentListener accepts connections and never answers: a hung
// server.
func probeSilentListener(t *testing.T, addr netip.Addr) netip.AddrPort {
	l, ap := probeListenTCP(t, addr)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ap
}

func TestHTTPLoopback(t *testing.T) {
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			l, _ := probeListenTCP(t, addr)
			s := probeNewHTTPServer(t, l, false)
			tl, _ := probeListenTCP(t, addr)
			ts := probeNewHTTPServer(t, tl, true)
			roots := x509.NewCertPool()
			roots.AddCert(ts.srv.Certificate())
			hung := probeSilentListener(t, addr)
			closed := probeClosedPort(t, addr, unix.SOCK_STREAM)
			for _, tc := range []struct {
				name   string
				target netip.AddrPort
				opts   HTTPOptions
				class  Class
				reason string
			}{
				{"ok", s.addr, HTTPOptions{Path: "/ok"}, ClassOpen, "HTTP 200"},
				{"body matches", s.addr, HTTPOptions{Path: "/ok", BodyMatch: regexp.MustCompile(`(?m)^ok$`)}, ClassOpen, "HTTP 200"},
				{"Host header", s.addr, HTTPOptions{Path: "/ok", Host: "www.example.com", BodyMatch: regexp.MustCompile(`host=www\.example\.com\n`)}, ClassOpen, "HTTP 200"},
				{"User-Agent", s.addr, HTTPOptions{Path: "/ok", BodyMatch: regexp.MustCompile(`ua=lvs-sidecar\n`)}, ClassOpen, "HTTP 200"},
				{"HEAD", s.addr, HTTPOptions{Method: http.MethodHead, Path: "/ok"}, ClassOpen, "HTTP 200"},
				{"wrong body", s.addr, HTTPOptions{Path: "/ok", BodyMatch: regexp.MustCompile(`^ok$`)}, ClassError, "HTTP 200, body does not match ^ok$"},
				{"wrong status", s.addr, HTTPOptions{Path: "/503"}, ClassError, "HTTP 503, want 200-299"},
				{"expected status", s.addr, HTTPOptions{Path: "/503", ExpectStatus: []HTTPStatus{{200, 200}, {503, 503}}}, ClassOpen, "HTTP 503"},
				{"status list", s.addr, HTTPOptions{Path: "/ok", ExpectStatus: []HTTPStatus{{204, 204}, {300, 399}}}, ClassError, "HTTP 200, want 204, 300-399"},
				{"redirect not followed", s.addr, HTTPOptions{Path: "/redirect"}, ClassError, "HTTP 302, want 200-299"},
				{"redirect expected", s.addr, HTTPOptions{Path: "/redirect", ExpectStatus: []HTTPStatus{{300, 399}}}, ClassOpen, "HTTP 302"},
				{"not found", s.addr, HTTPOptions{Path: "/nothing-here"}, ClassError, "HTTP 404, want 200-299"},
				{"match beyond the body limit", s.addr, HTTPOptions{Path: "/big", BodyMatch: regexp.MustCompile(`MARKER`)}, ClassError, "body does not match MARKER"},
				{"match within a raised limit", s.addr, HTTPOptions{Path: "/big", BodyMatch: regexp.MustCompile(`MARKER`), MaxBodyBytes: 200 << 10}, ClassOpen, "HTTP 200"},
				{"server hangs up", s.addr, HTTPOptions{Path: "/hangup"}, ClassError, "connected, but the server closed the connection: could not read the response"},
				{"bad path", s.addr, HTTPOptions{Path: "ok"}, ClassError, `bad path "ok": it must start with /`},
				{"bad path escape", s.addr, HTTPOptions{Path: "/%zz"}, ClassError, `bad path "/%zz": parse`},
				{"closed", closed, HTTPOptions{}, ClassClosed, "connection refused (RST)"},
				{"plain HTTP to a TLS server", ts.addr, HTTPOptions{Path: "/ok"}, ClassError, "HTTP 400"},
				{"TLS to a plain server", s.addr, HTTPOptions{TLS: true, Path: "/ok"}, ClassError, "tls: "},
				{"TLS, not verified", ts.addr, HTTPOptions{TLS: true, Path: "/ok", InsecureSkipVerify: true}, ClassOpen, "HTTP 200"},
				{"TLS, unknown authority", ts.addr, HTTPOptions{TLS: true, Path: "/ok"}, ClassError, "x509: certificate signed by unknown authority"},
				{"TLS, verified", ts.addr, HTTPOptions{TLS: true, Path: "/ok", RootCAs: roots}, ClassOpen, "HTTP 200"},
				{"TLS, verified name", ts.addr, HTTPOptions{TLS: true, Path: "/ok", RootCAs: roots, Host: "example.com"}, ClassOpen, "HTTP 200"},
				{"TLS, wrong name", ts.addr, HTTPOptions{TLS: true, Path: "/ok", RootCAs: roots, Host: "www.example.org"}, ClassError, "x509: certificate is valid for"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					c := NewHTTP(tc.target, tc.opts)
					r, _ := probeTimed(c, 2*time.Second)
					t.Logf("%s: %s %q", c, r.Class, r.Reason)
					probeWant(t, r, tc.class, tc.reason)
					if r.Latency <= 0 {
						t.Errorf("latency %s, want > 0", r.Latency)
					}
				})
			}
			const timeout = 300 * time.Millisecond
			for _, tc := range []struct {
				name   string
				target netip.AddrPort
				opts   HTTPOptions
				reason string
			}{
				{"no response", hung, HTTPOptions{}, "connected, but could not read the response within"},
				{"no TLS handshake", hung, HTTPOptions{TLS: true}, "connected, but no TLS handshake within"},
				{"stalled body", s.addr, HTTPOptions{Path: "/stalled-body", BodyMatch: regexp.MustCompile("complete")}, "HTTP 200, but could not read the body within"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					probeCheckWithin(t, probeHere, NewHTTP(tc.target, tc.opts), ClassTimeout, tc.reason, timeout, timeout-10*time.Millisecond, timeout+probeSlack)
				})
			}
			t.Run("one connection per check", func(t *testing.T) {
				before := s.conns.Load()
				c := NewHTTP(s.addr, HTTPOptions{Path: "/ok"})
				for range 3 {
					probeWant(t, probeCheck(c, 2*time.Second), ClassOpen, "")
				}
				if got := s.conns.Load() - before; got != 3 {
					t.Errorf("3 checks made %d connections, want 3", got)
				}
			})
		})
	}
}

func TestHTTPNamespace(t *testing.T) {
	n := probeNewNet(t, probeCheckerFirewall, probeTargetFirewall)
	const timeout = 300 * time.Millisecond
	for _, addr := range n.targets() {
		l, _ := n.target.listenTCP(addr, 0)
		s := probeNewHTTPServer(t, l, false)
		// The connect's verdicts are the tcp check's.
		for _, tc := range probeNetTargets(n, addr, s.addr.Port()) {
			if tc.name == "open" {
				tc.reason = "HTTP 200"
			}
			t.Run(probeFamily(addr)+"/"+tc.name, func(t *testing.T) {
				probeCheckNet(t, n, NewHTTP(tc.target, HTTPOptions{Path: "/ok"}), tc, timeout)
			})
		}
	}
	// The target drops the port from the checker's default address only.
	for _, fam := range []struct{ target, alt, absent netip.Addr }{{n.target4, n.alt4, n.absent4}, {n.target6, n.alt6, n.absent6}} {
		l, _ := n.target.listenTCP(fam.target, probePortAltOnly)
		s := probeNewHTTPServer(t, l, false)
		t.Run(probeFamily(fam.target)+"/source", func(t *testing.T) {
			probeCheckNet(t, n, NewHTTP(s.addr, HTTPOptions{Path: "/ok"}), probeNetCase{class: ClassFiltered, untilDeadline: true}, timeout)
			probeCheckNet(t, n, NewHTTP(s.addr, HTTPOptions{Path: "/ok", Source: fam.alt}), probeNetCase{class: ClassOpen, reason: "HTTP 200"}, timeout)
			probeCheckNet(t, n, NewHTTP(s.addr, HTTPOptions{Path: "/ok", Source: fam.absent}), probeNetCase{class: ClassLocalError, reason: "EADDRNOTAVAIL"}, timeout)
		})
	}
}
