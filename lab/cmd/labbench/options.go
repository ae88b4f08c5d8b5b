package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// options are labbench run's flags.
type options struct {
	out        string
	phases     map[string]bool
	rs         int
	perService int
	rounds     int
	commit     string
	date       string
	sidecarEnv []string // NAME=VALUE pairs for every lvs-sidecar process

	sizes      []int
	scrapes    int
	scrapeMin  time.Duration
	background time.Duration
	checkRate  int
	checkMinIv time.Duration
	checkIv    time.Duration

	checkSets     []checkSet
	checkDuration time.Duration
	checkTypes    []string

	drainTrials     int
	drainInterval   time.Duration
	drainRetry      int
	drainRetryDelay time.Duration
	timeout         time.Duration
	drainPoll       time.Duration
}

// checkSet is a number of real servers and how often each is checked.
type checkSet struct {
	servers  int
	interval time.Duration
}

func (c checkSet) String() string { return fmt.Sprintf("%d@%s", c.servers, c.interval) }

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("labbench run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", ".", "folder for the logs, configurations and results.md")
	phases := fs.String("phases", "scrape,checks,drain", "phases to run, comma-separated")
	fs.IntVar(&o.rs, "rs", 3, "real-server namespaces rs1..rsN of topology.sh to spread destinations over")
	fs.IntVar(&o.perService, "per-service", 100, "destinations per virtual service")
	fs.IntVar(&o.rounds, "rounds", 2, "measure each phase in this many rounds, in turns, the order reversed every other round")
	fs.StringVar(&o.commit, "commit", "", "commit measured, for the report")
	fs.StringVar(&o.date, "date", "", "date of the run, for the report")

	sizes := fs.String("sizes", "100,1000,10000", "scrape: table sizes (destinations), comma-separated")
	fs.IntVar(&o.scrapes, "scrapes", 3, "scrape: at least this many scrapes per exporter, encoding and round")
	fs.DurationVar(&o.scrapeMin, "scrape-min", 3*time.Second, "scrape: and for at least this long")
	fs.DurationVar(&o.background, "background", 5*time.Second, "scrape: window measuring each process's CPU when not scraped")
	fs.IntVar(&o.checkRate, "scrape-check-rate", 200, "scrape: checks per second over the table until every real server is up: every real server every size/rate seconds ...")
	fs.DurationVar(&o.checkMinIv, "scrape-check-min-interval", 10*time.Second, "scrape: ... or this, if longer")
	fs.DurationVar(&o.checkIv, "scrape-check-interval", time.Hour, "scrape: the check interval after that, while the scrapes are measured (a reload)")

	sets := fs.String("check-sets", "200@1s,1000@5s", "checks: REAL_SERVERS@INTERVAL sets, comma-separated")
	fs.DurationVar(&o.checkDuration, "check-duration", 15*time.Second, "checks: measurement window per program, set and round")
	types := fs.String("check-types", "tcp,syn,icmp", "checks: lvs-sidecar check types to measure (tcp, syn, icmp)")

	fs.IntVar(&o.drainTrials, "drain-trials", 6, "drain: kills per program and round")
	fs.DurationVar(&o.drainInterval, "drain-interval", time.Second, "drain: check interval (keepalived delay_loop)")
	fs.IntVar(&o.drainRetry, "drain-retry", 2, "drain: keepalived retry N; lvs-sidecar gets fall N+1")
	fs.DurationVar(&o.drainRetryDelay, "drain-retry-delay", time.Second, "drain: keepalived delay_before_retry = lvs-sidecar fast_interval")
	fs.DurationVar(&o.timeout, "check-timeout", 900*time.Millisecond, "checks and drain: check timeout (keepalived connect_timeout); shorter than every interval")
	fs.DurationVar(&o.drainPoll, "drain-poll", time.Millisecond, "drain: how often /proc/net/ip_vs is read after a kill")
	env := fs.String("sidecar-env", "", "NAME=VALUE pairs, comma-separated, in the environment of every lvs-sidecar process (e.g. GOGC=100)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, reject(stderr, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	var err error
	for _, kv := range splitList(*env) {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			return o, reject(stderr, fmt.Errorf("-sidecar-env: %q is not NAME=VALUE", kv))
		}
		o.sidecarEnv = append(o.sidecarEnv, kv)
	}
	o.phases = map[string]bool{}
	for _, p := range splitList(*phases) {
		if p != "scrape" && p != "checks" && p != "drain" {
			return o, reject(stderr, fmt.Errorf("-phases: unknown phase %q (scrape, checks, drain)", p))
		}
		o.phases[p] = true
	}
	if o.sizes, err = parseInts(*sizes); err != nil {
		return o, reject(stderr, fmt.Errorf("-sizes: %w", err))
	}
	if o.checkSets, err = parseCheckSets(*sets); err != nil {
		return o, reject(stderr, fmt.Errorf("-check-sets: %w", err))
	}
	for _, t := range splitList(*types) {
		if t != "tcp" && t != "syn" && t != "icmp" {
			return o, reject(stderr, fmt.Errorf("-check-types: %q is not tcp, syn or icmp", t))
		}
		o.checkTypes = append(o.checkTypes, t)
	}
	switch {
	case o.scrapes < 1 || o.drainTrials < 1 || o.checkRate < 1 || o.rounds < 1:
		err = errors.New("-rounds, -scrapes, -drain-trials and -scrape-check-rate must be at least 1")
	case o.drainRetry < 0:
		err = errors.New("-drain-retry must not be negative")
	case o.drainInterval <= 0 || o.drainRetryDelay <= 0 || o.timeout <= 0 || o.drainPoll <= 0 || o.checkDuration <= 0:
		err = errors.New("durations must be positive")
	}
	if o.checkMinIv <= o.timeout || o.checkIv <= o.timeout {
		err = fmt.Errorf("-scrape-check-min-interval and -scrape-check-interval must be longer than -check-timeout %s", o.timeout)
	}
	for _, s := range o.checkSets {
		if o.timeout >= s.interval {
			err = fmt.Errorf("-check-timeout %s: must be shorter than the interval of %s", o.timeout, s)
		}
	}
	if o.timeout >= o.drainInterval || o.timeout >= o.drainRetryDelay {
		err = fmt.Errorf("-check-timeout %s: must be shorter than -drain-interval and -drain-retry-delay", o.timeout)
	}
	if err != nil {
		return o, reject(stderr, err)
	}
	for _, n := range append(append([]int{}, o.sizes...), maxServers(o.checkSets)) {
		if err := (layout{vip: vipSidecar, dests: n, perService: o.perService, rs: o.rs}).validate(); err != nil {
			return o, reject(stderr, err)
		}
	}
	return o, nil
}

func reject(stderr io.Writer, err error) error {
	fmt.Fprintf(stderr, "labbench run: %v\n", err)
	return err
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseCheckSets(s string) ([]checkSet, error) {
	var out []checkSet
	for _, f := range splitList(s) {
		n, iv, ok := strings.Cut(f, "@")
		servers, err := strconv.Atoi(n)
		if !ok || err != nil || servers < 1 {
			return nil, fmt.Errorf("%q: want REAL_SERVERS@INTERVAL, e.g. 200@1s", f)
		}
		d, err := time.ParseDuration(iv)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q: the interval must be a positive duration", f)
		}
		out = append(out, checkSet{servers, d})
	}
	return out, nil
}

func maxServers(sets []checkSet) int {
	m := 1
	for _, s := range sets {
		m = max(m, s.servers)
	}
	return m
}
