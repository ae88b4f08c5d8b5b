// Command labnet is the lab's test-only network helper: tiny servers that
// answer with their own name, and the clients that ask them, for the
// protocols busybox has no tool for (UDP request/reply, SCTP). It runs inside
// the lab VM, in the real servers' and the client's network namespaces.
//
//	labnet udp-server  [-listen :8000] NAME   answer every datagram with NAME
//	labnet sctp-server [-listen :8000] NAME   send NAME on every association
//	labnet udp  [-timeout 2s] HOST:PORT       send one datagram, print the reply
//	labnet sctp [-timeout 2s] HOST:PORT       connect, print what the server sends
//
// Servers listen on IPv4 and IPv6 and run until killed. Clients exit non-zero
// when no answer came in time.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: labnet udp-server|sctp-server|udp|sctp [flags] ARG")
		return 2
	}
	fs := flag.NewFlagSet("labnet "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":8000", "address to listen on (servers)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for an answer (clients)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "labnet %s: want exactly one argument, got %d\n", args[0], fs.NArg())
		return 2
	}
	arg := fs.Arg(0)
	var err error
	switch args[0] {
	case "udp-server":
		err = serveUDP(*listen, arg)
	case "sctp-server":
		err = serveSCTP(*listen, arg)
	case "udp":
		err = askUDP(stdout, arg, *timeout)
	case "sctp":
		err = askSCTP(stdout, arg, *timeout)
	default:
		fmt.Fprintf(stderr, "labnet: unknown subcommand %q\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "labnet %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
