package promtext

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TestAppendValueMatchesExpfmt formats values around every place where the
// formatting changes (10^6, powers of 2 and 10, 2^53) and random ones of
// every size with AppendValue and with expfmt: the text must be the same.
func TestAppendValueMatchesExpfmt(t *testing.T) {
	values := []float64{0, math.Copysign(0, -1), 1, -1, 0.125, 1e-7, -3.5, math.NaN(), math.Inf(1), math.Inf(-1),
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.MaxUint64, math.MaxUint32, 1 << 53, 1<<53 - 1, 1<<53 + 2, 1<<53 - 0.5}
	for i := range 1100 {
		values = append(values, float64(i))
	}
	for p := 1.0; p < 1e20; p *= 10 {
		for _, d := range []float64{-1, 0, 1, 7} {
			values = append(values, p+d, 9*p+d, p*1.5)
		}
	}
	for k := range 64 {
		p := float64(uint64(1) << k)
		values = append(values, p-1, p, p+1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		values = append(values,
			float64(r.Uint64N(1<<(1+r.IntN(63)))), // whole numbers of every size
			float64(r.Uint32()),
			r.Float64()*math.Pow(10, float64(r.IntN(40)-20)),
			-float64(r.Uint64N(1<<53)))
	}

	mf := &dto.MetricFamily{Name: new(string), Type: dto.MetricType_GAUGE.Enum()}
	*mf.Name = "v"
	var want []string
	for _, v := range values {
		mf.Metric = append(mf.Metric, &dto.Metric{Gauge: &dto.Gauge{Value: &v}})
	}
	var enc bytes.Buffer
	if _, err := expfmt.MetricFamilyToText(&enc, mf); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(enc.String(), "\n"), "\n")[1:] { // [0] is # TYPE
		want = append(want, strings.TrimPrefix(line, "v "))
	}
	if len(want) != len(values) {
		t.Fatalf("expfmt wrote %d values for %d", len(want), len(values))
	}
	bad := 0
	for i, v := range values {
		if got := string(AppendValue(nil, v)); got != want[i] {
			t.Errorf("AppendValue(%v) = %q, expfmt writes %q", v, got, want[i])
			if bad++; bad > 10 {
				t.Fatal("too many differences")
			}
		}
	}
}
