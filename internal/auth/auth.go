// Package auth is the contract between alchemy and the clouds it signs in
// to: the Provider interface every auth provider implements, the registry of
// providers, resolved Credentials that carry their source and expiry, and the
// Session that wraps every provider call with the interactive mutex, the
// profile store and the non-interactive checks. Providers live in
// subpackages; this package imports none of them.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/redact"
)

// Method is one way a provider can authenticate.
type Method struct {
	ID    string
	Label string
	Hint  string
	// Available is false for methods listed in the menu but not built yet.
	Unavailable bool
}

// Source says where resolved credentials came from.
type Source struct {
	Type    string // "oauth", "stored", "env", "sso", "gh-cli"
	Details string // e.g. the SSO profile or the env variable
}

func (s Source) String() string {
	if s.Details == "" {
		return s.Type
	}
	return s.Type + " - " + s.Details
}

// Field is one display line of resolved credentials. Value is already
// redacted where it is a secret; Width pads "key:" so a provider's lines align.
type Field struct {
	Key   string
	Value string
	Width int
}

// Credentials are resolved, usable credentials of one provider.
type Credentials interface {
	// Source says where they came from.
	Source() Source
	// Expires is the expiry time, and false when they do not expire.
	Expires() (time.Time, bool)
	// Fields are the display lines at time now, secrets redacted. The
	// renderer adds the source line.
	Fields(now time.Time) []Field
}

// SecretHolder is implemented by credentials and by the documents of
// secret files: Secrets lists the values to keep out of every output
// (tokens, keys; not account ids). Secret files register theirs as the
// store reads them.
type SecretHolder = profile.SecretHolder

// Loaded registers the secrets a provider has just loaded (from the
// environment, a prompt, a file the store does not read) and returns them:
// from then on no message can show them, whichever check of the rest fails
// and whichever API quotes them back.
func Loaded[S SecretHolder](s S) S {
	redact.Add(s.Secrets()...)
	return s
}

// Read resolves p's credentials for e and registers their secrets with the
// redaction registry, so no output of this process can show them. Every
// read of credentials goes through it.
func Read(ctx context.Context, c *Context, p Provider, e profile.Entry) (Credentials, error) {
	creds, err := p.Read(ctx, c, e)
	if sh, ok := creds.(SecretHolder); ok && err == nil {
		redact.Add(sh.Secrets()...)
	}
	return creds, redact.Error(err)
}

// Exporter is implemented by credentials that can be handed to another
// tool as environment variables (alchemy profile env / exec): the only
// places a secret leaves alchemy, and only on explicit request.
type Exporter interface {
	Env() map[string]string
	// Inherited names every variable another tool would read this
	// provider's credentials from: `profile exec` removes them from the
	// environment it hands down before adding Env, so that a stale
	// session token or profile name in the shell never mixes with them.
	Inherited() []string
}

// AccountReader is implemented by providers whose credentials act in one
// account, so a stage can be bound to it: Account says which account these
// credentials would deploy to, asking the cloud where the credentials
// alone prove nothing (an account id stored beside AWS keys is only a
// claim; STS knows).
type AccountReader interface {
	Account(ctx context.Context, c *Context, creds Credentials) (string, error)
}

// AccountNamer is implemented by providers whose resolved credentials name
// the account they act in without asking the cloud (a Cloudflare account
// id, the account STS reported when AWS keys were saved): the context line
// of a stack command shows it. "" when the credentials name none, or only
// claim one (AWS_ACCOUNT_ID beside keys from the environment).
type AccountNamer interface {
	KnownAccount(creds Credentials) string
}

// Context is what a provider method may use. Providers never read os.Getenv,
// write files outside Store, or prompt outside Prompt.
type Context struct {
	Profile string
	Store   *profile.Store
	Env     envfile.Source
	IO      *iostreams.IOStreams
	Prompt  prompt.Prompter
	HTTP    *http.Client
	// Interactive is false when nobody can answer prompts; providers must
	// then take everything from Env.
	Interactive bool
	Now         func() time.Time
	// Login carries the login command's options for providers that use them.
	Login LoginOptions

	// stage, during Configure, collects the secret writes for the commit
	// that saves them with the entry; after holds what runs once it did.
	stage *profile.Tx
	after *[]func()
}

// LoginOptions are flags of `alchemy login` that shape a provider's
// configure step.
type LoginOptions struct {
	// NoBrowser prints the sign-in URL instead of opening a browser.
	NoBrowser bool
	// Scopes replaces a provider's default OAuth scopes.
	Scopes []string
	// AccountID pins the account when a login can see several.
	AccountID string
	// EndSSO makes logout end a sign-in shared with another tool (the AWS
	// CLI's SSO session).
	EndSSO bool
}

// WithSecrets runs fn under the profile's cross-process lock. During a
// configure step its writes are staged instead, and saved with the entry.
func (c *Context) WithSecrets(ctx context.Context, fn func(*profile.Tx) error) error {
	if c.stage != nil {
		return fn(c.stage)
	}
	return c.Store.WithProfile(ctx, c.Profile, fn)
}

// AfterSave runs fn once what this step wrote is saved: at once outside a
// configure step, after its commit inside one. Revoking what a new
// credential replaces goes here, so nothing is given back before its
// replacement is safe.
func (c *Context) AfterSave(fn func()) {
	if c.after != nil {
		*c.after = append(*c.after, fn)
		return
	}
	fn()
}

// ReadSecret reads one of the profile's secret documents without the lock.
func (c *Context) ReadSecret(key string, v any) (bool, error) {
	return c.Store.ReadSecret(c.Profile, key, v)
}

// Provider is an auth provider: Cloudflare, AWS, GitHub, ...
type Provider interface {
	// Name is the key in profiles.json ("Cloudflare").
	Name() string
	// Methods lists the auth methods in menu order.
	Methods() []Method
	// Configure sets up method (asking for it when empty), captures and
	// stores its secrets, and returns the entry to persist in profiles.json.
	Configure(ctx context.Context, c *Context, method string) (profile.Entry, error)
	// Login re-establishes the secrets of a configured entry (refresh, or ask
	// again when they are missing).
	Login(ctx context.Context, c *Context, e profile.Entry) error
	// Logout removes or revokes the entry's secrets.
	Logout(ctx context.Context, c *Context, e profile.Entry) error
	// Read resolves usable credentials without prompting.
	Read(ctx context.Context, c *Context, e profile.Entry) (Credentials, error)
	// SecretKeys names the credential files the entry's method owns.
	SecretKeys(e profile.Entry) []string
}

// Registry holds providers in registration order.
type Registry struct {
	providers []Provider
}

// NewRegistry returns a registry of ps.
func NewRegistry(ps ...Provider) *Registry { return &Registry{providers: ps} }

// All returns the providers in registration order.
func (r *Registry) All() []Provider { return r.providers }

// Get finds a provider by name, case-insensitively, so that
// --provider cloudflare works; names in files stay case-sensitive.
func (r *Registry) Get(name string) (Provider, error) {
	for _, p := range r.providers {
		if strings.EqualFold(p.Name(), name) {
			return p, nil
		}
	}
	names := make([]string, len(r.providers))
	for i, p := range r.providers {
		names[i] = p.Name()
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown provider '%s': choose one of %s", name, strings.Join(names, ", "))
}

// MethodFor finds a method of p by id.
func MethodFor(p Provider, id string) (Method, error) {
	var ids []string
	for _, m := range p.Methods() {
		if m.ID == id {
			if m.Unavailable {
				return m, &NotAvailableError{What: fmt.Sprintf("the %s method '%s'", p.Name(), id)}
			}
			return m, nil
		}
		ids = append(ids, m.ID)
	}
	return Method{}, fmt.Errorf("unknown %s method '%s': choose one of %s", p.Name(), id, strings.Join(ids, ", "))
}

// NotAvailableError marks something listed but not built yet.
type NotAvailableError struct{ What string }

func (e *NotAvailableError) Error() string {
	return e.What + " is not yet available in this version of alchemy"
}

// Error is a provider failure with a message fit for the user.
type Error struct {
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause == nil {
		return e.Message
	}
	return e.Message + ": " + e.Cause.Error()
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf builds an *Error.
func Errorf(format string, args ...any) error { return &Error{Message: fmt.Sprintf(format, args...)} }

// IsCancelled reports whether err comes from a cancelled prompt.
func IsCancelled(err error) bool { return errors.Is(err, prompt.ErrCancelled) }

// ChooseMethod asks which of p's methods to use. Methods not built yet are
// shown but refused with a clear message.
func ChooseMethod(ctx context.Context, c *Context, p Provider) (string, error) {
	var opts []prompt.Option
	initial := ""
	for _, m := range p.Methods() {
		hint := m.Hint
		if m.Unavailable {
			hint = "not yet available"
		} else if initial == "" {
			initial = m.ID
		}
		opts = append(opts, prompt.Option{Value: m.ID, Label: m.Label, Hint: hint})
	}
	// The menu says which profile it configures and why: it also opens in
	// the middle of a deploy, where a misspelled --profile once opened it
	// for a profile nobody meant.
	title := fmt.Sprintf("%s\n%s authentication method for profile '%s':", configureReason(c, p), p.Name(), c.Profile)
	id, err := c.Prompt.Select(ctx, title, opts, initial)
	if err != nil {
		return "", err
	}
	if _, err := MethodFor(p, id); err != nil {
		return "", err
	}
	return id, nil
}
