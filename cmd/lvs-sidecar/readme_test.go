package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// readmeSection returns the README's section under heading (a line such
// as "## Configuration"), up to the next heading of the same level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	text = text[i+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	if j := strings.Index(text, "\n"+level); j >= 0 {
		text = text[:j]
	}
	return text
}

// fence is one fenced code block: its language and text.
type fence struct{ lang, text string }

var fenceRE = regexp.MustCompile("(?ms)^```(\\w*)\n(.*?)^```$")

func fences(section string) []fence {
	var out []fence
	for _, m := range fenceRE.FindAllStringSubmatch(section, -1) {
		out = append(out, fence{m[1], m[2]})
	}
	return out
}

// TestReadmeConfigExample: the README's complete example is a valid file
// and every key it uses is in the reference table, so the manual cannot
// drift from what the program accepts.
func TestReadmeConfigExample(t *testing.T) {
	section := readmeSection(t, "## Configuration")
	var example string
	for _, f := range fences(section) {
		if f.lang == "yaml" {
			example = f.text
			break
		}
	}
	if example == "" {
		t.Fatal("the Configuration section has no yaml block")
	}
	// The example's TLS files are relative to its directory: give it the
	// test CA and client certificate there.
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "tls"), os.DirFS("../../config/testdata/valid/tls")); err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse([]byte(example), filepath.Join(dir, "lvs.yml"))
	if err != nil {
		t.Fatalf("the README's example is rejected:\n%v", err)
	}
	if len(c.Services) == 0 || !c.Discovery.Enabled {
		t.Errorf("the README's example shows no services or no discovery")
	}

	reference := readmeSection(t, "### Reference")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(example), &doc); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				keys[n.Content[i].Value] = true
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	var missing []string
	for k := range keys {
		if !strings.Contains(reference, k+"`") && !strings.Contains(reference, "`"+k) {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("keys of the example missing from the reference table: %v", missing)
	}
}

// TestReadmeRejectedInput: each rejected example of the README gives
// exactly the message printed under it.
func TestReadmeRejectedInput(t *testing.T) {
	fs := fences(readmeSection(t, "### Rejected input"))
	if len(fs) < 6 {
		t.Fatalf("%d code blocks under Rejected input, want at least 3 yaml/text pairs", len(fs))
	}
	for i := 0; i+1 < len(fs); i += 2 {
		in, want := fs[i], fs[i+1]
		if in.lang != "yaml" || want.lang != "text" {
			t.Fatalf("block %d: want a yaml block followed by a text block, got %q and %q", i, in.lang, want.lang)
		}
		_, err := config.Parse([]byte(in.text), "lvs.yml")
		if err == nil {
			t.Errorf("accepted:\n%s", in.text)
			continue
		}
		if got := err.Error() + "\n"; got != want.text {
			t.Errorf("for\n%sthe message is\n%swhile the README says\n%s", in.text, got, want.text)
		}
	}
}

// TestReadmeFlags: every flag of the program is in the README's table.
func TestReadmeFlags(t *testing.T) {
	_, out := runToExit(t, "--help")
	table := readmeSection(t, "### Flags")
	// Boolean flags show as --[no-]name.
	for _, m := range regexp.MustCompile(`--(?:\[no-\])?([a-z][a-z.-]*[a-z])`).FindAllStringSubmatch(out, -1) {
		flag := "--" + m[1]
		if strings.HasPrefix(flag, "--help") {
			continue
		}
		if !strings.Contains(table, "`"+flag+"`") {
			t.Errorf("flag %s is not in the README's flag table", flag)
		}
	}
}

// readmeDocumentsMetrics checks that every family of the health checks and
// the config reload in a scrape is in the README's metrics tables.
func readmeDocumentsMetrics(t *testing.T, scrape string) {
	t.Helper()
	metrics := readmeSection(t, "## Metrics")
	n := 0
	for _, m := range regexp.MustCompile(`(?m)^# HELP (\S+)`).FindAllStringSubmatch(scrape, -1) {
		name := m[1]
		if !strings.HasPrefix(name, "ipvs_real_server_health_") && !strings.HasPrefix(name, "ipvs_health_") &&
			!strings.HasPrefix(name, "lvs_sidecar_config_") {
			continue
		}
		n++
		if !strings.Contains(metrics, "`"+name+"`") {
			t.Errorf("metric %s is not in the README's metrics tables", name)
		}
	}
	if n < 10 {
		t.Errorf("only %d health and reload families in the scrape", n)
	}
}

// TestReadmeLoadExample: the example of the Load weights section is a
// valid file whose blocks inherit as the text says.
func TestReadmeLoadExample(t *testing.T) {
	var example string
	for _, f := range fences(readmeSection(t, "### Load weights")) {
		if f.lang == "yaml" {
			example = f.text
			break
		}
	}
	c, err := config.Parse([]byte(example), "lvs.yml")
	if err != nil {
		t.Fatalf("the Load weights example is rejected:\n%v", err)
	}
	web := c.Services[0].RealServers
	if web[0].Load == nil || web[0].Load.Start != 4 || web[1].Load.Start != 2 || web[1].Load.Floor != 20 ||
		web[2].Load.SNMP.Version != config.SNMPv3 || c.Services[1].Load.Source != config.LoadHRProcessor {
		t.Errorf("the example's blocks do not inherit as the text says: %v / %v / %v", web[0].Load, web[1].Load, web[2].Load)
	}
}
