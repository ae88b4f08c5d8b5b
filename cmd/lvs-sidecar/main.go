// Command lvs-sidecar runs beside Linux IPVS on an LVS director and exports
// the kernel's IPVS table to Prometheus.
//
// Commands: run (the default: serve metrics), check-config FILE (validate a
// configuration file offline), import [FILE] (turn ipvsadm -S -n rules into
// a configuration file), maintenance enable|disable|list (call the admin
// API of a running lvs-sidecar), snmp-pass-persist (serve LVS-SIDECAR-MIB's
// tables to snmpd from a running lvs-sidecar).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/collector"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs/simtable"
	"github.com/lvs-sidecar/lvs-sidecar/load"
	"github.com/lvs-sidecar/lvs-sidecar/notify"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// defaultListenAddress is in the exporter range and clear of the ports the
// common neighbours of a director use (node 9100, blackbox 9115, snmp 9116,
// keepalived 9165/9650).
const defaultListenAddress = ":9960"

const programName = "lvs-sidecar"

// notifyStopTimeout bounds how long the sidecar waits on the way out for
// its last notifications (lsSidecarStop and what is still queued).
const notifyStopTimeout = 3 * time.Second

// options are the parsed command-line flags.
type options struct {
	web           *toolkitweb.FlagConfig
	telemetryPath string
	// writes are the flags of the write endpoints (off by default); the
	// web config file is filled in from web.
	writes web.Options
	netns  string
	// ns is --ipvs.netns opened once, shared by the reader, the writer
	// and the health checks; nil for the sidecar's own namespace.
	ns          *ipvs.NetNS
	ipvsTimeout time.Duration
	// simulate is --ipvs.simulate and its flags; sim is that table once
	// open (nil: the kernel's), which the controller writes too.
	simulate   simulateOptions
	sim        *simtable.Table
	log        promslog.Config
	configFile string
	// discoveryRefresh is how often discovery re-reads the kernel table.
	discoveryRefresh time.Duration
	// config is the validated --config.file; nil without one (exporter
	// only).
	config *config.Config
	// controllerMode overrides the configuration's controller.mode; nil:
	// the file's.
	controllerMode *config.ControllerMode
	// stateFile keeps the real servers in maintenance across restarts; ""
	// keeps them in memory only.
	stateFile string
}

func main() {
	tuneGC(os.Getenv)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run parses args, runs the selected command and returns the exit code.
// The default command serves until SIGINT/SIGTERM.
func run(args []string, stdin io.Reader, stdout io.Writer, stderr *os.File) int {
	app := kingpin.New(programName, "Exports the Linux IPVS (LVS) table to Prometheus.")
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)
	app.Version(version.Print(programName))
	app.HelpFlag.Short('h')

	var o options
	o.web = kingpinflag.AddFlags(app, defaultListenAddress)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").
		Default("/metrics").StringVar(&o.telemetryPath)
	app.Flag(strings.TrimPrefix(web.AdminAPIFlag, "--"), "Turn on the admin API's writes (POST "+web.MaintenancePath+" and the status page's buttons: maintenance), for the users named with "+web.AdminUserFlag+" only; needs basic_auth_users in --web.config.file (off: those writes get 403, reads stay on).").
		BoolVar(&o.writes.EnableAdminAPI)
	app.Flag(strings.TrimPrefix(web.LifecycleFlag, "--"), "Turn on POST "+web.ReloadPath+" (re-read --config.file), for the users named with "+web.AdminUserFlag+" only; needs basic_auth_users in --web.config.file (off: 403; SIGHUP still reloads).").
		BoolVar(&o.writes.EnableLifecycle)
	app.Flag(strings.TrimPrefix(web.AdminUserFlag, "--"), "A user of basic_auth_users in --web.config.file who may use the write endpoints that are on; repeat for several. Every other user may only read.").
		PlaceHolder("NAME").StringsVar(&o.writes.AdminUsers)
	app.Flag("ipvs.netns", "Network namespace whose IPVS table to read and write, and from which the health checks run, as a path (e.g. /proc/1/ns/net for the host's table from inside a container, or /run/netns/NAME; entering it needs CAP_SYS_ADMIN). Empty: the sidecar's own namespace.").
		Default("").StringVar(&o.netns)
	// Parsed below rather than with DurationVar: kingpin's duration error
	// does not name the flag.
	ipvsTimeout := app.Flag("ipvs.timeout", "Deadline for one read of the IPVS table from the kernel.").
		Default("5s").String()
	addSimulateFlags(app, &o.simulate)
	app.Flag("config.file", "Configuration file: virtual services, real servers and their health checks (see check-config). Empty: export the IPVS table only.").
		Default("").StringVar(&o.configFile)
	discoveryRefresh := app.Flag("discovery.refresh-interval", "With discovery enabled in --config.file: how often to re-read the IPVS table for destinations to check.").
		Default(defaultDiscoveryRefresh.String()).String()
	controllerMode := app.Flag("controller.mode", "With --config.file: what the controller may write, overriding controller.mode of the file (also after reloads): "+strings.Join(config.ControllerModeNames(), ", ")+". Empty: the file's mode (managed unless it says otherwise).").
		Default("").String()
	app.Flag("state.file", "With --config.file: file where the real servers in maintenance are saved (atomically, on every change) and read at start, so a restart keeps them drained. Empty: kept in memory only; a restart lifts every maintenance.").
		Default("").StringVar(&o.stateFile)
	promslogflag.AddFlags(app, &o.log)

	// The flags above belong to the application, not to "run", so that
	// "lvs-sidecar --web.listen-address=..." keeps working without naming
	// the default command.
	app.Command("run", "Export the IPVS table (and, with --config.file, check real servers). The default.").Default()
	checkCmd := app.Command("check-config", "Validate a configuration file offline; exit 0 if it is valid, 1 with every problem (file:line: field: message) if not.")
	checkFile := checkCmd.Arg("file", "Configuration file (default: --config.file).").String()
	importCmd := app.Command("import", "Convert ipvsadm -S -n rules (the format of /etc/sysconfig/ipvsadm) into a configuration file.")
	importFile := importCmd.Arg("file", "File of ipvsadm rules; stdin when absent or -.").String()
	importOutput := importCmd.Flag("output", "Write the configuration to this file instead of stdout.").Short('o').String()
	maintenance := addMaintenanceCommands(app)
	snmp := addSNMPCommand(app)

	command, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", programName, err)
		return 2
	}
	switch command {
	case checkCmd.FullCommand():
		path := *checkFile
		if path == "" {
			path = o.configFile
		}
		if path == "" {
			fmt.Fprintf(stderr, "%s: check-config: name the file to check (or set --config.file)\n", programName)
			return 2
		}
		return checkConfig(path, stdout, stderr)
	case importCmd.FullCommand():
		return importRules(*importFile, *importOutput, stdin, stdout, stderr)
	}
	if maintenance.handles(command) {
		return maintenance.run(command, stdout, stderr)
	}
	if command == snmp.cmd.FullCommand() {
		return snmp.run(o.log, stdin, stdout, stderr)
	}
	if o.ipvsTimeout, err = time.ParseDuration(*ipvsTimeout); err != nil {
		fmt.Fprintf(stderr, "%s: --ipvs.timeout: %v\n", programName, err)
		return 2
	}
	if err := o.simulate.check(o.netns); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", programName, err)
		return 2
	}
	if o.discoveryRefresh, err = time.ParseDuration(*discoveryRefresh); err != nil || o.discoveryRefresh <= 0 {
		if err == nil {
			err = fmt.Errorf("%s must be positive", o.discoveryRefresh)
		}
		fmt.Fprintf(stderr, "%s: --discovery.refresh-interval: %v\n", programName, err)
		return 2
	}
	if *controllerMode != "" {
		m, ok := config.ParseControllerMode(*controllerMode)
		if !ok {
			fmt.Fprintf(stderr, "%s: --controller.mode: %q is not one of %s\n", programName, *controllerMode, strings.Join(config.ControllerModeNames(), ", "))
			return 2
		}
		o.controllerMode = &m
	}
	o.log.Writer = stderr
	logger := promslog.New(&o.log)

	if o.configFile != "" {
		if o.config, err = loadConfig(o.configFile, logger); err != nil {
			logger.Error("exiting", "err", err)
			return 1
		}
	}

	if o.config == nil && (o.stateFile != "" || o.controllerMode != nil) {
		logger.Warn("--state.file and --controller.mode do nothing without --config.file: there is no controller and no maintenance")
	}
	if err := serve(o, logger); err != nil {
		logger.Error("exiting", "err", err)
		return 1
	}
	return 0
}

// loadConfig loads and validates the configuration file, logging each
// problem on its own line (file:line: field: message).
func loadConfig(path string, logger *slog.Logger) (*config.Config, error) {
	c, err := config.Load(path)
	if err != nil {
		var list config.Errors
		if !errors.As(err, &list) {
			return nil, fmt.Errorf("--config.file: %w", err)
		}
		for _, e := range list {
			logger.Error("invalid configuration", "problem", e.Error())
		}
		return nil, fmt.Errorf("--config.file %s is invalid (%s; check it with `%s check-config %s`)", path, plural(len(list), "problem"), programName, path)
	}
	logger.Info("loaded configuration", "file", path, "summary", summary(c))
	return c, nil
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
		if err := toolkitweb.Validate(path); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", path, err)
		}
	}
	o.writes.ConfigFile = *o.web.WebConfigFile
	policy, err := web.NewPolicy(o.writes, logger)
	if err != nil {
		return err
	}

	hup, stopHUP := notifyHUP()
	defer stopHUP()
	logger.Info("starting "+programName, "version", version.Info(), "build_context", version.BuildContext())

	policy.Log(logger)

	if o.netns != "" {
		// Opened once: the reader, the writer and every check's socket
		// use this handle, so they always act in one namespace.
		ns, err := ipvs.OpenNetNS(o.netns, logger)
		if err != nil {
			return fmt.Errorf("--ipvs.netns: %w", err)
		}
		o.ns = ns
		defer o.ns.Close()
	}
	reader, closeReader, err := openTable(&o, logger)
	if err != nil {
		return err
	}
	defer closeReader()

	// The addresses of the same namespace give ipvs_service_vip_local:
	// which director of a pair holds each VIP.
	addrs := &ipvs.AddrReader{NetNS: o.ns, Timeout: o.ipvsTimeout}
	table := collector.New(reader, logger, collector.Options{Timeout: o.ipvsTimeout, Addrs: addrs})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Say at once whether the table is readable; the collector logs the
	// reason and the fix. Failure is not fatal: we keep serving and the next
	// scrape tries again (the module may be loaded later).
	_ = table.Probe(ctx)

	var (
		hc    *checks
		store *actuator.Maintenance
	)
	if o.config != nil {
		if store, err = openMaintenance(o.stateFile, logger); err != nil {
			return err
		}
		if hc, err = newChecks(ctx, o.configFile, o.config, reader, o, logger); err != nil {
			return fmt.Errorf("health checks: %w", err)
		}
		// The notifier hears of every verdict change and every controller
		// action, and never makes either wait.
		hc.notifier = notify.New(o.config, notify.Options{Logger: logger})
		defer func() {
			closeCtx, cancel := context.WithTimeout(context.Background(), notifyStopTimeout)
			defer cancel()
			hc.notifier.Close(closeCtx)
		}()
		cancelEvents := hc.sched.Subscribe(hc.notifier.HealthEvent)
		defer cancelEvents()
		// The status page's recent events hear the same verdict changes
		// and, through the controller's action hook, its actions.
		hc.events = web.NewEvents(web.DefaultEvents)
		cancelStatusEvents := hc.sched.Subscribe(hc.events.HealthEvent)
		defer cancelStatusEvents()
		// The load polls reach the real servers from the checks'
		// namespace; a changed load makes the controller pass at once.
		lopts := load.Options{Logger: logger, OnChange: func() {
			if hc.ctl != nil {
				hc.ctl.Controller().Trigger()
			}
		}}
		if o.ns != nil {
			lopts.Do = o.ns.Do
		}
		hc.load = load.New(lopts)
		// The controller subscribes to the checks' verdicts and reads the
		// same table; it is in place before the checks start and before a
		// reload can reach it.
		if hc.ctl, err = newController(o.config, o, reader, hc, store, logger); err != nil {
			return fmt.Errorf("controller: %w", err)
		}
		ctlCtx, stopCtl := context.WithCancel(ctx)
		defer stopCtl()
		hc.ctl.Start(ctlCtx)
		hc.load.Update(o.config)
		checksCtx, stopChecks := context.WithCancel(ctx)
		defer stopChecks()
		go hc.run(checksCtx)
	}
	reloadOnSIGHUP(ctx, hup, hc, logger)

	handler, err := newHandler(o, table, reader, hc, store, policy, logger)
	if err != nil {
		return err
	}
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}

	errc := make(chan error, 1)
	go func() { errc <- toolkitweb.ListenAndServe(server, o.web, logger) }()
	if hc != nil {
		hc.notifier.Started(version.Version)
	}

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
	if hc != nil {
		// The controller first: nothing may be written once we are told
		// to stop, whatever the checks say while they wind down.
		if err := hc.ctl.Stop(shutdownCtx); err != nil {
			logger.Warn("controller did not stop in time", "err", err)
		}
		if err := hc.stop(shutdownCtx); err != nil {
			logger.Warn("health checks did not stop in time", "err", err)
		}
		if err := hc.load.Stop(shutdownCtx); err != nil {
			logger.Warn("load polls did not stop in time", "err", err)
		}
	}
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down web server: %w", err)
	}
	return nil
}
