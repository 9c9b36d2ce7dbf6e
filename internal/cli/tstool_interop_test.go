//go:build unix

package cli_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	githubfake "github.com/alchemy-go/alchemy/internal/fakes/github"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// Both tools on one ~/.alchemy, against the real TypeScript alchemy
// (2.0.0-beta.79, installed by ./scripts/test; see
// internal/testpeers/TSTOOL.md for what it reads and writes).

// ours runs this tool (the test binary as alchemy) with env, in an empty
// directory, and returns what it printed.
func ours(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := oursCmd(t, env, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("alchemy %v: %v", args, err)
		}
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func oursCmd(t *testing.T, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"ALCHEMY_CLI_MAIN=1", "PATH=" + os.Getenv("PATH")}, env...)
	cmd.Dir = t.TempDir()
	return cmd
}

func mustOurs(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := ours(t, env, args...)
	if code != 0 {
		t.Fatalf("alchemy %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// A home written by this tool (the seed's v0 layout) is shown by the
// TypeScript tool with every provider connected and every secret found;
// after its migration to v1, this tool shows exactly what it showed before
// and writes the v1 files, which the TypeScript tool reads back.
func TestTSToolSharesAHomeWrittenByUs(t *testing.T) {
	t.Parallel()
	ts := testpeers.TSTool(t)
	sts := testpeers.Emulate(t)
	ts.Redirects = map[string]string{"amazonaws.com": sts.STSEndpoint()}
	cf := cloudflarefake.New()
	cf.AddAccount(cfAccount, "Work")
	cf.AddToken(cfToken, cloudflarefake.TokenOptions{UserEmail: cfEmail})
	cf.AddToken("cf-second-token-0004", cloudflarefake.TokenOptions{UserEmail: cfEmail})
	cf.AddGlobalKey(cfEmail, cfGlobalKey, cfAccount)
	cf.Start()
	t.Cleanup(cf.Close)
	gh := githubfake.New()
	gh.AddToken(ghToken, "octocat")
	gh.AddToken("ghp_secondtoken0002", "octocat")
	gh.Start()
	t.Cleanup(gh.Close)

	home := t.TempDir()
	ah := filepath.Join(home, ".alchemy")
	env := []string{"HOME=" + home, "ALCHEMY_HOME=" + ah, "CLOUDFLARE_BASE_URL=" + cf.URL(), "GITHUB_API_URL=" + gh.URL(),
		"AWS_ENDPOINT_URL=" + testpeers.LeakGuardEndpoint, "AWS_ENDPOINT_URL_STS=" + sts.STSEndpoint(), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, ".aws", "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, ".aws", "credentials")}
	with := func(extra ...string) []string { return append(append([]string(nil), env...), extra...) }
	const awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	mustOurs(t, with("CLOUDFLARE_API_TOKEN="+cfToken, "CLOUDFLARE_ACCOUNT_ID="+cfAccount), "login", "--provider", "Cloudflare", "--method", "stored")
	mustOurs(t, with("GITHUB_TOKEN="+ghToken), "login", "--provider", "GitHub", "--method", "stored")
	mustOurs(t, with("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY="+awsSecret, "AWS_REGION=eu-west-1"),
		"login", "--provider", "AWS", "--method", "stored")
	mustOurs(t, with("CLOUDFLARE_API_KEY="+cfGlobalKey, "CLOUDFLARE_EMAIL="+cfEmail, "CLOUDFLARE_ACCOUNT_ID="+cfAccount),
		"login", "--profile", "work", "--provider", "Cloudflare", "--method", "stored")
	if _, err := os.Stat(filepath.Join(ah, "profiles.json")); err != nil {
		t.Fatalf("a new home is written in the seed's layout: %v", err)
	}
	before := mustOurs(t, env, "profile", "show")
	beforeWork := mustOurs(t, env, "profile", "show", "--profile", "work")

	tsEnv := map[string]string{"HOME": home, "ALCHEMY_HOME": ah}
	out := ts.MustRun(t, tsEnv, "profile", "show")
	for _, want := range []string{
		"AWS (stored) — connected", "accessKeyId: AKIA****", "secretAccessKey: wJal****", "region: eu-west-1",
		"Cloudflare (stored) — connected", "apiToken: cf-valid-****", "accountId: " + cfAccount,
		"GitHub (stored) — connected", "token: ghp_va****",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("TypeScript profile show of our home: no %q in\n%s", want, out)
		}
	}
	if out := ts.MustRun(t, tsEnv, "profile", "show", "--profile", "work"); !strings.Contains(out, "Cloudflare (stored) — connected") ||
		!strings.Contains(out, "apiKey: cf-g****") {
		t.Errorf("TypeScript profile show --profile work:\n%s", out)
	}
	// It migrated: profiles.json and credentials/ are in a backup.
	if _, err := os.Stat(filepath.Join(ah, "profiles.json")); err == nil {
		t.Fatal("the TypeScript tool did not migrate profiles.json")
	}
	backups, _ := filepath.Glob(filepath.Join(ah, ".profiles-v0-*", "credentials", "default", "aws-stored.json"))
	if len(backups) != 1 {
		t.Errorf("v0 backup: %q", backups)
	}

	// This tool reads the v1 files it left: the same profiles, the same lines.
	if got := mustOurs(t, env, "profile", "show"); got != before {
		t.Errorf("profile show after the migration:\n%s\nbefore:\n%s", got, before)
	}
	if got := mustOurs(t, env, "profile", "show", "--profile", "work"); got != beforeWork {
		t.Errorf("profile show --profile work after the migration:\n%s\nbefore:\n%s", got, beforeWork)
	}

	// ... and writes v1: a new token and a method change, seen by the
	// TypeScript tool; nothing goes back to profiles.json.
	mustOurs(t, with("GITHUB_TOKEN=ghp_secondtoken0002"), "login", "--configure", "--provider", "GitHub", "--method", "stored")
	mustOurs(t, with("CLOUDFLARE_API_TOKEN=cf-second-token-0004", "CLOUDFLARE_ACCOUNT_ID="+cfAccount),
		"login", "--profile", "work", "--configure", "--provider", "Cloudflare", "--method", "stored")
	if _, err := os.Stat(filepath.Join(ah, "profiles.json")); err == nil {
		t.Error("a login in a v1 home wrote profiles.json")
	}
	doc, raw := testpeers.ReadTSProfile(t, ah, "work", "Cloudflare")
	if doc.Format != "alchemy.profile/v1" || strings.HasSuffix(string(raw), "\n") ||
		!strings.Contains(string(raw), `"apiToken": "cf-second-token-0004"`) || strings.Contains(string(raw), "apiKey") {
		t.Errorf("work/cloudflare.json:\n%s", raw)
	}
	if st, err := os.Stat(testpeers.TSProfilePath(ah, "work", "Cloudflare")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("work/cloudflare.json mode: %v %v", st, err)
	}
	out = ts.MustRun(t, tsEnv, "profile", "show")
	if !strings.Contains(out, "token: ghp_se****") {
		t.Errorf("TypeScript profile show after our login:\n%s", out)
	}
	out = ts.MustRun(t, tsEnv, "profile", "show", "--profile", "work")
	if !strings.Contains(out, "Cloudflare (stored) — connected") || !strings.Contains(out, "apiToken: cf-second****") {
		t.Errorf("TypeScript profile show --profile work after our login:\n%s", out)
	}
}

// A home the TypeScript tool wrote (v1) is shown by this tool.
func TestTSToolHomeIsShownByUs(t *testing.T) {
	t.Parallel()
	ts := testpeers.TSTool(t)
	sts := testpeers.Emulate(t)
	ts.Redirects = map[string]string{"amazonaws.com": sts.STSEndpoint()}
	home := t.TempDir()
	ah := filepath.Join(home, ".alchemy")
	tsEnv := map[string]string{"HOME": home, "ALCHEMY_HOME": ah}
	ts.MustRun(t, tsEnv, "profile", "edit", "--add", "Cloudflare", "--method", "stored",
		"--set", "apiToken=cf-api-token-0123456789", "--set", "accountId=0123456789ABCDEF0123456789abcdef")
	ts.MustRun(t, tsEnv, "profile", "edit", "--add", "GitHub", "--method", "stored", "--set", "token=ghp_fromTheTSTool0123")
	if out, errOut, code := ts.RunInput(t, tsEnv, "aws-secret-from-stdin\n", "profile", "edit", "--add", "AWS", "--method", "stored",
		"--set", "accessKeyId=AKIAEXAMPLESTORED001", "--set", "secretAccessKey=-", "--set", "region=us-west-2"); code != 0 {
		t.Fatalf("AWS stored: exit %d\n%s%s", code, out, errOut)
	}
	ts.MustRun(t, tsEnv, "profile", "create", "work")
	ts.MustRun(t, tsEnv, "profile", "edit", "--profile", "work", "--add", "Cloudflare", "--method", "stored",
		"--set", "apiKey=cf-global-api-key-0001", "--set", "email=me@example.com", "--set", "accountId=fedcba9876543210fedcba9876543210")

	env := []string{"HOME=" + home, "ALCHEMY_HOME=" + ah, "AWS_ENDPOINT_URL=" + testpeers.LeakGuardEndpoint,
		"AWS_ENDPOINT_URL_STS=" + sts.STSEndpoint(), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, ".aws", "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, ".aws", "credentials")}
	if got, want := mustOurs(t, env, "profile", "list"), `Profiles (2)
* default: AWS (stored), Cloudflare (stored), GitHub (stored)
- work: Cloudflare (stored)

Selected: default (built-in default)
`; got != want {
		t.Errorf("profile list:\n%s\nwant:\n%s", got, want)
	}
	out := mustOurs(t, env, "profile", "show")
	for _, want := range []string{
		"── AWS ──", "accessKeyId:     AKIA****", "secretAccessKey: aws-****", "region:          us-west-2", "account:         " + testpeers.AccountID,
		"── Cloudflare ──", "apiToken: cf-a****", "accountId: 0123456789abcdef0123456789abcdef",
		"── GitHub ──", "token: ghp_fr****",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("profile show of a TypeScript home: no %q in\n%s", want, out)
		}
	}
	out = mustOurs(t, env, "profile", "show", "--profile", "work")
	if !strings.Contains(out, "apiKey: cf-g****") || !strings.Contains(out, "email:  me@e****") {
		t.Errorf("profile show --profile work:\n%s", out)
	}
	// profile env hands the inline secrets over, as from our own files.
	if out := mustOurs(t, env, "profile", "env", "--provider", "AWS"); !strings.Contains(out, "export AWS_SECRET_ACCESS_KEY='aws-secret-from-stdin'") {
		t.Errorf("profile env --provider AWS:\n%s", out)
	}
}

// tokenServer is a Cloudflare OAuth token endpoint that records each
// refresh and answers only once release is closed.
type tokenServer struct {
	*httptest.Server
	mu       sync.Mutex
	forms    []url.Values
	got      chan struct{} // closed at the first request
	firstAt  time.Time     // when it came
	release  chan struct{}
	response string
}

func newTokenServer(t *testing.T, access string) *tokenServer {
	s := &tokenServer{got: make(chan struct{}), release: make(chan struct{}),
		response: `{"access_token":"` + access + `","refresh_token":"` + access + `-refresh","expires_in":3600,"scope":"account:read workers:write offline_access"}`}
	var once sync.Once
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		s.mu.Lock()
		s.forms = append(s.forms, r.PostForm)
		s.mu.Unlock()
		once.Do(func() {
			s.mu.Lock()
			s.firstAt = time.Now()
			s.mu.Unlock()
			close(s.got)
		})
		<-s.release
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(s.response))
	}))
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		s.Close()
	})
	return s
}

func (s *tokenServer) calls() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.forms...)
}

func waitClosed(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// expiredTSOAuth is a Cloudflare OAuth grant of the TypeScript tool
// (its client id), expired.
func expiredTSOAuth(refresh string) string {
	return `{
  "format": "alchemy.profile/v1",
  "provider": "Cloudflare",
  "metadata": {},
  "values": {
    "method": "oauth",
    "scopes": ["account:read", "workers:write", "offline_access"],
    "accountId": "0123456789abcdef0123456789abcdef",
    "clientId": "e7e25ec474419def6ba38d2d2638b122",
    "access": "expired-access-token",
    "refresh": "` + refresh + `",
    "expires": 1700000000000
  }
}`
}

// The profile lock excludes both ways: while one tool refreshes a grant
// (holding profile-credentials-<p>), the other waits, and then uses the
// refreshed grant instead of spending the old refresh token again.
func TestTSToolLocksExcludeBothWays(t *testing.T) {
	t.Parallel()
	ts := testpeers.TSTool(t)
	home := t.TempDir()
	ah := filepath.Join(home, ".alchemy")
	tsEnv := map[string]string{"HOME": home, "ALCHEMY_HOME": ah}
	ts.MustRun(t, tsEnv, "profile", "create", "p")
	path := testpeers.TSProfilePath(ah, "p", "Cloudflare")
	if err := os.WriteFile(path, []byte(expiredTSOAuth("ts-refresh-1")), 0o600); err != nil {
		t.Fatal(err)
	}

	// 1. This tool holds the lock; the TypeScript tool waits for it.
	goSrv := newTokenServer(t, "go-refreshed-access")
	tsSrv := newTokenServer(t, "ts-refreshed-access")
	close(tsSrv.release)
	ts.Redirects = map[string]string{"dash.cloudflare.com": tsSrv.URL}
	env := []string{"HOME=" + home, "ALCHEMY_HOME=" + ah, "CLOUDFLARE_OAUTH_TOKEN_URL=" + goSrv.URL + "/oauth2/token"}
	var goOut, goErr bytes.Buffer
	goCmd := oursCmd(t, env, "profile", "show", "--profile", "p")
	goCmd.Stdout, goCmd.Stderr = &goOut, &goErr
	if err := goCmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, goSrv.got, "this tool's refresh")
	tsCmd := ts.Command(t, tsEnv, "profile", "show", "--profile", "p")
	var tsOut, tsErr bytes.Buffer
	tsCmd.Stdout, tsCmd.Stderr = &tsOut, &tsErr
	if err := tsCmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, ah, tsCmd.Process.Pid, regexp.MustCompile(`auth lock: acquiring '[^']*/profile-credentials-p\.lock'`))
	time.Sleep(time.Second)
	if tsLog(ah, tsCmd.Process.Pid, regexp.MustCompile(`auth lock: acquired '[^']*/profile-credentials-p\.lock'`)) {
		t.Fatal("the TypeScript tool took the profile lock while this tool held it")
	}
	released := time.Now()
	close(goSrv.release)
	if err := goCmd.Wait(); err != nil {
		t.Fatalf("alchemy profile show: %v\n%s%s", err, goOut.String(), goErr.String())
	}
	if err := tsCmd.Wait(); err != nil {
		t.Fatalf("TypeScript profile show: %v\n%s%s", err, tsOut.String(), tsErr.String())
	}
	if f := goSrv.calls(); len(f) != 1 || f[0].Get("client_id") != "e7e25ec474419def6ba38d2d2638b122" || f[0].Get("refresh_token") != "ts-refresh-1" {
		t.Errorf("our refresh: %v (a grant is refreshed with the client it was issued to)", f)
	}
	if !strings.Contains(goOut.String(), "accessToken: go-r****") {
		t.Errorf("alchemy profile show:\n%s", goOut.String())
	}
	// It waited, but read the file before it took the lock (TSTOOL.md §9),
	// so it then spends the refresh token it read first: its own race,
	// which only shows here as a refresh that starts after ours ended.
	if f := tsSrv.calls(); len(f) != 1 || f[0].Get("refresh_token") != "ts-refresh-1" || !strings.Contains(tsOut.String(), "accessToken: ts-r****") {
		t.Errorf("the TypeScript tool's refreshes: %v\n%s", f, tsOut.String())
	}
	if tsSrv.mu.Lock(); !tsSrv.firstAt.After(released) {
		t.Errorf("the TypeScript tool refreshed at %v, before this tool released the lock at %v", tsSrv.firstAt, released)
	}
	tsSrv.mu.Unlock()
	doc, raw := testpeers.ReadTSProfile(t, ah, "p", "Cloudflare")
	if doc.Format != "alchemy.profile/v1" || !strings.Contains(string(raw), `"clientId": "e7e25ec474419def6ba38d2d2638b122"`) ||
		!strings.Contains(string(raw), `"refresh": "ts-refreshed-access-refresh"`) {
		t.Errorf("cloudflare.json after our refresh:\n%s", raw)
	}

	// 2. The TypeScript tool holds the lock; this tool waits for it.
	if err := os.WriteFile(path, []byte(expiredTSOAuth("ts-refresh-2")), 0o600); err != nil {
		t.Fatal(err)
	}
	goSrv2 := newTokenServer(t, "go-second-access")
	close(goSrv2.release)
	tsSrv2 := newTokenServer(t, "ts-refreshed-access")
	ts.Redirects = map[string]string{"dash.cloudflare.com": tsSrv2.URL}
	tsCmd = ts.Command(t, tsEnv, "profile", "show", "--profile", "p")
	tsOut.Reset()
	tsErr.Reset()
	tsCmd.Stdout, tsCmd.Stderr = &tsOut, &tsErr
	if err := tsCmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, tsSrv2.got, "the TypeScript tool's refresh")
	env[len(env)-1] = "CLOUDFLARE_OAUTH_TOKEN_URL=" + goSrv2.URL + "/oauth2/token"
	goOut.Reset()
	goErr.Reset()
	goCmd = oursCmd(t, env, "profile", "show", "--profile", "p")
	goCmd.Stdout, goCmd.Stderr = &goOut, &goErr
	if err := goCmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	close(tsSrv2.release)
	if err := tsCmd.Wait(); err != nil {
		t.Fatalf("TypeScript profile show: %v\n%s%s", err, tsOut.String(), tsErr.String())
	}
	if err := goCmd.Wait(); err != nil {
		t.Fatalf("alchemy profile show: %v\n%s%s", err, goOut.String(), goErr.String())
	}
	if n := len(goSrv2.calls()); n != 0 || !strings.Contains(goOut.String(), "accessToken: ts-r****") {
		t.Errorf("this tool refreshed %d times (want 0: it waited and used the TypeScript tool's):\n%s%s", n, goOut.String(), goErr.String())
	}
}

// waitLog waits for a line of the debug log of the TypeScript tool's
// process pid.
func waitLog(t *testing.T, alchemyHome string, pid int, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if tsLog(alchemyHome, pid, re) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the TypeScript tool (pid %d) never logged %v", pid, re)
}

// tsLog reports whether the debug log of process pid has a match of re.
func tsLog(alchemyHome string, pid int, re *regexp.Regexp) bool {
	logs, _ := filepath.Glob(filepath.Join(alchemyHome, "logs", fmt.Sprintf("*-pid%d.log", pid)))
	for _, l := range logs {
		if data, err := os.ReadFile(l); err == nil && re.Match(data) {
			return true
		}
	}
	return false
}
