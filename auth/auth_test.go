package auth_test

// A third party's auth provider and resources, written against the public
// packages only (alchemy and alchemy/auth): that it compiles is half the
// test; the run shows the engine hands each resource the credentials it
// asked for.

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/auth"

	// The harness only: the in-process CLI and the Cloudflare fake.
	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/stacktest"
)

// keyProvider is a third party's auth provider: a key typed in and stored
// in the profile, or KEYED_KEY from the environment.
type keyProvider struct{}

var _ auth.Provider = keyProvider{}

type keyEntry struct {
	Method string `json:"method"`
}

type keyCreds struct {
	key    string
	source auth.Source
}

func (c *keyCreds) Source() auth.Source        { return c.source }
func (c *keyCreds) Expires() (time.Time, bool) { return time.Time{}, false }
func (c *keyCreds) Fields(time.Time) []auth.Field {
	return []auth.Field{{Key: "key", Value: c.key[:2] + "****"}}
}
func (c *keyCreds) Secrets() []string { return []string{c.key} }

func (keyProvider) Name() string { return "Keyed" }
func (keyProvider) Methods() []auth.Method {
	return []auth.Method{{ID: "stored", Label: "Key"}, {ID: "env", Label: "Environment Variables", Hint: "KEYED_KEY"}}
}
func (keyProvider) SecretKeys(e auth.Entry) []string { return []string{"keyed"} }

func (p keyProvider) Configure(ctx context.Context, c *auth.Context, method string) (auth.Entry, error) {
	if method == "" {
		var err error
		if method, err = auth.ChooseMethod(ctx, c, p); err != nil {
			return nil, err
		}
	}
	if method == "stored" {
		key, err := c.Prompt.Input(ctx, auth.PromptInput{Title: "Key", Secret: true, Required: true})
		if err != nil {
			return nil, err
		}
		if err := c.WithSecrets(ctx, func(tx *auth.Tx) error {
			return tx.WriteSecret("keyed", map[string]string{"key": key})
		}); err != nil {
			return nil, err
		}
	}
	return auth.NewEntry(keyEntry{Method: method})
}

func (keyProvider) Login(context.Context, *auth.Context, auth.Entry) error  { return nil }
func (keyProvider) Logout(context.Context, *auth.Context, auth.Entry) error { return nil }

func (keyProvider) Read(ctx context.Context, c *auth.Context, e auth.Entry) (auth.Credentials, error) {
	if e.Method() == "env" {
		k, _ := c.Env.Lookup("KEYED_KEY")
		if k == "" {
			return nil, auth.Errorf("Keyed: set KEYED_KEY")
		}
		return &keyCreds{key: k, source: auth.Source{Type: "env"}}, nil
	}
	var doc struct{ Key string }
	if found, err := c.ReadSecret("keyed", &doc); err != nil || !found {
		return nil, auth.Errorf("Keyed: no stored key; run alchemy login")
	}
	return &keyCreds{key: doc.Key, source: auth.Source{Type: "stored"}}, nil
}

// keyedThing is a resource of the third party's own provider.
type keyedArgs struct{}
type keyedAttrs struct {
	KeyLength int    `json:"keyLength"`
	Source    string `json:"source"`
}
type keyedThing struct{}

func (keyedThing) Type() string        { return "Third.Keyed" }
func (keyedThing) Auth() string        { return "Keyed" }
func (keyedThing) ReplaceOn() []string { return nil }
func (keyedThing) Create(_ context.Context, r *alchemy.Request[keyedArgs, keyedAttrs]) (keyedAttrs, error) {
	k, ok := r.Credentials.(*keyCreds)
	if !ok {
		return keyedAttrs{}, auth.Errorf("no Keyed credentials (got %T)", r.Credentials)
	}
	return keyedAttrs{KeyLength: len(k.key), Source: k.source.String()}, nil
}
func (t keyedThing) Update(ctx context.Context, r *alchemy.Request[keyedArgs, keyedAttrs]) (keyedAttrs, error) {
	return t.Create(ctx, r)
}
func (keyedThing) Delete(context.Context, *alchemy.Request[keyedArgs, keyedAttrs]) error { return nil }

// cfAccountName is a third-party resource on Cloudflare: it reads the
// account's name with the profile's Cloudflare credentials.
type cfArgs struct{}
type cfAttrs struct {
	Name string `json:"name"`
}
type cfAccountName struct{ base string }

func (cfAccountName) Type() string        { return "Third.CloudflareAccountName" }
func (cfAccountName) Auth() string        { return auth.CloudflareProvider }
func (cfAccountName) ReplaceOn() []string { return nil }
func (p cfAccountName) Create(ctx context.Context, r *alchemy.Request[cfArgs, cfAttrs]) (cfAttrs, error) {
	cf, err := auth.Cloudflare(r.Credentials)
	if err != nil {
		return cfAttrs{}, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", p.base+"/accounts/"+cf.AccountID, nil)
	if err != nil {
		return cfAttrs{}, err
	}
	cf.SetHeaders(req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cfAttrs{}, err
	}
	defer resp.Body.Close()
	var env struct {
		Success bool
		Result  struct{ Name string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || !env.Success {
		return cfAttrs{}, auth.Errorf("GET /accounts/%s: %s (%v)", cf.AccountID, resp.Status, err)
	}
	return cfAttrs{Name: env.Result.Name}, nil
}
func (p cfAccountName) Update(ctx context.Context, r *alchemy.Request[cfArgs, cfAttrs]) (cfAttrs, error) {
	return p.Create(ctx, r)
}
func (cfAccountName) Delete(context.Context, *alchemy.Request[cfArgs, cfAttrs]) error { return nil }

// stack is a stack using both, as a third party's user would write it.
func stack(cfBase string) func(*alchemy.Stack) {
	return func(s *alchemy.Stack) {
		k := alchemy.Declare[keyedArgs, keyedAttrs](s, keyedThing{}, "Keyed", struct{}{})
		c := alchemy.Declare[cfArgs, cfAttrs](s, cfAccountName{base: cfBase}, "Account", struct{}{})
		s.Output("keyLength", alchemy.Attr[int](k, "keyLength"))
		s.Output("keySource", alchemy.Attr[string](k, "source"))
		s.Output("account", alchemy.Attr[string](c, "name"))
	}
}

func TestThirdPartyProviderThroughThePublicContract(t *testing.T) {
	const account, token = "0123456789abcdef0123456789abcdef", "cf-valid-token-0001"
	cf := cloudflarefake.New()
	cf.AddAccount(account, "Work")
	cf.AddToken(token, cloudflarefake.TokenOptions{UserEmail: "dev@example.com"})
	cf.Start()
	t.Cleanup(cf.Close)

	dir := t.TempDir()
	t.Chdir(dir)
	for k, v := range map[string]string{
		"HOME": filepath.Join(dir, "userhome"), "ALCHEMY_HOME": filepath.Join(dir, "home"),
		"ALCHEMY_PROFILE": "", "ALCHEMY_STAGE": "", "STAGE": "", "USER": "tester",
		// Under CI each provider reads its env method: the third party's too.
		"CI": "1", "KEYED_KEY": "key-0123456789",
		"CLOUDFLARE_BASE_URL": cf.URL(), "CLOUDFLARE_API_TOKEN": token, "CLOUDFLARE_ACCOUNT_ID": account,
	} {
		t.Setenv(k, v)
	}
	prog := stacktest.Program("third", stack(cf.URL()), alchemy.WithAuth(keyProvider{}))

	io, _, out, errOut := iostreams.Test()
	f := &cli.Factory{IO: io, Registry: bundled.Registry, Now: time.Now, Stack: prog}
	root := cli.NewRoot(f)
	root.SetArgs([]string{"deploy", "--yes"})
	if code := cli.ExitCode(io, root.ExecuteContext(context.Background())); code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"keyLength: 14", "keySource: env", "account: Work"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String()+errOut.String(), "key-0123456789") {
		t.Errorf("the third party's key was printed")
	}
	var saw bool
	for _, r := range cf.Requests() {
		saw = saw || r.Method == "GET" && r.Path == "/accounts/"+account && r.AuthKind == "token"
	}
	if !saw {
		t.Errorf("the Cloudflare fake saw no GET /accounts/%s with the token: %+v", account, cf.Requests())
	}
}
