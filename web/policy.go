package web

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// Paths of the write endpoints.
const (
	// MaintenancePath is the maintenance API: GET lists the real servers
	// in maintenance, POST changes one.
	MaintenancePath = "/api/v1/maintenance"
	// ReloadPath re-reads --config.file on POST.
	ReloadPath = "/-/reload"
)

// Flags that turn the write endpoints on and name who may use them.
const (
	AdminAPIFlag  = "--web.enable-admin-api"
	LifecycleFlag = "--web.enable-lifecycle"
	AdminUserFlag = "--web.admin-user"
	// ConfigFileFlag is exporter-toolkit's flag for TLS and basic auth.
	ConfigFileFlag = "--web.config.file"
)

// API is a group of write endpoints that one flag turns on.
type API int

const (
	// AdminAPI is POST /api/v1/maintenance, turned on by
	// --web.enable-admin-api.
	AdminAPI API = iota
	// LifecycleAPI is POST /-/reload, turned on by --web.enable-lifecycle.
	LifecycleAPI
)

var apis = []API{AdminAPI, LifecycleAPI}

// Flag is the command-line flag that turns a on.
func (a API) Flag() string {
	if a == LifecycleAPI {
		return LifecycleFlag
	}
	return AdminAPIFlag
}

// Endpoint is the write endpoint of a, as METHOD PATH.
func (a API) Endpoint() string {
	if a == LifecycleAPI {
		return "POST " + ReloadPath
	}
	return "POST " + MaintenancePath
}

// String names a for messages.
func (a API) String() string {
	if a == LifecycleAPI {
		return "lifecycle API"
	}
	return "admin API"
}

// jsonErrors reports whether a answers errors as {"error": "..."} (the
// JSON API) rather than as text.
func (a API) jsonErrors() bool { return a == AdminAPI }

// Options are the flags the policy is made from.
type Options struct {
	// EnableAdminAPI is --web.enable-admin-api.
	EnableAdminAPI bool
	// EnableLifecycle is --web.enable-lifecycle.
	EnableLifecycle bool
	// AdminUsers are the --web.admin-user values.
	AdminUsers []string
	// ConfigFile is --web.config.file; "" without one.
	ConfigFile string
}

// Policy decides who may use which write endpoint. Make one with
// NewPolicy; its Guard wraps the handlers.
type Policy struct {
	enabled    map[API]bool
	admins     []string // sorted, unique
	configFile string
	// bcryptMu runs one password comparison at a time: each costs tens of
	// milliseconds of CPU by design. It guards matched, the hashes of the
	// hash and password pairs that matched.
	bcryptMu sync.Mutex
	matched  map[[sha256.Size]byte]struct{}
}

// NewPolicy checks the flags against the web configuration file and
// returns the policy, or an error that says exactly what to add: a write
// endpoint that is turned on needs basic_auth_users in --web.config.file
// and at least one --web.admin-user, each of them a user of that file.
// It logs a warning for settings that protect less than they seem to.
func NewPolicy(o Options, logger *slog.Logger) (*Policy, error) {
	p := &Policy{
		enabled:    map[API]bool{AdminAPI: o.EnableAdminAPI, LifecycleAPI: o.EnableLifecycle},
		configFile: o.ConfigFile,
	}
	for _, u := range o.AdminUsers {
		if u == "" {
			return nil, fmt.Errorf("%s: empty user name", AdminUserFlag)
		}
		if !slices.Contains(p.admins, u) {
			p.admins = append(p.admins, u)
		}
	}
	slices.Sort(p.admins)

	on := p.enabledFlags()
	if len(on) == 0 {
		if len(p.admins) > 0 {
			logger.Warn(AdminUserFlag+" does nothing while every write endpoint is off: add "+AdminAPIFlag+" or "+LifecycleFlag, "admins", strings.Join(p.admins, ","))
		}
		return p, nil
	}
	verb := "turns"
	if len(on) > 1 {
		verb = "turn"
	}
	turnsOn := strings.Join(on, " and ") + " " + verb + " on writes"
	if p.configFile == "" {
		return nil, fmt.Errorf("%s, which need authentication: add %s=FILE with basic_auth_users, and %s=NAME for each of those users who may write", turnsOn, ConfigFileFlag, AdminUserFlag)
	}
	wc, err := readWebConfig(p.configFile)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", ConfigFileFlag, p.configFile, err)
	}
	if len(wc.Users) == 0 {
		return nil, fmt.Errorf("%s, which need authentication: %s %s has no basic_auth_users; add the users there (bcrypt hashes: htpasswd -nBC 10 NAME), and %s=NAME for each of them who may write", turnsOn, ConfigFileFlag, p.configFile, AdminUserFlag)
	}
	if len(p.admins) == 0 {
		return nil, fmt.Errorf("%s for administrators only: name at least one with %s=NAME, a user of basic_auth_users in %s (%s)", turnsOn, AdminUserFlag, p.configFile, strings.Join(sortedKeys(wc.Users), ", "))
	}
	var missing []error
	for _, u := range p.admins {
		if _, ok := wc.Users[u]; !ok {
			missing = append(missing, fmt.Errorf("%s=%s: no user %q in basic_auth_users of %s: add it there, or name one of %s", AdminUserFlag, u, u, p.configFile, strings.Join(sortedKeys(wc.Users), ", ")))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	if !wc.TLSConfig.IsEnabled() {
		logger.Warn("write endpoints are on without TLS: administrators' passwords cross the network in clear text; add tls_server_config to "+p.configFile, "file", p.configFile)
	}
	return p, nil
}

// Enabled reports whether a's flag turned it on.
func (p *Policy) Enabled(a API) bool { return p.enabled[a] }

// Admins returns the users named with --web.admin-user, sorted.
func (p *Policy) Admins() []string { return slices.Clone(p.admins) }

// isAdmin reports whether user was named with --web.admin-user.
func (p *Policy) isAdmin(user string) bool {
	_, ok := slices.BinarySearch(p.admins, user)
	return ok
}

// Describe says, for a, whether it is on and for whom, in one line for
// the log and the landing page.
func (p *Policy) Describe(a API) string {
	if !p.enabled[a] {
		return fmt.Sprintf("%s: off (%s turns it on)", a.Endpoint(), a.Flag())
	}
	return fmt.Sprintf("%s: on, for the administrators %s", a.Endpoint(), strings.Join(p.admins, ", "))
}

// Log writes one line per write endpoint saying whether it is on and for
// whom.
func (p *Policy) Log(logger *slog.Logger) {
	for _, a := range apis {
		if p.enabled[a] {
			logger.Info("write endpoint on, for administrators only", "endpoint", a.Endpoint(), "flag", a.Flag(), "admins", strings.Join(p.admins, ","))
		} else {
			logger.Info("write endpoint off", "endpoint", a.Endpoint(), "enable_with", a.Flag())
		}
	}
}

func (p *Policy) enabledFlags() []string {
	var on []string
	for _, a := range apis {
		if p.enabled[a] {
			on = append(on, a.Flag())
		}
	}
	return on
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
