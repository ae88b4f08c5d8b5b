package web

import (
	"context"
	"crypto/sha256"
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
	return p.guard(a, a.jsonErrors(), h)
}

// GuardForm is Guard for the endpoints that HTML forms post to: the same
// rules, refusals answered as text rather than JSON.
func (p *Policy) GuardForm(a API, h http.Handler) http.Handler {
	return p.guard(a, false, h)
}

func (p *Policy) guard(a API, jsonErrors bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			// A read must not carry an identity either.
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, "")))
			return
		}
		user, status, msg := p.authorize(a, r)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", "Basic")
			}
			refuse(w, jsonErrors, status, msg)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, user)))
	})
}

// MayWrite reports whether r carries the password of an administrator
// who may use a's writes now, and who: what Guard would let through. A
// page shows its write controls only then; the write itself still goes
// through Guard.
func (p *Policy) MayWrite(a API, r *http.Request) (user string, ok bool) {
	user, status, _ := p.authorize(a, r)
	return user, status == 0
}

// authorize applies the write rules of a to r: the administrator it may
// write as, or the status and message of the refusal.
func (p *Policy) authorize(a API, r *http.Request) (user string, status int, msg string) {
	endpoint := r.Method + " " + r.URL.Path
	if !p.enabled[a] {
		return "", http.StatusForbidden, fmt.Sprintf(
			"the sidecar refuses writes: %s is off; start lvs-sidecar with %s (it also needs basic_auth_users in %s and %s=NAME for each user who may write)",
			endpoint, a.Flag(), ConfigFileFlag, AdminUserFlag)
	}
	wc, err := readWebConfig(p.configFile)
	if err != nil {
		return "", http.StatusInternalServerError, fmt.Sprintf("the sidecar refuses writes: cannot read %s %s: %v", ConfigFileFlag, p.configFile, err)
	}
	if len(wc.Users) == 0 {
		return "", http.StatusForbidden, fmt.Sprintf(
			"the sidecar refuses writes: %s %s has no basic_auth_users any more, and %s needs an authenticated administrator; put the users back",
			ConfigFileFlag, p.configFile, endpoint)
	}
	user, password, ok := r.BasicAuth()
	if !ok || !p.passwordMatches(string(wc.Users[user]), password) {
		return "", http.StatusUnauthorized, fmt.Sprintf("%s needs the user and password of an administrator (%s)", endpoint, AdminUserFlag)
	}
	if !p.isAdmin(user) {
		return "", http.StatusForbidden, fmt.Sprintf(
			"user %q is not an admin: %s is for the users named with %s; %q may only read",
			user, endpoint, AdminUserFlag, user)
	}
	return user, 0, ""
}

// passwordMatches compares password with a bcrypt hash from the web
// configuration; an empty hash (no such user) never matches. Timing does
// not tell users apart here: exporter-toolkit, which answers first, already
// spends a comparison on unknown users.
//
// Matches are remembered (as a SHA-256 of hash and password, like
// exporter-toolkit's cache), so that a page that asks MayWrite on every
// refresh does not spend a bcrypt comparison each time; a changed hash in
// the file is a different key, so a password change takes effect at once.
func (p *Policy) passwordMatches(hash, password string) bool {
	if hash == "" {
		return false
	}
	key := sha256.Sum256([]byte(hash + "\x00" + password))
	p.bcryptMu.Lock()
	defer p.bcryptMu.Unlock()
	if _, ok := p.matched[key]; ok {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return false
	}
	if p.matched == nil || len(p.matched) >= maxMatched {
		p.matched = make(map[[sha256.Size]byte]struct{})
	}
	p.matched[key] = struct{}{}
	return true
}

// maxMatched bounds the remembered password matches; past it they are
// forgotten at once.
const maxMatched = 256

// refuse answers a refused write: as {"error": msg} for the JSON API, as
// text otherwise.
func refuse(w http.ResponseWriter, jsonErrors bool, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if !jsonErrors {
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
