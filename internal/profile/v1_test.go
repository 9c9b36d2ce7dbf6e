package profile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/alchemy-go/alchemy/internal/auth/aws"
	"github.com/alchemy-go/alchemy/internal/auth/cloudflare"
	"github.com/alchemy-go/alchemy/internal/profile"
)

func v1Store(t *testing.T) (*profile.Store, *[]string) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "profiles", "default"), 0o700); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	var mu sync.Mutex
	s := profile.New(root, func(w string) { mu.Lock(); warnings = append(warnings, w); mu.Unlock() })
	// No provider registers its shape: a store knows the built-in ones
	// (a stack program that links none of them keeps their files exact).
	return s, &warnings
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonOf(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// Files the TypeScript tool wrote (internal/testpeers/TSTOOL.md, samples
// cli/default/*.json and the OAuth input): read as the entry and secret
// documents a v0 home keeps apart, and written back byte for byte when the
// same configuration is committed.
func TestV1FilesOfTheTypeScriptTool(t *testing.T) {
	for _, tc := range []struct {
		provider, file string
		entry          string
		secrets        map[string]string
	}{
		{"Cloudflare", `{
  "format": "alchemy.profile/v1",
  "provider": "Cloudflare",
  "metadata": {},
  "values": {
    "method": "stored",
    "credentialType": "apiToken",
    "apiToken": "cf-api-token-0123456789",
    "accountId": "0123456789abcdef0123456789abcdef"
  }
}`, `{"method":"stored","credentialType":"apiToken"}`,
			map[string]string{"cf-stored": `{"type":"apiToken","apiToken":"cf-api-token-0123456789","accountId":"0123456789abcdef0123456789abcdef"}`}},
		{"Cloudflare", `{
  "format": "alchemy.profile/v1",
  "provider": "Cloudflare",
  "metadata": {},
  "values": {
    "method": "stored",
    "credentialType": "apiKey",
    "apiKey": "cf-global-api-key-0001",
    "email": "me@example.com",
    "accountId": "fedcba9876543210fedcba9876543210"
  }
}`, `{"method":"stored","credentialType":"apiKey"}`,
			map[string]string{"cf-stored": `{"type":"apiKey","apiKey":"cf-global-api-key-0001","email":"me@example.com","accountId":"fedcba9876543210fedcba9876543210"}`}},
		{"Cloudflare", `{
  "format": "alchemy.profile/v1",
  "provider": "Cloudflare",
  "metadata": {},
  "values": {
    "method": "oauth",
    "scopes": [
      "account:read",
      "offline_access"
    ],
    "accountId": "0123456789abcdef0123456789abcdef",
    "clientId": "e7e25ec474419def6ba38d2d2638b122",
    "access": "valid-access-token",
    "refresh": "valid-refresh-token",
    "expires": 4102444800000
  }
}`, `{"method":"oauth","scopes":["account:read","offline_access"],"accountId":"0123456789abcdef0123456789abcdef"}`,
			map[string]string{"cf-oauth": `{"type":"oauth","scopes":["account:read","offline_access"],"clientId":"e7e25ec474419def6ba38d2d2638b122","access":"valid-access-token","refresh":"valid-refresh-token","expires":4102444800000}`}},
		{"AWS", `{
  "format": "alchemy.profile/v1",
  "provider": "AWS",
  "metadata": {},
  "values": {
    "method": "stored",
    "accountId": "123456789012",
    "accessKeyId": "ASIAEXAMPLETEMP00001",
    "secretAccessKey": "temp-secret-access-key",
    "sessionToken": "FwoGZXIvYXdzEXAMPLE",
    "region": "eu-central-1"
  }
}`, `{"method":"stored"}`,
			map[string]string{"aws-stored": `{"accountId":"123456789012","accessKeyId":"ASIAEXAMPLETEMP00001","secretAccessKey":"temp-secret-access-key","sessionToken":"FwoGZXIvYXdzEXAMPLE","region":"eu-central-1"}`}},
		{"AWS", `{
  "format": "alchemy.profile/v1",
  "provider": "AWS",
  "metadata": {},
  "values": {
    "method": "sso",
    "ssoProfile": "dev"
  }
}`, `{"method":"sso","ssoProfile":"dev"}`, nil},
		{"GitHub", `{
  "format": "alchemy.profile/v1",
  "provider": "GitHub",
  "metadata": {},
  "values": {
    "method": "stored",
    "baseUrl": "https://github.example.com/api/v3",
    "token": "ghp_enterprise0123456789"
  }
}`, `{"method":"stored","baseUrl":"https://github.example.com/api/v3"}`,
			map[string]string{"gh-stored": `{"type":"pat","token":"ghp_enterprise0123456789"}`}},
	} {
		t.Run(tc.provider+"-"+tc.entry, func(t *testing.T) {
			s, warnings := v1Store(t)
			path := filepath.Join(s.Root(), "profiles", "default", strings.ToLower(tc.provider)+".json")
			writeFile(t, path, tc.file)
			cfg, err := s.Load()
			if err != nil {
				t.Fatal(err)
			}
			e := cfg.Profiles["default"][tc.provider]
			if got, want := jsonOf(t, mustJSON(t, e)), jsonOf(t, json.RawMessage(tc.entry)); !reflect.DeepEqual(got, want) {
				t.Errorf("entry %v, want %v", got, want)
			}
			stage := s.NewStage("default")
			for _, key := range []string{"cf-stored", "cf-oauth", "aws-stored", "aws", "gh-stored"} {
				var raw json.RawMessage
				found, err := s.ReadSecret("default", key, &raw)
				want, ok := tc.secrets[key]
				if err != nil || found != ok {
					t.Fatalf("%s: found %v, %v", key, found, err)
				}
				if ok {
					if got, want := jsonOf(t, raw), jsonOf(t, json.RawMessage(want)); !reflect.DeepEqual(got, want) {
						t.Errorf("%s: %v, want %v", key, got, want)
					}
					if err := stage.WriteSecret(key, raw); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Committing the same configuration writes the same bytes.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			keys := func(e profile.Entry) []string { return nil }
			if _, _, err := s.Commit(context.Background(), "default", tc.provider, e, stage, keys); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, path); got != tc.file {
				t.Errorf("written:\n%s\nwant:\n%s", got, tc.file)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v", st.Mode().Perm())
			}
			if _, err := os.Stat(filepath.Join(s.Root(), "profiles.json")); err == nil {
				t.Error("a v1 home got a profiles.json")
			}
			if len(*warnings) > 0 {
				t.Errorf("warnings: %q", *warnings)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A method change in a v1 home rewrites the provider's one file: the new
// method's values only, the metadata kept; the replaced secrets are
// returned for revoking.
func TestV1CommitReplacesTheMethodInOneFile(t *testing.T) {
	s, _ := v1Store(t)
	path := filepath.Join(s.Root(), "profiles", "default", "cloudflare.json")
	writeFile(t, path, `{"format":"alchemy.profile/v1","provider":"Cloudflare","metadata":{"note":"kept"},"values":{"method":"oauth","scopes":["a"],"accountId":"0123456789abcdef0123456789abcdef","access":"old-access-token","refresh":"old-refresh-token","expires":1}}`)
	stage := s.NewStage("default")
	if err := stage.WriteSecret("cf-stored", cloudflare.Stored{Type: "apiToken", APIToken: "new-api-token-000", AccountID: "0123456789abcdef0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	e, _ := profile.NewEntry(cloudflare.Entry{Method: "stored", CredentialType: "apiToken"})
	prev, removed, err := s.Commit(context.Background(), "default", "Cloudflare", e, stage, cloudflare.Provider{}.SecretKeys)
	if err != nil {
		t.Fatal(err)
	}
	if prev.Method() != "oauth" || !strings.Contains(string(removed["cf-oauth"]), "old-refresh-token") {
		t.Errorf("prev %v removed %s", prev, removed)
	}
	want := `{
  "format": "alchemy.profile/v1",
  "provider": "Cloudflare",
  "metadata": {
    "note": "kept"
  },
  "values": {
    "method": "stored",
    "credentialType": "apiToken",
    "apiToken": "new-api-token-000",
    "accountId": "0123456789abcdef0123456789abcdef"
  }
}`
	if got := readFile(t, path); got != want {
		t.Errorf("cloudflare.json:\n%s\nwant:\n%s", got, want)
	}
}

// 16 writers racing methods on one provider of a v1 profile: the file is
// always one method's whole values (it is the transaction).
func TestV1ConcurrentCommitsKeepOneMethod(t *testing.T) {
	s, _ := v1Store(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			stage := s.NewStage("default")
			var e profile.Entry
			switch i % 3 {
			case 0:
				_ = stage.WriteSecret("cf-stored", cloudflare.Stored{Type: "apiToken", APIToken: fmt.Sprintf("token-%d-abcdef", i), AccountID: "0123456789abcdef0123456789abcdef"})
				e, _ = profile.NewEntry(cloudflare.Entry{Method: "stored", CredentialType: "apiToken"})
			case 1:
				_ = stage.WriteSecret("cf-oauth", cloudflare.OAuth{Type: "oauth", Access: fmt.Sprintf("access-%d", i), Refresh: fmt.Sprintf("refresh-%d", i), Expires: 1})
				e, _ = profile.NewEntry(cloudflare.Entry{Method: "oauth", AccountID: "0123456789abcdef0123456789abcdef"})
			default:
				e, _ = profile.NewEntry(cloudflare.Entry{Method: "env"})
			}
			if _, _, err := s.Commit(context.Background(), "default", "Cloudflare", e, stage, cloudflare.Provider{}.SecretKeys); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var doc struct{ Values map[string]any }
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(s.Root(), "profiles", "default", "cloudflare.json"))), &doc); err != nil {
		t.Fatal(err)
	}
	v := doc.Values
	switch v["method"] {
	case "stored":
		if v["apiToken"] == nil || v["access"] != nil || v["refresh"] != nil {
			t.Errorf("mixed: %v", v)
		}
	case "oauth":
		if v["access"] == nil || v["refresh"] == nil || v["apiToken"] != nil {
			t.Errorf("mixed: %v", v)
		}
	case "env":
		if len(v) != 1 {
			t.Errorf("mixed: %v", v)
		}
	default:
		t.Errorf("values %v", v)
	}
}

// A profiles.json next to profiles/ (an older tool wrote it after the
// TypeScript tool's migration) is migrated: every provider without a v1
// file gets one with its secrets under any name either tool used, env and
// OAuth entries included; existing v1 files are kept; profiles.json and
// credentials/ move to a new .profiles-v0-<stamp>/, next to the old one.
func TestV1MigratesAProfilesJSONThatAppears(t *testing.T) {
	s, warnings := v1Store(t)
	root := s.Root()
	existing := `{"format":"alchemy.profile/v1","provider":"GitHub","metadata":{},"values":{"method":"stored","token":"ghp_keptv1token00"}}`
	writeFile(t, filepath.Join(root, "profiles", "default", "github.json"), existing)
	writeFile(t, filepath.Join(root, ".profiles-v0-2026-01-01T00-00-00-000Z", "profiles.json"), `{"version":0,"profiles":{}}`)
	writeFile(t, filepath.Join(root, "profiles.json"), `{"version":0,"profiles":{
		"default":{"Cloudflare":{"method":"oauth","scopes":["a"],"accountId":"0123456789abcdef0123456789abcdef"},"AWS":{"method":"stored"},"GitHub":{"method":"stored"}},
		"ci":{"Cloudflare":{"method":"env"}},
		"../bad":{"AWS":{"method":"env"}}}}`)
	writeFile(t, filepath.Join(root, "credentials", "default", "cf-oauth.json"), `{"type":"oauth","access":"v0-access-token","refresh":"v0-refresh-token","expires":4102444800000,"scopes":["a"]}`)
	writeFile(t, filepath.Join(root, "credentials", "default", "aws.json"), `{"accountId":"123456789012","accessKeyId":"AKIAV0","secretAccessKey":"v0-secret-access-key","sessionToken":"","region":"us-west-2"}`)
	writeFile(t, filepath.Join(root, "credentials", "default", "gh-stored.json"), `{"type":"pat","token":"ghp_v0token00000"}`)

	if err := s.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "profiles.json")); err == nil {
		t.Fatal("profiles.json was not migrated")
	}
	backups, _ := filepath.Glob(filepath.Join(root, ".profiles-v0-*"))
	if len(backups) != 2 {
		t.Fatalf("backups: %q (the old one must stay)", backups)
	}
	var backup string
	for _, b := range backups {
		if !strings.Contains(b, "2026-01-01") {
			backup = b
		}
	}
	for _, f := range []string{"profiles.json", "credentials/default/cf-oauth.json", "credentials/default/aws.json", "credentials/default/gh-stored.json"} {
		if _, err := os.Stat(filepath.Join(backup, f)); err != nil {
			t.Errorf("backup: %v", err)
		}
	}
	if got := readFile(t, filepath.Join(root, "profiles", "default", "github.json")); got != existing {
		t.Errorf("an existing v1 file was changed:\n%s", got)
	}
	cfg, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(cfg.Names()); got != "[ci default]" {
		t.Errorf("profiles %s", got)
	}
	if cfg.Profiles["ci"]["Cloudflare"].Method() != "env" {
		t.Errorf("ci: %v", cfg.Profiles["ci"])
	}
	var o cloudflare.OAuth
	if found, err := s.ReadSecret("default", "cf-oauth", &o); !found || err != nil || o.Refresh != "v0-refresh-token" {
		t.Errorf("OAuth grant after the migration: %+v %v %v", o, found, err)
	}
	var a aws.Stored
	if found, err := s.ReadSecret("default", "aws-stored", &a); !found || err != nil || a.SecretAccessKey != "v0-secret-access-key" {
		t.Errorf("AWS keys after the migration: %+v %v %v", a, found, err)
	}
	w := strings.Join(*warnings, "\n")
	if !strings.Contains(w, "default/GitHub") || !strings.Contains(w, backup) || !strings.Contains(w, "'../bad'") {
		t.Errorf("warnings:\n%s", w)
	}
}

// An unusable provider file is skipped (with a warning) when read and
// moved to a backup, never overwritten, when that provider is written; a
// provider this tool does not know is listed by method and never touched.
func TestV1UnusableAndUnknownFiles(t *testing.T) {
	s, warnings := v1Store(t)
	dir := filepath.Join(s.Root(), "profiles", "default")
	writeFile(t, filepath.Join(dir, "cloudflare.json"), `{"format":"alchemy.profile/v1","provider":"Cloudflare","metadata":{},"values":{"method":"stored","apiToken":"trunc`)
	neon := `{"format":"alchemy.profile/v1","provider":"Neon","metadata":{},"values":{"method":"stored","apiKey":"neon-secret-key-000"}}`
	writeFile(t, filepath.Join(dir, "neon.json"), neon)
	cfg, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Profiles["default"]["Cloudflare"]; ok {
		t.Error("a truncated file was read")
	}
	if got := string(mustJSON(t, cfg.Profiles["default"]["Neon"])); got != `{"method":"stored"}` {
		t.Errorf("unknown provider entry %s (its other values stay in its file)", got)
	}
	if len(*warnings) != 1 || !strings.Contains((*warnings)[0], "cloudflare.json") {
		t.Errorf("warnings %q", *warnings)
	}
	e, _ := profile.NewEntry(cloudflare.Entry{Method: "env"})
	if _, _, err := s.Commit(context.Background(), "default", "Cloudflare", e, s.NewStage("default"), cloudflare.Provider{}.SecretKeys); err != nil {
		t.Fatal(err)
	}
	baks, _ := filepath.Glob(filepath.Join(dir, "cloudflare.json.invalid-*.bak"))
	if len(baks) != 1 || !strings.HasSuffix(readFile(t, baks[0]), `"apiToken":"trunc`) {
		t.Errorf("backup %q", baks)
	}
	if err := s.Update(context.Background(), func(c *profile.Config) error {
		c.Profiles["default"]["AWS"], _ = profile.NewEntry(aws.Entry{Method: "env"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "neon.json")); got != neon {
		t.Errorf("neon.json changed:\n%s", got)
	}
}
