package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds how many YAML nodes one file may expand to, aliases
// included, so that a few lines of nested aliases ("billion laughs") cannot
// make the loader run for ever.
const maxNodes = 1_000_000

// decoder walks a yaml.Node tree, collecting every problem with its line and
// field path instead of stopping at the first.
type decoder struct {
	file   string
	errs   Errors
	budget int
	// typos maps a mapping node to the known keys its unknown keys were
	// taken for, so a misspelt required key is reported once, as a typo,
	// and not also as missing.
	typos map[*yaml.Node][]string
	// defaultSource is the node of defaults.check.source_address, for
	// messages about the checks that inherit it.
	defaultSource *yaml.Node
}

// misspelt reports whether mapping n has an unknown key that looked like
// one of keys.
func (d *decoder) misspelt(n *yaml.Node, keys ...string) bool {
	for _, t := range d.typos[d.resolveQuiet(n)] {
		if contains(keys, t) {
			return true
		}
	}
	return false
}

// resolveQuiet follows aliases without charging the budget.
func (d *decoder) resolveQuiet(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i <= 100; i++ {
		n = n.Alias
	}
	return n
}

// maxErrors is how many problems one file reports; after that the decoder
// stops, since later ones are most likely consequences of the first.
const maxErrors = 100

// errorf records a problem at n's line.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	if len(d.errs) > maxErrors {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	if len(d.errs) == maxErrors {
		d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: fmt.Sprintf("too many problems, stopping here (%d reported)", maxErrors)})
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows aliases to the node they name and charges the node budget.
// It returns nil, which callers treat as absent, once the budget is spent
// (after reporting it) or too many problems were found.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	n = d.resolveQuiet(n)
	if n == nil || n.Kind == yaml.AliasNode || len(d.errs) > maxErrors {
		return nil
	}
	d.budget--
	if d.budget == 0 {
		d.errorf(n, "", "the file expands to more than %d values (nested aliases?)", maxNodes)
	}
	if d.budget <= 0 {
		return nil
	}
	return n
}

// entry is one key of a mapping with its value.
type entry struct {
	key, val *yaml.Node
}

// isNull reports whether n is an absent or null value (`key:` or `key: ~`).
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// mapping returns the entries of a mapping by key. It reports a value that
// is not a mapping, a repeated key, a merge key and a key not in allowed
// (with a did-you-mean or the list of allowed keys). A null value is an
// empty mapping. ok is false when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, allowed []string) (m map[string]entry, ok bool) {
	m = map[string]entry{}
	n = d.resolve(n)
	if isNull(n) {
		return m, n != nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping (key: value), got %s", describe(n))
		return m, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k, path, "merge keys (<<) are not supported: repeat the keys, or set shared values in defaults")
			continue
		}
		sub := join(path, k.Value)
		if !contains(allowed, k.Value) {
			if guess := suggest(k.Value, allowed); guess != "" {
				d.errorf(k, sub, "unknown key, did you mean %q?", guess)
				if d.typos == nil {
					d.typos = map[*yaml.Node][]string{}
				}
				d.typos[n] = append(d.typos[n], guess)
			} else {
				d.errorf(k, sub, "unknown key; allowed here: %s", strings.Join(allowed, ", "))
			}
			continue
		}
		if prev, dup := m[k.Value]; dup {
			d.errorf(k, sub, "set twice (first on line %d)", prev.key.Line)
			continue
		}
		m[k.Value] = entry{k, v}
	}
	return m, true
}

// sequence returns the items of a list; a null value is an empty list.
func (d *decoder) sequence(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = d.resolve(n)
	if isNull(n) {
		return nil, n != nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list, got %s", describe(n))
		return nil, false
	}
	return n.Content, true
}

// scalar returns a non-null scalar's resolved node, or reports what it is.
func (d *decoder) scalar(n *yaml.Node, path, want string) (*yaml.Node, bool) {
	n = d.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, path, "must be %s, got %s", want, describe(n))
		return nil, false
	}
	return n, true
}

// str returns a scalar's text.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	s, ok := d.scalar(n, path, "a string")
	if !ok {
		return "", false
	}
	return s.Value, true
}

// integer returns an integer in [lo, hi].
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	s, ok := d.scalar(n, path, "an integer")
	if !ok {
		return 0, false
	}
	var v int64
	if s.Tag != "!!int" || s.Decode(&v) != nil {
		d.errorf(s, path, "must be an integer between %d and %d, got %s", lo, hi, describe(s))
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(s, path, "must be between %d and %d, got %d", lo, hi, v)
		return 0, false
	}
	return v, true
}

// boolean returns true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := d.scalar(n, path, "true or false")
	if !ok {
		return false, false
	}
	var v bool
	if s.Tag != "!!bool" || s.Decode(&v) != nil {
		d.errorf(s, path, "must be true or false, got %s", describe(s))
		return false, false
	}
	return v, true
}

// duration returns a non-negative duration written with a unit ("1s",
// "500ms", "1m30s"); a bare 0 is allowed.
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.scalar(n, path, "a duration")
	if !ok {
		return 0, false
	}
	if s.Tag == "!!int" && s.Value == "0" {
		return 0, true
	}
	if s.Tag == "!!int" || s.Tag == "!!float" {
		d.errorf(s, path, "must be a duration with a unit, like %ss, got %s", s.Value, s.Value)
		return 0, false
	}
	v, err := time.ParseDuration(s.Value)
	if err != nil || s.Tag != "!!str" {
		d.errorf(s, path, "must be a duration like 2s, 500ms or 1m30s, got %s", describe(s))
		return 0, false
	}
	if v < 0 {
		d.errorf(s, path, "must not be negative, got %s", s.Value)
		return 0, false
	}
	return v, true
}

// percent returns the number of a percentage written "50%" or "12.5%" (a
// bare 0 is allowed), in [0, 100].
func (d *decoder) percent(n *yaml.Node, path string) (float64, bool) {
	s, ok := d.scalar(n, path, "a percentage")
	if !ok {
		return 0, false
	}
	v, ok := parsePercent(s)
	if !ok {
		d.errorf(s, path, "must be a percentage like 50%%, got %s", describe(s))
		return 0, false
	}
	if v < 0 || v > 100 {
		d.errorf(s, path, "must be between 0%% and 100%%, got %s", s.Value)
		return 0, false
	}
	return v, true
}

func parsePercent(s *yaml.Node) (float64, bool) {
	if s.Tag == "!!int" && s.Value == "0" {
		return 0, true
	}
	num, ok := strings.CutSuffix(s.Value, "%")
	if !ok || s.Tag != "!!str" {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v != v { // v != v: NaN
		return 0, false
	}
	return v, true
}

// oneOf returns the index of a scalar's text in names.
func (d *decoder) oneOf(n *yaml.Node, path string, names []string) (int, bool) {
	s, ok := d.scalar(n, path, "one of "+strings.Join(names, ", "))
	if !ok {
		return 0, false
	}
	for i, name := range names {
		if s.Value == name {
			return i, true
		}
	}
	if guess := suggest(s.Value, names); guess != "" {
		d.errorf(s, path, "must be one of %s, got %s (did you mean %q?)", strings.Join(names, ", "), describe(s), guess)
	} else {
		d.errorf(s, path, "must be one of %s, got %s", strings.Join(names, ", "), describe(s))
	}
	return 0, false
}

// describe renders a node for an error message: a quoted string, a bare
// number or boolean, or what kind of structure it is.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!str", "!!binary", "!!timestamp":
		return strconv.Quote(n.Value)
	}
	return n.Value
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the candidate closest to s when it is close enough to be
// a likely typo, else "".
func suggest(s string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		dist := editDistance(strings.ToLower(s), c)
		if best == "" || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	if best == "" || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes; keys
// are ASCII, and a long input only costs time proportional to its length
// times the candidate's.
func editDistance(a, b string) int {
	if len(a) > 64 {
		return len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
