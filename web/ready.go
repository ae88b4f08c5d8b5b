package web

import (
	"fmt"
	"net/http"
)

// Paths of the health and readiness probes.
const (
	HealthyPath = "/-/healthy"
	ReadyPath   = "/-/ready"
)

// Readiness is what /-/ready reports on. The zero value is a sidecar
// without --config.file: ready for scraping, and nothing acts.
type Readiness struct {
	// LocalErrors counts the real servers whose checks cannot run on this
	// director (local_error); nil without --config.file.
	LocalErrors func() int
	// Controller says whether the controller may be trusted to act, and
	// why not (actuator.Status.ReadyForActing); nil without a controller.
	Controller func() (ok bool, why string)
}

// healthyHandler serves /-/healthy: 200 while the process serves.
func healthyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Healthy")
	})
}

// readyHandler serves /-/ready. Ready as soon as we serve: an unreadable
// IPVS table is reported by ipvs_up, not by taking the exporter out of
// rotation. Checks that cannot run on this director (local_error) make
// it unready for acting, not for scraping: still 200, so that Prometheus
// keeps scraping what explains it, and the body says so.
// /-/ready?for=acting is the probe for what acts on the director's behalf
// (a VRRP track script, an orchestrator): 503 while the sidecar should
// not be trusted to act, with the reason.
func readyHandler(rd Readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.URL.Query().Get("for") == "acting" {
			if ok, why := rd.acting(); !ok {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, "Not ready for acting: "+why)
				return
			}
			fmt.Fprintln(w, "Ready for acting")
			return
		}
		fmt.Fprintln(w, rd.text())
	})
}

// acting says whether the sidecar is ready for acting: its checks can run
// (no local_error) and its controller acts on verdicts. Without
// --config.file nothing acts.
func (rd Readiness) acting() (bool, string) {
	if rd.LocalErrors == nil {
		return false, "no --config.file: lvs-sidecar only exports the table"
	}
	if n := rd.LocalErrors(); n > 0 {
		return false, fmt.Sprintf("%d real server(s) have checks that cannot run on this director (local_error)", n)
	}
	if rd.Controller == nil {
		return true, ""
	}
	return rd.Controller()
}

// text is the body of /-/ready: "Ready", or, while real servers are
// frozen by local errors, that the sidecar is ready for scraping but not
// for acting.
func (rd Readiness) text() string {
	if rd.LocalErrors == nil {
		return "Ready"
	}
	n := rd.LocalErrors()
	if n == 0 {
		return "Ready"
	}
	servers := "1 real server has"
	if n != 1 {
		servers = fmt.Sprintf("%d real servers have", n)
	}
	return "Ready for scraping; not ready for acting: " + servers + " checks that cannot run on this director (local_error), " +
		"so their verdicts are frozen; see ipvs_health_local_error_real_servers and the log"
}
