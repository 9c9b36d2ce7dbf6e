//go:build unix

package cli_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	cfauth "github.com/alchemy-go/alchemy/internal/auth/cloudflare"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// checkLoggedIn checks what a successful OAuth login leaves for profile:
// tokens that work at the server, the entry, no secret in the output.
func (w *oauthWorld) checkLoggedIn(t *testing.T, p *oauthProc, profile, account string) oauthTokens {
	t.Helper()
	if m := fileMode(t, w.oauthFile(profile)); m != 0o600 {
		t.Errorf("cf-oauth.json mode %o, want 600", m)
	}
	o := w.readTokens(t, profile)
	checkFreshExpiry(t, o.Expires)
	if !w.srv.AccessTokenValid(o.Access) {
		t.Error("the stored access token is not valid at the server")
	}
	w.checkEntry(t, profile, account, cfauth.DefaultScopes)
	noSecrets(t, []string{o.Access, o.Refresh}, p)
	return o
}

// TestOAuthPasteOnRemoteMachine: the browser runs on another machine, so
// its redirect to the loopback lands nowhere; the person pastes where it
// went. The callback server is never hit.
func TestOAuthPasteOnRemoteMachine(t *testing.T) {
	t.Run("RedirectURL", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount)
		p := w.pasteLogin(t, "--profile", "p")
		if p.code != 0 {
			t.Fatalf("exit %d:\n%s", p.code, p)
		}
		for _, want := range []string{
			"Cloudflare: after signing in, paste the URL your browser was sent to (or the code) here and press Enter:",
			"Cloudflare: using account Work (" + cfAccount + "), the only one this login can see.",
		} {
			if !strings.Contains(p.stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, p)
			}
		}
		w.checkLoggedIn(t, p, "p", cfAccount)
		if ex, rf := w.tokenCounts(); ex != 1 || rf != 0 {
			t.Errorf("token endpoint saw %d exchanges and %d refreshes, want 1 and 0", ex, rf)
		}
	})

	t.Run("CodeHashState", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		r := w.approve(t, w.authorizeURL(t, p))
		p.paste(t, "  "+r.Query().Get("code")+"#"+r.Query().Get("state")+"  ")
		p.exitCode(t, 0)
		w.checkLoggedIn(t, p, "p", cfAccount)
	})

	t.Run("BareCode", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		r := w.approve(t, w.authorizeURL(t, p))
		p.paste(t, "") // blank lines are skipped
		p.paste(t, r.Query().Get("code"))
		p.exitCode(t, 0)
		w.checkLoggedIn(t, p, "p", cfAccount)
	})

	// A paste of another login's redirect is refused with a warning, and
	// the right one still completes.
	t.Run("WrongStatePasteThenRight", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		r := w.approve(t, w.authorizeURL(t, p))
		p.paste(t, r.Query().Get("code")+"#not-this-login-state")
		p.waitStderr(t, regexp.MustCompile(`state mismatch\); still waiting`))
		p.paste(t, r.String())
		p.exitCode(t, 0)
		w.checkLoggedIn(t, p, "p", cfAccount)
	})

	// End of input only stops reading the paste: the browser's redirect to
	// the loopback callback still completes the login.
	t.Run("EOFThenCallback", func(t *testing.T) {
		t.Parallel()
		w, _ := newOAuthWorldWithPort(t, cfAccount)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		authURL := w.authorizeURL(t, p)
		if err := p.stdin.Close(); err != nil {
			t.Fatal(err)
		}
		r := w.approve(t, authURL)
		if !strings.HasPrefix(r.String(), w.redirect+"?") {
			t.Fatalf("the server redirected to %s, want %s", r, w.redirect)
		}
		status, body := callback(t, r.String())
		if status != http.StatusOK || !strings.Contains(body, "Signed in to Cloudflare") {
			t.Errorf("callback answered %d:\n%s", status, body)
		}
		p.exitCode(t, 0)
		w.checkLoggedIn(t, p, "p", cfAccount)
	})
}

// TestOAuthErrors: what a login that does not succeed does, and that it
// stores nothing.
func TestOAuthErrors(t *testing.T) {
	nothingStored := func(t *testing.T, w *oauthWorld) {
		t.Helper()
		mustNotExist(t, w.oauthFile("p"))
		if e := w.cfEntry(t, "p"); e != nil {
			t.Errorf("profiles.json has an entry after a failed login: %v", e)
		}
	}

	t.Run("DeniedOnCallback", func(t *testing.T) {
		t.Parallel()
		w, _ := newOAuthWorldWithPort(t, cfAccount)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		r, err := w.srv.Deny(t.Context(), w.authorizeURL(t, p))
		if err != nil {
			t.Fatal(err)
		}
		if r.Query().Get("error") != "access_denied" {
			t.Fatalf("deny redirected to %s", r)
		}
		status, body := callback(t, r.String())
		if status != http.StatusBadRequest || !strings.Contains(body, "Cloudflare sign-in failed") || !strings.Contains(body, "access_denied") {
			t.Errorf("callback answered %d:\n%s", status, body)
		}
		p.exitCode(t, 1)
		if !strings.Contains(p.stderr.String(), "access_denied") {
			t.Errorf("stderr does not say access_denied:\n%s", p)
		}
		nothingStored(t, w)
		if ex, _ := w.tokenCounts(); ex != 0 {
			t.Errorf("%d code exchanges after a denial, want 0", ex)
		}
	})

	// The person pastes the redirect of a denial (it has error= and state=,
	// no code): the login fails with access_denied and no code exchange.
	t.Run("DeniedPasted", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		r, err := w.srv.Deny(t.Context(), w.authorizeURL(t, p))
		if err != nil {
			t.Fatal(err)
		}
		p.paste(t, r.String())
		p.exitCode(t, 1)
		if !strings.Contains(p.stderr.String(), "access_denied") {
			t.Errorf("stderr does not say access_denied:\n%s", p)
		}
		if ex, _ := w.tokenCounts(); ex != 0 {
			t.Errorf("the pasted error redirect was sent to the token endpoint as a code (%d exchanges), want 0", ex)
		}
		nothingStored(t, w)
	})

	// A callback with another state (a stale tab, another login, a forged
	// link) is answered with an error page and ignored: the login keeps
	// waiting, and the right callback completes it.
	t.Run("WrongStateCallback", func(t *testing.T) {
		t.Parallel()
		w, _ := newOAuthWorldWithPort(t, cfAccount)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		r := w.approve(t, w.authorizeURL(t, p))
		wrong := *r
		q := wrong.Query()
		q.Set("state", "someone-elses-state")
		wrong.RawQuery = q.Encode()
		status, body := callback(t, wrong.String())
		if status != http.StatusBadRequest || !strings.Contains(body, "does not belong to the login in progress") {
			t.Errorf("wrong-state callback answered %d:\n%s", status, body)
		}
		p.waitStderr(t, regexp.MustCompile(`(?m)^warning: Cloudflare: ignored a callback that does not belong to this login \(state mismatch\); still waiting\.$`))
		status, body = callback(t, r.String())
		if status != http.StatusOK || !strings.Contains(body, "Signed in to Cloudflare") {
			t.Errorf("callback answered %d:\n%s", status, body)
		}
		p.exitCode(t, 0)
		w.checkLoggedIn(t, p, "p", cfAccount)
	})

	// An error callback that does not carry this login's state must not end
	// the login either: anything on this machine can GET the loopback port.
	t.Run("ForgedErrorCallback", func(t *testing.T) {
		t.Parallel()
		w, _ := newOAuthWorldWithPort(t, cfAccount)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		authURL := w.authorizeURL(t, p)
		status, _ := callback(t, w.redirect+"?error=access_denied&error_description=forged&state=someone-elses-state")
		if status != http.StatusBadRequest {
			t.Errorf("forged error callback answered %d", status)
		}
		// The forged callback is handled at once; give the process a moment
		// to (wrongly) give up before the real sign-in.
		select {
		case <-p.done:
			t.Fatalf("an error callback with a foreign state ended the login (exit %d):\n%s", p.code, p)
		case <-time.After(time.Second):
		}
		r := w.approve(t, authURL)
		status, body := callback(t, r.String())
		if status != http.StatusOK {
			t.Errorf("callback answered %d:\n%s", status, body)
		}
		p.exitCode(t, 0)
		w.checkLoggedIn(t, p, "p", cfAccount)
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount)
		p := w.start(t, []string{"ALCHEMY_OAUTH_TIMEOUT=2s"}, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		p.exitCode(t, 1)
		for _, want := range []string{"Cloudflare: waiting for authorization (up to 2s)...", "timed out", "alchemy login --profile p --provider Cloudflare"} {
			if !strings.Contains(p.stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, p)
			}
		}
		nothingStored(t, w)
		if ex, _ := w.tokenCounts(); ex != 0 {
			t.Errorf("%d code exchanges, want 0", ex)
		}
	})

	// The waiting line names the timeout as Go writes it, minus a trailing
	// "0s" ("5m0s" → "5m"); "10s" must stay "10s".
	t.Run("TimeoutMessage", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount)
		for timeout, want := range map[string]string{"5m": "5 minutes", "10s": "10s", "1m30s": "1m 30s", "90s": "1m 30s"} {
			p := w.start(t, []string{"ALCHEMY_OAUTH_TIMEOUT=" + timeout}, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
			m := p.waitStderr(t, regexp.MustCompile(`waiting for authorization \(up to ([^)]*)\)`))
			if m[1] != want {
				t.Errorf("ALCHEMY_OAUTH_TIMEOUT=%s: stderr says %q, want %q", timeout, m[0], "up to "+want)
			}
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})

	// Someone else holds the redirect port: alchemy says so and takes the
	// paste instead (even without --no-browser), and the login completes.
	t.Run("PortInUse", func(t *testing.T) {
		t.Parallel()
		w, port := newOAuthWorldWithPort(t, cfAccount)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth")
		p.waitStderr(t, regexp.MustCompile(`(?m)^warning: Cloudflare: cannot listen on `+regexp.QuoteMeta(w.redirect)+` for the OAuth callback \(.*address already in use\)`))
		r := w.approve(t, w.authorizeURL(t, p))
		p.paste(t, r.String())
		p.exitCode(t, 0)
		w.checkLoggedIn(t, p, "p", cfAccount)
	})
}

// TestOAuthAccounts: which account the profile gets.
func TestOAuthAccounts(t *testing.T) {
	t.Run("SeveralNonInteractive", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount, cfOtherAccount, cfThirdAccount)
		p := w.pasteLogin(t, "--profile", "p")
		if p.code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", p.code, p)
		}
		// The accounts are listed, ids whole (they are not secrets).
		for _, want := range []string{"this login can see 3 accounts: ", "(" + cfAccount + ")", "(" + cfOtherAccount + ")", "(" + cfThirdAccount + ")", "Pass --account-id"} {
			if !strings.Contains(p.stderr.String(), want) {
				t.Errorf("stderr does not say %q:\n%s", want, p)
			}
		}
		mustNotExist(t, w.oauthFile("p"))
		if e := w.cfEntry(t, "p"); e != nil {
			t.Errorf("profiles.json has an entry: %v", e)
		}
	})

	t.Run("SeveralWithAccountID", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount, cfOtherAccount, cfThirdAccount)
		p := w.pasteLogin(t, "--profile", "p", "--account-id", strings.ToUpper(cfOtherAccount))
		if p.code != 0 {
			t.Fatalf("exit %d:\n%s", p.code, p)
		}
		w.checkLoggedIn(t, p, "p", cfOtherAccount)
	})

	t.Run("SeveralWithEnvAccountID", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount, cfOtherAccount, cfThirdAccount)
		w.env = append(w.env, "CLOUDFLARE_ACCOUNT_ID="+cfThirdAccount)
		p := w.pasteLogin(t, "--profile", "p")
		if p.code != 0 {
			t.Fatalf("exit %d:\n%s", p.code, p)
		}
		w.checkLoggedIn(t, p, "p", cfThirdAccount)
	})

	t.Run("AccountIDNotVisible", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount, cfOtherAccount)
		p := w.pasteLogin(t, "--profile", "p", "--account-id", cfThirdAccount)
		if p.code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", p.code, p)
		}
		if !strings.Contains(p.stderr.String(), "cannot see account "+cfThirdAccount) {
			t.Errorf("stderr:\n%s", p)
		}
		mustNotExist(t, w.oauthFile("p"))
	})

	// A profile whose OAuth entry lost its account (written by hand, or by
	// an older tool) fails every deploy: login repairs it with a new
	// sign-in that chooses the account, instead of only refreshing, and the
	// replaced grant is given back.
	t.Run("LoginRepairsAMissingAccount", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount)
		p := w.pasteLogin(t, "--profile", "p")
		if p.code != 0 {
			t.Fatalf("exit %d:\n%s", p.code, p)
		}
		first := w.checkLoggedIn(t, p, "p", cfAccount)
		path := filepath.Join(w.alchemy, "profiles.json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		stripped := strings.Replace(string(data), `"accountId": "`+cfAccount+`"`, `"accountId": ""`, 1)
		if stripped == string(data) {
			t.Fatalf("profiles.json does not hold the account as expected:\n%s", data)
		}
		if err := os.WriteFile(path, []byte(stripped), 0o600); err != nil {
			t.Fatal(err)
		}

		// A plain `alchemy login` (no --method): it would only refresh.
		p = w.start(t, nil, "login", "--profile", "p", "--no-browser")
		p.paste(t, w.approve(t, w.authorizeURL(t, p)).String())
		p.wait(t)
		if p.code != 0 {
			t.Fatalf("repairing login: exit %d:\n%s", p.code, p)
		}
		if !strings.Contains(p.stderr.String(), "Cloudflare: profile 'p' has an OAuth login but no account; configuring it again.") {
			t.Errorf("login did not say why it signs in again:\n%s", p)
		}
		second := w.checkLoggedIn(t, p, "p", cfAccount)
		if second.Refresh == first.Refresh {
			t.Error("the repair kept the old grant instead of signing in")
		}
		w.checkRefreshDead(t, "the replaced grant", first.Refresh)
	})

	t.Run("None", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0)
		p := w.pasteLogin(t, "--profile", "p")
		if p.code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", p.code, p)
		}
		if !strings.Contains(p.stderr.String(), "this login can see no Cloudflare accounts") {
			t.Errorf("stderr does not say it sees no accounts:\n%s", p)
		}
		mustNotExist(t, w.oauthFile("p"))
		if e := w.cfEntry(t, "p"); e != nil {
			t.Errorf("profiles.json has an entry: %v", e)
		}
	})
}

// TestOAuthLocalhostRedirect: Cloudflare's redirect URI names localhost,
// which a browser may resolve to 127.0.0.1 or to ::1; the callback must
// answer on both.
func TestOAuthLocalhostRedirect(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "::1"} {
		t.Run(ip, func(t *testing.T) {
			t.Parallel()
			if ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0")); err != nil {
				t.Skipf("no %s on this machine: %v", ip, err)
			} else {
				ln.Close()
			}
			w := newOAuthWorldAt(t, "localhost", testpeers.FreePort(t), cfAccount)
			p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
			r := w.approve(t, w.authorizeURL(t, p))
			if r.Hostname() != "localhost" {
				t.Fatalf("the server redirected to %s", r)
			}
			r.Host = net.JoinHostPort(ip, r.Port())
			status, body := callback(t, r.String())
			if status != http.StatusOK || !strings.Contains(body, "Signed in to Cloudflare") {
				t.Errorf("callback on %s answered %d:\n%s", r.Host, status, body)
			}
			p.exitCode(t, 0)
			w.checkLoggedIn(t, p, "p", cfAccount)
		})
	}
}
