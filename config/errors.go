package config

import (
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file (or an ipvsadm dump being
// imported), at a line.
type Error struct {
	File string
	Line int // 1-based; 0 when the problem has no line
	// Path names the field, e.g. services[0].real_servers[1].weight; empty
	// for problems of the file as a whole (YAML syntax, ipvsadm lines).
	Path string
	Msg  string
}

// Error renders "file:line: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in line order. Parse, Load,
// ImportIpvsadm and ParseIpvsadm return it as their error; get it back
// with errors.As.
type Errors []*Error

// Error renders one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted orders the problems by line, keeping the order of discovery for
// problems on one line, and the "too many problems" note last.
func (es Errors) sorted() Errors {
	head := es
	if len(head) > maxErrors {
		head = head[:maxErrors]
	}
	sort.SliceStable(head, func(i, j int) bool { return head[i].Line < head[j].Line })
	return es
}
