// Command labhash prints the bcrypt hash of a password, for the
// basic_auth_users of the web configuration lab/demo writes inside the lab
// VM (busybox has no bcrypt, and the VM has no htpasswd).
//
//	labhash PASSWORD
package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run hashes the one argument with bcrypt's default cost (what
// `htpasswd -B` uses) and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintln(stderr, "usage: labhash PASSWORD")
		return 2
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(args[0]), bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintf(stderr, "labhash: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(hash))
	return 0
}
