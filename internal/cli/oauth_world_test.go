//go:build unix

package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	"github.com/alchemy-go/alchemy/internal/testpeers/oauthserver"
)

// The OAuth tests run the real alchemy binary (this test binary with
// ALCHEMY_CLI_MAIN=1, see TestMain) as separate processes against a real
// OAuth 2.0 server (internal/testpeers/oauthserver, fosite) and the
// Cloudflare fake, which trusts that server's access tokens. They assert on
// exit codes, on the files alchemy leaves, and on what the servers saw.

// oauthClientID is Cloudflare's public client id, the CLI's default.
const oauthClientID = "6d8c2255-0773-45f6-b376-2914632e6f91"

// cfThirdAccount is a third account for the several-accounts tests.
const cfThirdAccount = "00112233445566778899aabbccddeeff"

var oauthAccountNames = map[string]string{cfAccount: "Work", cfOtherAccount: "Personal", cfThirdAccount: "Side"}

// Generous bounds: the suite must pass on a loaded 2-core machine.
const (
	oauthStepTimeout = 60 * time.Second // one alchemy step (a line on stderr, an exit)
	oauthLoginWindow = "90s"            // ALCHEMY_OAUTH_TIMEOUT of the tests that do not time out
)

// oauthWorld is what one OAuth test's alchemy processes talk to: a fresh
// authorization server, a fresh Cloudflare fake and a fresh home.
type oauthWorld struct {
	srv      *oauthserver.Server
	cf       *cloudflarefake.Server
	home     string // $HOME
	alchemy  string // $ALCHEMY_HOME
	redirect string // CLOUDFLARE_OAUTH_REDIRECT_URI
	env      []string
}

// newOAuthWorld starts the peers. port is the redirect URI's port (0 lets
// alchemy's callback listen anywhere, for tests that paste); accounts are
// the accounts the fake has, all visible to the OAuth login.
func newOAuthWorld(t *testing.T, port int, accounts ...string) *oauthWorld {
	t.Helper()
	return newOAuthWorldAt(t, "127.0.0.1", port, accounts...)
}

// newOAuthWorldAt is newOAuthWorld with the redirect URI on host.
func newOAuthWorldAt(t *testing.T, host string, port int, accounts ...string) *oauthWorld {
	t.Helper()
	redirect := fmt.Sprintf("http://%s/auth/callback", net.JoinHostPort(host, strconv.Itoa(port)))
	srv := oauthserver.Start(t, oauthserver.Options{
		ClientID:     oauthClientID,
		Scopes:       oauthserver.DefaultScopes,
		RedirectURIs: []string{redirect},
	})
	cf := cloudflarefake.New()
	for _, id := range accounts {
		cf.AddAccount(id, oauthAccountNames[id])
	}
	cf.TrustOAuth(srv.AccessTokenValid, cloudflarefake.TokenOptions{UserEmail: "user@example.com"})
	cf.Start()
	t.Cleanup(cf.Close)

	w := &oauthWorld{srv: srv, cf: cf, home: filepath.Join(t.TempDir(), "userhome"), redirect: redirect}
	w.alchemy = filepath.Join(w.home, ".alchemy")
	if err := os.MkdirAll(w.home, 0o700); err != nil {
		t.Fatal(err)
	}
	// A clean environment (see newPTYWorld): no DISPLAY, no BROWSER, no CI,
	// nobody's real credentials. Only PATH (and coverage) is inherited.
	w.env = []string{
		"ALCHEMY_CLI_MAIN=1",
		"HOME=" + w.home,
		"ALCHEMY_HOME=" + w.alchemy,
		"CLOUDFLARE_BASE_URL=" + cf.URL(),
		"CLOUDFLARE_OAUTH_CLIENT_ID=" + oauthClientID,
		"CLOUDFLARE_OAUTH_AUTHORIZE_URL=" + srv.AuthorizeURL(),
		"CLOUDFLARE_OAUTH_TOKEN_URL=" + srv.TokenURL(),
		"CLOUDFLARE_OAUTH_REVOKE_URL=" + srv.RevokeURL(),
		"CLOUDFLARE_OAUTH_REDIRECT_URI=" + redirect,
		"ALCHEMY_OAUTH_TIMEOUT=" + oauthLoginWindow,
		// These processes have no terminal: the tests paste on a pipe.
		"ALCHEMY_OAUTH_PASTE=1",
	}
	for _, k := range []string{"PATH", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			w.env = append(w.env, k+"="+v)
		}
	}
	return w
}

// newOAuthWorldWithPort is newOAuthWorld on a free port the test knows, for
// tests that call the loopback callback themselves.
func newOAuthWorldWithPort(t *testing.T, accounts ...string) (*oauthWorld, int) {
	t.Helper()
	port := testpeers.FreePort(t)
	return newOAuthWorld(t, port, accounts...), port
}

func (w *oauthWorld) oauthFile(profile string) string {
	return filepath.Join(w.alchemy, "credentials", profile, "cf-oauth.json")
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// oauthProc is one running alchemy process with its stdin a pipe.
type oauthProc struct {
	args   []string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout lockedBuffer
	stderr lockedBuffer
	done   chan struct{}
	code   int // valid once done is closed
}

// start runs `alchemy args...` in w's environment plus extra (later values
// win).
func (w *oauthWorld) start(t *testing.T, extra []string, args ...string) *oauthProc {
	t.Helper()
	return w.startCmd(t, exec.Command(os.Args[0], args...), extra, args)
}

// startInDir is start with the working directory dir (its ./.env applies).
func (w *oauthWorld) startInDir(t *testing.T, dir string, args ...string) *oauthProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	return w.startCmd(t, cmd, nil, args)
}

func (w *oauthWorld) startCmd(t *testing.T, cmd *exec.Cmd, extra, args []string) *oauthProc {
	t.Helper()
	p := &oauthProc{args: args, cmd: cmd, done: make(chan struct{})}
	cmd.Env = append(append([]string(nil), w.env...), extra...)
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir() // no ./.env of the test's working directory
	}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *oauthProc) String() string {
	return fmt.Sprintf("alchemy %s\n--- stdout:\n%s--- stderr:\n%s", strings.Join(p.args, " "), p.stdout.String(), p.stderr.String())
}

// wait waits for the process to exit and returns its exit code.
func (p *oauthProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(oauthStepTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("still running after %s, killed:\n%s", oauthStepTimeout, p)
		return -1
	}
}

// exitCode waits for the exit and fails the test unless the code is want.
func (p *oauthProc) exitCode(t *testing.T, want int) {
	t.Helper()
	if got := p.wait(t); got != want {
		t.Fatalf("exit code %d, want %d:\n%s", got, want, p)
	}
}

// waitStderr waits until stderr matches re and returns the first match's
// submatches.
func (p *oauthProc) waitStderr(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(oauthStepTimeout)
	for {
		exited := false
		select {
		case <-p.done:
			exited = true
		default:
		}
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m
		}
		if exited {
			t.Fatalf("exited (code %d) before stderr matched %q:\n%s", p.code, re, p)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr did not match %q within %s:\n%s", re, oauthStepTimeout, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// authorizeURL waits for the authorize URL alchemy prints on stderr.
func (w *oauthWorld) authorizeURL(t *testing.T, p *oauthProc) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(` + regexp.QuoteMeta(w.srv.AuthorizeURL()) + `\?\S+)$`)
	return p.waitStderr(t, re)[1]
}

// approve signs in and allows at the authorization server, as the person
// would in a browser, and returns where the server redirects to.
func (w *oauthWorld) approve(t *testing.T, authURL string) *url.URL {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), oauthStepTimeout)
	defer cancel()
	u, err := w.srv.Approve(ctx, authURL)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if e := u.Query().Get("error"); e != "" {
		t.Fatalf("approve redirected with error %s: %s", e, u)
	}
	return u
}

// paste writes line and a newline to the process's stdin.
func (p *oauthProc) paste(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("paste: %v\n%s", err, p)
	}
}

// pasteLogin runs `alchemy login --provider Cloudflare --method oauth
// --no-browser args...`, approves the URL it prints and pastes the redirect,
// then waits for the exit. The caller checks the exit code.
func (w *oauthWorld) pasteLogin(t *testing.T, args ...string) *oauthProc {
	t.Helper()
	p := w.start(t, nil, append([]string{"login", "--provider", "Cloudflare", "--method", "oauth", "--no-browser"}, args...)...)
	p.paste(t, w.approve(t, w.authorizeURL(t, p)).String())
	p.wait(t)
	return p
}

// callback GETs u (a redirect to alchemy's loopback callback) and returns
// the status and body of alchemy's page.
func callback(t *testing.T, u string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: oauthStepTimeout}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// oauthTokens is credentials/<profile>/cf-oauth.json.
type oauthTokens struct {
	Type    string   `json:"type"`
	Access  string   `json:"access"`
	Refresh string   `json:"refresh"`
	Expires int64    `json:"expires"`
	Scopes  []string `json:"scopes"`
}

func (w *oauthWorld) readTokens(t *testing.T, profile string) oauthTokens {
	t.Helper()
	data, err := os.ReadFile(w.oauthFile(profile))
	if err != nil {
		t.Fatal(err)
	}
	var o oauthTokens
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		t.Fatalf("cf-oauth.json: %v\n%s", err, data)
	}
	if o.Type != "oauth" || o.Access == "" || o.Refresh == "" || o.Expires == 0 {
		t.Fatalf("cf-oauth.json is incomplete: %s", data)
	}
	return o
}

// writeTokens rewrites cf-oauth.json (mode 0600, as alchemy writes it).
func (w *oauthWorld) writeTokens(t *testing.T, profile string, o oauthTokens) {
	t.Helper()
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.oauthFile(profile), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// cfEntry is the profile's Cloudflare entry in profiles.json, or nil.
func (w *oauthWorld) cfEntry(t *testing.T, profile string) map[string]any {
	t.Helper()
	if _, err := os.Stat(filepath.Join(w.alchemy, "profiles.json")); os.IsNotExist(err) {
		return nil
	}
	return readProfiles(t, w.alchemy).Profiles[profile]["Cloudflare"]
}

// checkEntry checks the profile entry an OAuth login leaves.
func (w *oauthWorld) checkEntry(t *testing.T, profile, account string, scopes []string) {
	t.Helper()
	want, _ := json.Marshal(map[string]any{"method": "oauth", "scopes": scopes, "accountId": account})
	jsonEqual(t, "profiles.json "+profile+".Cloudflare", w.cfEntry(t, profile), string(want))
}

// whoami asks the authorization server's resource endpoint who the access
// token belongs to; "" when it refuses the token.
func (w *oauthWorld) whoami(t *testing.T, access string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	var body struct {
		Sub string `json:"sub"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Sub
}

// refreshWith spends refreshToken at the token endpoint, as the CLI would,
// and returns the HTTP status and the OAuth error code ("" on success).
func (w *oauthWorld) refreshWith(t *testing.T, refreshToken string) (int, string) {
	t.Helper()
	resp, err := http.PostForm(w.srv.TokenURL(), url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken},
		"client_id": {oauthClientID}, "redirect_uri": {w.redirect},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error
}

// checkRefreshDead checks that the server no longer accepts refreshToken.
// Note: the server revokes the whole token family when a rotated refresh
// token is reused, so call this last.
func (w *oauthWorld) checkRefreshDead(t *testing.T, what, refreshToken string) {
	t.Helper()
	if status, code := w.refreshWith(t, refreshToken); status == http.StatusOK || code != "invalid_grant" {
		t.Errorf("%s: the server still accepts it (status %d, error %q), want invalid_grant", what, status, code)
	}
}

// noSecrets checks that none of the secrets appears in any output.
func noSecrets(t *testing.T, secrets []string, procs ...*oauthProc) {
	t.Helper()
	for _, p := range procs {
		for _, s := range secrets {
			if s == "" {
				continue
			}
			if strings.Contains(p.stdout.String(), s) || strings.Contains(p.stderr.String(), s) {
				t.Errorf("a secret (%.8s...) appears in the output of alchemy %s", s, strings.Join(p.args, " "))
			}
		}
	}
}

// tokenCounts returns the server's token endpoint counters.
func (w *oauthWorld) tokenCounts() (exchanges, refreshes int) { return w.srv.TokenRequests() }

// checkFreshExpiry checks that expires (epoch ms) is about an access token
// lifetime (1h) from now.
func checkFreshExpiry(t *testing.T, expires int64) {
	t.Helper()
	left := time.Until(time.UnixMilli(expires))
	if left < 50*time.Minute || left > 61*time.Minute {
		t.Errorf("expires %d is %s from now, want about 1h", expires, left.Round(time.Second))
	}
}

// fileMode returns the permission bits of path.
func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists (err %v), want it absent", path, err)
	}
}
