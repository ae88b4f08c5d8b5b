package notify

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestReadmeDocumentsMetrics: every metric family of the notifier is in
// the README's metrics reference.
func TestReadmeDocumentsMetrics(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	ch := make(chan *prometheus.Desc, 20)
	(&Notifier{}).Describe(ch)
	close(ch)
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	n := 0
	for d := range ch {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		n++
		if !strings.Contains(readme, "`"+m[1]+"`") {
			t.Errorf("metric %s is not in the README", m[1])
		}
	}
	if n != 7 {
		t.Errorf("%d families, want 7", n)
	}
}
