package web

import (
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/prometheus/common/version"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
)

// LandingHTML is the landing page's section on the write endpoints: each
// one, whether it is on, and for which administrators, escaped for HTML.
func (p *Policy) LandingHTML() string {
	var b strings.Builder
	b.WriteString("<div id=\"writes\"><h3>Write endpoints</h3><ul>\n")
	for _, a := range apis {
		b.WriteString("<li>" + html.EscapeString(p.Describe(a)) + "</li>\n")
	}
	b.WriteString("</ul><p>Reads (GET) are open to whoever may read this page; a write needs its flag and an administrator&#39;s password.</p></div>\n")
	return b.String()
}

// landingPage is the page at /: links to every endpoint, and the write
// endpoints' section.
func landingPage(name, telemetryPath string, policy *Policy) (http.Handler, error) {
	landing, err := toolkitweb.NewLandingPage(toolkitweb.LandingConfig{
		Name:        name,
		Description: "Linux IPVS (LVS) table exporter",
		Version:     version.Info(),
		Links: []toolkitweb.LandingLinks{
			{Address: telemetryPath, Text: "Metrics"},
			{Address: HealthyPath, Text: "Health"},
			{Address: ReadyPath, Text: "Readiness"},
			{Address: MaintenancePath, Text: "Maintenance", Description: "the real servers in maintenance (JSON)"},
			{Address: StatusPath, Text: "Status", Description: "the services and real servers at a glance, recent events, maintenance for administrators"},
			{Address: StatusAPIPath, Text: "Status (JSON)", Description: "the status page's data"},
			{Address: ServicesPath, Text: "Services", Description: "the services and real servers: table, verdicts, weights (JSON; what snmp-pass-persist serves)"},
		},
		ExtraHTML: policy.LandingHTML(),
	})
	if err != nil {
		return nil, fmt.Errorf("landing page: %w", err)
	}
	return landing, nil
}
