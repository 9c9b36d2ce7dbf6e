//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
)

// A dev session whose shell names another Cloudflare account than the
// profile's stored one: every cycle is a deploy process of its own, but the
// session says so once, not once per cycle; and every cycle deploys to the
// profile's account, as the warning says.
func TestDevWarnsOnceAboutAnAccountVariable(t *testing.T) {
	t.Parallel()
	const account, other, token = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", "cf-dev-warning-token-0001"
	cf := cloudflarefake.New()
	cf.AddAccount(account, "Profile's")
	cf.AddAccount(other, "Shell's")
	cf.AddToken(token, cloudflarefake.TokenOptions{UserEmail: "dev@example.com"})
	cf.Start()
	t.Cleanup(cf.Close)

	w := newWorld(t)
	creds := filepath.Join(w.alchemyHome, "credentials", "default")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{
		filepath.Join(w.alchemyHome, "profiles.json"): `{"version":0,"profiles":{"default":{"Cloudflare":{"method":"stored","credentialType":"apiToken"}}}}`,
		filepath.Join(creds, "cf-stored.json"):        `{"type":"apiToken","apiToken":"` + token + `","accountId":"` + account + `"}`,
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	devKVModule(t, w.dir)
	_, out := startDev(t, w, "ALCHEMY_DEV_POLL=100ms", "CLOUDFLARE_BASE_URL="+cf.URL(), "CLOUDFLARE_ACCOUNT_ID="+other)

	const warning = "warning: Cloudflare: CLOUDFLARE_ACCOUNT_ID in the environment is " + other + ", but profile 'default' uses account " + account
	out.waitFor(t, "[dev] cycle 1 applied")
	if !strings.Contains(out.String(), warning) {
		t.Fatalf("cycle 1 did not warn about the account variable:\n%s", out.String())
	}
	os.WriteFile(w.path("message.txt"), []byte("two"), 0o644)
	out.waitFor(t, "[dev] cycle 2 applied")
	if n := strings.Count(out.String(), "warning: "); n != 1 {
		t.Fatalf("%d warnings in two cycles, want the one, once:\n%s", n, out.String())
	}
	if got := kvTitles(cf, account); len(got) != 1 || got[0] != "dev-two" {
		t.Fatalf("the profile's account holds %v, want [dev-two]:\n%s", got, out.String())
	}
	if got := kvTitles(cf, other); len(got) != 0 {
		t.Fatalf("the shell's account got %v: the deploy went where the warning said it would not", got)
	}
	if strings.Contains(out.String(), token) {
		t.Fatalf("the token was printed:\n%s", out.String())
	}
}

// devKVModule writes a dev module (devModule) whose stack is one Cloudflare
// KV namespace titled "dev-" + message.txt.
func devKVModule(t *testing.T, dir string) {
	t.Helper()
	devModule(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "alchemy.run.go"), []byte(`//go:build ignore

package main

import (
	"os"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/cloudflare"
)

func main() {
	alchemy.Run("devcf", func(s *alchemy.Stack) {
		msg, _ := os.ReadFile("message.txt")
		kv := cloudflare.NewKVNamespace(s, "Cache", cloudflare.KVNamespaceProps{Title: alchemy.String("dev-" + string(msg))})
		s.Output("id", kv.ID)
	})
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kvTitles are the titles of an account's KV namespaces in the fake.
func kvTitles(cf *cloudflarefake.Server, account string) []string {
	var ts []string
	for _, ns := range cf.KVNamespaces(account) {
		ts = append(ts, ns.Title)
	}
	return ts
}
