package profile

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newStore(t *testing.T) (*Store, *[]string) {
	t.Helper()
	var warnings []string
	s := New(filepath.Join(t.TempDir(), "home"), func(m string) { warnings = append(warnings, m) })
	return s, &warnings
}

// The home written by the TypeScript tool (its own test fixture) must read
// as written, and survive a rewrite with every provider and field intact.
func TestReadsTypeScriptHome(t *testing.T) {
	s, _ := newStore(t)
	copyTree(t, "testdata/v0-home", s.Root())

	cfg, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Names(), []string{"default", "work"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("profiles = %v, want %v", got, want)
	}
	if got, want := cfg.Profiles["default"].Providers(), []string{"AWS", "Cloudflare", "Neon"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("default providers = %v, want %v", got, want)
	}
	cf := cfg.Profiles["default"]["Cloudflare"]
	if cf.Method() != "oauth" || cf.String("accountId") != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("Cloudflare entry = %s", mustJSON(cf))
	}
	if got := cfg.Profiles["default"]["AWS"].String("ssoProfile"); got != "dev" {
		t.Fatalf("ssoProfile = %q", got)
	}
	var stored struct{ Type, APIToken, AccountID string }
	found, err := s.ReadSecret("work", "cf-stored", &stored)
	if err != nil || !found {
		t.Fatalf("ReadSecret = %v, %v", found, err)
	}
	if stored.APIToken != "v0-cf-api-token" || stored.Type != "apiToken" {
		t.Fatalf("cf-stored = %+v", stored)
	}

	// A rewrite touching another profile keeps everything the file had.
	before := semantic(t, s.ConfigPath())
	if err := s.SetEntry(context.Background(), "new", "GitHub", Entry{"method": json.RawMessage(`"env"`)}); err != nil {
		t.Fatal(err)
	}
	after := semantic(t, s.ConfigPath())
	delete(after["profiles"].(map[string]any), "new")
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("rewrite changed existing content:\nbefore %v\nafter  %v", before, after)
	}
}

func semantic(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestUnknownFieldsSurviveRewrites(t *testing.T) {
	s, _ := newStore(t)
	if err := os.MkdirAll(s.Root(), 0o700); err != nil {
		t.Fatal(err)
	}
	hand := `{"version":0,"comment":"mine","profiles":{"default":{"Cloudflare":{"method":"stored","credentialType":"apiToken","note":{"owner":"me"}},"Fly":{"method":"stored","org":"x"}}}}`
	if err := os.WriteFile(s.ConfigPath(), []byte(hand), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Same method again: hand-added fields stay.
	if err := s.SetEntry(ctx, "default", "Cloudflare", Entry{"method": json.RawMessage(`"stored"`), "credentialType": json.RawMessage(`"apiKey"`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEntry(ctx, "other", "AWS", Entry{"method": json.RawMessage(`"env"`)}); err != nil {
		t.Fatal(err)
	}
	got := semantic(t, s.ConfigPath())
	if got["comment"] != "mine" {
		t.Errorf("top-level unknown field lost: %v", got)
	}
	def := got["profiles"].(map[string]any)["default"].(map[string]any)
	if !reflect.DeepEqual(def["Fly"], map[string]any{"method": "stored", "org": "x"}) {
		t.Errorf("unknown provider changed: %v", def["Fly"])
	}
	cf := def["Cloudflare"].(map[string]any)
	if cf["credentialType"] != "apiKey" || !reflect.DeepEqual(cf["note"], map[string]any{"owner": "me"}) {
		t.Errorf("Cloudflare entry = %v", cf)
	}
	// A new method starts from its own fields.
	if err := s.SetEntry(ctx, "default", "Cloudflare", Entry{"method": json.RawMessage(`"env"`)}); err != nil {
		t.Fatal(err)
	}
	cf = semantic(t, s.ConfigPath())["profiles"].(map[string]any)["default"].(map[string]any)["Cloudflare"].(map[string]any)
	if !reflect.DeepEqual(cf, map[string]any{"method": "env"}) {
		t.Errorf("after method change Cloudflare = %v", cf)
	}
}

func TestFileFormatMatchesTypeScriptTool(t *testing.T) {
	s, _ := newStore(t)
	if err := s.SetEntry(context.Background(), "default", "AWS", Entry{"method": json.RawMessage(`"stored"`)}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"version\": 0,\n  \"profiles\": {\n    \"default\": {\n      \"AWS\": {\n        \"method\": \"stored\"\n      }\n    }\n  }\n}"
	if string(data) != want {
		t.Fatalf("file =\n%s\nwant\n%s", data, want)
	}
}

func TestPermissions(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if err := s.SetEntry(ctx, "default", "AWS", Entry{"method": json.RawMessage(`"stored"`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.WithProfile(ctx, "default", func(tx *Tx) error { return tx.WriteSecret("aws", map[string]string{"accessKeyId": "AKIA"}) }); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		s.Root():                               0o700,
		filepath.Join(s.Root(), "credentials"): 0o700,
		s.CredentialsDir("default"):            0o700,
		s.ConfigPath():                         0o600,
		s.SecretPath("default", "aws"):         0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode = %o, want %o", path, fi.Mode().Perm(), want)
		}
	}
}

func TestUnusableFileIsNeverOverwrittenSilently(t *testing.T) {
	valid := `{"version":0,"profiles":{"default":{"AWS":{"method":"stored"}}}}`
	cases := []struct {
		name, content, reason string
	}{
		{"corrupt", `{"version":0,"profiles":{"default":{]}}`, "not valid JSON"},
		{"truncated", valid[:len(valid)/2], "truncated"},
		{"empty", ``, "it is empty"},
		{"newer version", `{"version":1,"profiles":{}}`, "has version 1"},
		{"no version", `{"profiles":{}}`, `no "version"`},
		{"not an object", `[1,2]`, "not a JSON object"},
		{"bad provider entry", `{"version":0,"profiles":{"default":{"AWS":"stored"}}}`, "AWS entry of profile 'default' is not an object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, warnings := newStore(t)
			if err := os.MkdirAll(s.Root(), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(s.ConfigPath(), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			var invalid *InvalidError
			if !errors.As(err, &invalid) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Load error = %v, want InvalidError mentioning %q", err, tc.reason)
			}
			if !strings.Contains(err.Error(), "alchemy login") {
				t.Errorf("error does not say what to run: %v", err)
			}
			s.now = func() time.Time { return time.Date(2026, 4, 27, 20, 45, 47, 937e6, time.UTC) }
			if err := s.SetEntry(context.Background(), "work", "GitHub", Entry{"method": json.RawMessage(`"env"`)}); err != nil {
				t.Fatal(err)
			}
			backup := s.ConfigPath() + ".invalid-2026-04-27T20-45-47-937Z.bak"
			data, err := os.ReadFile(backup)
			if err != nil {
				t.Fatalf("no backup: %v", err)
			}
			if string(data) != tc.content {
				t.Fatalf("backup content = %q, want the original", data)
			}
			if len(*warnings) != 1 || !strings.Contains((*warnings)[0], backup) {
				t.Fatalf("warnings = %q, want one naming the backup", *warnings)
			}
			cfg, err := s.Load()
			if err != nil || cfg.Profiles["work"]["GitHub"].Method() != "env" {
				t.Fatalf("after write: %v %v", cfg, err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, name := range []string{"default", "prod", "work.eu-1", "A_b-c.d", "0", strings.Repeat("a", 64)} {
		if err := ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", "../x", "a/b", `a\b`, "${ALCHEMY_PROFILE:-default}", ".hidden", "-x", "has space", strings.Repeat("a", 65), "ünï"} {
		err := ValidateName(name)
		want := "Invalid profile name '" + name + "'. Profile names must start with an ASCII letter or number, contain only letters, numbers, '.', '_' or '-', and be at most 64 characters."
		if err == nil || err.Error() != want {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
}

// A hostile name never reaches the filesystem.
func TestHostileNamesWriteNothing(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for _, name := range []string{"../x", "a/b", "${ALCHEMY_PROFILE:-default}"} {
		if err := s.SetEntry(ctx, name, "AWS", Entry{"method": json.RawMessage(`"env"`)}); err == nil {
			t.Errorf("SetEntry(%q) succeeded", name)
		}
		if err := s.WithProfile(ctx, name, func(*Tx) error { t.Errorf("ran under %q", name); return nil }); err == nil {
			t.Errorf("WithProfile(%q) succeeded", name)
		}
		if _, err := s.ReadSecret(name, "aws", &struct{}{}); err == nil {
			t.Errorf("ReadSecret(%q) succeeded", name)
		}
	}
	if _, err := os.Stat(s.Root()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("home was created: %v", err)
	}
}

func TestSecrets(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var v map[string]string
	if found, err := s.ReadSecret("default", "aws", &v); found || err != nil {
		t.Fatalf("missing secret: %v %v", found, err)
	}
	err := s.WithProfile(ctx, "default", func(tx *Tx) error {
		if err := tx.WriteSecret("aws", map[string]string{"k": "v"}); err != nil {
			return err
		}
		if err := tx.WriteSecret("../evil", "x"); err == nil || err.Error() != "Invalid credential key '../evil'." {
			t.Errorf("bad key accepted: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(s.SecretPath("default", "aws"))
	if string(data) != "{\n  \"k\": \"v\"\n}" {
		t.Errorf("secret file = %q", data)
	}
	if err := os.WriteFile(s.SecretPath("default", "aws"), []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReadSecret("default", "aws", &v)
	if err == nil || !strings.Contains(err.Error(), "contain invalid JSON") || !strings.Contains(err.Error(), "alchemy login --profile default --configure") {
		t.Fatalf("invalid JSON secret: %v", err)
	}
	err = s.WithProfile(ctx, "default", func(tx *Tx) error {
		if err := tx.DeleteSecret("aws"); err != nil {
			return err
		}
		if err := tx.DeleteSecret("aws"); err != nil { // already gone is fine
			return err
		}
		return tx.DeleteAll()
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.CredentialsDir("default")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("credentials dir still there: %v", err)
	}
}
