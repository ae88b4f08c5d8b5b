package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Program names on PATH: the project's binary and Debian's peers.
const (
	sidecarBin      = "lvs-sidecar"
	nodeExporterBin = "prometheus-node-exporter"
	keepalivedBin   = "keepalived"
)

// bench is one run of the benchmark.
type bench struct {
	o       options
	stdout  io.Writer
	self    string // this program, for the listeners
	res     results
	daemons []*daemon // running, stopped at the end
}

func benchmark(o options, stdout io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	// Thousands of listeners and checks: the default 1024 descriptors
	// are not enough. Children inherit the limit.
	lim := unix.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the file descriptor limit: %w", err)
	}
	b := &bench{o: o, stdout: stdout, self: self}
	defer b.stopAll()
	b.res.meta = b.meta()
	if err := b.realServers(); err != nil {
		return err
	}
	phases := []struct {
		name string
		fn   func(context.Context) error
	}{{"scrape", b.scrapePhase}, {"checks", b.checkPhase}, {"drain", b.drainPhase}}
	for _, p := range phases {
		if !o.phases[p.name] {
			continue
		}
		start := time.Now()
		b.logf("phase %s", p.name)
		if err := p.fn(context.Background()); err != nil {
			return fmt.Errorf("phase %s: %w", p.name, err)
		}
		b.logf("phase %s done in %s", p.name, time.Since(start).Round(time.Second))
	}
	report := b.res.markdown(o)
	if err := os.WriteFile(filepath.Join(o.out, "results.md"), []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, "\n", report)
	return nil
}

// logf prints a progress line.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stdout, "labbench %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// meta records what was measured.
func (b *bench) meta() meta {
	m := meta{commit: b.o.commit, date: b.o.date}
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(k))
	}
	m.sidecar = firstLine(sidecarBin, "--version")
	m.nodeExporter = firstLine(nodeExporterBin, "--version")
	m.keepalived = firstLine(keepalivedBin, "--version")
	return m
}

func firstLine(argv ...string) string {
	out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// realServers starts a listener on every destination port the phases use
// in each real server's namespace, and the SYN counters.
func (b *bench) realServers() error {
	most := maxServers(b.o.checkSets)
	for _, n := range b.o.sizes {
		most = max(most, n)
	}
	if err := nftSetup(); err != nil {
		return err
	}
	for n := 1; n <= b.o.rs; n++ {
		ns := fmt.Sprintf("rs%d", n)
		spec := portSpec(n, b.o.rs, most)
		if spec == "" {
			continue
		}
		d, err := b.startDaemon("listen-"+ns, "nsenter", "--net=/run/netns/"+ns, b.self, "listen", spec)
		if err != nil {
			return err
		}
		// It prints one line once every port is bound.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err = poll(ctx, 100*time.Millisecond, func() error {
			if err := d.exited(); err != nil {
				return err
			}
			log, _ := os.ReadFile(b.logPath(d.name))
			if !strings.Contains(string(log), "listening on") {
				return errors.New("not listening yet")
			}
			return nil
		})
		cancel()
		if err != nil {
			return fmt.Errorf("listeners in %s: %w", ns, err)
		}
	}
	b.logf("real servers listen on the ports of %d destinations", most)
	return nil
}

func (b *bench) logPath(name string) string { return filepath.Join(b.o.out, name+".log") }

// startDaemon starts argv with its output in OUT/name.log.
func (b *bench) startDaemon(name string, argv ...string) (*daemon, error) {
	d, err := start(name, b.logPath(name), argv...)
	if err != nil {
		return nil, err
	}
	b.daemons = append(b.daemons, d)
	return d, nil
}

// stopDaemon stops d and forgets it.
func (b *bench) stopDaemon(d *daemon) error {
	for i, x := range b.daemons {
		if x == d {
			b.daemons = append(b.daemons[:i], b.daemons[i+1:]...)
			break
		}
	}
	return d.stop()
}

func (b *bench) stopAll() {
	for i := len(b.daemons) - 1; i >= 0; i-- {
		_ = b.daemons[i].stop()
	}
	b.daemons = nil
}

// writeFile writes a configuration into OUT and returns its path.
func (b *bench) writeFile(name, text string) (string, error) {
	p := filepath.Join(b.o.out, name)
	return p, os.WriteFile(p, []byte(text), 0o644)
}

// startSidecar runs lvs-sidecar on 127.0.0.1:port, with configuration
// file cfg when it is not empty, and waits until it answers a scrape.
func (b *bench) startSidecar(name string, port int, cfg string) (*daemon, *scraper, error) {
	argv := []string{sidecarBin, fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port)}
	if len(b.o.sidecarEnv) > 0 {
		// env(1) execs the sidecar in its own process: the pid measured
		// is the sidecar's.
		argv = append(append([]string{"env"}, b.o.sidecarEnv...), argv...)
	}
	if cfg != "" {
		argv = append(argv, "--config.file="+cfg)
	}
	d, err := b.startDaemon(name, argv...)
	if err != nil {
		return nil, nil, err
	}
	s := newScraper(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	return d, s, b.waitScrape(d, s)
}

// startNodeExporter runs Debian's node exporter with only its ipvs
// collector on 127.0.0.1:port.
func (b *bench) startNodeExporter(port int) (*daemon, *scraper, error) {
	d, err := b.startDaemon("node_exporter", nodeExporterBin, "--collector.disable-defaults", "--collector.ipvs",
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	if err != nil {
		return nil, nil, err
	}
	s := newScraper(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	return d, s, b.waitScrape(d, s)
}

// waitScrape waits until s answers, or d exits.
func (b *bench) waitScrape(d *daemon, s *scraper) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return poll(ctx, 200*time.Millisecond, func() error {
		if err := d.exited(); err != nil {
			return err
		}
		_, err := s.get(ctx, false, false)
		return err
	})
}

// waitHealthUp waits until lvs-sidecar's verdict is up for n real servers,
// or d exits, or limit passes.
func (b *bench) waitHealthUp(d *daemon, s *scraper, n int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// A scrape of 10,000 checked real servers costs seconds here: poll
	// less often for large tables.
	return poll(ctx, max(2*time.Second, time.Duration(n)*time.Millisecond), func() error {
		if err := d.exited(); err != nil {
			return err
		}
		sc, err := s.get(ctx, false, true)
		if err != nil {
			return err
		}
		up, _, err := sumMetricWith(sc.body, "ipvs_real_server_health_state", `state="up"`)
		if err != nil {
			return err
		}
		if int(up) != n {
			return fmt.Errorf("%d of %d real servers up", int(up), n)
		}
		return nil
	})
}

// reload sends lvs-sidecar SIGHUP and waits until it counts a successful
// reload.
func (b *bench) reload(d *daemon, s *scraper) error {
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return poll(ctx, time.Second, func() error {
		if err := d.exited(); err != nil {
			return err
		}
		sc, err := s.get(ctx, false, true)
		if err != nil {
			return err
		}
		if v, ok := sample(sc.body, `lvs_sidecar_config_reloads_total{result="failure"}`); ok && v > 0 {
			return final{fmt.Errorf("%s refused the new configuration (see its log)", d.name)}
		}
		if v, ok := sample(sc.body, `lvs_sidecar_config_reloads_total{result="success"}`); !ok || v < 1 {
			return errors.New("no successful reload yet")
		}
		return nil
	})
}

// loadTable replaces the director's table with svcs.
func (b *bench) loadTable(svcs []service) error {
	if err := ipvsadm("", "-C"); err != nil {
		return err
	}
	if len(svcs) == 0 {
		return nil
	}
	if err := ipvsadm(ipvsadmRules(svcs), "-R"); err != nil {
		return err
	}
	w, err := readWeights()
	if err != nil {
		return err
	}
	want := 0
	for _, s := range svcs {
		want += len(s.dests)
	}
	if got := countUp(w, svcs); got != want {
		return fmt.Errorf("ipvsadm -R made %d of the %d destinations", got, want)
	}
	return nil
}

// waitTableUp waits until every destination of svcs is in the table with
// a weight above 0 (keepalived makes its table at start).
func waitTableUp(d *daemon, svcs []service, limit time.Duration) error {
	want := 0
	for _, s := range svcs {
		want += len(s.dests)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return poll(ctx, 200*time.Millisecond, func() error {
		if err := d.exited(); err != nil {
			return err
		}
		w, err := readWeights()
		if err != nil {
			return err
		}
		if got := countUp(w, svcs); got != want {
			return fmt.Errorf("%d of %d destinations in the table with a weight", got, want)
		}
		return nil
	})
}

// inTurn is the i-th of items in round: in their order in even rounds,
// reversed in odd ones, so that a change of the VM's speed during a run
// weighs on every program alike.
func inTurn[T any](items []T, round, i int) T {
	if round%2 == 1 {
		return items[len(items)-1-i]
	}
	return items[i]
}
