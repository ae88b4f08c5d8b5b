//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/alerts"
	"github.com/lvs-sidecar/lvs-sidecar/dashboards"
)

// The monitoring network of TestPairInPrometheus: Prometheus runs in the
// VM's root namespace and reaches each director's sidecar over a link of
// its own (benchmarking range, nothing leaves the VM).
const (
	pairAddrA     = "198.18.1.2"
	pairAddrB     = "198.18.2.2"
	pairPort      = "9960"
	pairBackupNS  = "director-b"
	pairBackupSrc = "203.0.113.2" // director-b's address towards the real servers
	pairScrape    = 2 * time.Second
	pairFor       = "10s" // every alert's for: in this test
	pairSite      = "lab"
	// pairCheckTimeout is longer than the controller tests' ctlTimeout:
	// with two directors and Prometheus in one single-vCPU guest, a slow
	// CI host made 300 ms connects time out and judged healthy servers
	// down. rs3's fault is a drop, so this only delays its verdict.
	pairCheckTimeout = 900 * time.Millisecond
	// pairCheckInterval leaves more than a second between a timed-out
	// check of rs3 and the next run: with 1 s the filtered checks left
	// 100 ms, and a loaded host's stall of the guest made the scheduler
	// skip runs, so LVSHealthChecksSkipped rightly fired.
	pairCheckInterval = 2 * time.Second
)

// TestPairInPrometheus proves the dashboards and alert rules on a real
// active/backup pair: two director namespaces with their own IPVS tables
// (IPVS tables are per namespace) and the same declared services on the
// same three real servers, each with its own lvs-sidecar, scraped by a
// real Prometheus (Debian's package) that loads alerts/lvs-sidecar.rules.yml
// with every for: shortened to 10s (expressions unchanged). The director
// holds the VIPs and carries the client traffic; director-b is the backup.
// Then rs3's port 80 drops the director's checks only (a broken path
// between one director and one real server): the director drains rs3 from
// the drain service and removes it from the remove service, director-b
// keeps it. The two disagreement alerts and the down real server's alerts
// must fire with their labels, no other alert may fire at any time, and
// every panel and variable query of the committed dashboards must run
// without error and return data, with variables substituted as Grafana
// would ($__rate_interval = 4 × scrape interval, All = .*, the service
// variable set to each service in turn).
func TestPairInPrometheus(t *testing.T) {
	requireLab(t)
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Fatal("prometheus is not in the VM: lab/setup ships Debian's package")
	}
	inNS(t, "root", "modprobe", "ip_vs")
	backupDirector(t)

	drain := ctlService{name: "web", port: 80, onFailure: "drain",
		servers: []ctlServer{{n: 1, weight: 10}, {n: 2, weight: 10}, {n: 3, weight: 10}}}
	vip2 := labEnv(t, "LAB_VIP2") + ":80"
	for _, ns := range []string{"director", pairBackupNS} {
		deleteServiceIn(t, ns, drain.vip(t))
		deleteServiceIn(t, ns, vip2)
		t.Cleanup(func() { deleteServiceIn(t, ns, drain.vip(t)); deleteServiceIn(t, ns, vip2) })
	}
	conf := pairConfig(t, drain.vip(t), vip2)
	drainKey, removeKey := "tcp/"+drain.vip(t), "tcp/"+vip2
	rs3 := drain.server(3)

	a := startDaemon(t, "director", "/metrics", "lvs-sidecar", "--config.file="+conf,
		"--web.listen-address="+pairAddrA+":"+pairPort)
	b := startDaemon(t, pairBackupNS, "/metrics", "lvs-sidecar", "--config.file="+conf,
		"--web.listen-address="+pairAddrB+":"+pairPort)
	for _, d := range []*daemon{a, b} {
		for _, key := range []string{drainKey, removeKey} {
			for n := 1; n <= 3; n++ {
				awaitMetric(t, d, 60*time.Second, 10, "ipvs_real_server_weight", "service", key, "server", drain.server(n))
			}
		}
	}
	startTraffic(t, "http://"+drain.vip(t)+"/", 250*time.Millisecond)
	startTraffic(t, "http://"+vip2+"/", 250*time.Millisecond)

	p := startPrometheus(t, pairAddrA+":"+pairPort, pairAddrB+":"+pairPort)
	begin := time.Now()
	// A few scrapes of the healthy pair first, so rates have a baseline.
	p.await(t, 60*time.Second, `count(sum_over_time(up{job="lvs-sidecar"}[20s]) >= 4) == 2`)

	// The director's checks of rs3 time out; director-b's still pass.
	rejectChecks(t, "rs3", "203.0.113.1", 80)
	awaitMetric(t, a, 30*time.Second, 0, "ipvs_real_server_weight", "service", drainKey, "server", rs3)
	poll(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := a.tryScrape(ctx)
		if err != nil {
			return err
		}
		if _, ok := metric(s, "ipvs_real_server_weight", "service", removeKey, "server", rs3); ok {
			return fmt.Errorf("%s still in %s on the director", rs3, removeKey)
		}
		return nil
	})
	for _, key := range []string{drainKey, removeKey} {
		awaitMetric(t, b, time.Second, 10, "ipvs_real_server_weight", "service", key, "server", rs3)
	}

	instA := pairAddrA + ":" + pairPort
	want := []firing{
		{"LVSDirectorsDisagreeWeights", map[string]string{"job": "lvs-sidecar", "service": drainKey, "server": rs3, "severity": "warning"}},
		{"LVSDirectorsDisagreeRealServers", map[string]string{"job": "lvs-sidecar", "service": removeKey, "server": rs3, "severity": "warning"}},
		{"LVSRealServerDown", map[string]string{"instance": instA, "service": drainKey, "server": rs3, "severity": "warning"}},
		{"LVSRealServerDown", map[string]string{"instance": instA, "service": removeKey, "server": rs3, "severity": "warning"}},
	}
	poll(t, 90*time.Second, func() error {
		got := p.firingNow(t)
		for _, w := range want {
			if !slices.ContainsFunc(got, w.matches) {
				return fmt.Errorf("%s %v is not firing; firing: %v", w.name, w.labels, got)
			}
		}
		return nil
	})
	// Every alert that fired at any time since Prometheus started must be
	// one of those: none fired before the fault, none for the backup.
	ever := p.firedSince(t, begin)
	for _, f := range ever {
		if !slices.ContainsFunc(want, func(w firing) bool { return w.matches(f) }) {
			t.Errorf("alert fired that should have stayed silent: %s %v", f.name, f.labels)
		}
	}
	// The annotations are templated from the labels.
	for _, al := range p.alerts(t) {
		if al.Labels["alertname"] == "LVSDirectorsDisagreeWeights" && !strings.Contains(al.Annotations["description"], rs3) {
			t.Errorf("LVSDirectorsDisagreeWeights description %q does not name %s", al.Annotations["description"], rs3)
		}
		if al.Annotations["summary"] == "" || !strings.HasPrefix(al.Annotations["runbook_url"], "https://") {
			t.Errorf("%s: summary %q runbook_url %q", al.Labels["alertname"], al.Annotations["summary"], al.Annotations["runbook_url"])
		}
	}
	t.Logf("%d alerts fired, all expected; %d rules loaded", len(ever), p.ruleCount(t))

	dashboardQueries(t, p, begin)
}

// firing is an alert by name and the labels it must have (a subset).
type firing struct {
	name   string
	labels map[string]string
}

func (w firing) matches(f firing) bool {
	if w.name != f.name {
		return false
	}
	for k, v := range w.labels {
		if f.labels[k] != v {
			return false
		}
	}
	return true
}

func (w firing) String() string { return w.name + fmt.Sprint(w.labels) }

// dashboardQueries runs every variable and panel query of the committed
// dashboards over the time since begin, as Grafana would: variables in
// their order, each multi-valued one All (its allValue), a single-valued
// one (the service) set to each of its values in turn. Each query must
// run without error and return at least one sample.
func dashboardQueries(t *testing.T, p *promProc, begin time.Time) {
	t.Helper()
	dashes, err := dashboards.Committed()
	if err != nil {
		t.Fatal(err)
	}
	rate := dashboards.RateInterval(pairScrape)
	ran, empty := 0, 0
	for _, d := range dashes {
		// Each combination of single-valued variables is a view.
		views := []map[string]string{{}}
		for _, v := range d.Variables {
			var next []map[string]string
			for _, vars := range views {
				sel, err := dashboards.Substitute(v.Selector, rate, vars)
				if err != nil {
					t.Fatalf("%s: variable %s: %v", d.File, v.Name, err)
				}
				values := p.labelValues(t, sel, v.Label, begin)
				ran++
				if len(values) == 0 {
					empty++
					t.Errorf("%s: variable %s: label_values(%s, %s) is empty", d.File, v.Name, sel, v.Label)
					continue
				}
				if v.IncludeAll {
					next = append(next, withVar(vars, v.Name, v.AllValue))
					continue
				}
				for _, val := range values {
					next = append(next, withVar(vars, v.Name, val))
				}
			}
			views = next
		}
		for _, vars := range views {
			for _, q := range d.Targets {
				expr, err := dashboards.Substitute(q.Expr, rate, vars)
				if err != nil {
					t.Fatalf("%s: %s: %v", d.File, q.Panel, err)
				}
				n, err := p.rangeSamples(expr, begin, time.Now(), pairScrape)
				ran++
				switch {
				case err != nil:
					t.Errorf("%s: panel %q %s: %s: %v", d.File, q.Panel, q.RefID, expr, err)
				case n == 0:
					empty++
					t.Errorf("%s: panel %q %s returned no data: %s", d.File, q.Panel, q.RefID, expr)
				}
			}
		}
	}
	t.Logf("%d dashboard queries ran against the pair, %d without data", ran, empty)
}

func withVar(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		if a != k {
			out[a] = b
		}
	}
	return out
}

// pairConfig declares, for both directors, a drain service on vip and a
// remove service on vip2, each with rs1..rs3 at weight 10 and TCP checks.
func pairConfig(t *testing.T, vip, vip2 string) string {
	t.Helper()
	var b strings.Builder
	for _, s := range []struct{ name, vip, onFailure string }{{"web", vip, "drain"}, {"api", vip2, "remove"}} {
		fmt.Fprintf(&b, `  - name: %s
    address: %s
    protocol: tcp
    scheduler: wrr
    on_failure: %s
    checks:
      - {type: tcp, schedule: "@every %v", timeout: %v, rise: %d, fall: %d}
    real_servers:
`, s.name, s.vip, s.onFailure, pairCheckInterval, pairCheckTimeout, ctlRise, ctlFall)
		for n := 1; n <= 3; n++ {
			fmt.Fprintf(&b, "      - {address: %s:80, weight: 10, forward: nat}\n", labRS(n))
		}
	}
	file := filepath.Join(t.TempDir(), "pair.yml")
	conf := "services:\n" + b.String() + fmt.Sprintf("controller:\n  mode: managed\n  period: %v\n", ctlPeriod)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// deleteServiceIn deletes TCP service vip from namespace ns's table, if it
// is there.
func deleteServiceIn(t *testing.T, ns, vip string) {
	t.Helper()
	if !strings.Contains(inNS(t, ns, "ipvsadm", "-Ln"), vip) {
		return
	}
	if _, err := tryInNS(t, ns, "ipvsadm", "-D", "-t", vip); err != nil {
		t.Errorf("delete service %s in %s: %v", vip, ns, err)
	}
}

// backupDirector builds director-b, the backup of the pair, until the test
// ends: its own namespace (its own IPVS table), a link to each real server
// (rsN's eth1, where rsN also holds its address, as arp_ignore=1 needs),
// no VIP, and a monitoring link from the root namespace to each director.
func backupDirector(t *testing.T) {
	t.Helper()
	script := `set -e
. "$LAB_LIB/topology.sh"
lab_ns ` + pairBackupNS + `
lab_link root mgmt-a director mgmt0
lab_link root mgmt-b ` + pairBackupNS + ` mgmt0
ip addr add 198.18.1.1/30 dev mgmt-a
lab_in director ip addr add ` + pairAddrA + `/30 dev mgmt0
ip addr add 198.18.2.1/30 dev mgmt-b
lab_in ` + pairBackupNS + ` ip addr add ` + pairAddrB + `/30 dev mgmt0
i=1
while [ $i -le 3 ]; do
	lab_link ` + pairBackupNS + ` rs$i rs$i eth1
	lab_in ` + pairBackupNS + ` ip addr add ` + pairBackupSrc + `/32 dev rs$i
	lab_in ` + pairBackupNS + ` ip route add $(lab_rs $i)/32 dev rs$i src ` + pairBackupSrc + `
	lab_in rs$i ip addr add $(lab_rs $i)/32 dev eth1
	lab_in rs$i ip route add ` + pairBackupSrc + `/32 dev eth1
	i=$((i + 1))
done
`
	t.Cleanup(func() {
		// Deleting one end of a veth pair deletes the other, with the
		// addresses and routes on it.
		cleanup := `. "$LAB_LIB/topology.sh"
ip link delete mgmt-a
ip link delete mgmt-b
for i in 1 2 3; do lab_in rs$i ip link delete eth1; done
kill "$(cat /run/netns/` + pairBackupNS + `.pid)"
umount /run/netns/` + pairBackupNS + `
rm -f /run/netns/` + pairBackupNS + ` /run/netns/` + pairBackupNS + `.pid
`
		if _, err := tryInNS(t, "root", "sh", "-c", cleanup); err != nil {
			t.Errorf("remove the backup director: %v", err)
		}
	})
	// The namespace's anchor process (lab_ns) outlives the script: it must
	// not hold the pipe that carries the script's output.
	logFile := filepath.Join(t.TempDir(), "backup-director.log")
	if _, err := tryInNS(t, "root", "sh", "-c", "exec >"+logFile+" 2>&1\n"+script); err != nil {
		out, _ := os.ReadFile(logFile)
		t.Fatalf("build the backup director: %v\n%s", err, out)
	}
}

// rejectChecks makes namespace ns drop TCP packets from src to port until
// the test ends: to src's checks the port is filtered, to everyone else
// (the clients the director forwards) it is open.
func rejectChecks(t *testing.T, ns, src string, port int) {
	t.Helper()
	table := "lvs_test_reject_" + strconv.Itoa(int(nextPort.Add(1)))
	rules := fmt.Sprintf(`table inet %s {
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr %s tcp dport %d drop
	}
}
`, table, src, port)
	file := filepath.Join(t.TempDir(), table+".nft")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	inNS(t, ns, "nft", "-f", file)
	t.Cleanup(func() {
		if _, err := tryInNS(t, ns, "nft", "delete", "table", "inet", table); err != nil {
			t.Errorf("remove the reject rule: %v", err)
		}
	})
}

// promProc is Debian's Prometheus running in the VM's root namespace.
type promProc struct {
	base string
}

var forLine = regexp.MustCompile(`(?m)^(\s+for: )[0-9]+[smhd]`)

// startPrometheus starts Prometheus on 127.0.0.1 of the root namespace,
// scraping targets (job lvs-sidecar, label site=lab) every pairScrape and
// evaluating the committed rules with every for: set to pairFor.
func startPrometheus(t *testing.T, targets ...string) *promProc {
	t.Helper()
	dir := t.TempDir()
	rules := forLine.ReplaceAll(alerts.Rules, []byte("${1}"+pairFor))
	if n := len(forLine.FindAll(alerts.Rules, -1)); n < 10 {
		t.Fatalf("only %d for: lines in the rules: the pattern no longer matches them", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global: {scrape_interval: %v, scrape_timeout: %v, evaluation_interval: %v}
rule_files: [rules.yml]
scrape_configs:
  - job_name: lvs-sidecar
    static_configs:
      - targets: [%s]
        labels: {site: %s}
`, pairScrape, pairScrape/2, pairScrape, strings.Join(quoted, ", "), pairSite)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Prometheus takes 5-10 s to start in the emulated VM, more while the
	// sidecars and the traffic run.
	d := startDaemonWithin(t, 90*time.Second, nil, "root", "/-/ready", "prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--log.level=warn")
	return &promProc{base: d.base}
}

// api GETs path with params from Prometheus's HTTP API and decodes its
// data into out; a status other than success is an error.
func (p *promProc) api(path string, params url.Values, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s", path, r.Error)
	}
	return json.Unmarshal(r.Data, out)
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

// await polls until the instant query expr returns a sample.
func (p *promProc) await(t *testing.T, timeout time.Duration, expr string) {
	t.Helper()
	poll(t, timeout, func() error {
		var r struct {
			Result []promSeries `json:"result"`
		}
		if err := p.api("/api/v1/query", url.Values{"query": {expr}}, &r); err != nil {
			return err
		}
		if len(r.Result) == 0 {
			return fmt.Errorf("%s: no result yet", expr)
		}
		return nil
	})
}

// rangeSamples runs expr as a range query, as a Grafana panel does, and
// returns how many samples came back.
func (p *promProc) rangeSamples(expr string, start, end time.Time, step time.Duration) (int, error) {
	var r struct {
		Result []promSeries `json:"result"`
	}
	err := p.api("/api/v1/query_range", url.Values{"query": {expr},
		"start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix()+1, 10)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}, &r)
	n := 0
	for _, s := range r.Result {
		n += len(s.Values)
	}
	return n, err
}

// labelValues does what Grafana's label_values(selector, label) does: the
// label's values over the series that match selector in the time range.
func (p *promProc) labelValues(t *testing.T, selector, label string, since time.Time) []string {
	t.Helper()
	var series []map[string]string
	if err := p.api("/api/v1/series", url.Values{"match[]": {selector},
		"start": {strconv.FormatInt(since.Unix(), 10)}, "end": {strconv.FormatInt(time.Now().Unix()+1, 10)}}, &series); err != nil {
		t.Fatalf("label_values(%s, %s): %v", selector, label, err)
	}
	seen := map[string]bool{}
	for _, s := range series {
		if v := s[label]; v != "" {
			seen[v] = true
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// alerts returns the alerts Prometheus holds now (pending and firing).
func (p *promProc) alerts(t *testing.T) []promAlert {
	t.Helper()
	var r struct {
		Alerts []promAlert `json:"alerts"`
	}
	if err := p.api("/api/v1/alerts", nil, &r); err != nil {
		t.Fatal(err)
	}
	return r.Alerts
}

// firingNow returns the alerts firing now.
func (p *promProc) firingNow(t *testing.T) []firing {
	t.Helper()
	var out []firing
	for _, a := range p.alerts(t) {
		if a.State == "firing" {
			out = append(out, firing{a.Labels["alertname"], a.Labels})
		}
	}
	return out
}

// firedSince returns every alert that was firing at some evaluation since
// start, from Prometheus's own ALERTS series.
func (p *promProc) firedSince(t *testing.T, start time.Time) []firing {
	t.Helper()
	var r struct {
		Result []promSeries `json:"result"`
	}
	if err := p.api("/api/v1/query_range", url.Values{"query": {`ALERTS{alertstate="firing"}`},
		"start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(time.Now().Unix()+1, 10)},
		"step": {"1"}}, &r); err != nil {
		t.Fatal(err)
	}
	var out []firing
	for _, s := range r.Result {
		out = append(out, firing{s.Metric["alertname"], s.Metric})
	}
	return out
}

// ruleCount returns how many rules Prometheus loaded.
func (p *promProc) ruleCount(t *testing.T) int {
	t.Helper()
	var r struct {
		Groups []struct {
			Rules []json.RawMessage `json:"rules"`
		} `json:"groups"`
	}
	if err := p.api("/api/v1/rules", nil, &r); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range r.Groups {
		n += len(g.Rules)
	}
	return n
}
