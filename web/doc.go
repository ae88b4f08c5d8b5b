// Package web holds lvs-sidecar's whole HTTP surface, built by
// NewHandler from what the command wires in: the landing page, /metrics
// (the process's registry beside the IPVS table's own writer), the
// health and readiness probes, POST /-/reload, the maintenance API
// (/api/v1/maintenance), the services view (/api/v1/services), and the
// status page (/status, /api/v1/status) with its recent events; and the
// policy (which write endpoints are on, who may use them, and the wrapper
// that enforces it in front of each handler that changes state).
//
// The rules, like Prometheus's --web.enable-lifecycle and
// --web.enable-admin-api: every write endpoint is off unless a flag turns
// it on; a flag that turns one on needs basic_auth_users in
// --web.config.file and at least one administrator named with
// --web.admin-user (the process refuses to start otherwise); only
// administrators may write, every other authenticated user may only read;
// and the identity a handler records is the one the password proved,
// never a header or a field of the body.
package web
