package notify

import (
	"github.com/lvs-sidecar/lvs-sidecar/config"
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

// TestReadmeExample: the README's notifications example is a valid
// configuration with the three targets it describes, and every key it
// uses is in the section's reference table.
func TestReadmeExample(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\n## SNMP notifications\n")
	if i < 0 {
		t.Fatal("README.md has no SNMP notifications section")
	}
	section := text[i+1:]
	if j := strings.Index(section[1:], "\n## "); j >= 0 {
		section = section[:j+1]
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("no yaml example in the SNMP notifications section")
	}
	yml := "services:\n  - {name: web, address: 192.0.2.1:80, real_servers: [{address: 192.0.2.11:80}]}\n" + m[1]
	c, err := config.Parse([]byte(yml), "README.md")
	if err != nil {
		t.Fatalf("the README's example is rejected: %v", err)
	}
	if len(c.Notifications.Targets) != 3 || c.Notifications.Targets[2].Mode != config.ModeKeepalived || !c.Notifications.Targets[1].Inform {
		t.Errorf("the example's targets: %+v", c.Notifications.Targets)
	}
	for _, k := range regexp.MustCompile(`(?m)^\s*(?:- )?([a-z_]+):`).FindAllStringSubmatch(m[1], -1) {
		if !strings.Contains(section, "."+k[1]+"`") && !strings.Contains(section, "`"+k[1]+".") {
			t.Errorf("key %s of the example is not in the reference table", k[1])
		}
	}
}
