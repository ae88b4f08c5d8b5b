// Package alerts holds lvs-sidecar's Prometheus recording and alerting
// rules (lvs-sidecar.rules.yml, with its runbook and promtool tests next
// to it), embedded so that tests running elsewhere (the lab VM) load
// exactly the committed file.
package alerts

import _ "embed"

// Rules is the committed lvs-sidecar.rules.yml.
//
//go:embed lvs-sidecar.rules.yml
var Rules []byte
