package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// passwordEnv is where the maintenance commands read the password when
// --password-file is not given.
const passwordEnv = "LVS_SIDECAR_PASSWORD"

// maintenanceCLI is the maintenance command: enable, disable and list
// call the API of a running lvs-sidecar.
type maintenanceCLI struct {
	enable, disable, list *kingpin.CmdClause

	apiFlags
	server, service, reason string
}

// apiFlags are the flags of the commands that call the HTTP API of a
// running lvs-sidecar: where it is and how to authenticate.
type apiFlags struct {
	url, user, passwordFile, caFile string
	insecure                        bool
	timeout                         time.Duration
}

// addAPIFlags adds the flags of apiFlags to cmd; userHelp says what the
// user needs to be, timeout is the default deadline of one request.
func addAPIFlags(cmd *kingpin.CmdClause, f *apiFlags, userHelp, timeout string) {
	cmd.Flag("url", "Base URL of the running lvs-sidecar (https:// when its --web.config.file has tls_server_config).").
		Default("http://127.0.0.1" + defaultListenAddress).StringVar(&f.url)
	cmd.Flag("user", userHelp).Envar("LVS_SIDECAR_USER").StringVar(&f.user)
	cmd.Flag("password-file", "File holding that user's password (first line). Default: the environment variable "+passwordEnv+".").StringVar(&f.passwordFile)
	cmd.Flag("ca-file", "CA certificate (PEM) to verify the server's TLS certificate with, instead of the system's.").StringVar(&f.caFile)
	cmd.Flag("insecure-skip-verify", "Do not verify the server's TLS certificate.").BoolVar(&f.insecure)
	cmd.Flag("timeout", "Deadline for one request.").Default(timeout).DurationVar(&f.timeout)
}

func addMaintenanceCommands(app *kingpin.Application) *maintenanceCLI {
	m := &maintenanceCLI{}
	cmd := app.Command("maintenance", "Put a real server into maintenance (drained whatever its checks say) or back, or list those in maintenance, through the API of a running lvs-sidecar.")
	addAPIFlags(cmd, &m.apiFlags, "Basic-auth user of its --web.config.file; enable and disable need one of its --web.admin-user administrators (and the sidecar started with --web.enable-admin-api).", "30s")

	target := func(c *kingpin.CmdClause) {
		c.Flag("service", "The service: its name in --config.file, or its key (tcp/192.0.2.1:80, fwmark/42/ipv4).").Required().StringVar(&m.service)
		c.Flag("server", "The real server, ADDRESS:PORT (10.0.0.1:80, [2001:db8::1]:80).").Required().StringVar(&m.server)
		c.Flag("reason", "Why, for the log, the list and the state file.").StringVar(&m.reason)
	}
	m.enable = cmd.Command("enable", "Put a real server into maintenance: the controller drains it (weight 0) until disable.")
	target(m.enable)
	m.disable = cmd.Command("disable", "Lift a real server's maintenance: its weight follows its checks again.")
	target(m.disable)
	m.list = cmd.Command("list", "List the real servers in maintenance.")
	return m
}

// handles reports whether command is one of the maintenance commands.
func (m *maintenanceCLI) handles(command string) bool {
	switch command {
	case m.enable.FullCommand(), m.disable.FullCommand(), m.list.FullCommand():
		return true
	}
	return false
}

// run calls the API for command and prints the answer; it returns 0 on
// success, 1 when the request failed (with the server's reason), 2 for
// bad arguments.
func (m *maintenanceCLI) run(command string, stdout, stderr io.Writer) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "%s: %s: %s\n", programName, command, fmt.Sprintf(format, args...))
		return code
	}
	client, err := m.client()
	if err != nil {
		return fail(2, "%v", err)
	}
	password, err := m.password()
	if err != nil {
		return fail(2, "%v", err)
	}
	if password != "" && m.user == "" {
		return fail(2, "a password without --user: give --user too")
	}

	method, body := http.MethodGet, []byte(nil)
	if command != m.list.FullCommand() {
		method = http.MethodPost
		body, _ = json.Marshal(map[string]any{
			"service": m.service, "server": m.server, "enabled": command == m.enable.FullCommand(), "reason": m.reason,
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	url := strings.TrimRight(m.url, "/") + web.MaintenancePath
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return fail(2, "--url: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if m.user != "" {
		req.SetBasicAuth(m.user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(1, "cannot reach lvs-sidecar at %s (is it running, and is --url right?): %v", m.url, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fail(1, "reading the answer of %s: %v", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		if m.user == "" {
			return fail(1, "authentication failed: give --user and --password-file (or %s)", passwordEnv)
		}
		return fail(1, "authentication failed for user %q: give --user and --password-file (or %s) with a user and password of the sidecar's --web.config.file", m.user, passwordEnv)
	case resp.StatusCode != http.StatusOK:
		return fail(1, "%s (%s)", errorMessage(answer), resp.Status)
	}

	if command == m.list.FullCommand() {
		var list web.MaintenanceList
		if err := json.Unmarshal(answer, &list); err != nil {
			return fail(1, "unexpected answer from %s: %v", url, err)
		}
		printMaintenanceList(stdout, list.Entries)
		return 0
	}
	var e web.MaintenanceEntry
	if err := json.Unmarshal(answer, &e); err != nil {
		return fail(1, "unexpected answer from %s: %v", url, err)
	}
	fmt.Fprintln(stdout, describeChange(e))
	return 0
}

// describeChange says what a POST did, in one line.
func describeChange(e web.MaintenanceEntry) string {
	who := "real server " + e.Server + " of " + actuator.ServerRef{Service: e.Service, Name: e.ServiceName}.Label()
	changed := e.Changed == nil || *e.Changed
	switch {
	case e.Enabled && changed:
		return who + " is now in maintenance: drained whatever its checks say"
	case e.Enabled:
		return fmt.Sprintf("%s was already in maintenance (since %s, by %s)", who, e.Since.Format(time.RFC3339), orDash(e.By))
	case changed:
		return who + " is out of maintenance: its weight follows its checks again"
	}
	return who + " was not in maintenance"
}

func printMaintenanceList(w io.Writer, entries []web.MaintenanceEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no real server is in maintenance")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tNAME\tSERVER\tSINCE\tBY\tREASON")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Service, orDash(e.ServiceName), e.Server, e.Since.Format(time.RFC3339), orDash(e.By), orDash(e.Reason))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// password returns the password from --password-file or the environment.
func (m *apiFlags) password() (string, error) {
	if m.passwordFile == "" {
		return os.Getenv(passwordEnv), nil
	}
	data, err := os.ReadFile(m.passwordFile)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// client returns the HTTP client the flags ask for.
func (m *apiFlags) client() (*http.Client, error) {
	tlsConfig := &tls.Config{InsecureSkipVerify: m.insecure}
	if m.caFile != "" {
		pem, err := os.ReadFile(m.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("--ca-file: no PEM certificate in " + m.caFile)
		}
		tlsConfig.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig
	return &http.Client{Transport: tr}, nil
}
