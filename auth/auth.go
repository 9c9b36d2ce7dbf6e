// Package auth is the public side of alchemy's auth providers: what a
// resource provider receives when it needs credentials, and what an auth
// provider of one's own implements.
//
// A resource provider asks for credentials by naming an auth provider in
// its Auth method; the engine resolves the stage's profile and hands the
// result to every call in alchemy.Request.Credentials. The built-in
// providers' credentials are read with Cloudflare, AWS and GitHub:
//
//	func (myProvider) Auth() string { return auth.CloudflareProvider }
//
//	func (myProvider) Create(ctx context.Context, r *alchemy.Request[Args, Attrs]) (Attrs, error) {
//		cf, err := auth.Cloudflare(r.Credentials)
//		if err != nil {
//			return Attrs{}, err
//		}
//		req, _ := http.NewRequestWithContext(ctx, "GET", "https://api.cloudflare.com/client/v4/accounts/"+cf.AccountID+"/workers/scripts", nil)
//		cf.SetHeaders(req.Header)
//		...
//	}
//
// An auth provider not built into alchemy implements Provider and is given
// to alchemy.Run with alchemy.WithAuth; `alchemy login` then configures it
// in the profile like the built-in ones.
package auth

import (
	"context"

	iauth "github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// Names of the auth providers built into alchemy, for a resource
// provider's Auth method.
const (
	CloudflareProvider = "Cloudflare"
	AWSProvider        = "AWS"
	GitHubProvider     = "GitHub"
)

// Credentials are resolved, usable credentials of one auth provider. Those
// of the built-in providers are read with Cloudflare, AWS and GitHub. An
// auth provider's own credentials implement its three methods:
//
//	Source() Source              // where they came from
//	Expires() (time.Time, bool)  // the expiry, and false when they do not expire
//	Fields(now time.Time) []Field // display lines for `alchemy profile show`, secrets redacted
//
// and, to keep their secrets out of every output, Secrets() []string.
type Credentials = iauth.Credentials

// Provider is an auth provider: it configures a profile's credentials for
// one cloud (asking a person, or reading the environment without one),
// signs in and out, and resolves the credentials resource providers get.
type Provider interface {
	// Name is the provider's key in the profile ("Cloudflare"), and what
	// resource providers name in their Auth method.
	Name() string
	// Methods lists the auth methods in menu order.
	Methods() []Method
	// Configure sets up method (asking for it when empty), captures and
	// stores its secrets (Context.WithSecrets), and returns the entry to
	// save in the profile (NewEntry).
	Configure(ctx context.Context, c *Context, method string) (Entry, error)
	// Login re-establishes the secrets of a configured entry: refresh, or
	// ask again when they are missing.
	Login(ctx context.Context, c *Context, e Entry) error
	// Logout removes or revokes the entry's secrets.
	Logout(ctx context.Context, c *Context, e Entry) error
	// Read resolves usable credentials without prompting.
	Read(ctx context.Context, c *Context, e Entry) (Credentials, error)
	// SecretKeys names the secret documents the entry's method owns, so
	// that changing method removes the old ones.
	SecretKeys(e Entry) []string
}

// The types a Provider's methods use. They are alchemy's own, under the
// names a provider outside this module can write.
type (
	// Context is what a provider method may use: the profile's name,
	// its secrets (WithSecrets, ReadSecret), the environment (Env), the
	// prompter (Prompt, usable when Interactive) and an HTTP client.
	Context = iauth.Context
	// Method is one way a provider can authenticate, listed in the
	// configure menu.
	Method = iauth.Method
	// Source says where credentials came from ("stored", "env", ...).
	Source = iauth.Source
	// Field is one display line of credentials.
	Field = iauth.Field
	// Entry is a provider's entry in profiles.json (method and settings;
	// never secrets). Entry.Decode reads it into a struct.
	Entry = profile.Entry
	// Tx is the profile's secrets inside Context.WithSecrets.
	Tx = profile.Tx
	// PromptInput is a question for Context.Prompt.Input.
	PromptInput = prompt.Input
	// PromptOption is one choice of Context.Prompt.Select.
	PromptOption = prompt.Option
	// Refresher resolves a provider's credentials again once they expire,
	// for calls that outlive them (alchemy.Request.Refresh).
	Refresher = engine.Refresher
)

// NewEntry makes the profile entry of v, a struct with JSON tags whose
// "method" field names the auth method.
func NewEntry(v any) (Entry, error) { return profile.NewEntry(v) }

// Errorf is an error whose message is shown to the user as is.
func Errorf(format string, args ...any) error { return iauth.Errorf(format, args...) }

// ChooseMethod asks which of p's methods to use.
func ChooseMethod(ctx context.Context, c *Context, p Provider) (string, error) {
	return iauth.ChooseMethod(ctx, c, p)
}
