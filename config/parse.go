package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Keys allowed in each mapping, in the order the error messages list them.
var (
	topKeys       = []string{"defaults", "services", "discovery", "controller", "notifications"}
	defaultsKeys  = []string{"check", "on_failure", "slow_start", "panic_threshold", "panic_hysteresis", "load"}
	discoveryKeys = []string{"enabled", "checks"}
)

// Load reads, parses and validates the configuration file at path, and
// records it in the Config's Source. Errors name path as given.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	c.Source = Source{Path: path, SHA256: hex.EncodeToString(sum[:])}
	return c, nil
}

// Parse parses and validates a configuration; filename is only used in
// error messages. On failure the error is an Errors listing every problem
// found.
func Parse(data []byte, filename string) (*Config, error) {
	d := &decoder{file: filename, budget: maxNodes}
	root, err := d.document(data)
	if err != nil {
		return nil, err
	}
	c := d.config(root)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return c, nil
}

// yamlLineError matches the messages of go.yaml.in/yaml/v3 that carry a
// line number.
var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses the YAML text into its root node, turning syntax errors
// into Errors with the line yaml reports.
func (d *decoder) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: d.file, Msg: "the file is empty: declare services, or set discovery.enabled: true"}}
		}
		return nil, Errors{d.syntaxError(data, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Errors{d.syntaxError(data, err)}
	default:
		return nil, Errors{{File: d.file, Line: next.Line, Msg: "a second YAML document (after ---): put everything in one"}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: d.file, Msg: "the file is empty: declare services, or set discovery.enabled: true"}}
	}
	return doc.Content[0], nil
}

// syntaxError turns a YAML syntax error into an Error at the line where the
// problem is. go.yaml.in/yaml/v3 reports the line where the enclosing block
// starts, counted from 0, instead; the problem's line is found as the
// shortest prefix of the file that fails with the same message.
func (d *decoder) syntaxError(data []byte, err error) *Error {
	line, msg := splitYAMLError(err)
	if l := firstFailingLine(data, msg); l > 0 {
		line = l
		if text := lineText(data, l); strings.HasPrefix(strings.TrimLeft(text, " "), "\t") {
			msg += " (indent with spaces: YAML does not allow tabs there)"
		}
	}
	return &Error{File: d.file, Line: line, Msg: "invalid YAML: " + msg}
}

// lineText returns line n (from 1) of data.
func lineText(data []byte, n int) string {
	lines := strings.SplitN(string(data), "\n", n+1)
	if n > len(lines) {
		return ""
	}
	return lines[n-1]
}

// splitYAMLError returns the line yaml reports (0 if none) and the problem.
func splitYAMLError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// firstFailingLine returns the smallest n such that the first n lines of
// data fail to parse with the problem msg, or 0. It bisects, so a long
// file costs a few parses.
func firstFailingLine(data []byte, msg string) int {
	var ends []int // ends[i] is the offset just past line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(n int) bool {
		err := parseAll(data[:ends[n-1]])
		if err == nil {
			return false
		}
		_, m := splitYAMLError(err)
		return m == msg
	}
	lo, hi := 1, len(ends)
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if !fails(lo) {
		return 0
	}
	return lo
}

// parseAll parses every document of data and returns the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// config decodes the root mapping.
func (d *decoder) config(root *yaml.Node) *Config {
	c := &Config{Defaults: builtinDefaults(), Controller: builtinController()}
	top, ok := d.mapping(root, "", topKeys)
	if !ok {
		return c
	}
	if e, ok := top["defaults"]; ok {
		c.Defaults = d.defaults(e.val)
	}
	if e, ok := top["services"]; ok {
		c.Services = d.services(e.val, &c.Defaults)
	}
	if e, ok := top["discovery"]; ok {
		c.Discovery = d.discovery(e.val, &c.Defaults)
	}
	if e, ok := top["controller"]; ok {
		c.Controller = d.controller(e.val)
	}
	if e, ok := top["notifications"]; ok {
		c.Notifications = d.notifications(e.val)
	}
	if len(c.Services) == 0 && !c.Discovery.Enabled && len(d.errs) == 0 {
		at := root
		if e, ok := top["services"]; ok {
			at = e.key
		}
		d.errorf(at, "services", "declare at least one service, or set discovery.enabled: true to check what the kernel table holds")
	}
	return c
}

// builtinDefaults are the defaults when the file has no defaults section.
func builtinDefaults() Defaults {
	return Defaults{
		Check: Check{
			Type:     CheckTCP,
			Schedule: Schedule{Spec: "@every 2s", Interval: 2 * time.Second},
			Timeout:  time.Second,
			Rise:     2,
			Fall:     3,
		},
		OnFailure: Drain,
		// One server of ten, at equal weights.
		PanicHysteresis: DefaultPanicHysteresis,
	}
}

// defaults decodes the defaults section.
func (d *decoder) defaults(n *yaml.Node) Defaults {
	def := builtinDefaults()
	m, _ := d.mapping(n, "defaults", defaultsKeys)
	if e, ok := m["check"]; ok {
		if c, ok := d.check(e.val, "defaults.check", def.Check, "the built-in default", genericCheckKeys); ok {
			def.Check = c
		}
	}
	if e, ok := m["on_failure"]; ok {
		if i, ok := d.oneOf(e.val, "defaults.on_failure", onFailureNames); ok {
			def.OnFailure = OnFailure(i)
		}
	}
	if e, ok := m["slow_start"]; ok {
		if v, ok := d.duration(e.val, "defaults.slow_start"); ok {
			def.SlowStart = v
		}
	}
	if e, ok := m["panic_threshold"]; ok {
		if v, ok := d.percent(e.val, "defaults.panic_threshold"); ok {
			def.PanicThreshold = v
		}
	}
	if e, ok := m["panic_hysteresis"]; ok {
		if v, ok := d.percent(e.val, "defaults.panic_hysteresis"); ok {
			def.PanicHysteresis = v
		}
	}
	if e, ok := m["load"]; ok {
		def.Load, _ = d.load(e.val, "defaults.load", nil)
	}
	return def
}

var onFailureNames = []string{"drain", "remove"}

// discovery decodes the discovery section.
func (d *decoder) discovery(n *yaml.Node, def *Defaults) Discovery {
	var disc Discovery
	m, _ := d.mapping(n, "discovery", discoveryKeys)
	if e, ok := m["enabled"]; ok {
		disc.Enabled, _ = d.boolean(e.val, "discovery.enabled")
	}
	if e, ok := m["checks"]; ok {
		disc.Checks = d.checkList(e.val, "discovery.checks", def, nil)
	}
	if disc.Enabled && disc.Checks == nil {
		disc.Checks = []Check{def.Check}
	}
	return disc
}
