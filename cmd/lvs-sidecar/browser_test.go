package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// updateScreenshots writes the status page's screenshots to docs/ (make
// screenshots); without it they go to a temporary directory and are only
// checked to be images of the viewport's size.
var updateScreenshots = flag.Bool("update-screenshots", false, "write the status page screenshots under docs/")

// browserFixture is the real binary on a simulated table (--ipvs.simulate)
// whose real servers are loopback listeners of the test, served over
// HTTPS with basic auth: admin may write, viewer may only read.
type browserFixture struct {
	s         *sidecar
	base      string // https://127.0.0.1:port
	client    *http.Client
	listeners map[string]*listener // by "addr:port"
	services  []browserService
}

type browserService struct {
	name, key string
	servers   []string
}

const (
	browserAdminPass  = "admin-secret-1"
	browserViewerPass = "viewer-secret-1"
)

// startBrowserFixture declares services × perService real servers, each
// service on its own VIP with a tcp check every interval, and starts the
// binary on them. slowStart is the services' slow_start.
func startBrowserFixture(t *testing.T, services, perService int, interval, slowStart time.Duration) *browserFixture {
	t.Helper()
	dir := t.TempDir()
	f := &browserFixture{listeners: map[string]*listener{}}
	var cfg strings.Builder
	cfg.WriteString("services:\n")
	for i := range services {
		svc := browserService{name: fmt.Sprintf("web-%02d", i+1), key: fmt.Sprintf("tcp/192.0.2.%d:80", 10+i)}
		fmt.Fprintf(&cfg, "  - name: %s\n    address: 192.0.2.%d:80\n    scheduler: wrr\n    on_failure: drain\n    panic_threshold: 10%%\n    slow_start: %v\n    real_servers:\n",
			svc.name, 10+i, slowStart)
		for j := range perService {
			l := newListener(t, "127.0.0.1:0")
			f.listeners[l.addr] = l
			svc.servers = append(svc.servers, l.addr)
			fmt.Fprintf(&cfg, "      - {address: %s, forward: nat, weight: %d}\n", l.addr, 1+j%3)
		}
		fmt.Fprintf(&cfg, "    checks:\n      - {type: tcp, schedule: \"@every %v\", timeout: 200ms, rise: 1, fall: 1}\n", interval)
		f.services = append(f.services, svc)
	}
	certPEM, keyPEM, pool := selfSigned(t)
	writeFile(t, dir, "cert.pem", string(certPEM))
	writeFile(t, dir, "key.pem", string(keyPEM))
	webCfg := writeFile(t, dir, "web.yml", "tls_server_config:\n  cert_file: "+filepath.Join(dir, "cert.pem")+
		"\n  key_file: "+filepath.Join(dir, "key.pem")+"\n"+basicAuthUsers(t, "admin", browserAdminPass, "viewer", browserViewerPass))
	f.s = start(t, "--config.file="+writeFile(t, dir, "lvs.yml", cfg.String()), "--ipvs.simulate",
		"--web.config.file="+webCfg, "--web.enable-admin-api", "--web.admin-user=admin",
		"--state.file="+filepath.Join(dir, "state.json"))
	f.base = "https://" + f.s.addr
	f.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return f
}

// status returns /api/v1/status as the viewer sees it.
func (f *browserFixture) status(t *testing.T) web.StatusView {
	t.Helper()
	code, body := get(t, f.client, f.base+"/api/v1/status", "viewer", browserViewerPass)
	if code != http.StatusOK {
		t.Fatalf("/api/v1/status: %d %s", code, body)
	}
	var v web.StatusView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/api/v1/status: %v", err)
	}
	return v
}

// awaitStates polls /api/v1/status until every real server of the
// fixture has the state want gives it (want(server)).
func (f *browserFixture) awaitStates(t *testing.T, timeout time.Duration, want func(server string) web.ServerState) web.StatusView {
	t.Helper()
	var v web.StatusView
	testutil.Poll(t, timeout, 100*time.Millisecond, func() error {
		v = f.status(t)
		n := 0
		for _, svc := range v.Services {
			for _, rs := range svc.RealServers {
				if _, ours := f.listeners[rs.Server]; !ours {
					continue
				}
				n++
				if w := want(rs.Server); rs.State != w {
					return fmt.Errorf("%s %s is %s, want %s", svc.Key, rs.Server, rs.State, w)
				}
			}
		}
		if n != len(f.listeners) {
			return fmt.Errorf("/api/v1/status has %d of the %d real servers", n, len(f.listeners))
		}
		return nil
	})
	return v
}

// browser starts headless Chromium (Debian's chromium) that accepts the
// fixture's self-signed certificate and sends user's basic auth on every
// request, with a viewport of w×h CSS pixels (mobile: a phone's).
func browser(t *testing.T, user, pass string, w, h int64, mobile bool) context.Context {
	t.Helper()
	exe := testutil.LookTool(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // root in CI
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	// The confirmation the page asks before a maintenance is accepted,
	// as the operator would.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				t.Logf("accept the confirmation: %v", err)
			}
		}
	}()
	var viewport []chromedp.EmulateViewportOption
	if mobile {
		viewport = append(viewport, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatalf("chromium: basic auth header: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h, viewport...)); err != nil {
		t.Fatalf("chromium: viewport: %v", err)
	}
	return ctx
}

// pageRow is a real server's row as the browser's DOM has it.
type pageRow struct {
	Service string `json:"service"` // the section's heading
	Server  string `json:"server"`
	State   string `json:"state"`
	Weight  string `json:"weight"`
}

// rowsJS reads every real server row of the page's services.
const rowsJS = `Array.from(document.querySelectorAll('#services details')).flatMap(d =>
  Array.from(d.querySelectorAll('tbody tr')).map(tr => ({
    service: d.querySelector('summary h2').textContent,
    server: tr.querySelector('th').textContent.trim(),
    state: tr.querySelector('.st').textContent.trim(),
    weight: tr.querySelectorAll('td')[3].textContent.trim(),
  })))`

func pageRows(t *testing.T, ctx context.Context) map[string]pageRow {
	t.Helper()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]pageRow](rowsJS))
	if err != nil {
		t.Fatalf("read the rows: %v", err)
	}
	m := map[string]pageRow{}
	for _, r := range rows {
		m[r.Server] = r
	}
	return m
}

// TestStatusPageInChromium: headless Chromium against the real binary
// serving a simulated table over HTTPS with basic auth. The DOM holds
// every service and real server with the state the API gives it, as
// text; the viewer has no buttons; the administrator's click on
// Maintenance (confirmed, with a reason) drains the server in the table
// and the page it lands on shows it in maintenance with kernel weight 0,
// and End maintenance brings it back.
func TestStatusPageInChromium(t *testing.T) {
	f := startBrowserFixture(t, 3, 4, 300*time.Millisecond, 0)
	down := map[string]bool{f.services[0].servers[1]: true, f.services[2].servers[3]: true}
	for s := range down {
		f.listeners[s].close()
	}
	f.awaitStates(t, 15*time.Second, func(s string) web.ServerState {
		if down[s] {
			return web.ServerDrained
		}
		return web.ServerUp
	})

	viewer := browser(t, "viewer", browserViewerPass, 1280, 900, false)
	if err := chromedp.Do(viewer, chromedp.Navigate(f.base+"/status"), chromedp.WaitVisible(chromedp.ID("services"))); err != nil {
		t.Fatalf("viewer: /status: %v", err)
	}
	forms, err := chromedp.Run(viewer, chromedp.Evaluate[int](`document.querySelectorAll('form[method=post]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if forms != 0 {
		t.Errorf("the viewer's page has %d maintenance forms, want none", forms)
	}
	rows := pageRows(t, viewer)
	for _, svc := range f.services {
		for _, s := range svc.servers {
			r, ok := rows[s]
			want := "up"
			if down[s] {
				want = "drained"
			}
			switch {
			case !ok:
				t.Errorf("the page has no row for %s of %s", s, svc.name)
			case !strings.Contains(r.Service, svc.name) || !strings.Contains(r.Service, svc.key):
				t.Errorf("%s is under %q, want %s %s", s, r.Service, svc.name, svc.key)
			case r.State != want:
				t.Errorf("%s shows %q, want %q", s, r.State, want)
			}
		}
	}

	// The administrator puts a server into maintenance from the page.
	admin := browser(t, "admin", browserAdminPass, 1280, 900, false)
	victim := f.services[1].servers[2]
	rowSel := `//tr[th[normalize-space(text())="` + victim + `"]]`
	// web-02 is healthy, so its section is collapsed: the operator opens
	// it first.
	if err := chromedp.Do(admin, chromedp.Navigate(f.base+"/status"), chromedp.WaitVisible(chromedp.ID("services")),
		chromedp.Click(chromedp.Search(`//details[.`+rowSel+`]/summary`)),
		chromedp.SendKeys(chromedp.Search(rowSel+`//input[@name="reason"]`), "disk swap <b>now</b>"),
		chromedp.Click(chromedp.Search(rowSel+`//button[@value="true"]`)),
		chromedp.WaitVisible(chromedp.Search(rowSel+`//button[@value="false"]`)),
	); err != nil {
		t.Fatalf("admin: click Maintenance of %s: %v", victim, err)
	}
	testutil.Poll(t, 10*time.Second, 100*time.Millisecond, func() error {
		if w := f.weightInTable(t, victim); w != 0 {
			return fmt.Errorf("%s has weight %d in the table, want 0 (drained for maintenance)", victim, w)
		}
		return nil
	})
	if err := chromedp.Do(admin, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("services"))); err != nil {
		t.Fatal(err)
	}
	r := pageRows(t, admin)[victim]
	if r.State != "maintenance" || !strings.HasSuffix(r.Weight, "/ 0") {
		t.Errorf("after the click %s shows state %q weight %q, want maintenance with kernel weight 0", victim, r.State, r.Weight)
	}
	html, err := chromedp.Run(admin, chromedp.OuterHTML(chromedp.Search(rowSel)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "disk swap &lt;b&gt;now&lt;/b&gt;") || !strings.Contains(html, "by admin") {
		t.Errorf("the row does not show the reason as text and who set it:\n%s", html)
	}
	if !strings.Contains(f.s.logs(), "by=admin") {
		t.Errorf("no log line of admin's maintenance:\n%s", f.s.logs())
	}

	if err := chromedp.Do(admin, chromedp.Click(chromedp.Search(rowSel+`//button[@value="false"]`)),
		chromedp.WaitVisible(chromedp.Search(rowSel+`//button[@value="true"]`))); err != nil {
		t.Fatalf("admin: click End maintenance of %s: %v", victim, err)
	}
	testutil.Poll(t, 10*time.Second, 100*time.Millisecond, func() error {
		if w := f.weightInTable(t, victim); w <= 0 {
			return fmt.Errorf("%s has weight %d in the table after the maintenance ended", victim, w)
		}
		return nil
	})
}

// weightInTable is server's weight in the simulated kernel table
// (/api/v1/services), -1 when it is not there.
func (f *browserFixture) weightInTable(t *testing.T, server string) int {
	t.Helper()
	for _, svc := range f.status(t).Services {
		for _, rs := range svc.RealServers {
			if rs.Server == server && rs.InTable {
				return rs.WeightKernel
			}
		}
	}
	return -1
}

// TestStatusPageScreenshots takes the screenshots the README shows: 1,000
// real servers in 10 services (a few down and drained, one in
// maintenance, some ramping after they came back), on a desktop and on a
// phone. With -update-screenshots they are written under docs/.
func TestStatusPageScreenshots(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 listeners and checks: not with -short")
	}
	// slow_start ramps the servers added at start too: wait for those
	// ramps to end before the trouble starts, so that the ramps below are
	// the only ones, and take the pictures before theirs end.
	const slowStart = 30 * time.Second
	f := startBrowserFixture(t, 10, 100, time.Second, slowStart)
	f.awaitStates(t, slowStart+60*time.Second, func(string) web.ServerState { return web.ServerUp })
	down := map[string]bool{}
	for _, i := range []int{3, 7} {
		for _, j := range []int{5, 42, 77} {
			down[f.services[i].servers[j]] = true
		}
	}
	for s := range down {
		f.listeners[s].close()
	}
	f.awaitStates(t, 30*time.Second, func(s string) web.ServerState {
		if down[s] {
			return web.ServerDrained
		}
		return web.ServerUp
	})
	// Two come back and ramp (weight 3: a weight of 1 has no ramp), the
	// others stay down.
	back := []string{f.services[3].servers[5], f.services[7].servers[77]}
	for _, s := range back {
		f.listeners[s].open(t)
		delete(down, s)
	}
	f.awaitStates(t, 30*time.Second, func(s string) web.ServerState {
		switch {
		case down[s]:
			return web.ServerDrained
		case s == back[0] || s == back[1]:
			return web.ServerRamping
		}
		return web.ServerUp
	})

	dir := t.TempDir()
	if *updateScreenshots {
		dir = filepath.Join("..", "..", "docs")
	}
	for _, shot := range []struct {
		file   string
		w, h   int64
		mobile bool
	}{
		{"status-1000.png", 1280, 1400, false},
		{"status-phone.png", 390, 844, true},
	} {
		ctx := browser(t, "viewer", browserViewerPass, shot.w, shot.h, shot.mobile)
		if err := chromedp.Do(ctx, chromedp.Navigate(f.base+"/status?refresh=0"), chromedp.WaitVisible(chromedp.ID("services"))); err != nil {
			t.Fatalf("%s: %v", shot.file, err)
		}
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#services tbody tr').length`))
		if err != nil {
			t.Fatal(err)
		}
		buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("%s: %v", shot.file, err)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", shot.file, err)
		}
		// The device pixel ratio is 1: the image is the viewport.
		if b := img.Bounds(); int64(b.Dx()) != shot.w || int64(b.Dy()) != shot.h {
			t.Errorf("%s is %dx%d, want the %dx%d viewport", shot.file, b.Dx(), b.Dy(), shot.w, shot.h)
		}
		if err := os.WriteFile(filepath.Join(dir, shot.file), buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes, %d rows in the DOM (healthy services collapsed)", shot.file, len(buf), rows)
	}
	ctx := browser(t, "viewer", browserViewerPass, 1280, 900, false)
	if err := chromedp.Do(ctx, chromedp.Navigate(f.base+"/status?refresh=0"), chromedp.WaitVisible(chromedp.ID("services"))); err != nil {
		t.Fatal(err)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("/status at 1,000 real servers: %d bytes of DOM", len(html))
}
