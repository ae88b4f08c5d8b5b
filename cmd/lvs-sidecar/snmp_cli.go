package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/snmp/mibtable"
	"github.com/lvs-sidecar/lvs-sidecar/snmp/passpersist"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// snmpCLI is the snmp-pass-persist command: snmpd runs it (pass_persist
// in snmpd.conf) and it answers from GET /api/v1/services of a running
// lvs-sidecar.
type snmpCLI struct {
	cmd *kingpin.CmdClause
	apiFlags
	cacheTTL time.Duration
	logFile  string
}

func addSNMPCommand(app *kingpin.Application) *snmpCLI {
	s := &snmpCLI{}
	s.cmd = app.Command("snmp-pass-persist", "Serve LVS-SIDECAR-MIB's tables (services, real servers, the sidecar's scalars) to snmpd over its pass_persist protocol on stdin and stdout, from the "+web.ServicesPath+" view of a running lvs-sidecar. snmpd runs it: pass_persist "+mib0()+" /usr/bin/lvs-sidecar snmp-pass-persist --url=...")
	addAPIFlags(s.cmd, &s.apiFlags, "Basic-auth user of its --web.config.file (any user: the view is read-only).", "2s")
	s.cmd.Flag("cache-ttl", "How long one answer of the sidecar serves requests, so that a walk costs one HTTP request (a failure is kept as long: NONE at once while the sidecar is down).").
		Default("3s").DurationVar(&s.cacheTTL)
	s.cmd.Flag("log-file", "Append the log to this file. Default: syslog (the journal), because snmpd joins the program's stderr to the stdout it reads answers from, so a log line on stderr would corrupt them.").
		PlaceHolder("PATH").StringVar(&s.logFile)
	return s
}

// mib0 is the OID snmpd passes to the command.
func mib0() string { return mibtable.Root.String() }

// run serves until snmpd closes stdin; 0 then, 2 for bad flags, 1 when
// stdin or stdout broke. It logs with the program's --log.level and
// --log.format to --log-file or syslog, never to stderr: snmpd makes the
// program's stderr a copy of the stdout it reads the answers from (see
// net-snmp's get_exec_pipes). A bad flag is written to stderr, for a
// person running the command, and to syslog, for whoever reads why snmpd's
// program did not answer its PING.
func (s *snmpCLI) run(log promslog.Config, stdin io.Reader, stdout io.Writer, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		msg := "snmp-pass-persist: " + fmt.Sprintf(format, args...)
		fmt.Fprintf(stderr, "%s: %s\n", programName, msg)
		if w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_ERR, programName+"-snmp"); err == nil {
			_ = w.Err(msg)
			w.Close()
		}
		return 2
	}
	if s.cacheTTL < 0 || s.timeout <= 0 {
		return fail("--cache-ttl must not be negative and --timeout must be positive")
	}
	client, err := s.client()
	if err != nil {
		return fail("%v", err)
	}
	password, err := s.password()
	if err != nil {
		return fail("%v", err)
	}
	if password != "" && s.user == "" {
		return fail("a password without --user: give --user too")
	}
	w, closeLog, err := s.logWriter()
	if err != nil {
		return fail("%v", err)
	}
	defer closeLog()
	log.Writer = w
	logger := promslog.New(&log).With("command", "snmp-pass-persist")
	u, err := url.Parse(strings.TrimRight(s.url, "/") + web.ServicesPath)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fail("--url %q: want http://HOST:PORT or https://HOST:PORT", redact(s.url))
	}
	f := &servicesFetcher{client: client, url: u.String(), shown: u.Redacted(), user: s.user, password: config.Secret(password), timeout: s.timeout}
	cache := &passpersist.Cache{Fetch: f.tree, TTL: s.cacheTTL, Logger: logger}
	logger.Debug("serving snmpd", "root", mibtable.Root.String(), "url", f.shown)
	if err := passpersist.Serve(context.Background(), stdin, stdout, mibtable.Root, cache, logger); err != nil {
		logger.Error("stopped", "err", err)
		return 1
	}
	return 0
}

// servicesFetcher reads the services view of the sidecar. It prints as
// its redacted URL and user, never with the password (or a password in
// --url).
type servicesFetcher struct {
	client   *http.Client
	url      string
	shown    string // url without a password, for messages
	user     string
	password config.Secret
	timeout  time.Duration
}

// String describes the fetcher without its secrets.
func (f *servicesFetcher) String() string {
	return fmt.Sprintf("services view at %s as user %q (password %s)", f.shown, f.user, f.password)
}

// GoString is String, for %#v.
func (f *servicesFetcher) GoString() string { return f.String() }

func (f *servicesFetcher) tree(ctx context.Context) (*passpersist.Tree, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if f.user != "" {
		req.SetBasicAuth(f.user, string(f.password))
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach lvs-sidecar (is it running, and is --url right?): %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.shown, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("authentication failed for user %q at %s: give --user and --password-file (or %s) of a user of the sidecar's --web.config.file", f.user, f.shown, passwordEnv)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s: 404: the sidecar is older than the services view; upgrade it", f.shown)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s (%s)", f.shown, errorMessage(body), resp.Status)
	}
	var v web.ServicesView
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("unexpected answer from %s: %w", f.shown, err)
	}
	tree, err := mibtable.Build(&v)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("the view of %s", f.shown), err)
	}
	return tree, nil
}

// redact hides the password of a URL that does not parse.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	if _, rest, ok := strings.Cut(s, "@"); ok {
		return "…@" + rest
	}
	return s
}

// logWriter opens --log-file, or syslog without it; where there is no
// syslog (a container without /dev/log), nothing is logged.
func (s *snmpCLI) logWriter() (io.Writer, func(), error) {
	if s.logFile != "" {
		f, err := os.OpenFile(s.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		return f, func() { f.Close() }, nil
	}
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, programName+"-snmp")
	if err != nil {
		return io.Discard, func() {}, nil
	}
	return w, func() { w.Close() }, nil
}
