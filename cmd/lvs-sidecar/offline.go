package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// checkConfig validates a configuration file without touching the kernel
// or the network: "FILE: OK (...)" on stdout and 0, or every problem on
// stderr and 1.
func checkConfig(path string, stdout, stderr io.Writer) int {
	c, err := config.Load(path)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK (%s)\n", path, summary(c))
	return 0
}

// printConfigError writes one problem per line; other errors (an unreadable
// file) get the program's prefix.
func printConfigError(w io.Writer, err error) {
	var list config.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintf(w, "%s: %v\n", programName, err)
}

// summary counts what a config declares: services, real servers, and the
// checks that will run (one per real server and check).
func summary(c *config.Config) string {
	servers, checks, loads := 0, 0, 0
	for i := range c.Services {
		s := &c.Services[i]
		servers += len(s.RealServers)
		for j := range s.RealServers {
			checks += len(s.ChecksFor(&s.RealServers[j]))
			if s.RealServers[j].Load != nil {
				loads++
			}
		}
	}
	out := fmt.Sprintf("%s, %s, %s", plural(len(c.Services), "service"), plural(servers, "real server"), plural(checks, "check"))
	if loads > 0 {
		out += fmt.Sprintf("; load weights for %s", plural(loads, "real server"))
	}
	if c.Discovery.Enabled {
		out += fmt.Sprintf("; discovery: %s per kernel destination", plural(len(c.Discovery.Checks), "check"))
	}
	if n := len(c.Notifications.Targets); n > 0 {
		out += "; notifications to " + plural(n, "target")
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// importRules converts ipvsadm -S -n rules from file (stdin when file is
// empty or "-") into a configuration file, written to output (stdout when
// empty). Nothing is written when the rules have an error.
func importRules(file, output string, stdin io.Reader, stdout, stderr io.Writer) int {
	in, name := stdin, "stdin"
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(stderr, "%s: import: %v\n", programName, err)
			return 1
		}
		defer f.Close()
		in, name = f, file
	}
	c, err := config.ImportIpvsadm(in, name)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	body, err := config.Marshal(c)
	if err != nil {
		fmt.Fprintf(stderr, "%s: import: %v\n", programName, err)
		return 1
	}
	header := fmt.Sprintf("# lvs-sidecar configuration imported from %s by `%s import`.\n"+
		"# Each service got a default check (tcp on the real server's port; icmp\n"+
		"# for udp, sctp, fwmark and port-0 services): review the checks, then\n"+
		"# validate with `%s check-config FILE`.\n", oneLine(name), programName, programName)
	out := append([]byte(header), body...)
	if output == "" {
		if _, err := stdout.Write(out); err != nil {
			fmt.Fprintf(stderr, "%s: import: %v\n", programName, err)
			return 1
		}
	} else if err := os.WriteFile(output, out, 0o644); err != nil {
		fmt.Fprintf(stderr, "%s: import: %v\n", programName, err)
		return 1
	}
	fmt.Fprintf(stderr, "%s: imported %s from %s\n", programName, summary(c), name)
	return 0
}

// oneLine keeps a file name from breaking out of a comment line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}
