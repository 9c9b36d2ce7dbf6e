package cli_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/fakes/awssso"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	"github.com/alchemy-go/alchemy/internal/testpty"
)

// ssoWorld is a home with an AWS config of an SSO profile (sso-session
// style), a role chained onto it, and a legacy inline SSO profile, pointed at
// the SSO fake and the emulate STS peer.
type ssoWorld struct {
	dir, home, alchemyHome string
	sso                    *awssso.Server
	env                    []string
}

func newSSOWorld(t *testing.T, emulate *testpeers.Peer) *ssoWorld {
	t.Helper()
	return newSSOWorldOn(t, emulate, awssso.Start(t))
}

func newSSOWorldOn(t *testing.T, emulate *testpeers.Peer, sso *awssso.Server) *ssoWorld {
	t.Helper()
	w := &ssoWorld{dir: t.TempDir()}
	w.home = filepath.Join(w.dir, "home")
	w.alchemyHome = filepath.Join(w.home, ".alchemy")
	w.sso = sso
	w.sso.AddAssignment("111122223333", "Admin")
	w.sso.AddAssignment("444455556666", "ReadOnly")
	cfg := filepath.Join(w.home, ".aws", "config")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	os.WriteFile(cfg, []byte(`[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
region = eu-west-1

[profile prod]
role_arn = arn:aws:iam::123456789012:role/deploy
source_profile = dev
region = us-west-2

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 444455556666
sso_role_name = ReadOnly

[profile plain]
region = us-east-1
`), 0o600)
	w.env = []string{"ALCHEMY_CLI_MAIN=1", "HOME=" + w.home, "ALCHEMY_HOME=" + w.alchemyHome, "PATH=" + os.Getenv("PATH"),
		"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(w.home, ".aws", "credentials"),
		"AWS_ENDPOINT_URL=http://127.0.0.1:1", "AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL_STS=" + emulate.STSEndpoint()}
	for k, v := range w.sso.Env() {
		w.env = append(w.env, k+"="+v)
	}
	return w
}

func (w *ssoWorld) run(t *testing.T, extra []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = w.dir
	cmd.Env = append(append([]string{}, w.env...), extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func (w *ssoWorld) cacheFile(key string) string {
	sum := sha1.Sum([]byte(key))
	return filepath.Join(w.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
}

func TestAWSSSO(t *testing.T) {
	emulate := testpeers.Emulate(t)

	// Under CI nobody can approve a device code: the sign-in fails at once,
	// naming the fix, and nothing is asked of IAM Identity Center.
	t.Run("NoSignInUnderCI", func(t *testing.T) {
		w := newSSOWorld(t, emulate)
		start := time.Now()
		code, out, errOut := w.run(t, []string{"AWS_PROFILE=dev", "CI=1"}, "login", "--profile", "p", "--provider", "AWS", "--method", "sso")
		if code == 0 || !strings.Contains(errOut, "needs an SSO sign-in in a browser, and CI is set") || !strings.Contains(errOut, "aws sso login --profile dev") {
			t.Fatalf("login under CI: %d\n%s\n%s", code, out, errOut)
		}
		if strings.Contains(errOut, "sign in at") || time.Since(start) > 10*time.Second {
			t.Errorf("a device sign-in was started under CI (%v):\n%s", time.Since(start), errOut)
		}
		if n := len(w.sso.Issued()); n != 0 {
			t.Errorf("the SSO fake issued %d role credentials", n)
		}
	})

	// Behind a TLS-intercepting proxy, AWS_CA_BUNDLE names the proxy's CA:
	// sign-in and role credentials go through a client that trusts it (the
	// SDK's loader once failed here: "unable to add custom RootCAs
	// HTTPClient"). Without it the certificate is refused; a bundle that
	// cannot be used is named; a project's .env may not set it.
	t.Run("CABundle", func(t *testing.T) {
		w := newSSOWorldOn(t, emulate, awssso.StartTLS(t))
		w.sso.AutoApprove(true)
		if !strings.HasPrefix(w.sso.URL, "https://127.0.0.1:") {
			t.Fatalf("the fake is not served over TLS: %s", w.sso.URL)
		}
		login := []string{"login", "--profile", "p", "--provider", "AWS", "--method", "sso"}

		code, out, errOut := w.run(t, []string{"AWS_PROFILE=dev"}, login...)
		if code != 1 || !strings.Contains(errOut, "certificate signed by unknown authority") {
			t.Fatalf("login without the bundle: %d\n%s\n%s", code, out, errOut)
		}

		bad := filepath.Join(w.dir, "not-a-bundle.pem")
		os.WriteFile(bad, []byte("not a certificate\n"), 0o600)
		code, out, errOut = w.run(t, []string{"AWS_PROFILE=dev", "AWS_CA_BUNDLE=" + bad}, login...)
		if code != 1 || !strings.Contains(errOut, "AWS_CA_BUNDLE names "+bad+", which holds no PEM certificate") {
			t.Fatalf("login with a bundle of no certificate: %d\n%s\n%s", code, out, errOut)
		}

		ca := w.sso.CAFile(t)
		os.WriteFile(filepath.Join(w.dir, ".env"), []byte("AWS_CA_BUNDLE="+ca+"\n"), 0o600)
		code, out, errOut = w.run(t, []string{"AWS_PROFILE=dev"}, login...)
		if code != 1 || !strings.Contains(errOut, "certificate signed by unknown authority") {
			t.Fatalf("a project's .env chose the CA bundle: %d\n%s\n%s", code, out, errOut)
		}

		code, out, errOut = w.run(t, []string{"AWS_PROFILE=dev", "AWS_CA_BUNDLE=" + ca}, login...)
		if code != 0 {
			t.Fatalf("login with AWS_CA_BUNDLE: %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{"account:         111122223333", "source: sso - dev"} {
			if !strings.Contains(out, want) {
				t.Errorf("profile lacks %q:\n%s", want, out)
			}
		}
		// The cached token is refreshed and role credentials fetched through
		// the bundle too, and a profile's ca_bundle works as the variable does.
		expireSSOCache(t, w.cacheFile("corp"))
		cfg, _ := os.ReadFile(filepath.Join(w.home, ".aws", "config"))
		os.WriteFile(filepath.Join(w.home, ".aws", "config"), []byte(strings.Replace(string(cfg),
			"[profile dev]\n", "[profile dev]\nca_bundle = "+ca+"\n", 1)), 0o600)
		code, out, errOut = w.run(t, nil, "profile", "show", "--profile", "p")
		if code != 0 || !strings.Contains(out, "account:         111122223333") {
			t.Fatalf("profile show with the profile's ca_bundle: %d\n%s\n%s", code, out, errOut)
		}
		if n := len(w.sso.Issued()); n < 2 {
			t.Errorf("the SSO fake issued %d role credentials, want 2 (login, show)", n)
		}
	})

	t.Run("ConfigureSignInAndResolve", func(t *testing.T) {
		w := newSSOWorld(t, emulate)
		w.sso.AutoApprove(true)
		code, out, errOut := w.run(t, []string{"AWS_PROFILE=dev"}, "login", "--profile", "p", "--provider", "AWS", "--method", "sso")
		if code != 0 {
			t.Fatalf("login: %d\n%s\n%s", code, out, errOut)
		}
		if !strings.Contains(errOut, "AWS SSO: sign in at "+w.sso.URL) || !strings.Contains(errOut, "and confirm the code ") {
			t.Errorf("the sign-in URL and code were not shown:\n%s", errOut)
		}
		for _, want := range []string{"── AWS ──", "accessKeyId:     ASIA****", "region:          eu-west-1", "account:         111122223333", "expires:         in ", "source: sso - dev"} {
			if !strings.Contains(out, want) {
				t.Errorf("profile lacks %q:\n%s", want, out)
			}
		}
		// The token is where the AWS CLI and the SDK look for it.
		data, err := os.ReadFile(w.cacheFile("corp"))
		if err != nil {
			t.Fatalf("no AWS CLI token cache: %v", err)
		}
		var cache map[string]string
		if err := json.Unmarshal(data, &cache); err != nil || cache["accessToken"] == "" || cache["refreshToken"] == "" || cache["startUrl"] != "https://corp.awsapps.com/start" {
			t.Fatalf("cache file: %s (%v)", data, err)
		}
		if fi, _ := os.Stat(w.cacheFile("corp")); fi.Mode().Perm() != 0o600 {
			t.Errorf("cache mode %o", fi.Mode().Perm())
		}
		profiles, _ := os.ReadFile(filepath.Join(w.alchemyHome, "profiles.json"))
		if !strings.Contains(string(profiles), `"ssoProfile": "dev"`) {
			t.Fatalf("profiles.json: %s", profiles)
		}
		if strings.Contains(out+errOut, cache["accessToken"]) {
			t.Fatal("the SSO access token was printed")
		}

		// The SDK's own SSO provider reads our cache (AWS CLI compatibility).
		for _, kv := range w.env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithSharedConfigProfile("dev"))
		if err != nil {
			t.Fatal(err)
		}
		creds, err := cfg.Credentials.Retrieve(context.Background())
		if err != nil || !strings.HasPrefix(creds.AccessKeyID, "ASIA") || !strings.Contains(creds.Source, "SSOProvider") {
			t.Fatalf("the SDK could not use our cache: %+v %v", creds, err)
		}

		// An expired access token is refreshed silently, and the cache
		// rewritten for the AWS CLI too.
		w.sso.ExpireAccessTokens()
		cache["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		expired, _ := json.Marshal(cache)
		os.WriteFile(w.cacheFile("corp"), expired, 0o600)
		data = expired
		code, out, errOut = w.run(t, nil, "profile", "show", "--profile", "p")
		if code != 0 || !strings.Contains(out, "source: sso - dev") || strings.Contains(errOut, "Failed") {
			t.Fatalf("after token expiry: %d %s %s", code, out, errOut)
		}
		again, _ := os.ReadFile(w.cacheFile("corp"))
		if bytes.Equal(again, data) {
			t.Error("the refreshed token was not written back to the cache")
		}

		// A role chained onto the SSO profile resolves too (STS AssumeRole,
		// on the emulate peer, where the role must exist).
		emulate.CreateRole(t, "deploy")
		code, out, errOut = w.run(t, []string{"AWS_PROFILE=prod"}, "login", "--profile", "q", "--provider", "AWS", "--method", "sso")
		if code != 0 || !strings.Contains(out, "source: sso - prod") || !strings.Contains(out, "region:          us-west-2") {
			t.Fatalf("role profile: %d %s %s", code, out, errOut)
		}

		// profile env hands them to another tool.
		code, out, _ = w.run(t, nil, "profile", "env", "--profile", "p", "--provider", "AWS", "--format", "json")
		if code != 0 || !strings.Contains(out, `"AWS_SESSION_TOKEN"`) || !strings.Contains(out, `"AWS_REGION": "eu-west-1"`) {
			t.Fatalf("profile env: %d %s", code, out)
		}

		// Logout keeps the shared sign-in unless asked.
		code, _, errOut = w.run(t, nil, "logout", "--profile", "p", "--provider", "AWS", "--yes")
		if code != 0 || !strings.Contains(errOut, "shared with the AWS CLI and was kept") {
			t.Fatalf("logout: %d %s", code, errOut)
		}
		if _, err := os.Stat(w.cacheFile("corp")); err != nil {
			t.Fatal("logout without --sso removed the shared sign-in")
		}
		code, _, errOut = w.run(t, nil, "logout", "--profile", "p", "--provider", "AWS", "--sso", "--yes")
		if code != 0 || !strings.Contains(errOut, "AWS: SSO logout complete") {
			t.Fatalf("logout --sso: %d %s", code, errOut)
		}
		if _, err := os.Stat(w.cacheFile("corp")); !os.IsNotExist(err) {
			t.Fatal("logout --sso kept the cache")
		}
	})

	// Deploy-time resolution: the resolver reads the profile's SSO entry
	// through the SDK once, then serves it from memory until 5 minutes
	// before the role credentials expire.
	t.Run("DeployTimeResolutionIsCached", func(t *testing.T) {
		w := newSSOWorld(t, emulate)
		w.sso.AutoApprove(true)
		if code, out, errOut := w.run(t, []string{"AWS_PROFILE=dev"}, "login", "--profile", "p", "--provider", "AWS", "--method", "sso"); code != 0 {
			t.Fatalf("login: %s %s", out, errOut)
		}
		vars := map[string]string{}
		for _, kv := range w.env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
			vars[k] = v
		}
		io, _, _, _ := iostreams.Test()
		c := &auth.Context{Profile: "p", Store: profile.New(w.alchemyHome, nil), Env: envfile.FromMap(vars), IO: io,
			Prompt: prompt.NonInteractive{}, Now: time.Now}
		r := auth.NewResolver(c, bundled.Registry(), false)
		roleCalls := func() int {
			n := 0
			for _, req := range w.sso.Requests() {
				if req.Operation == "GetRoleCredentials" {
					n++
				}
			}
			return n
		}
		before := roleCalls()
		for range 3 {
			creds, err := r.Credentials(context.Background(), "AWS")
			if err != nil {
				t.Fatal(err)
			}
			if exp, ok := creds.Expires(); !ok || time.Until(exp) < 50*time.Minute || creds.Source().String() != "sso - dev" {
				t.Fatalf("creds: %v %v %s", exp, ok, creds.Source())
			}
		}
		if got := roleCalls() - before; got != 1 {
			t.Fatalf("GetRoleCredentials called %d times for 3 resolutions, want 1", got)
		}
	})

	t.Run("ExpiredSessionNamesTheCommand", func(t *testing.T) {
		w := newSSOWorld(t, emulate)
		w.sso.AutoApprove(true)
		if code, out, errOut := w.run(t, []string{"AWS_PROFILE=dev"}, "login", "--profile", "p", "--provider", "AWS", "--method", "sso"); code != 0 {
			t.Fatalf("login: %s %s", out, errOut)
		}
		w.sso.EndSessions()
		// The access token has expired too, so the SDK tries the (ended)
		// refresh.
		var cache map[string]string
		data, _ := os.ReadFile(w.cacheFile("corp"))
		json.Unmarshal(data, &cache)
		cache["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		expired, _ := json.Marshal(cache)
		os.WriteFile(w.cacheFile("corp"), expired, 0o600)
		_, out, errOut := w.run(t, nil, "profile", "show", "--profile", "p")
		want := "AWS SSO sign-in for profile 'dev' is missing or has expired. Run `alchemy login --profile p --provider AWS` (or `aws sso login --profile dev`)"
		if !strings.Contains(errOut, want) {
			t.Fatalf("want %q on stderr:\n%s\n%s", want, out, errOut)
		}
		// login signs in again.
		code, out, errOut := w.run(t, nil, "login", "--profile", "p", "--provider", "AWS")
		if code != 0 || !strings.Contains(errOut, "AWS SSO: login complete (profile dev, account 111122223333).") {
			t.Fatalf("re-login: %d %s %s", code, out, errOut)
		}
	})

	t.Run("DeviceCodeApprovedByThePerson", func(t *testing.T) {
		w := newSSOWorld(t, emulate)
		cmd := exec.Command(os.Args[0], "login", "--profile", "p", "--provider", "AWS", "--method", "sso")
		cmd.Dir = w.dir
		cmd.Env = append(append([]string{}, w.env...), "AWS_PROFILE=legacy")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(w.sso.PendingUserCodes()) == 0 {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no device authorization started: %s", errb.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // let it poll while pending
		if err := w.sso.Approve(w.sso.PendingUserCodes()[0]); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("login: %v\n%s\n%s", err, out.String(), errb.String())
		}
		// The legacy inline style caches under the start URL.
		if _, err := os.Stat(w.cacheFile("https://legacy.awsapps.com/start")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "account:         444455556666") {
			t.Fatalf("%s", out.String())
		}
	})

	t.Run("NoUsableProfile", func(t *testing.T) {
		w := newSSOWorld(t, emulate)
		code, _, errOut := w.run(t, []string{"AWS_PROFILE=plain"}, "login", "--profile", "p", "--provider", "AWS", "--method", "sso")
		if code != 1 || !strings.Contains(errOut, "AWS profile 'plain' is not in") {
			t.Fatalf("%d %s", code, errOut)
		}
		code, _, errOut = w.run(t, nil, "login", "--profile", "p", "--provider", "AWS", "--method", "sso")
		if code != 1 || !strings.Contains(errOut, "set AWS_PROFILE to the profile of") {
			t.Fatalf("%d %s", code, errOut)
		}
	})
}

// The SSO method's profile menu in a real terminal: SSO profiles first (both
// styles), then the role, each with what it signs in to.
func TestAWSSSOProfileMenuPTY(t *testing.T) {
	emulate := testpeers.Emulate(t)
	w := newSSOWorld(t, emulate)
	w.sso.AutoApprove(true)
	cmd := exec.Command(os.Args[0], "login", "--profile", "p", "--provider", "AWS")
	cmd.Dir = w.dir
	cmd.Env = append(append([]string{}, w.env...), "TERM=xterm-256color")
	p := testpty.Start(t, cmd, 160, 40)
	p.Expect("AWS authentication method")
	p.Expect("> SSO")
	p.Send(testpty.KeyEnter)
	p.Expect("AWS profile (from ")
	p.Expect("> dev (SSO https://corp.awsapps.com/start, account 111122223333, role Admin)")
	p.Expect("legacy (SSO https://legacy.awsapps.com/start, account 444455556666, role ReadOnly)")
	p.Expect("prod (role arn:aws:iam::123456789012:role/deploy from dev)")
	p.Send(testpty.KeyDown)
	p.Expect("> legacy")
	p.Send(testpty.KeyEnter)
	p.Expect("AWS SSO: sign in at ")
	p.Expect("── AWS ──")
	p.Expect("account:         444455556666")
	p.RequireExit(0)
	if data, _ := os.ReadFile(filepath.Join(w.alchemyHome, "profiles.json")); !strings.Contains(string(data), `"ssoProfile": "legacy"`) {
		t.Fatalf("profiles.json: %s", data)
	}
}

// expireSSOCache marks the cached SSO access token at path as expired, so
// the next use refreshes it with its refresh token.
func expireSSOCache(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cache map[string]any
	if err := json.Unmarshal(data, &cache); err != nil {
		t.Fatal(err)
	}
	if cache["refreshToken"] == nil {
		t.Fatalf("the SSO cache holds no refresh token:\n%s", data)
	}
	cache["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	data, _ = json.Marshal(cache)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
