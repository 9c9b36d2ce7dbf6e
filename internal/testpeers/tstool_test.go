package testpeers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/lock"
	"github.com/alchemy-go/alchemy/internal/testpty"
)

// The tests of this file run the real TypeScript tool and check that what it
// writes and prints is exactly what TSTOOL.md shows: every block of TSTOOL.md
// preceded by <!-- sample: NAME --> is compared with the tool's output, and
// every block preceded by <!-- input: NAME --> is a file the tests give it.

var (
	docOnce    sync.Once
	docSamples map[string]string
	docInputs  map[string]string
	docErr     error
)

var docBlockRE = regexp.MustCompile("(?s)<!-- (sample|input): (\\S+) -->\n```[a-z]*\n(.*?)\n```")

func loadDoc(t *testing.T) {
	t.Helper()
	docOnce.Do(func() {
		data, err := os.ReadFile("TSTOOL.md")
		if err != nil {
			docErr = err
			return
		}
		docSamples, docInputs = map[string]string{}, map[string]string{}
		for _, m := range docBlockRE.FindAllStringSubmatch(string(data), -1) {
			into := docSamples
			if m[1] == "input" {
				into = docInputs
			}
			if _, dup := into[m[2]]; dup {
				docErr = &os.PathError{Op: "parse", Path: "TSTOOL.md", Err: fs.ErrExist}
			}
			into[m[2]] = m[3]
		}
	})
	if docErr != nil {
		t.Fatalf("TSTOOL.md: %v", docErr)
	}
}

// sample checks got against the TSTOOL.md sample name. normalize, when not
// nil, is applied to both sides first (for times and stamps).
func sample(t *testing.T, name, got string, normalize func(string) string) {
	t.Helper()
	loadDoc(t)
	want, ok := docSamples[name]
	got = strings.TrimSuffix(got, "\n")
	if normalize != nil {
		want, got = normalize(want), normalize(got)
	}
	if !ok {
		t.Errorf("TSTOOL.md has no sample %q; the tool wrote:\n%s", name, got)
		return
	}
	if got != want {
		t.Errorf("sample %q: the tool wrote:\n%s\n--- TSTOOL.md says:\n%s", name, got, want)
	}
}

// input returns the TSTOOL.md input block name.
func input(t *testing.T, name string) string {
	t.Helper()
	loadDoc(t)
	in, ok := docInputs[name]
	if !ok {
		t.Fatalf("TSTOOL.md has no input %q", name)
	}
	return in
}

// tsHome is an isolated HOME with ALCHEMY_HOME=$HOME/.alchemy.
func tsHome(t *testing.T) (env map[string]string, alchemyHome string) {
	home := t.TempDir()
	alchemyHome = filepath.Join(home, ".alchemy")
	return map[string]string{"HOME": home, "ALCHEMY_HOME": alchemyHome}, alchemyHome
}

// fileSample checks one provider document: its content against TSTOOL.md,
// mode 0600, directory mode 0700, and that it has no trailing newline.
func fileSample(t *testing.T, alchemyHome, profile, provider, name string, normalize func(string) string) {
	t.Helper()
	doc, raw := ReadTSProfile(t, alchemyHome, profile, provider)
	if doc.Format != "alchemy.profile/v1" || doc.Provider != provider {
		t.Errorf("%s/%s: format %q provider %q", profile, provider, doc.Format, doc.Provider)
	}
	path := TSProfilePath(alchemyHome, profile, provider)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v (%v), want 0600", path, st.Mode().Perm(), err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v (%v), want 0700", filepath.Dir(path), st.Mode().Perm(), err)
	}
	if strings.HasSuffix(string(raw), "\n") {
		t.Errorf("%s ends with a newline", path)
	}
	sample(t, name, string(raw), normalize)
}

// tree lists the files and directories under root (relative, sorted), with
// "/" after directories; logs/ is left out.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if rel == "logs" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// fakeGh writes a `gh` that prints token for `gh auth token` and returns the
// PATH to run the tool with.
func fakeGh(t *testing.T, token string) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gh"), "#!/bin/sh\nif [ \"$1 $2\" = \"auth token\" ]; then echo "+token+"; exit 0; fi\necho \"fake gh: $*\" >&2; exit 1\n", 0o755)
	return dir + ":/usr/bin:/bin"
}

// onlyBlockedRegistry checks that the only fetch() calls were the CLI's
// version check (refused by the guard).
func onlyBlockedRegistry(t *testing.T, ts *TS) {
	t.Helper()
	for _, f := range ts.Fetches(t) {
		if f != "https://registry.npmjs.org/-/package/alchemy/dist-tags" {
			t.Errorf("unexpected fetch: %s", f)
		}
	}
}

func TestTSToolEmptyHome(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	env, ah := tsHome(t)
	out, errOut, code := ts.Run(t, env, "profile", "show")
	if code != 0 || out != "* default\n" || errOut != "" {
		t.Fatalf("profile show on an empty home: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	// It creates profiles/default (0700) and the lock and logs dirs, and
	// writes no profiles.json.
	if got, want := tree(t, ah), []string{"lock/", "profiles/", "profiles/default/"}; !slices.Equal(got, want) {
		t.Errorf("ALCHEMY_HOME after profile show: %q, want %q", got, want)
	}
	if st, err := os.Stat(filepath.Join(ah, "profiles", "default")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("profiles/default: %v %v", st.Mode(), err)
	}
	logs, _ := filepath.Glob(filepath.Join(ah, "logs", "*.log"))
	if len(logs) != 1 {
		t.Errorf("logs: %q, want one run log", logs)
	}
	// HOME itself gets nothing else (telemetry is off: no ~/.alchemy/id).
	if entries, _ := os.ReadDir(env["HOME"]); len(entries) != 1 {
		t.Errorf("HOME has %d entries, want only .alchemy", len(entries))
	}
	if _, err := os.Stat(filepath.Join(ts.WorkDir, ".alchemy", "version-check.json")); err != nil {
		t.Errorf("the version check cache is not in the working dir: %v", err)
	}
	onlyBlockedRegistry(t, ts)
	if out := ts.MustRun(t, env, "--version"); out != "alchemy v"+TSToolVersion+"\n" {
		t.Errorf("--version: %q", out)
	}
}

func TestTSToolNotInstalledFails(t *testing.T) {
	t.Setenv(EnvTSToolDir, t.TempDir())
	msg, skipped := runFatal(t, func(tb testing.TB) { TSTool(tb) })
	if skipped || !strings.Contains(msg, "run ./scripts/test") {
		t.Fatalf("TSTool without an install: skipped=%v, message %q", skipped, msg)
	}
}

func TestTSToolRefusesRealHome(t *testing.T) {
	ts := TSTool(t)
	u, err := user.Current()
	if err != nil || u.HomeDir == "" {
		t.Fatalf("no home directory in the user database: %v", err)
	}
	msg, _ := runFatal(t, func(tb testing.TB) { ts.Env(tb, map[string]string{"HOME": u.HomeDir}) })
	if !strings.Contains(msg, "HOME") {
		t.Errorf("Env with the real HOME: %q", msg)
	}
	msg, _ = runFatal(t, func(tb testing.TB) { ts.Env(tb, map[string]string{}) })
	if !strings.Contains(msg, "must set HOME") {
		t.Errorf("Env without HOME: %q", msg)
	}
}

// TestTSToolWritesProfiles makes the tool write every provider file it can
// write without a browser, with the flags TSTOOL.md documents, and checks the
// files and what profile show / list print.
func TestTSToolWritesProfiles(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	sts := Emulate(t)
	ts.Redirects = map[string]string{"amazonaws.com": sts.STSEndpoint()}
	env, ah := tsHome(t)
	env["GH_PAT"] = "ghp_fromEnvVar0123456789"
	writeFile(t, filepath.Join(env["HOME"], ".aws", "config"), input(t, "aws-config"), 0o600)

	ts.MustRun(t, env, "profile", "edit", "--add", "Cloudflare", "--method", "stored",
		"--set", "apiToken=cf-api-token-0123456789", "--set", "accountId=0123456789ABCDEF0123456789abcdef")
	ts.MustRun(t, env, "profile", "edit", "--add", "GitHub", "--method", "stored", "--set", "token=env:GH_PAT")
	if out, errOut, code := ts.RunInput(t, env, "aws-secret-from-stdin\n", "profile", "edit", "--add", "AWS", "--method", "stored",
		"--set", "accessKeyId=AKIAEXAMPLESTORED001", "--set", "secretAccessKey=-", "--set", "region=us-west-2"); code != 0 {
		t.Fatalf("AWS stored: exit %d\n%s%s", code, out, errOut)
	}
	ts.MustRun(t, env, "profile", "create", "work")
	ts.MustRun(t, env, "profile", "edit", "--profile", "work", "--add", "Cloudflare", "--method", "stored",
		"--set", "apiKey=cf-global-api-key-0001", "--set", "email=me@example.com", "--set", "accountId=fedcba9876543210fedcba9876543210")
	ts.MustRun(t, env, "profile", "edit", "--profile", "work", "--add", "GitHub", "--method", "stored",
		"--set", "token=ghp_enterprise0123456789", "--set", "baseUrl=github.example.com")
	ts.MustRun(t, env, "profile", "edit", "--profile", "work", "--add", "AWS", "--method", "stored",
		"--set", "accessKeyId=ASIAEXAMPLETEMP00001", "--set", "secretAccessKey=temp-secret-access-key",
		"--set", "sessionToken=FwoGZXIvYXdzEXAMPLE", "--set", "region=eu-central-1")
	ts.MustRun(t, env, "profile", "create", "sso")
	ts.MustRun(t, env, "profile", "edit", "--profile", "sso", "--add", "AWS", "--method", "sso", "--set", "ssoProfile=dev")

	for _, f := range []struct{ profile, provider string }{
		{"default", "Cloudflare"}, {"default", "GitHub"}, {"default", "AWS"},
		{"work", "Cloudflare"}, {"work", "GitHub"}, {"work", "AWS"},
		{"sso", "AWS"},
	} {
		fileSample(t, ah, f.profile, f.provider, "cli/"+f.profile+"/"+strings.ToLower(f.provider)+".json", nil)
	}
	for _, p := range []string{"default", "work", "sso"} {
		sample(t, "cli/show-"+p, ts.MustRun(t, env, "profile", "show", "--profile", p), nil)
	}
	sample(t, "cli/list", ts.MustRun(t, env, "profile", "list"), nil)
	if got, want := tree(t, ah), []string{"lock/", "profiles/",
		"profiles/default/", "profiles/default/aws.json", "profiles/default/cloudflare.json", "profiles/default/github.json",
		"profiles/sso/", "profiles/sso/aws.json",
		"profiles/work/", "profiles/work/aws.json", "profiles/work/cloudflare.json", "profiles/work/github.json",
	}; !slices.Equal(got, want) {
		t.Errorf("ALCHEMY_HOME: %q\nwant %q", got, want)
	}
	// STS was asked twice (stored keys are checked before they are saved),
	// through the redirect; nothing else left the process.
	var stsCalls int
	for _, f := range ts.Fetches(t) {
		switch {
		case strings.HasPrefix(f, "https://sts.") && strings.Contains(f, " -> "+sts.STSEndpoint()):
			stsCalls++
		case f == "https://registry.npmjs.org/-/package/alchemy/dist-tags":
		default:
			t.Errorf("unexpected fetch: %s", f)
		}
	}
	if stsCalls != 2 {
		t.Errorf("STS calls: %d, want 2: %q", stsCalls, ts.Fetches(t))
	}
}

// TestTSToolRefusesUnverifiedAWSKeys: without a reachable STS the tool saves
// no AWS keys.
func TestTSToolRefusesUnverifiedAWSKeys(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	env, ah := tsHome(t)
	out, errOut, code := ts.Run(t, env, "profile", "edit", "--add", "AWS", "--method", "stored",
		"--set", "accessKeyId=AKIAEXAMPLE", "--set", "secretAccessKey=s", "--set", "region=us-east-1")
	if code != 1 || out != "" || errOut != "error: AWS: failed to verify credentials via STS GetCallerIdentity.\n" {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if _, err := os.Stat(TSProfilePath(ah, "default", "AWS")); !os.IsNotExist(err) {
		t.Errorf("aws.json: %v", err)
	}
	if f := ts.Fetches(t); !slices.Contains(f, "https://sts.us-east-1.amazonaws.com/") {
		t.Errorf("fetches: %q", f)
	}
}

// TestTSToolInteractiveGhCli drives the interactive `profile edit` on a
// pseudo-terminal: GitHub's gh-cli method (interactive only) stores the
// token `gh auth token` printed.
func TestTSToolInteractiveGhCli(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	env, ah := tsHome(t)
	env["PATH"] = fakeGh(t, "gho_fromGhCli0123456789")
	p := ts.Start(t, env, "profile", "edit", "--add", "GitHub")
	p.Expect("GitHub authentication method")
	p.Expect("Personal Access Token")
	pressUntil(t, p, "\r", "GitHub host")           // the first choice, GitHub CLI
	pressUntil(t, p, "\r", "GitHub host · (empty)") // blank: github.com
	p.RequireExit(0)
	fileSample(t, ah, "default", "GitHub", "pty/default/github.json", nil)
}

// pressUntil types key until want appears on the screen after what was
// matched so far, then consumes it. The prompts draw before they read the
// keyboard: a key typed in between reaches them in cooked mode ("\r" read
// as "\n"), which they ignore, so the key is typed again every 2 s.
func pressUntil(t *testing.T, p *testpty.Proc, key, want string) {
	t.Helper()
	deadline := time.Now().Add(p.Timeout)
	for time.Now().Before(deadline) {
		p.Send(key)
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if s := p.Screen(); strings.Contains(s[min(p.Matched(), len(s)):], want) {
				p.Expect(want)
				return
			}
		}
	}
	t.Fatalf("%q did not appear after typing %q for %v; screen:\n%s", want, key, p.Timeout, p.Screen())
}

// expiresRE normalizes the expiry of OAuth samples.
var expiresRE = regexp.MustCompile(`("expires": )\d+|(expires: )(in [^(]*|expired )\([^)]*\)`)

func normExpires(s string) string { return expiresRE.ReplaceAllString(s, "$1$2<expires>") }

// TestTSToolCloudflareOAuth: the OAuth values shape (hand-written from the
// source, the tool accepts it), and the tool itself rewriting it on a token
// refresh, holding its profile-credentials lock while it waits for the token
// endpoint.
func TestTSToolCloudflareOAuth(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	env, ah := tsHome(t)

	var (
		mu        sync.Mutex
		form      url.Values
		locks     []string
		owner     string
		ownerOK   bool
		ownerMode os.FileMode
		inLock    []os.DirEntry
		goWaited  string
	)
	lockDir := filepath.Join(ah, "lock")
	tokenResponse := input(t, "oauth-token-response")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/oauth2/token" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		mu.Lock()
		form = r.PostForm
		// The tool is waiting for us now: look at its locks.
		entries, _ := os.ReadDir(lockDir)
		for _, e := range entries {
			locks = append(locks, e.Name())
		}
		ownerPath := filepath.Join(lockDir, "profile-credentials-expired.lock", "owner")
		b, err := os.ReadFile(ownerPath)
		owner, ownerOK = string(b), err == nil
		if st, err := os.Stat(ownerPath); err == nil {
			ownerMode = st.Mode().Perm()
		}
		inLock, _ = os.ReadDir(filepath.Dir(ownerPath))
		// Our lock package waits for it (the owner is not one of ours,
		// so only the mtime counts, and the tool keeps it fresh).
		l, err := lock.Acquire(context.Background(), lockDir, "profile-credentials-expired", lock.Options{Timeout: 1500 * time.Millisecond, Warn: func(string) {}})
		if _, ok := errors.AsType[*lock.TimeoutError](err); !ok {
			goWaited = fmt.Sprintf("lock.Acquire while the tool holds the lock: %v, %v", l, err)
			_ = l.Release()
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(tokenResponse))
	}))
	t.Cleanup(srv.Close)
	ts.Redirects = map[string]string{"dash.cloudflare.com": srv.URL}

	ts.MustRun(t, env, "profile", "create", "expired")
	writeFile(t, TSProfilePath(ah, "default", "Cloudflare"), input(t, "oauth/valid/cloudflare.json"), 0o600)
	writeFile(t, TSProfilePath(ah, "expired", "Cloudflare"), input(t, "oauth/expired/cloudflare.json"), 0o600)

	out := ts.MustRun(t, env, "profile", "show")
	t.Logf("profile show:\n%s", out)
	sample(t, "oauth/show-valid", out, normExpires)
	started := time.Now()
	out = ts.MustRun(t, env, "profile", "show", "--profile", "expired")
	t.Logf("profile show --profile expired:\n%s", out)
	sample(t, "oauth/show-refreshed", out, normExpires)
	fileSample(t, ah, "expired", "Cloudflare", "oauth/refreshed/cloudflare.json", normExpires)

	mu.Lock()
	defer mu.Unlock()
	if form == nil {
		t.Fatalf("the token endpoint was not called; fetches %q", ts.Fetches(t))
	}
	if got := form.Encode(); got != "client_id=e7e25ec474419def6ba38d2d2638b122&grant_type=refresh_token&refresh_token=expired-refresh-token" {
		t.Errorf("refresh request form: %s", got)
	}
	if !slices.Equal(locks, []string{"profile-credentials-expired.lock"}) {
		t.Errorf("locks held during the refresh: %q", locks)
	}
	if !ownerOK || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(owner) {
		t.Errorf("owner file while held: %q (read ok %v), want a bare UUID v4", owner, ownerOK)
	}
	if ownerMode != 0o644 || len(inLock) != 1 {
		t.Errorf("while held: owner mode %v, lock dir entries %v; want 0644 and only owner", ownerMode, inLock)
	}
	if goWaited != "" {
		t.Error(goWaited)
	}
	// The lock is gone once the run is over (our lock package left its
	// .guard file there).
	if got := tree(t, lockDir); !slices.Equal(got, []string{".guard"}) {
		t.Errorf("lock dir after the run: %q", got)
	}
	// The refreshed expiry is now + expires_in.
	doc, _ := ReadTSProfile(t, ah, "expired", "Cloudflare")
	exp := time.UnixMilli(int64(doc.Values["expires"].(float64)))
	if exp.Before(started.Add(time.Hour)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("expires %v, want about an hour from now", exp)
	}
}

// copyTree copies the v0 fixture of internal/profile into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

var backupRE = regexp.MustCompile(`^\.profiles-v0-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z/$`)

// v0Backups returns the backup directories of migrations, oldest first.
func v0Backups(t *testing.T, ah string) []string {
	t.Helper()
	var out []string
	for _, f := range tree(t, ah) {
		if backupRE.MatchString(f) {
			out = append(out, strings.TrimSuffix(f, "/"))
		}
	}
	return out
}

func TestTSToolMigratesV0Fixture(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	env, ah := tsHome(t)
	copyTree(t, filepath.Join("..", "profile", "testdata", "v0-home"), ah)
	sample(t, "v0fixture/list", ts.MustRun(t, env, "profile", "list"), nil)

	backups := v0Backups(t, ah)
	if len(backups) != 1 {
		t.Fatalf("backups: %q in %q", backups, tree(t, ah))
	}
	b := backups[0]
	if got, want := tree(t, ah), []string{
		b + "/", b + "/credentials/", b + "/credentials/work/", b + "/credentials/work/cf-stored.json", b + "/profiles.json",
		"lock/", "profiles/",
		"profiles/default/", "profiles/default/aws.json", "profiles/default/cloudflare.json",
		"profiles/work/", "profiles/work/axiom.json", "profiles/work/cloudflare.json", "profiles/work/github.json",
	}; !slices.Equal(got, want) {
		t.Errorf("after migration: %q\nwant %q", got, want)
	}
	if st, err := os.Stat(filepath.Join(ah, b)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("backup dir mode: %v %v", st.Mode(), err)
	}
	orig, _ := os.ReadFile(filepath.Join("..", "profile", "testdata", "v0-home", "profiles.json"))
	if moved, _ := os.ReadFile(filepath.Join(ah, b, "profiles.json")); string(moved) != string(orig) {
		t.Errorf("the backed-up profiles.json differs from the original")
	}
	for _, f := range []string{"default/aws", "default/cloudflare", "work/axiom", "work/cloudflare", "work/github"} {
		profile, provider, _ := strings.Cut(f, "/")
		name := map[string]string{"aws": "AWS", "cloudflare": "Cloudflare", "axiom": "Axiom", "github": "GitHub"}[provider]
		fileSample(t, ah, profile, name, "v0fixture/"+f+".json", nil)
	}
	sample(t, "v0fixture/show-work", ts.MustRun(t, env, "profile", "show", "--profile", "work"), nil)
}

// writeInputs writes every TSTOOL.md input block named prefix/<path> as
// <dir>/<path>, mode 0600.
func writeInputs(t *testing.T, prefix, dir string) {
	t.Helper()
	loadDoc(t)
	n := 0
	for name, content := range docInputs {
		if rel, ok := strings.CutPrefix(name, prefix+"/"); ok {
			writeFile(t, filepath.Join(dir, rel), content+"\n", 0o600)
			n++
		}
	}
	if n == 0 {
		t.Fatalf("TSTOOL.md has no input %s/...", prefix)
	}
}

// TestTSToolMigratesEveryMethod gives the tool a v0 home with every provider
// and method our tool writes, then, after the migration, a second v0
// profiles.json.
func TestTSToolMigratesEveryMethod(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	env, ah := tsHome(t)
	writeInputs(t, "v0full", ah)

	sample(t, "v0full/list", ts.MustRun(t, env, "profile", "list"), nil)
	files := map[string][]string{
		"default": {"AWS", "Cloudflare", "GitHub"},
		"keyauth": {"AWS", "Cloudflare", "GitHub"},
		"oauth":   {"Cloudflare"},
		"tsaws":   {"AWS"},
	}
	for profile, providers := range files {
		for _, p := range providers {
			fileSample(t, ah, profile, p, "v0full/"+profile+"/"+strings.ToLower(p)+".json", nil)
		}
	}
	if entries, err := os.ReadDir(filepath.Join(ah, "profiles", "envs")); err != nil || len(entries) != 0 {
		t.Errorf("profiles/envs: %v %v, want an empty dir", entries, err)
	}
	if len(v0Backups(t, ah)) != 1 {
		t.Errorf("backups: %q", tree(t, ah))
	}
	for _, p := range []string{"default", "oauth", "tsaws"} {
		sample(t, "v0full/show-"+p, ts.MustRun(t, env, "profile", "show", "--profile", p), nil)
	}
	// gh-cli: a read-only command stores gh's token in the file.
	withGh := map[string]string{"PATH": fakeGh(t, "gho_capturedByShow0123")}
	for k, v := range env {
		withGh[k] = v
	}
	sample(t, "v0full/show-keyauth", ts.MustRun(t, withGh, "profile", "show", "--profile", "keyauth"), nil)
	fileSample(t, ah, "keyauth", "GitHub", "v0full/keyauth/github-after-show.json", nil)

	// A v0 profiles.json written after the migration is migrated again:
	// existing v1 files are kept as they are, new ones are added, and the
	// v0 files go to a second backup.
	before, _ := os.ReadFile(TSProfilePath(ah, "default", "Cloudflare"))
	writeInputs(t, "v0again", ah)
	sample(t, "v0again/list", ts.MustRun(t, env, "profile", "list"), nil)
	if after, _ := os.ReadFile(TSProfilePath(ah, "default", "Cloudflare")); string(after) != string(before) {
		t.Errorf("default/cloudflare.json changed:\n%s", after)
	}
	fileSample(t, ah, "default", "AWS", "v0full/default/aws.json", nil)
	fileSample(t, ah, "later", "GitHub", "v0again/later/github.json", nil)
	backups := v0Backups(t, ah)
	if len(backups) != 2 {
		t.Fatalf("backups: %q", tree(t, ah))
	}
	var second []string
	for _, f := range tree(t, ah) {
		if rest, ok := strings.CutPrefix(f, backups[1]+"/"); ok && rest != "" {
			second = append(second, rest)
		}
	}
	if want := []string{"credentials/", "credentials/default/", "credentials/default/aws-stored.json", "credentials/default/cf-stored.json",
		"credentials/later/", "credentials/later/gh-stored.json", "profiles.json"}; !slices.Equal(second, want) {
		t.Errorf("second backup: %q\nwant %q", second, want)
	}
	if _, err := os.Stat(filepath.Join(ah, "profiles.json")); !os.IsNotExist(err) {
		t.Errorf("profiles.json after the second migration: %v", err)
	}
}

// TestTSToolInvalidFiles: what the tool does with files it cannot use.
func TestTSToolInvalidFiles(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	env, ah := tsHome(t)
	writeFile(t, filepath.Join(ah, "profiles.json"), "{\"version\":0,\"profiles\":", 0o600)
	writeFile(t, TSProfilePath(ah, "default", "Cloudflare"), "not json", 0o600)
	writeFile(t, TSProfilePath(ah, "default", "AWS"), `{"format":"alchemy.profile/v1","provider":"GitHub","metadata":{},"values":{"method":"stored","token":"t"}}`, 0o600)
	writeFile(t, TSProfilePath(ah, "default", "Neon"), `{"format":"alchemy.profile/v1","provider":"Neon","values":{"method":"stored","apiKey":"k"}}`, 0o600)
	writeFile(t, TSProfilePath(ah, "default", "GitHub"), `{"format":"alchemy.profile/v1","provider":"GitHub","metadata":{},"values":{"method":"stored","token":"ghp_x"},"extra":1}`, 0o600)
	out, errOut, code := ts.Run(t, env, "profile", "list")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// The warnings go to stdout, each followed by an inspected cause.
	for _, w := range []string{
		"Invalid profile file '" + filepath.Join(ah, "profiles.json") + "' was backed up to '" + filepath.Join(ah, "profiles.json") + ".invalid-",
		"Invalid profile file '" + TSProfilePath(ah, "default", "Cloudflare") + "' was backed up to '",
		"Invalid profile file '" + TSProfilePath(ah, "default", "AWS") + "' was backed up to '",
		"Invalid profile file '" + TSProfilePath(ah, "default", "Neon") + "' was backed up to '",
		"Profiles (1)\n* default: GitHub (stored)\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	stamp := `\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z`
	want := []*regexp.Regexp{
		regexp.MustCompile(`^lock/$`),
		regexp.MustCompile(`^profiles\.json\.invalid-` + stamp + `\.bak$`),
		regexp.MustCompile(`^profiles/$`),
		regexp.MustCompile(`^profiles/default/$`),
		regexp.MustCompile(`^profiles/default/aws\.json\.invalid-` + stamp + `\.bak$`),
		regexp.MustCompile(`^profiles/default/cloudflare\.json\.invalid-` + stamp + `\.bak$`),
		regexp.MustCompile(`^profiles/default/github\.json$`),
		regexp.MustCompile(`^profiles/default/neon\.json\.invalid-` + stamp + `\.bak$`),
	}
	got := tree(t, ah)
	if len(got) != len(want) {
		t.Fatalf("ALCHEMY_HOME: %q", got)
	}
	for i := range got {
		if !want[i].MatchString(got[i]) {
			t.Errorf("ALCHEMY_HOME[%d] = %q, want %v", i, got[i], want[i])
		}
	}
}

// ourOwner is the owner record our lock package writes.
const ourOwner = `{"pid":999999,"host":"elsewhere","nonce":"0123456789abcdef","acquiredAt":"2026-01-01T00:00:00Z","command":"alchemy deploy"}`

// TestTSToolLocks: the tool judges a lock directory by its mtime alone.
func TestTSToolLocks(t *testing.T) {
	t.Parallel()
	ts := TSTool(t)
	mkLock := func(t *testing.T, ah, owner string, age time.Duration) string {
		dir := filepath.Join(ah, "lock", "profiles-migrate.lock")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			writeFile(t, filepath.Join(dir, "owner"), owner, 0o600)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("stale JSON owner is reaped", func(t *testing.T) {
		t.Parallel()
		env, ah := tsHome(t)
		dir := mkLock(t, ah, ourOwner, 40*time.Second)
		ts.MustRun(t, env, "profile", "list")
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("the stale lock is still there: %v", err)
		}
	})
	t.Run("stale lock without owner is reaped", func(t *testing.T) {
		t.Parallel()
		env, ah := tsHome(t)
		dir := mkLock(t, ah, "", 31*time.Second)
		ts.MustRun(t, env, "profile", "list")
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("the stale lock is still there: %v", err)
		}
	})
	t.Run("a lock held by our lock package is waited for", func(t *testing.T) {
		t.Parallel()
		env, ah := tsHome(t)
		// A heartbeat of 1 s and a hold of 6 s: the tool must wait for the
		// release, however long, as long as the mtime stays fresh.
		const hold = 6 * time.Second
		l, err := lock.Acquire(context.Background(), filepath.Join(ah, "lock"), "profiles-migrate",
			lock.Options{Command: "go test", Heartbeat: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		released := make(chan error, 1)
		go func() {
			time.Sleep(hold)
			released <- l.Release()
		}()
		start := time.Now()
		ts.MustRun(t, env, "profile", "list")
		if err := <-released; err != nil {
			t.Errorf("Release: %v", err)
		}
		if d := time.Since(start); d < hold {
			t.Errorf("the tool finished after %v, before the lock was released (%v)", d, hold)
		}
	})
}
