package actuator

import (
	"slices"
	"testing"
)

// TestMergeApplied: the records of targeted writes replace those of the
// same real servers and add the others, sorted, in a new list: the base
// the store holds is left as it was.
func TestMergeApplied(t *testing.T) {
	base := []AppliedDest{
		{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", Present: true, Weight: 10},
		{Service: "tcp/192.0.2.1:80", Server: "10.0.0.3:80", Present: true, Weight: 10},
	}
	kept := slices.Clone(base)
	tests := []struct {
		name  string
		delta map[[2]string]appliedRecord
		want  []AppliedDest
	}{
		{"none", nil, base},
		{"replace", map[[2]string]appliedRecord{{"tcp/192.0.2.1:80", "10.0.0.3:80"}: {present: true, weight: 0}},
			[]AppliedDest{base[0], {Service: "tcp/192.0.2.1:80", Server: "10.0.0.3:80", Present: true, Weight: 0}}},
		{"add", map[[2]string]appliedRecord{
			{"tcp/192.0.2.1:80", "10.0.0.2:80"}: {present: false},
			{"tcp/192.0.2.0:80", "10.0.0.9:80"}: {present: true, weight: 5},
		}, []AppliedDest{
			{Service: "tcp/192.0.2.0:80", Server: "10.0.0.9:80", Present: true, Weight: 5},
			base[0],
			{Service: "tcp/192.0.2.1:80", Server: "10.0.0.2:80"},
			base[1],
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeApplied(base, tt.delta); !slices.Equal(got, tt.want) {
				t.Errorf("mergeApplied = %v, want %v", got, tt.want)
			}
			if !slices.Equal(base, kept) {
				t.Errorf("the base changed: %v, was %v", base, kept)
			}
		})
	}
}
