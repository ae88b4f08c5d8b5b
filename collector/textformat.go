package collector

import (
	"math"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// appendLabels appends pairs rendered as the text format wants them:
// {name="value",...}, values escaped. Label names need no escaping: they are
// the collector's own, all valid legacy names.
func appendLabels(b []byte, pairs []*dto.LabelPair) []byte {
	sep := byte('{')
	for _, p := range pairs {
		b = append(b, sep)
		b = append(b, p.GetName()...)
		b = append(b, '=', '"')
		b = appendEscaped(b, p.GetValue())
		b = append(b, '"')
		sep = ','
	}
	return append(b, '}')
}

// appendEscaped appends a label value with backslash, double quote and
// newline escaped, as the text format (and expfmt) escapes them.
func appendEscaped(b []byte, v string) []byte {
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

// appendValue appends v formatted exactly as expfmt formats a sample value:
// strconv's shortest 'g' form (so 4096, 6.1728395e+07, 1.099511627783e+12,
// 0.125, NaN, +Inf). Every IPVS sample but the scrape duration is a whole
// number, and for those it takes a shortcut worth about a tenth of a
// 10,000-destination scrape: below 2^53 every integer is a float64 of its
// own whose shortest decimal form is the integer's own digits (any shorter
// one is another integer, at least 1 away, and floats there are at most 1
// apart), so the digits come from the cheaper integer formatting.
func appendValue(b []byte, v float64) []byte {
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
