package leakcheck

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

func TestFindsWholeSecretsAndPrefixesWithoutShowingThem(t *testing.T) {
	s := New()
	token := s.Generate(t, "Cloudflare token", "cf", 40)
	key := s.Generate(t, "AWS secret key", "", 40)

	r := &recorder{TB: t}
	s.Check(r, "alchemy profile show (stderr)", "error: token "+token+" rejected\nthe key starts "+key[:PrefixLen]+"… and ends")
	if len(r.errors) != 2 {
		t.Fatalf("want 2 findings, got %d: %q", len(r.errors), r.errors)
	}
	for _, want := range []string{
		`leak in alchemy profile show (stderr): secret "Cloudflare token" (its whole value): …error: token «Cloudflare token» rejected⏎the key starts «AWS secret key:prefix»`,
		`leak in alchemy profile show (stderr): secret "AWS secret key" (its first 8 or more characters): …`,
	} {
		if !strings.Contains(strings.Join(r.errors, "\n"), want) {
			t.Errorf("findings lack %q:\n%s", want, strings.Join(r.errors, "\n"))
		}
	}
	for _, e := range r.errors {
		if strings.Contains(e, token[:PrefixLen]) || strings.Contains(e, key[:PrefixLen]) {
			t.Fatalf("a finding shows a secret: %s", e)
		}
	}
}

// A secret cut short is masked as far as it goes, not only its first
// characters: the finding shows none of it.
func TestASecretCutShortIsMaskedWhole(t *testing.T) {
	s := New()
	token := s.Generate(t, "token", "", 40)
	text := "token " + token[:30] + "... is invalid"
	if got, want := s.Mask(text), "token «token:prefix»... is invalid"; got != want {
		t.Errorf("Mask = %q, want %q", got, want)
	}
	f := s.Find(text)
	if len(f) != 1 || f[0].Whole || strings.Contains(f[0].String(), token[PrefixLen:PrefixLen+4]) {
		t.Errorf("%+v", f)
	}
}

func TestRedactedFormsAreNotLeaks(t *testing.T) {
	s := New()
	token := s.Generate(t, "GitHub token", "ghp_", 40)
	for _, text := range []string{
		"token: " + token[:4] + "****",
		"token: " + token[:6] + "****",
		"",
	} {
		if f := s.Find(text); len(f) != 0 {
			t.Errorf("%q: %v", s.Mask(text), f)
		}
	}
}

func TestSetRefusesSecretsItCouldNotTellApart(t *testing.T) {
	for name, add := range map[string]func(s *Set, t testing.TB){
		"short":      func(s *Set, t testing.TB) { s.Add(t, "short", "0123456789") },
		"same label": func(s *Set, t testing.TB) { s.Add(t, "a", "1111111111111111"); s.Add(t, "a", "2222222222222222") },
	} {
		t.Run(name, func(t *testing.T) {
			f := &fatal{TB: t}
			func() {
				defer func() { _ = recover() }()
				add(New(), f)
			}()
			if !f.failed {
				t.Error("accepted")
			}
		})
	}
}

// fatal is a testing.TB whose Fatalf stops the caller without failing the
// test.
type fatal struct {
	testing.TB
	failed bool
}

func (f *fatal) Helper() {}
func (f *fatal) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}

func TestASharedPrefixNamesEverySecretWithIt(t *testing.T) {
	s := New()
	s.Add(t, "role 1 session token", "IQoJb3JpZ2luX2Vj1111")
	s.Add(t, "role 2 session token", "IQoJb3JpZ2luX2Vj2222")
	f := s.Find("token IQoJb3JpZ2lu…")
	if len(f) != 1 || f[0].Whole || f[0].Label != "role 1 session token or role 2 session token" {
		t.Fatalf("%+v", f)
	}
}

func TestCheckTreeAndShows(t *testing.T) {
	s := New()
	secret := s.Generate(t, "stack secret", "", 24)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "state", "stack"), 0o700)
	os.WriteFile(filepath.Join(dir, "state", "stack", "row.json"), []byte(`{"v":"`+secret+`"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "clean.json"), []byte(`{}`), 0o600)
	os.MkdirAll(filepath.Join(dir, "credentials", "p"), 0o700)
	os.WriteFile(filepath.Join(dir, "credentials", "p", "key.json"), []byte(secret), 0o600)
	os.WriteFile(filepath.Join(dir, "profiles.json.invalid-1.bak"), []byte(secret), 0o600)

	r := &recorder{TB: t}
	s.CheckTree(r, dir, "credentials", "profiles.json.invalid-*.bak")
	s.CheckTree(r, filepath.Join(dir, "missing"))
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], filepath.Join("state", "stack", "row.json")) {
		t.Fatalf("findings: %q", r.errors)
	}

	r = &recorder{TB: t}
	s.Shows(r, "alchemy profile env", "X="+secret, "stack secret")
	s.Shows(r, "alchemy profile env", "nothing", "stack secret")
	if len(r.errors) != 1 || strings.Contains(r.errors[0], secret) {
		t.Fatalf("Shows: %q", r.errors)
	}
}

func TestEchoQuotesWhatItIsSentInEachShape(t *testing.T) {
	e := StartEcho(t)
	for path, want := range map[string]string{
		"/sts/":             "<Code>InvalidClientTokenId</Code><Message>refused: ",
		"/s3/bucket":        "<Code>AccessDenied</Code><Message>refused: ",
		"/client/v4/user":   `"errors":[{"code":10000,"message":"refused: `,
		"/sso/federation/x": `"__type":"ForbiddenException"`,
		"/oauth2/token":     `"error_description":"refused: `,
	} {
		req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader("refresh_token=rt-456"))
		req.Header.Set("Authorization", "Bearer tok-123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 || !strings.Contains(string(body), want) ||
			!strings.Contains(string(body), "Authorization=Bearer tok-123") || !strings.Contains(string(body), "body=refresh_token=rt-456") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	if got := strings.Count(e.Received(), "Bearer tok-123"); got != 5 {
		t.Errorf("Received has %d requests:\n%s", got, e.Received())
	}
}
