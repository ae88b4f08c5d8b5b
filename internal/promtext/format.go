// Package promtext writes the Prometheus text exposition format (version
// 0.0.4) directly, for the metric families that are too large to go
// through a prometheus.Registry: the IPVS table's, the health checks' and
// the controller's, each with a series or more per real server. A
// registry builds, checks, hashes and sorts a dto.Metric for every series
// of every scrape; the writers here copy label sets rendered once (per
// real server, when the targets change) and format the values, and write
// exactly the text expfmt would write for the same samples (each package
// tests that against its registry-path reference).
package promtext

import (
	"math"
	"strconv"
	"strings"
)

// AppendEscaped appends a label value with backslash, double quote and
// newline escaped, as the text format (and expfmt) escapes them.
func AppendEscaped(b []byte, v string) []byte {
	for {
		i := strings.IndexAny(v, "\\\"\n")
		if i < 0 {
			return append(b, v...)
		}
		b = append(b, v[:i]...)
		switch v[i] {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, '\\', 'n')
		}
		v = v[i+1:]
	}
}

// Label renders one label pair, name="value" with the value escaped, to
// be cached and joined into label sets. name must be a valid label name
// (the callers' own constants).
func Label(name, value string) string {
	b := make([]byte, 0, len(name)+len(value)+3)
	b = append(b, name...)
	b = append(b, '=', '"')
	b = AppendEscaped(b, value)
	return string(append(b, '"'))
}

// Labels joins rendered pairs (Label), sorted by name by the caller, with
// commas: the inside of a label set, without its braces.
func Labels(pairs ...string) string { return strings.Join(pairs, ",") }

// AppendValue appends v formatted exactly as expfmt formats a sample
// value: strconv's shortest 'g' form (so 4096, 6.1728395e+07,
// 1.099511627783e+12, 0.125, NaN, +Inf). Most samples are whole numbers,
// and for those it takes a shortcut worth about a tenth of a
// 10,000-destination scrape: below 2^53 every integer is a float64 of its
// own whose shortest decimal form is the integer's own digits (any shorter
// one is another integer, at least 1 away, and floats there are at most 1
// apart), so the digits come from the cheaper integer formatting.
func AppendValue(b []byte, v float64) []byte {
	if !(v >= 0 && v < 1<<53) || v != math.Trunc(v) {
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	u := uint64(v) // -0 becomes 0, which is what expfmt writes for it too
	if u < 1e6 {
		// 'g' switches to an exponent at 10^6 (the shortest form's
		// precision is taken as 6 for that decision).
		return strconv.AppendUint(b, u, 10)
	}
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], u, 10)
	exp := len(digits) - 1 // 6 to 15 here
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	return append(b, 'e', '+', byte('0'+exp/10), byte('0'+exp%10))
}

// NeedsEscape reports whether label value v has a character the text
// format escapes: one that AppendEscaped would not copy as it is.
func NeedsEscape(v string) bool { return strings.ContainsAny(v, "\\\"\n") }

// Escaped returns label value v escaped (AppendEscaped), v itself when
// it needs none.
func Escaped(v string) string {
	if !NeedsEscape(v) {
		return v
	}
	return string(AppendEscaped(nil, v))
}
