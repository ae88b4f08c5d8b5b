package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"time"

	"github.com/robfig/cron/v3"
)

// CheckType is the kind of a health check.
type CheckType uint8

// Check types. Their String is the config spelling.
const (
	CheckTCP   CheckType = iota // TCP connect: open, closed (RST), filtered (silence)
	CheckSYN                    // TCP SYN half-open, like nmap -sS (needs CAP_NET_RAW)
	CheckUDP                    // UDP datagram, optional payload and expected reply
	CheckICMP                   // ICMP echo (ping)
	CheckHTTP                   // HTTP request
	CheckHTTPS                  // HTTP request over TLS
)

var checkTypeNames = []string{"tcp", "syn", "udp", "icmp", "http", "https"}

// String returns tcp, syn, udp, icmp, http or https.
func (t CheckType) String() string {
	if int(t) < len(checkTypeNames) {
		return checkTypeNames[t]
	}
	return "unknown"
}

// Check is one health check, complete: defaults are merged in.
type Check struct {
	Type CheckType
	// Port to check; 0 means the real server's (or discovered
	// destination's) port. Always 0 for icmp.
	Port     uint16
	Schedule Schedule
	// Timeout bounds one run of the check; it is shorter than the
	// schedule's interval and than FastInterval and DownInterval.
	Timeout time.Duration
	Rise    int // consecutive passes before a server is up (1–100)
	Fall    int // consecutive failures before a server is down (1–100)
	// FastInterval is the interval while a server's state is changing
	// (between the first pass or failure and Rise or Fall), like HAProxy's
	// fastinter; 0 keeps Schedule.
	FastInterval time.Duration
	// DownInterval is the interval while a server is down, like HAProxy's
	// downinter; 0 keeps Schedule.
	DownInterval time.Duration
	// Jitter delays each run by a random amount up to this, so checks of
	// many servers spread out.
	Jitter Jitter
	// Source, when valid, is the director's address the check is sent
	// from (source_address): bound before connecting, the source of the
	// raw SYN or of the echo requests. It is of the family of every real
	// server the check applies to (discovery checks apply it to
	// destinations of its family only). The zero Addr lets the kernel's
	// route choose.
	Source netip.Addr

	// Exactly the one matching Type is non-nil (HTTP for http and https).
	// They are shared between the real servers of a service: read only.
	UDP  *UDPCheck
	ICMP *ICMPCheck
	HTTP *HTTPCheck
}

// Schedule is when a check runs: an interval ("@every 500ms", sub-second
// intervals kept exactly) or a cron spec with an optional seconds field
// ("*/5 * * * * *", "@hourly").
type Schedule struct {
	// Spec is the schedule as written.
	Spec string
	// Interval is the time between runs: exact for "@every D"; for cron
	// specs the smallest gap between two consecutive firings among the
	// first 100 after 2001-01-01 00:00 UTC (the gap the timeout must fit).
	Interval time.Duration
	// Cron is the parsed cron spec; nil for "@every D", which callers run
	// on Interval themselves (robfig/cron would round it to whole seconds).
	Cron cron.Schedule
}

// Jitter is a random delay added to each run: a fixed maximum, or a
// percentage of the interval. The zero value adds none.
type Jitter struct {
	Max     time.Duration // when Percent is 0
	Percent float64       // 0–100, of the interval
}

// Of returns the maximum jitter for a given interval.
func (j Jitter) Of(interval time.Duration) time.Duration {
	if j.Percent > 0 {
		return time.Duration(float64(interval) * j.Percent / 100)
	}
	return j.Max
}

// UDPCheck sends Payload (possibly empty) and, when Expect is set, passes
// only on a reply containing Expect. Without Expect, silence until the
// timeout passes (nmap's open|filtered) and ICMP port unreachable fails.
type UDPCheck struct {
	Payload []byte
	Expect  []byte
}

// ICMPCheck pings Count times, Interval apart, and passes when at most
// MaxLoss percent of the echoes are lost.
type ICMPCheck struct {
	Count    int
	Interval time.Duration
	MaxLoss  float64 // percent, 0–99.99…
}

// HTTPCheck sends one request and passes on an expected status and body.
type HTTPCheck struct {
	Method string // GET by default
	Path   string // with the query, starting with /; "/" by default
	// Host is the Host header (and TLS server name); empty: the real
	// server's address.
	Host         string
	ExpectStatus []StatusRange // [200] by default
	// ExpectBody, when non-nil, must match the response body.
	ExpectBody    *regexp.Regexp
	TLSSkipVerify bool // https only
	// CAFile (https only), when set, names the PEM file of the certificate
	// authorities the server's certificate must chain to, in place of the
	// system's; CA is its content, read and checked at load (a reload
	// reads it again). A relative path in the file is relative to the
	// configuration file's directory; CAFile is the path as read.
	CAFile string
	CA     []byte
	// CertFile and KeyFile (https only, both or neither) name the PEM
	// files of the client certificate the check presents; Cert and Key
	// are their contents, read at load and checked to make a certificate.
	CertFile, KeyFile string
	Cert              []byte
	Key               Secret
}

// Secret is key material: it prints as "<secret>", never in clear.
type Secret []byte

// String returns "<secret>" (or "" for none).
func (s Secret) String() string {
	if len(s) == 0 {
		return ""
	}
	return "<secret>"
}

// GoString returns "<secret>" too, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format prints "<secret>" whatever the verb (%x and %q included).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalYAML writes "<secret>": a model marshalled for display never
// holds a secret in clear (Marshal writes the file's own values).
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON writes "<secret>" too.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue logs "<secret>" too, whatever the handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret in clear, for the code that uses it (an SNMP
// request, a TLS key pair) and for Marshal, which writes the file.
func (s Secret) Reveal() string { return string(s) }

// StatusOK reports whether code is one of the expected statuses.
func (h *HTTPCheck) StatusOK(code int) bool {
	for _, r := range h.ExpectStatus {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

// StatusRange is an inclusive range of HTTP status codes; Min == Max for a
// single code.
type StatusRange struct {
	Min, Max int
}
