// Command labbench is the lab's peer benchmark (lab/bench, make bench-lab):
// inside the lab VM, in the director's network namespace, it measures
// lvs-sidecar side by side with Debian's prometheus-node-exporter and
// keepalived on the same kernel, the same table and the same real servers,
// one program at a time, and prints the figures as Markdown tables.
//
//	labbench run [FLAGS]     the benchmark (labbench run -h for the flags)
//	labbench listen PORTS    accept and close on every port (a real server)
//
// Phases (-phases):
//
//   - scrape: tables of -sizes destinations built with ipvsadm -R; the CPU
//     (utime+stime of the process, /proc/PID/stat) per scrape of
//     node_exporter (--collector.ipvs only), lvs-sidecar without a
//     configuration (the table only) and lvs-sidecar checking every real
//     server over TCP, with and without Accept-Encoding: gzip, each minus
//     the process's own CPU rate when not scraped; bytes per scrape.
//   - checks: -check-sets real servers checked every interval by
//     lvs-sidecar (tcp, then syn) and by keepalived --check (TCP_CHECK) for
//     -check-duration each: CPU per check, checks counted by the real
//     servers (SYNs in an nftables counter of their namespaces).
//   - drain: one real server of a service killed -drain-trials times, just
//     after it accepted a check (phase-locked to the checker's schedule),
//     under lvs-sidecar and then under keepalived with equal detection
//     settings; the time from the kill to weight 0 in /proc/net/ip_vs.
//
// RSS (VmRSS, and VmHWM, its peak) of every process is read at the end of
// each of its measurements. Programs are found on PATH.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: labbench run [FLAGS] | labbench listen PORTS")
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		var o options
		if o, err = parseOptions(args[1:], stderr); err != nil {
			return 2
		}
		err = benchmark(o, stdout)
	case "listen":
		err = listenCmd(args[1:], stdout)
	default:
		fmt.Fprintf(stderr, "labbench: unknown subcommand %q\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "labbench %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
