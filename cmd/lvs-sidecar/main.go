// Command lvs-sidecar runs beside Linux IPVS on an LVS director and exports
// the kernel's IPVS table to Prometheus.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/lvs-sidecar/lvs-sidecar/collector"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// defaultListenAddress is in the exporter range and clear of the ports the
// common neighbours of a director use (node 9100, blackbox 9115, snmp 9116,
// keepalived 9165/9650).
const defaultListenAddress = ":9960"

const programName = "lvs-sidecar"

// options are the parsed command-line flags.
type options struct {
	web           *web.FlagConfig
	telemetryPath string
	netns         string
	ipvsTimeout   time.Duration
	log           promslog.Config
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run parses args, serves until SIGINT/SIGTERM and returns the exit code.
func run(args []string, stderr *os.File) int {
	app := kingpin.New(programName, "Exports the Linux IPVS (LVS) table to Prometheus.")
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)
	app.Version(version.Print(programName))
	app.HelpFlag.Short('h')

	var o options
	o.web = kingpinflag.AddFlags(app, defaultListenAddress)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").
		Default("/metrics").StringVar(&o.telemetryPath)
	app.Flag("ipvs.netns", "Network namespace whose IPVS table to read, as a path (e.g. /proc/1/ns/net for the host's table from inside a container, or /run/netns/NAME). Empty: the sidecar's own namespace.").
		Default("").StringVar(&o.netns)
	// Parsed below rather than with DurationVar: kingpin's duration error
	// does not name the flag.
	ipvsTimeout := app.Flag("ipvs.timeout", "Deadline for one read of the IPVS table from the kernel.").
		Default("5s").String()
	promslogflag.AddFlags(app, &o.log)

	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", programName, err)
		return 2
	}
	var err error
	if o.ipvsTimeout, err = time.ParseDuration(*ipvsTimeout); err != nil {
		fmt.Fprintf(stderr, "%s: --ipvs.timeout: %v\n", programName, err)
		return 2
	}
	o.log.Writer = stderr
	logger := promslog.New(&o.log)

	if err := serve(o, logger); err != nil {
		logger.Error("exiting", "err", err)
		return 1
	}
	return 0
}

// serve sets everything up, then blocks until a signal or a server error.
func serve(o options, logger *slog.Logger) error {
	if o.telemetryPath == "" || o.telemetryPath[0] != '/' {
		return fmt.Errorf("--web.telemetry-path %q must start with /", o.telemetryPath)
	}
	if o.ipvsTimeout <= 0 {
		return fmt.Errorf("--ipvs.timeout %s must be positive", o.ipvsTimeout)
	}
	if path := *o.web.WebConfigFile; path != "" {
		// exporter-toolkit reads the file only once a listener is up; check it
		// first so a bad file is an error at start, not a server that fails.
		if err := web.Validate(path); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", path, err)
		}
	}

	logger.Info("starting "+programName, "version", version.Info(), "build_context", version.BuildContext())

	reader, err := ipvs.NewReader(ipvs.ReaderOptions{NetNS: o.netns, Timeout: o.ipvsTimeout})
	if err != nil {
		return err
	}
	defer reader.Close()

	table := collector.New(reader, logger, collector.Options{Timeout: o.ipvsTimeout})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Say at once whether the table is readable; the collector logs the
	// reason and the fix. Failure is not fatal: we keep serving and the next
	// scrape tries again (the module may be loaded later).
	_ = table.Probe(ctx)

	handler, err := newHandler(o, table, logger)
	if err != nil {
		return err
	}
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}

	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(server, o.web, logger) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// The kernel table is never touched on the way out: stopping the monitor
	// must not stop the service.
	logger.Info("shutting down; the IPVS table is left as it is")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down web server: %w", err)
	}
	return nil
}
