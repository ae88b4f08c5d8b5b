package ipvs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTotals(t *testing.T) {
	tests := []struct {
		file    string
		want    Stats
		wantErr string
	}{
		{file: "idle.txt", want: Stats{}},
		{file: "small.txt", want: Stats{Connections: 1000, PacketsIn: 0xbeef, PacketsOut: 0xcafe, BytesIn: 0x1234ab, BytesOut: 0xabcdef}},
		{file: "above-2-32.txt", want: Stats{
			Connections: 1<<40 + 7,
			PacketsIn:   1<<64 - 1,
			PacketsOut:  1 << 32,
			BytesIn:     1<<64 - 2,
			BytesOut:    1<<63 + 5,
		}},
		{file: "truncated.txt", wantErr: "line 3 has 0 fields"},
		{file: "four-fields.txt", wantErr: "line 3 has 4 fields"},
		{file: "not-hex.txt", wantErr: "field 5"},
		{file: "overflow.txt", wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "ip_vs_stats", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseTotals(b)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseTotals: err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTotals: %v", err)
			}
			if *got != tt.want {
				t.Errorf("parseTotals = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParseTotalsEmpty(t *testing.T) {
	if _, err := parseTotals(nil); err == nil {
		t.Fatal("parseTotals(nil) succeeded")
	}
}
