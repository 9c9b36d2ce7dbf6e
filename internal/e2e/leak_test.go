//go:build unix

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	"github.com/alchemy-go/alchemy/internal/leakcheck"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// The secret-leak test of issue 11 for the stack commands (the auth
// commands: internal/cli/leak_test.go). Distinctive credentials of every
// kind a stack resolves (Cloudflare API token, API key + email, OAuth access
// token; AWS keys stored and from the environment) and a stack secret
// (alchemy.Secret, from the environment) go through plan, deploy, destroy
// and state, plain, --json and under CI, against a Cloudflare fake and
// s3rver that reject every credential, and against endpoints that do not
// answer. No output, no file of the project's .alchemy and no file of the
// home outside the credentials may hold a secret or its first 8 characters.
// The file the stack writes from the secret holds it: that proves the
// secret went through.
func TestNoStackCommandLeaksASecret(t *testing.T) {
	t.Parallel()
	const account = "0123456789abcdef0123456789abcdef"
	set := leakcheck.New()
	g := func(label, prefix string) string { return set.Generate(t, label, prefix, 40) }
	secret, changed, password := g("LEAKY_SECRET (alchemy.Secret)", ""), g("LEAKY_SECRET (changed)", ""), g("ALCHEMY_PASSWORD", "")
	cfToken, cfKey := g("Cloudflare API token", ""), g("Cloudflare API key", "")
	cfEmail := leakcheck.Random(t, 12) + "@example.com"
	set.Add(t, "Cloudflare email", cfEmail)
	cfAccess, cfRefresh := g("Cloudflare OAuth access token", ""), g("Cloudflare OAuth refresh token", "")
	cfExpired, cfExpiredRefresh := g("Cloudflare OAuth access token (expired)", ""), g("Cloudflare OAuth refresh token (expired)", "")
	awsKeyID, awsSecret, awsSession := g("AWS access key id", "AKIA"), g("AWS secret access key", ""), g("AWS session token", "")
	envToken := g("CLOUDFLARE_API_TOKEN", "")
	envKeyID, envSecret, envSession := g("AWS_ACCESS_KEY_ID", "AKIA"), g("AWS_SECRET_ACCESS_KEY", ""), g("AWS_SESSION_TOKEN", "")

	// Peers that know none of the credentials: the Cloudflare fake answers
	// as the API does (401 code 10000 on account endpoints), s3rver with
	// 403 InvalidAccessKeyId.
	cf := cloudflarefake.New()
	cf.AddAccount(account, "Leaky")
	cf.Start()
	t.Cleanup(cf.Close)
	s3 := testpeers.S3rver(t)

	w := newWorld(t)
	stack := w.project(fixture("leaky"))
	w.env = append(w.env, "LEAKY_SECRET="+secret, "CLOUDFLARE_BASE_URL="+cf.URL(), "AWS_ENDPOINT_URL_S3="+s3.URL,
		"ALCHEMY_S3_TOLERATE_NOT_IMPLEMENTED=1",
		"CLOUDFLARE_OAUTH_TOKEN_URL="+testpeers.LeakGuardEndpoint, "CLOUDFLARE_OAUTH_REVOKE_URL="+testpeers.LeakGuardEndpoint)
	awsEnv := []string{"AWS_ACCESS_KEY_ID=" + envKeyID, "AWS_SECRET_ACCESS_KEY=" + envSecret, "AWS_SESSION_TOKEN=" + envSession, "AWS_REGION=us-east-1"}

	var mu sync.Mutex
	var runs []leakRun
	run := func(w *world, extra []string, args ...string) result {
		w.t.Helper()
		r := w.runEnv(extra, args...)
		mu.Lock()
		runs = append(runs, leakRun{r, extra})
		mu.Unlock()
		return r
	}

	// The OAuth profiles, as alchemy writes them (their logins need a
	// browser); the stored ones through alchemy login itself, which saves
	// them unchecked while the APIs do not answer.
	writeJSON(t, filepath.Join(w.alchemyHome, "profiles.json"), map[string]any{"version": 0, "profiles": map[string]any{
		"oauth":   map[string]any{"Cloudflare": map[string]any{"method": "oauth", "accountId": account}, "AWS": map[string]string{"method": "env"}},
		"expired": map[string]any{"Cloudflare": map[string]any{"method": "oauth", "accountId": account}, "AWS": map[string]string{"method": "env"}},
	}})
	writeJSON(t, filepath.Join(w.alchemyHome, "credentials", "oauth", "cf-oauth.json"), map[string]any{
		"type": "oauth", "access": cfAccess, "refresh": cfRefresh, "expires": time.Now().Add(time.Hour).UnixMilli(), "scopes": []string{"account:read"}})
	writeJSON(t, filepath.Join(w.alchemyHome, "credentials", "expired", "cf-oauth.json"), map[string]any{
		"type": "oauth", "access": cfExpired, "refresh": cfExpiredRefresh, "expires": time.Now().Add(-time.Hour).UnixMilli(), "scopes": []string{"account:read"}})
	offline := []string{"CLOUDFLARE_BASE_URL=" + testpeers.LeakGuardEndpoint, "AWS_ENDPOINT_URL_STS=" + testpeers.LeakGuardEndpoint}
	awsStored := append([]string{"AWS_ACCESS_KEY_ID=" + awsKeyID, "AWS_SECRET_ACCESS_KEY=" + awsSecret, "AWS_SESSION_TOKEN=" + awsSession}, offline...)
	for _, login := range []struct {
		profile, provider string
		env               []string
	}{
		{"stored", "Cloudflare", append([]string{"CLOUDFLARE_API_TOKEN=" + cfToken, "CLOUDFLARE_ACCOUNT_ID=" + account}, offline...)},
		{"stored", "AWS", awsStored},
		{"apikey", "Cloudflare", append([]string{"CLOUDFLARE_API_KEY=" + cfKey, "CLOUDFLARE_EMAIL=" + cfEmail, "CLOUDFLARE_ACCOUNT_ID=" + account}, offline...)},
		{"apikey", "AWS", awsStored},
	} {
		if r := run(w, login.env, "login", stack, "--profile", login.profile, "--provider", login.provider, "--method", "stored"); r.code != 0 {
			t.Fatalf("login: %s", set.Mask(r.String()))
		}
	}

	// Each way of signing in on a stage of its own, the stages at once.
	t.Run("Stages", func(t *testing.T) {
		for _, c := range []struct {
			stage string
			env   []string
			// reach: the credentials reach the APIs (and are refused).
			reach bool
		}{
			{"stored", []string{"ALCHEMY_PROFILE=stored"}, true},
			{"apikey", []string{"ALCHEMY_PROFILE=apikey"}, true},
			{"oauth", append([]string{"ALCHEMY_PROFILE=oauth"}, awsEnv...), true},
			{"ci", append([]string{"CI=1", "CLOUDFLARE_API_TOKEN=" + envToken, "CLOUDFLARE_ACCOUNT_ID=" + account}, awsEnv...), true},
			{"sealed", []string{"ALCHEMY_PROFILE=stored", "ALCHEMY_PASSWORD=" + password}, true},
			// The OAuth token endpoint does not answer: no credentials.
			{"expired", append([]string{"ALCHEMY_PROFILE=expired"}, awsEnv...), false},
		} {
			t.Run(c.stage, func(t *testing.T) {
				t.Parallel()
				w := w.with(t)
				stage := []string{"--stage", c.stage}
				run(w, c.env, append([]string{"plan", stack}, stage...)...)
				run(w, c.env, append([]string{"plan", stack, "--json"}, stage...)...)
				deploy := run(w, c.env, append([]string{"deploy", stack, "--yes"}, stage...)...)
				if c.reach {
					// The file was written from the secret; the clouds
					// refused the credentials, each in its own words.
					if data, err := os.ReadFile(filepath.Join(w.dir, "out", c.stage+".env")); err != nil || string(data) != "API_KEY="+secret+"\n" {
						t.Errorf("the stack's file does not hold the secret (%v)", err)
					}
					requireContains(t, "deploy", set.Mask(deploy.stdout+deploy.stderr), "1 succeeded, 2 failed",
						"Cache (Cloudflare.KV.Namespace): looking for an existing resource before creating it: listing KV namespaces: cloudflare API: 40",
						"api error InvalidAccessKeyId")
				}
				run(w, c.env, append([]string{"deploy", stack, "--yes", "--json"}, stage...)...)
				run(w, c.env, append([]string{"plan", stack, "--refresh"}, stage...)...)
				run(w, c.env, "state", "get", "leaky/"+c.stage+"/Config")
				destroy := run(w, c.env, append([]string{"destroy", stack, "--yes"}, stage...)...)
				if !c.reach {
					requireContains(t, "deploy", set.Mask(deploy.stderr), "Cloudflare OAuth refresh failed")
					return
				}
				if destroy.code != 0 {
					t.Errorf("destroy: %s", set.Mask(destroy.String()))
				}
			})
		}
		// Without the clouds the deploy succeeds: its outputs (one derived
		// from the secret) are printed and saved.
		t.Run("local", func(t *testing.T) {
			t.Parallel()
			w := w.with(t)
			env := []string{"LEAKY_LOCAL_ONLY=1", "ALCHEMY_PROFILE=stored"}
			deploy := run(w, env, "deploy", stack, "--yes", "--stage", "local")
			if out := outputs(t, set.Mask(deploy.stdout)); deploy.code != 0 || out["config"] != "out/local.env" || out["header"] != "(secret)" {
				t.Errorf("deploy: %s", set.Mask(deploy.String()))
			}
			run(w, env, "deploy", stack, "--yes", "--json", "--stage", "local")
			// A new secret: the plan shows an update, and the deploy makes it.
			env = append(env, "LEAKY_SECRET="+changed)
			plan := run(w, env, "plan", stack, "--stage", "local")
			requireContains(t, "plan", set.Mask(plan.stdout), "[Config] update")
			run(w, env, "plan", stack, "--json", "--stage", "local")
			if r := run(w, env, "deploy", stack, "--yes", "--stage", "local"); r.code != 0 {
				t.Errorf("deploy of the new secret: %s", set.Mask(r.String()))
			}
			set.CheckTree(t, w.path(".alchemy"))
			run(w, env, "destroy", stack, "--yes", "--stage", "local")
		})
		// APIs that quote back the credentials they are sent.
		t.Run("echo", func(t *testing.T) {
			t.Parallel()
			w := w.with(t)
			echo := leakcheck.StartEcho(t)
			env := []string{"ALCHEMY_PROFILE=stored", "CLOUDFLARE_BASE_URL=" + echo.URL + "/client/v4", "AWS_ENDPOINT_URL_S3=" + echo.URL + "/s3"}
			deploy := run(w, env, "deploy", stack, "--yes", "--stage", "echo")
			requireContains(t, "deploy", set.Mask(deploy.stdout+deploy.stderr), "refused: ", "1 succeeded, 2 failed")
			run(w, env, "destroy", stack, "--yes", "--stage", "echo")
			sent := set.Mask(echo.Received())
			requireContains(t, "what the echo server was sent", sent, "«Cloudflare API token»", "«AWS access key id»", "«AWS session token»")
		})
		// What does not answer: the calls retry, then fail.
		t.Run("unreachable", func(t *testing.T) {
			t.Parallel()
			w := w.with(t)
			env := []string{"ALCHEMY_PROFILE=stored", "CLOUDFLARE_BASE_URL=" + testpeers.LeakGuardEndpoint, "AWS_ENDPOINT_URL_S3=" + testpeers.LeakGuardEndpoint}
			deploy := run(w, env, "deploy", stack, "--yes", "--stage", "unreachable")
			requireContains(t, "deploy", set.Mask(deploy.stdout+deploy.stderr), "connection refused", "1 succeeded, 2 failed")
			run(w, env, "destroy", stack, "--yes", "--stage", "unreachable")
		})
	})
	run(w, nil, "state", "list")
	run(w, nil, "state", "list", "leaky")

	var kinds []string
	for _, r := range cf.Requests() {
		if r.Credential != "" {
			t.Errorf("the Cloudflare fake recognised a planted credential: %+v", r)
		}
		kinds = append(kinds, r.AuthKind)
	}
	if !slices.Contains(kinds, "token") || !slices.Contains(kinds, "key") {
		t.Errorf("the Cloudflare fake saw no token or no key: %v", kinds)
	}
	for _, r := range runs {
		where := "alchemy " + strings.Join(r.args, " ")
		if names := envNames(r.extra); names != "" {
			where += " (with " + names + ")"
		}
		set.Check(t, where+", stdout", r.stdout)
		set.Check(t, where+", stderr", r.stderr)
	}
	// The project (its state, its locks) but the files the stack wrote on
	// purpose; the home but its credentials.
	set.CheckTree(t, w.dir, "out")
	set.CheckTree(t, w.home, ".alchemy/credentials")
}

// leakRun is a finished command and the variables it got on top of the
// world's.
type leakRun struct {
	result
	extra []string
}

// envNames is the names of the variables in env, never their values.
func envNames(env []string) string {
	names := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	return strings.Join(names, ", ")
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
