// Command gen writes the Grafana dashboards of lvs-sidecar as JSON files.
//
//	go run ./dashboards/cmd/gen -out dashboards
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lvs-sidecar/lvs-sidecar/dashboards"
)

func main() {
	out := flag.String("out", "dashboards", "directory to write the JSON files to")
	site := flag.String("site-label", dashboards.Default.SiteLabel, "target label that tells sites or clusters apart")
	show := flag.Bool("show-site", dashboards.Default.ShowSite, "show the site variable (hidden by default, for one site)")
	flag.Parse()
	files, err := dashboards.Build(dashboards.Options{SiteLabel: *site, ShowSite: *show})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
