//go:build unix

package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/display"
)

// showJSONOut is the part of `alchemy profile show --json` these tests read.
type showJSONOut struct {
	Profile   string         `json:"profile"`
	Exists    bool           `json:"exists"`
	Providers []showProvider `json:"providers"`
}

type showProvider struct {
	Provider string            `json:"provider"`
	Method   string            `json:"method"`
	Fields   map[string]string `json:"fields"`
	Expires  string            `json:"expires"`
	Expired  *bool             `json:"expired"`
	Error    string            `json:"error"`
}

func (p showProvider) String() string {
	expired := "unset"
	if p.Expired != nil {
		expired = fmt.Sprint(*p.Expired)
	}
	return fmt.Sprintf("{expires %s, expired %s, error %q, fields %v}", p.Expires, expired, p.Error, p.Fields)
}

func parseShow(t *testing.T, p *oauthProc) showJSONOut {
	t.Helper()
	var out showJSONOut
	if err := json.Unmarshal([]byte(p.stdout.String()), &out); err != nil {
		t.Fatalf("profile show --json: %v\n%s", err, p)
	}
	if len(out.Providers) != 1 || out.Providers[0].Provider != "Cloudflare" {
		t.Fatalf("profile show --json: want one Cloudflare provider:\n%s", p)
	}
	return out
}

// loggedIn logs profile p in through the paste flow (one account).
func loggedIn(t *testing.T, w *oauthWorld) oauthTokens {
	t.Helper()
	p := w.pasteLogin(t, "--profile", "p")
	if p.code != 0 {
		t.Fatalf("login: exit %d:\n%s", p.code, p)
	}
	return w.readTokens(t, "p")
}

// TestOAuthRefreshConcurrency: refresh tokens are single-use, so when many
// processes find the access token expiring at once, exactly one may spend
// the refresh token; the others, waiting on the profile lock, must find its
// result in the file.
func TestOAuthRefreshConcurrency(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	old := loggedIn(t, w)

	// A fresh token (about 1h left): reading it refreshes nothing.
	ex0, rf0 := w.tokenCounts()
	p := w.start(t, nil, "profile", "show", "--profile", "p", "--json")
	p.exitCode(t, 0)
	if got := parseShow(t, p).Providers[0]; got.Error != "" || got.Expires != display.ISO(time.UnixMilli(old.Expires)) {
		t.Errorf("profile show of a fresh token: %v, want expires %s", got, display.ISO(time.UnixMilli(old.Expires)))
	}
	if ex, rf := w.tokenCounts(); ex != ex0 || rf != rf0 {
		t.Errorf("profile show with a fresh token made %d refreshes (and %d exchanges)", rf-rf0, ex-ex0)
	}
	if got := w.readTokens(t, "p"); got.Refresh != old.Refresh || got.Access != old.Access {
		t.Error("profile show with a fresh token changed cf-oauth.json")
	}

	// The access token expired a minute ago; the refresh token is kept.
	expired := old
	expired.Expires = time.Now().Add(-time.Minute).UnixMilli()
	w.writeTokens(t, "p", expired)

	// 20 processes, held at a barrier until all have started, then released
	// together.
	const n = 20
	barrier := filepath.Join(t.TempDir(), "go")
	procs := make([]*oauthProc, n)
	args := []string{"profile", "show", "--profile", "p", "--json"}
	for i := range procs {
		// sh waits for the barrier, then becomes alchemy.
		cmd := exec.Command("/bin/sh", append([]string{"-c",
			`while [ ! -e "$1" ]; do sleep 0.01; done; shift; exec "$@"`, "sh", barrier, os.Args[0]}, args...)...)
		procs[i] = w.startCmd(t, cmd, nil, args)
	}
	if err := os.WriteFile(barrier, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var expires string
	for i, p := range procs {
		p.exitCode(t, 0)
		got := parseShow(t, p).Providers[0]
		if got.Error != "" || got.Expired == nil || *got.Expired {
			t.Errorf("process %d: %v\n%s", i, got, p)
			continue
		}
		if expires == "" {
			expires = got.Expires
		} else if got.Expires != expires {
			t.Errorf("process %d reports expires %s, process 0 %s: they did not all end with the same tokens", i, got.Expires, expires)
		}
	}
	ex1, rf1 := w.tokenCounts()
	if rf1-rf0 != 1 || ex1 != ex0 {
		t.Fatalf("the token endpoint saw %d refreshes (and %d exchanges) for %d concurrent reads, want exactly 1", rf1-rf0, ex1-ex0, n)
	}

	now := w.readTokens(t, "p")
	if fileMode(t, w.oauthFile("p")) != 0o600 {
		t.Errorf("cf-oauth.json mode %o after the refresh", fileMode(t, w.oauthFile("p")))
	}
	if now.Refresh == old.Refresh || now.Access == old.Access {
		t.Error("cf-oauth.json still has the old tokens")
	}
	checkFreshExpiry(t, now.Expires)
	if want := display.ISO(time.UnixMilli(now.Expires)); expires != want {
		t.Errorf("the processes report expires %s, the file says %s", expires, want)
	}
	if len(now.Scopes) == 0 {
		t.Error("the refresh lost the scopes")
	}
	if !w.srv.AccessTokenValid(now.Access) {
		t.Error("the new access token is not valid")
	}
	if sub := w.whoami(t, now.Access); sub != "user@example.com" {
		t.Errorf("/whoami with the new access token: %q", sub)
	}
	secrets := []string{old.Access, old.Refresh, now.Access, now.Refresh}
	noSecrets(t, secrets, procs...)

	// Fresh again: the next read refreshes nothing.
	p = w.start(t, nil, "profile", "show", "--profile", "p", "--json")
	p.exitCode(t, 0)
	if ex, rf := w.tokenCounts(); ex != ex1 || rf != rf1 {
		t.Errorf("profile show right after the refresh made %d more refreshes", rf-rf1)
	}

	// Less than the 5 minutes' margin left: refreshed before use.
	soon := now
	soon.Expires = time.Now().Add(3 * time.Minute).UnixMilli()
	w.writeTokens(t, "p", soon)
	p = w.start(t, nil, "profile", "show", "--profile", "p", "--json")
	p.exitCode(t, 0)
	if _, rf := w.tokenCounts(); rf != rf1+1 {
		t.Errorf("a token with 3 minutes left: %d refreshes, want 1", rf-rf1)
	}
	latest := w.readTokens(t, "p")
	checkFreshExpiry(t, latest.Expires)
	if got := parseShow(t, p).Providers[0].Expires; got != display.ISO(time.UnixMilli(latest.Expires)) {
		t.Errorf("profile show reports expires %s, the file %s", got, display.ISO(time.UnixMilli(latest.Expires)))
	}

	// Last, because reusing a rotated refresh token makes the server revoke
	// the whole family: the refresh token spent by the concurrent reads is
	// dead.
	w.checkRefreshDead(t, "the refresh token spent by the 20 reads", old.Refresh)
}

// TestOAuthRevokedRefreshAndLogout: a login whose refresh token the server
// no longer honours, signing in again, and logout.
func TestOAuthRevokedRefreshAndLogout(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	first := loggedIn(t, w)

	// `login` on a configured profile refreshes (always) and stays on it.
	_, rf0 := w.tokenCounts()
	p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--no-browser")
	p.exitCode(t, 0)
	if !strings.Contains(p.stderr.String(), "Cloudflare: OAuth credentials refreshed.") {
		t.Errorf("stderr:\n%s", p)
	}
	if _, rf := w.tokenCounts(); rf != rf0+1 {
		t.Errorf("login of a configured profile made %d refreshes, want 1", rf-rf0)
	}
	refreshed := w.readTokens(t, "p")
	if refreshed.Refresh == first.Refresh {
		t.Error("login did not store the rotated refresh token")
	}
	noSecrets(t, []string{first.Access, first.Refresh, refreshed.Access, refreshed.Refresh}, p)

	// The user revokes the login at Cloudflare; the access token expires.
	w.srv.RevokeRefreshTokens()
	expired := refreshed
	expired.Expires = time.Now().Add(-time.Minute).UnixMilli()
	w.writeTokens(t, "p", expired)

	p = w.start(t, nil, "profile", "show", "--profile", "p")
	p.exitCode(t, 0)
	if !strings.Contains(p.stderr.String(), "Failed to retrieve credentials: Cloudflare OAuth refresh failed") ||
		!strings.Contains(p.stderr.String(), "Run: alchemy login --profile p") {
		t.Errorf("profile show after the revocation, stderr:\n%s", p)
	}
	if !strings.Contains(p.stderr.String(), "invalid_grant") {
		t.Errorf("the refresh failure does not name its cause:\n%s", p)
	}
	if got := w.readTokens(t, "p"); got.Refresh != expired.Refresh {
		t.Error("a failed refresh changed cf-oauth.json")
	}

	// `login` finds the stored login rejected and signs in again.
	p = w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--no-browser")
	r := w.approve(t, w.authorizeURL(t, p))
	p.paste(t, r.String())
	p.exitCode(t, 0)
	if !strings.Contains(p.stderr.String(), "Cloudflare: the stored login was rejected; signing in again.") {
		t.Errorf("stderr:\n%s", p)
	}
	again := w.checkLoggedIn(t, p, "p", cfAccount)
	if again.Refresh == refreshed.Refresh {
		t.Error("cf-oauth.json still has the revoked refresh token")
	}
	noSecrets(t, []string{refreshed.Access, refreshed.Refresh}, p)

	// Logout revokes the refresh token (RFC 7009) and deletes the file; the
	// method choice stays.
	rv0 := w.srv.Revocations()
	p = w.start(t, nil, "logout", "--profile", "p", "--provider", "Cloudflare", "--yes")
	p.exitCode(t, 0)
	if !strings.Contains(p.stderr.String()+p.stdout.String(), "Cloudflare: OAuth credentials removed.") {
		t.Errorf("logout output:\n%s", p)
	}
	if strings.Contains(p.stderr.String(), "could not revoke") {
		t.Errorf("logout could not revoke:\n%s", p)
	}
	mustNotExist(t, w.oauthFile("p"))
	if n := w.srv.Revocations() - rv0; n != 1 {
		t.Errorf("the revocation endpoint saw %d requests, want 1", n)
	}
	if e := w.cfEntry(t, "p"); e == nil || e["method"] != "oauth" {
		t.Errorf("profiles.json entry after logout: %v, want the oauth method kept", e)
	}
	if w.srv.AccessTokenValid(again.Access) {
		t.Error("the access token of the revoked grant is still valid")
	}
	w.checkRefreshDead(t, "the refresh token after logout", again.Refresh)
	noSecrets(t, []string{again.Access, again.Refresh}, p)

	// Reading the profile now says how to sign in.
	p = w.start(t, nil, "profile", "show", "--profile", "p")
	p.exitCode(t, 0)
	if !strings.Contains(p.stderr.String(), "Cloudflare OAuth credentials not found. Run: alchemy login --profile p") {
		t.Errorf("profile show after logout, stderr:\n%s", p)
	}
}

// TestOAuthRefreshWithoutExpiresIn: expires_in is only RECOMMENDED (RFC
// 6749 §5.1). The login treats a token response without it as good for an
// hour; a refresh answered without it must not store a token that is
// already expired, or every command spends another refresh token.
func TestOAuthRefreshWithoutExpiresIn(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	old := loggedIn(t, w)
	expired := old
	expired.Expires = time.Now().Add(-time.Minute).UnixMilli()
	w.writeTokens(t, "p", expired)

	var mu sync.Mutex
	var calls int
	stub := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(rw, `{"access_token":"stub-access-%d","refresh_token":"stub-refresh-%d","token_type":"bearer","scope":"account:read offline_access"}`, n, n)
	}))
	t.Cleanup(stub.Close)
	env := []string{"CLOUDFLARE_OAUTH_TOKEN_URL=" + stub.URL}

	for i := range 2 {
		p := w.start(t, env, "profile", "show", "--profile", "p", "--json")
		p.exitCode(t, 0)
		got := parseShow(t, p).Providers[0]
		if got.Error != "" || got.Expired == nil || *got.Expired {
			t.Errorf("read %d after a refresh without expires_in: %v", i+1, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("two reads made %d refreshes, want 1 (the refreshed token was stored as expiring at once: %d ms from now)",
			calls, w.readTokens(t, "p").Expires-time.Now().UnixMilli())
	}
}
