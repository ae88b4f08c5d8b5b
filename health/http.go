package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// HTTPStatus is an inclusive range of HTTP status codes: {200, 200} is
// 200, {200, 399} is 200–399.
type HTTPStatus struct{ Min, Max int }

// String returns "200" or "200-399".
func (s HTTPStatus) String() string {
	if s.Min == s.Max {
		return strconv.Itoa(s.Min)
	}
	return fmt.Sprintf("%d-%d", s.Min, s.Max)
}

// HTTPOptions configures an HTTP or HTTPS check.
type HTTPOptions struct {
	// Source, when valid, is the local address the check connects from.
	Source netip.Addr
	// TLS makes it an HTTPS check.
	TLS bool
	// Method is the request method; empty means GET.
	Method string
	// Path is the request target, with its query if any; empty means "/".
	Path string
	// Host is the Host header and, with TLS, the name the certificate must
	// be valid for (and the SNI); empty means the target's address.
	Host string
	// InsecureSkipVerify accepts any certificate.
	InsecureSkipVerify bool
	// RootCAs verifies the certificate; nil means the system's roots.
	RootCAs *x509.CertPool
	// Certificate, when set, is the client certificate the check presents
	// to a server that asks for one (mutual TLS).
	Certificate *tls.Certificate
	// ExpectStatus lists the status codes that pass; empty means 200–299.
	ExpectStatus []HTTPStatus
	// BodyMatch, when set, must match the body's first MaxBodyBytes.
	BodyMatch *regexp.Regexp
	// MaxBodyBytes is how much of the body BodyMatch sees; 0 means 64 KiB.
	MaxBodyBytes int64
	// UserAgent is the User-Agent header; empty means "lvs-sidecar".
	UserAgent string
}

// Defaults of HTTPOptions.
const (
	probeHTTPMaxBody   = 64 << 10
	probeHTTPUserAgent = "lvs-sidecar"
)

// HTTP checks an HTTP(S) endpoint with one request on a new connection,
// closed after the check: no keep-alive, no connection or TLS session
// reuse, so every check proves the server accepts connections. Redirects
// are not followed: the status decides. Refused or silent connects are
// closed or filtered as for the tcp check; a server that accepts but does
// not answer in time is a timeout; a wrong status or body, or a TLS
// failure, is an error whose reason says what was wrong.
type HTTP struct {
	target netip.AddrPort
	addr   string
	dialer net.Dialer
	req    *http.Request
	tls    *tls.Config // nil for plain HTTP
	opts   HTTPOptions
	status []HTTPStatus
	name   string
	err    error // a bad option, reported by every check
}

// NewHTTP returns an HTTP checker for target. A bad Method or Path makes
// every check fail with ClassError naming it.
func NewHTTP(target netip.AddrPort, opts HTTPOptions) *HTTP {
	target = probeUnmap(target)
	if opts.Method == "" {
		opts.Method = http.MethodGet
	}
	if opts.Path == "" {
		opts.Path = "/"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = probeHTTPMaxBody
	}
	if opts.UserAgent == "" {
		opts.UserAgent = probeHTTPUserAgent
	}
	c := &HTTP{
		target: target,
		addr:   target.String(),
		dialer: probeDialer(opts.Source, false),
		opts:   opts,
		status: opts.ExpectStatus,
	}
	if len(c.status) == 0 {
		c.status = []HTTPStatus{{200, 299}}
	}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
	}
	var u *url.URL
	err := errors.New("it must start with /")
	if strings.HasPrefix(opts.Path, "/") {
		u, err = url.Parse(scheme + "://" + target.String() + opts.Path)
	}
	c.name = fmt.Sprintf("%s %s %s://%s%s", scheme, opts.Method, scheme, target, opts.Path)
	if opts.Host != "" {
		c.name += " (Host: " + opts.Host + ")"
	}
	c.name += probeFrom(opts.Source)
	if err != nil {
		c.err = fmt.Errorf("bad path %q: %w", opts.Path, err)
		return c
	}
	req, err := http.NewRequest(opts.Method, u.String(), nil)
	if err != nil {
		c.err = fmt.Errorf("bad request: %w", err)
		return c
	}
	req.Host = opts.Host
	req.Header.Set("User-Agent", opts.UserAgent)
	req.Close = true // "Connection: close"
	c.req = req
	if opts.TLS {
		c.tls = &tls.Config{
			ServerName:         probeServerName(opts.Host, target.Addr()),
			InsecureSkipVerify: opts.InsecureSkipVerify,
			RootCAs:            opts.RootCAs,
			MinVersion:         tls.VersionTLS12,
		}
		if opts.Certificate != nil {
			c.tls.Certificates = []tls.Certificate{*opts.Certificate}
		}
	}
	return c
}

// probeServerName is the name a certificate must be valid for: Host
// without its port, or the target's address (verified against the
// certificate's IP addresses; Go sends no SNI for an address).
func probeServerName(host string, addr netip.Addr) string {
	if host == "" {
		return addr.String()
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}

// String returns e.g. "http GET http://10.0.0.1:80/healthz", with " from
// SOURCE" when it has a source address.
func (c *HTTP) String() string { return c.name }

// Check connects, sends the request and reads the response (and the body,
// with BodyMatch) until ctx's deadline (10s if it has none). Latency is
// the whole exchange, connect included.
func (c *HTTP) Check(ctx context.Context) Result {
	ctx, cancel, timeout := probeDeadline(ctx)
	defer cancel()
	start := time.Now()
	res := func(class Class, reason string) Result {
		return Result{Class: class, Latency: time.Since(start), Reason: reason}
	}
	if c.err != nil {
		return res(ClassError, c.err.Error())
	}
	tcp, r := probeDialTCP(ctx, &c.dialer, c.addr, timeout)
	if tcp == nil {
		r.Latency = time.Since(start)
		return r
	}
	defer probeResetClose(tcp)
	deadline, _ := ctx.Deadline()
	_ = tcp.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = tcp.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// fail classifies an error after the connection was made; prefix and
	// what make its reason.
	fail := func(err error, prefix, what string) Result {
		if probeCanceled(ctx) {
			return res(ClassError, probeCanceledReason)
		}
		class, reason := c.exchangeErr(ctx, err, what, timeout)
		return res(class, prefix+reason)
	}

	var conn net.Conn = tcp
	if c.tls != nil {
		tc := tls.Client(tcp, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			if probeCanceled(ctx) {
				return res(ClassError, probeCanceledReason)
			}
			if probeIsTimeout(ctx, err) {
				return res(ClassTimeout, fmt.Sprintf("connected, but no TLS handshake within %s", timeout))
			}
			return res(ClassError, err.Error())
		}
		conn = tc
	}

	// The scheduler never runs two checks of one checker at once, so the
	// request is shared between checks; writing it does not change it.
	w := bufio.NewWriterSize(conn, 1024)
	err := c.req.Write(w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fail(err, "connected, but ", "send the request")
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 4096), c.req)
	if err != nil {
		return fail(err, "connected, but ", "read the response")
	}
	defer resp.Body.Close()
	if !c.statusOK(resp.StatusCode) {
		return res(ClassError, fmt.Sprintf("HTTP %d, want %s", resp.StatusCode, c.wantStatus()))
	}
	if c.opts.BodyMatch != nil {
		body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodyBytes))
		if err != nil {
			return fail(err, fmt.Sprintf("HTTP %d, but ", resp.StatusCode), "read the body")
		}
		if !c.opts.BodyMatch.Match(body) {
			return res(ClassError, fmt.Sprintf("HTTP %d, body does not match %s", resp.StatusCode, c.opts.BodyMatch))
		}
	}
	return res(ClassOpen, fmt.Sprintf("HTTP %d", resp.StatusCode))
}

// exchangeErr classifies a failure after the connection was made: time
// ran out (timeout), or the server broke the exchange (error).
func (c *HTTP) exchangeErr(ctx context.Context, err error, what string, timeout time.Duration) (Class, string) {
	if probeIsTimeout(ctx, err) {
		return ClassTimeout, fmt.Sprintf("could not %s within %s", what, timeout)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ClassError, fmt.Sprintf("the server closed the connection: could not %s", what)
	}
	// Whatever the socket error, the server was reached: an error.
	_, reason := probeClassifyErr(err)
	return ClassError, fmt.Sprintf("could not %s: %s", what, reason)
}

// statusOK reports whether code is expected.
func (c *HTTP) statusOK(code int) bool {
	for _, s := range c.status {
		if code >= s.Min && code <= s.Max {
			return true
		}
	}
	return false
}

// wantStatus lists the expected codes: "200", "200-299", "200, 204".
func (c *HTTP) wantStatus() string {
	parts := make([]string, len(c.status))
	for i, s := range c.status {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}
