package promtext

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestWriter: a family's HELP and TYPE lines go out with its first
// sample (none for a family without samples), label pieces are joined
// (a real server's pair from its two strings too),
// help is escaped, and a line longer than the whole buffer is written
// whole.
func TestWriter(t *testing.T) {
	for _, size := range []int{16, 4096} {
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, size)
		w := NewWriter(bw)
		empty := NewFamily("a_empty", "Never sampled.", Gauge)
		g := NewFamily("b_gauge", "A \\ help\nof two lines.", Gauge)
		c := NewFamily("c_total", "A counter.", Counter)
		long := strings.Repeat("x", 100)
		w.Begin(empty)
		w.Begin(g)
		w.Sample(1.5)
		w.Sample(-2, "{", Label("k", `v"`+"\n"), ",", Label("l", long), "}")
		w.Begin(c)
		w.Sample(1e6, `{k="1"}`)
		w.ServerSample(3, `{check="c",`, "10.0.0.1:80", "tcp/192.0.2.1:80", `,state="up"}`)
		if err := w.Err(); err != nil {
			t.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		want := "# HELP b_gauge A \\\\ help\\nof two lines.\n# TYPE b_gauge gauge\nb_gauge 1.5\n" +
			"b_gauge{k=\"v\\\"\\n\",l=\"" + long + "\"} -2\n" +
			"# HELP c_total A counter.\n# TYPE c_total counter\nc_total{k=\"1\"} 1e+06\n" +
			"c_total{check=\"c\",server=\"10.0.0.1:80\",service=\"tcp/192.0.2.1:80\",state=\"up\"} 3\n"
		if out.String() != want {
			t.Errorf("buffer of %d bytes: wrote\n%s\nwant\n%s", size, out.String(), want)
		}
	}
}

type failingWriter struct{ n int }

var errWrite = errors.New("the scraper hung up")

func (f *failingWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errWrite
}

// TestWriterKeepsFirstError: once a write fails, the writer writes
// nothing more and Err returns the failure.
func TestWriterKeepsFirstError(t *testing.T) {
	fw := &failingWriter{}
	w := NewWriter(bufio.NewWriterSize(fw, 16))
	w.Begin(NewFamily("a", "A.", Gauge))
	for range 100 {
		w.Sample(1, `{k="some value"}`)
	}
	if !errors.Is(w.Err(), errWrite) {
		t.Errorf("Err() = %v, want %v", w.Err(), errWrite)
	}
	if fw.n != 1 {
		t.Errorf("%d writes reached the failing writer, want 1", fw.n)
	}
}
