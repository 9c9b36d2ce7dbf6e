package auth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// targeted are resolved credentials that say where they deploy.
type targeted struct{ targets []auth.Target }

func (targeted) Source() auth.Source           { return auth.Source{Type: "stored"} }
func (targeted) Expires() (time.Time, bool)    { return time.Time{}, false }
func (targeted) Fields(time.Time) []auth.Field { return nil }
func (t targeted) Targets() []auth.Target      { return t.targets }

func TestDisagreements(t *testing.T) {
	account := auth.Target{Vars: []string{"X_ACCOUNT"}, What: "account", Value: "abc123", Origin: "stored with its token", Method: "env"}
	region := auth.Target{Vars: []string{"X_REGION", "X_DEFAULT_REGION"}, What: "region", Value: "eu-west-1", Origin: "stored", Method: "env"}
	none := auth.Target{Vars: []string{"X_PROFILE"}, What: "X profile", Origin: "it uses stored keys", Method: "sso"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		tgt  auth.Target
		want string // "" for no warning
	}{
		{"unset", nil, account, ""},
		{"same value", map[string]string{"X_ACCOUNT": "abc123"}, account, ""},
		{"same account in another case", map[string]string{"X_ACCOUNT": "ABC123"}, account, ""},
		{"another account", map[string]string{"X_ACCOUNT": "def456"}, account,
			"X: X_ACCOUNT in the environment is def456, but profile 'prod' uses account abc123 (stored with its token): this run uses abc123. To use def456 instead, pass --profile <name> of a profile that uses it, or run `alchemy login --profile prod --provider X --method env`; to keep abc123, unset X_ACCOUNT."},
		{"the first variable set counts", map[string]string{"X_REGION": "eu-west-1", "X_DEFAULT_REGION": "us-east-1"}, region, ""},
		{"a later variable when the first is unset", map[string]string{"X_DEFAULT_REGION": "us-east-1"}, region,
			"X: X_DEFAULT_REGION in the environment is us-east-1, but profile 'prod' uses region eu-west-1 (stored): this run uses eu-west-1. To use us-east-1 instead, pass --profile <name> of a profile that uses it, or run `alchemy login --profile prod --provider X --method env`; to keep eu-west-1, unset X_DEFAULT_REGION."},
		{"a variable the credentials do not use at all", map[string]string{"X_PROFILE": "admin"}, none,
			"X: X_PROFILE in the environment is admin, but profile 'prod' uses no X profile (it uses stored keys): this run ignores X_PROFILE. To use X profile admin, pass --profile <name> of a profile that uses it, or run `alchemy login --profile prod --provider X --method sso`; to keep the profile's credentials, unset X_PROFILE."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := auth.Disagreements(envfile.FromMap(tc.env), "prod", "X", targeted{[]auth.Target{tc.tgt}})
			switch {
			case tc.want == "" && len(got) != 0:
				t.Fatalf("warned %q", got)
			case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	// Credentials that cannot say where they deploy (env-sourced ones, a
	// stack's own provider) never warn.
	if got := auth.Disagreements(envfile.FromMap(map[string]string{"X_ACCOUNT": "x"}), "prod", "X", &creds{}); got != nil {
		t.Fatalf("warned %q for credentials without targets", got)
	}
}

// Every provider and method, explained with distinctive secrets planted in
// the profile's files, the process environment and the .env file: the text
// and the JSON name them and say where they are, and show none of them (nor
// their first 8 characters).
func TestExplainShowsNoSecret(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	home := filepath.Join(dir, "home")
	secrets := map[string]string{}
	plant := func(name string) string {
		v := fmt.Sprintf("Zq%02dSecretValue-0123456789", len(secrets))
		secrets[name] = v
		return v
	}
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(home, ".alchemy")
	write(filepath.Join(root, "profiles.json"), `{"version":0,"profiles":{
		"token":{"Cloudflare":{"method":"stored"},"AWS":{"method":"stored"},"GitHub":{"method":"stored"}},
		"key":{"Cloudflare":{"method":"stored"},"AWS":{"method":"sso","ssoProfile":"dev"},"GitHub":{"method":"gh-cli"}},
		"oauth":{"Cloudflare":{"method":"oauth","accountId":"0123456789abcdef0123456789abcdef"}},
		"env":{"Cloudflare":{"method":"env"},"AWS":{"method":"env"},"GitHub":{"method":"env"}}}}`)
	write(filepath.Join(root, "credentials", "token", "cf-stored.json"), `{"type":"apiToken","apiToken":"`+plant("cf-token")+`","accountId":"0123456789abcdef0123456789abcdef"}`)
	write(filepath.Join(root, "credentials", "token", "aws.json"), `{"accountId":"123456789012","accessKeyId":"`+plant("aws-id")+`","secretAccessKey":"`+plant("aws-secret")+`","sessionToken":"`+plant("aws-session")+`","region":"eu-west-1"}`)
	write(filepath.Join(root, "credentials", "token", "gh-stored.json"), `{"type":"pat","token":"`+plant("gh-token")+`"}`)
	write(filepath.Join(root, "credentials", "key", "cf-stored.json"), `{"type":"apiKey","apiKey":"`+plant("cf-key")+`","email":"`+plant("cf-email")+`","accountId":""}`)
	write(filepath.Join(root, "credentials", "oauth", "cf-oauth.json"), `{"type":"oauth","access":"`+plant("cf-access")+`","refresh":"`+plant("cf-refresh")+`","expires":1700000000000}`)
	write(filepath.Join(home, ".aws", "config"), "[profile dev]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = Admin\n")
	write(".env", "CLOUDFLARE_API_TOKEN="+plant("file-cf-token")+"\nAWS_SECRET_ACCESS_KEY="+plant("file-aws-secret")+"\nGITHUB_TOKEN="+plant("file-gh-token")+"\nCLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef\n")
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config"))
	for k, name := range map[string]string{"CLOUDFLARE_API_KEY": "env-cf-key", "CLOUDFLARE_EMAIL": "env-cf-email", "AWS_ACCESS_KEY_ID": "env-aws-id",
		"AWS_SECRET_ACCESS_KEY": "env-aws-secret", "AWS_SESSION_TOKEN": "env-aws-session", "GITHUB_ACCESS_TOKEN": "env-gh-token", "GH_TOKEN": "env-gh-cli-token"} {
		t.Setenv(k, plant(name))
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	env, err := envfile.Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	store := profile.New(root, func(string) {})
	cfg, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cfg.Names() {
		for _, envOnly := range []bool{false, true} {
			x := &auth.Explaining{Profile: name, Store: store, Env: env, Home: home, Now: time.Now}
			ex := auth.Explain(x, bundled.Registry(), cfg, profile.Selection{Name: name, Source: "--profile"}, envOnly)
			var text bytes.Buffer
			auth.RenderExplanation(&text, ex)
			js, _ := json.Marshal(ex)
			if len(ex.Providers) != 3 {
				t.Errorf("profile %s (envOnly %v): %d providers explained, want 3:\n%s", name, envOnly, len(ex.Providers), text.String())
			}
			for what, s := range secrets {
				for _, out := range []string{text.String(), string(js)} {
					if strings.Contains(out, s[:8]) {
						t.Errorf("profile %s (envOnly %v) shows the %s secret:\n%s", name, envOnly, what, out)
					}
				}
			}
		}
	}
}
