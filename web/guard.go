package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"golang.org/x/crypto/bcrypt"
)

// adminKey is the context key under which Guard passes the authenticated
// administrator to the handler.
type adminKey struct{}

// Admin returns the administrator that Guard authenticated for r, and
// false when r did not pass Guard as a write. It is the only identity a
// write handler may record: a header or a field of the body can claim any
// name.
func Admin(r *http.Request) (string, bool) {
	user, ok := r.Context().Value(adminKey{}).(string)
	return user, ok && user != ""
}

// Guard wraps h, the handler of a's endpoints, with the policy. Reads
// (GET, HEAD, OPTIONS) pass as they are, behind --web.config.file's
// authentication like every path. Every other method is a write: refused
// with 403 while a is off; while it is on, it needs the basic-auth
// password of an administrator (401 without valid credentials, 403 for a
// user who may only read), and h sees the administrator through Admin.
//
// exporter-toolkit has checked the password before h runs when the web
// configuration has basic_auth_users, but it re-reads that file on every
// request: an edit that removes the users turns its authentication off
// while the process runs. Guard therefore checks the password itself
// against the file as it is now, so writes never open up.
func (p *Policy) Guard(a API, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			// A read must not carry an identity either.
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, "")))
			return
		}
		endpoint := r.Method + " " + r.URL.Path
		if !p.enabled[a] {
			refuse(w, a, http.StatusForbidden, fmt.Sprintf(
				"the sidecar refuses writes: %s is off; start lvs-sidecar with %s (it also needs basic_auth_users in %s and %s=NAME for each user who may write)",
				endpoint, a.Flag(), ConfigFileFlag, AdminUserFlag))
			return
		}
		wc, err := readWebConfig(p.configFile)
		if err != nil {
			refuse(w, a, http.StatusInternalServerError, fmt.Sprintf("the sidecar refuses writes: cannot read %s %s: %v", ConfigFileFlag, p.configFile, err))
			return
		}
		if len(wc.Users) == 0 {
			refuse(w, a, http.StatusForbidden, fmt.Sprintf(
				"the sidecar refuses writes: %s %s has no basic_auth_users any more, and %s needs an authenticated administrator; put the users back",
				ConfigFileFlag, p.configFile, endpoint))
			return
		}
		user, password, ok := r.BasicAuth()
		if !ok || !p.passwordMatches(string(wc.Users[user]), password) {
			w.Header().Set("WWW-Authenticate", "Basic")
			refuse(w, a, http.StatusUnauthorized, fmt.Sprintf("%s needs the user and password of an administrator (%s)", endpoint, AdminUserFlag))
			return
		}
		if !p.isAdmin(user) {
			refuse(w, a, http.StatusForbidden, fmt.Sprintf(
				"user %q is not an admin: %s is for the users named with %s; %q may only read",
				user, endpoint, AdminUserFlag, user))
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, user)))
	})
}

// passwordMatches compares password with a bcrypt hash from the web
// configuration; an empty hash (no such user) never matches. Timing does
// not tell users apart here: exporter-toolkit, which answers first, already
// spends a comparison on unknown users.
func (p *Policy) passwordMatches(hash, password string) bool {
	if hash == "" {
		return false
	}
	p.bcryptMu.Lock()
	defer p.bcryptMu.Unlock()
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// refuse answers a refused write: as {"error": msg} for the JSON API, as
// text otherwise.
func refuse(w http.ResponseWriter, a API, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if !a.jsonErrors() {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintln(w, msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Error string `json:"error"`
	}{msg})
}
