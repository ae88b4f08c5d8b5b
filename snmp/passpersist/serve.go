package passpersist

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Source gives the objects to answer from. It is called for every get
// and getnext, so it should cache (see Cache). An error answers NONE
// (snmpd: noSuchObject / end of the subtree) and the server keeps
// running; the Source logs its own errors.
type Source interface {
	Tree(ctx context.Context) (*Tree, error)
}

// Answers other than an object, as snmpd expects them.
const (
	answerPong        = "PONG"
	answerNone        = "NONE"
	answerNotWritable = "not-writable"
)

// maxLine bounds one request line; an OID of 128 sub-identifiers (the
// SNMP maximum) of ten digits each is far shorter.
const maxLine = 64 << 10

// Serve answers snmpd's pass_persist requests from in on out until in ends
// (snmpd stopped or restarts the program) or ctx is done. Every object
// is within root: a get outside it, or a getnext that would leave it, is
// answered NONE. Writes (set) are refused with not-writable: the tables
// are read-only. It returns nil at the end of in, or the error that
// stopped it.
func Serve(ctx context.Context, in io.Reader, out io.Writer, root OID, src Source, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	w := bufio.NewWriter(out)
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimRight(sc.Text(), "\r"), true
	}
	for ctx.Err() == nil {
		cmd, ok := line()
		if !ok {
			break
		}
		var answer []string
		switch strings.ToLower(strings.TrimSpace(cmd)) {
		case "":
			// snmpd never sends an empty line; some wrappers send one to
			// end the conversation.
			return w.Flush()
		case "ping":
			answer = []string{answerPong}
		case "get", "getnext":
			arg, ok := line()
			if !ok {
				return truncated(sc, cmd)
			}
			answer = lookup(ctx, strings.EqualFold(strings.TrimSpace(cmd), "getnext"), arg, root, src, logger)
		case "set":
			// The OID, then "TYPE VALUE": read both so that the next
			// command starts on its own line.
			if _, ok := line(); !ok {
				return truncated(sc, cmd)
			}
			if _, ok := line(); !ok {
				return truncated(sc, cmd)
			}
			answer = []string{answerNotWritable}
		default:
			// Answering an unknown command could put the next answer out
			// of step with snmpd's requests: say nothing, log it.
			logger.Warn("pass_persist: unknown command from snmpd, ignored", "command", cmd)
			continue
		}
		for _, l := range answer {
			w.WriteString(l)
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("pass_persist: write to snmpd: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("pass_persist: read from snmpd: %w", err)
	}
	return nil
}

func truncated(sc *bufio.Scanner, cmd string) error {
	if err := sc.Err(); err != nil {
		return fmt.Errorf("pass_persist: read from snmpd: %w", err)
	}
	return errors.New("pass_persist: input ended inside a " + cmd + " request")
}

// lookup answers one get or getnext: the OID, type and value lines, or
// NONE.
func lookup(ctx context.Context, next bool, arg string, root OID, src Source, logger *slog.Logger) []string {
	oid, err := ParseOID(arg)
	if err != nil {
		logger.Warn("pass_persist: bad OID from snmpd", "err", err)
		return []string{answerNone}
	}
	if !next && !oid.HasPrefix(root) {
		return []string{answerNone}
	}
	tree, err := src.Tree(ctx)
	if err != nil {
		return []string{answerNone}
	}
	var v Value
	if next {
		// Before the root, the first object is the answer: snmpd may ask
		// for the next of the registration point itself.
		var ok bool
		if oid, v, ok = tree.Next(oid); !ok || !oid.HasPrefix(root) {
			return []string{answerNone}
		}
	} else {
		var ok bool
		if v, ok = tree.Get(oid); !ok {
			return []string{answerNone}
		}
	}
	return []string{oid.String(), string(v.Type), v.Text}
}
