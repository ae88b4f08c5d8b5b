package web

import (
	"html"
	"strings"
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
