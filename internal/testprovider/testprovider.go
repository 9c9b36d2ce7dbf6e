// Package testprovider is an auth provider and a resource type that need no
// network, for tests of how deploys meet profiles: the first-deploy
// configure walk, non-interactive and CI behaviour, and credential caching.
// Stack files under testdata import it.
package testprovider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy"
	pubauth "github.com/alchemy-go/alchemy/auth"
	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// Name of the auth provider.
const Name = "Widget"

const storedKey = "widget-stored"

// Auth is the Widget auth provider: a token stored in the profile, or
// WIDGET_TOKEN from the environment.
type Auth struct{}

var _ auth.Provider = Auth{}

func (Auth) Name() string { return Name }

func (Auth) Methods() []auth.Method {
	return []auth.Method{
		{ID: "stored", Label: "Widget Token", Hint: "stored in ~/.alchemy/credentials"},
		{ID: "env", Label: "Environment Variables", Hint: "WIDGET_TOKEN"},
	}
}

func (Auth) SecretKeys(e profile.Entry) []string {
	if e.Method() == "stored" {
		return []string{storedKey}
	}
	return nil
}

type stored struct {
	Token string `json:"token"`
}

// Credentials of the Widget provider.
type Credentials struct {
	Token  string
	expiry time.Time
	source auth.Source
}

func (c *Credentials) Source() auth.Source        { return c.source }
func (c *Credentials) Secrets() []string          { return []string{c.Token} }
func (c *Credentials) Expires() (time.Time, bool) { return c.expiry, !c.expiry.IsZero() }
func (c *Credentials) Fields(time.Time) []auth.Field {
	return []auth.Field{{Key: "token", Value: display.Redact(c.Token, 4)}}
}

func (a Auth) Configure(ctx context.Context, c *auth.Context, method string) (profile.Entry, error) {
	if method == "" {
		var err error
		if method, err = auth.ChooseMethod(ctx, c, a); err != nil {
			return nil, err
		}
	}
	if method == "stored" {
		tok := envfile.Get(c.Env, "WIDGET_TOKEN")
		if c.Interactive {
			var err error
			// Validate is the stack program's own function: the alchemy
			// command that draws the prompt asks it back as the person types.
			tok, err = c.Prompt.Input(ctx, prompt.Input{Title: "Widget API Token", Secret: true, Required: true,
				Validate: func(v string) error {
					if strings.ContainsAny(v, " \t") {
						return errors.New("a Widget token has no spaces")
					}
					return nil
				}})
			if err != nil {
				return nil, err
			}
		}
		if tok == "" {
			return nil, auth.Errorf("Widget: set WIDGET_TOKEN")
		}
		if err := c.WithSecrets(ctx, func(tx *profile.Tx) error { return tx.WriteSecret(storedKey, stored{tok}) }); err != nil {
			return nil, err
		}
		c.IO.Success("Widget: credentials saved.")
	}
	return profile.NewEntry(map[string]string{"method": method})
}

func (Auth) Login(context.Context, *auth.Context, profile.Entry) error  { return nil }
func (Auth) Logout(context.Context, *auth.Context, profile.Entry) error { return nil }

func (Auth) Read(_ context.Context, c *auth.Context, e profile.Entry) (auth.Credentials, error) {
	var ttl time.Duration
	if v := envfile.Get(c.Env, "WIDGET_TTL"); v != "" {
		ttl, _ = time.ParseDuration(v)
	}
	expiry := time.Time{}
	if ttl > 0 {
		expiry = c.Now().Add(ttl)
	}
	switch e.Method() {
	case "env":
		tok, err := envfile.Required(c.Env, "WIDGET_TOKEN")
		if err != nil {
			return nil, err
		}
		return &Credentials{Token: tok, expiry: expiry, source: auth.Source{Type: "env"}}, nil
	case "stored":
		var s stored
		found, err := c.ReadSecret(storedKey, &s)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, auth.Errorf("Widget stored credentials not found. Run: alchemy login --profile %s --configure", c.Profile)
		}
		return &Credentials{Token: s.Token, expiry: expiry, source: auth.Source{Type: "stored"}}, nil
	}
	return nil, fmt.Errorf("unknown Widget method %q", e.Method())
}

// ThingProps declares a Widget thing.
type ThingProps struct {
	Label alchemy.Input[string] `json:"label"`
}

// ThingArgs are its resolved props.
type ThingArgs struct {
	Label string `json:"label"`
}

// ThingAttrs prove which credentials created it: a hash, never the token.
type ThingAttrs struct {
	Label     string `json:"label"`
	TokenHash string `json:"tokenHash"`
}

// Thing is a declared Widget thing.
type Thing struct {
	*alchemy.Resource
	TokenHash alchemy.Output[string]
}

// NewThing declares a thing that needs Widget credentials.
func NewThing(s *alchemy.Stack, id string, props ThingProps) *Thing {
	r := alchemy.Declare[ThingArgs, ThingAttrs](s, thing{}, id, props)
	return &Thing{Resource: r, TokenHash: alchemy.Attr[string](r, "tokenHash")}
}

// TokenHash is what a thing records for token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}

type thing struct{}

func init() { alchemy.Register[ThingArgs, ThingAttrs](thing{}) }

func (thing) Type() string        { return "Widget.Thing" }
func (thing) Auth() string        { return Name }
func (thing) ReplaceOn() []string { return nil }

func (thing) Create(_ context.Context, r *alchemy.Request[ThingArgs, ThingAttrs]) (ThingAttrs, error) {
	c, ok := r.Credentials.(*Credentials)
	if !ok {
		return ThingAttrs{}, fmt.Errorf("no Widget credentials")
	}
	return ThingAttrs{Label: r.Props.Label, TokenHash: TokenHash(c.Token)}, nil
}

func (t thing) Update(ctx context.Context, r *alchemy.Request[ThingArgs, ThingAttrs]) (ThingAttrs, error) {
	return t.Create(ctx, r)
}

func (thing) Delete(context.Context, *alchemy.Request[ThingArgs, ThingAttrs]) error { return nil }

// NewGitHubProbe declares a resource of a third-party kind: its provider
// names the built-in GitHub auth provider without importing it (as a
// package outside this module would) and reads the token with the public
// auth.GitHub. Its type is not registered, so only a stack that declares
// one names GitHub.
func NewGitHubProbe(s *alchemy.Stack, id string) *Thing {
	r := alchemy.Declare[ThingArgs, ThingAttrs](s, githubProbe{}, id, ThingProps{Label: alchemy.String(id)})
	return &Thing{Resource: r, TokenHash: alchemy.Attr[string](r, "tokenHash")}
}

type githubProbe struct{}

func (githubProbe) Type() string        { return "Test.GitHubProbe" }
func (githubProbe) Auth() string        { return pubauth.GitHubProvider }
func (githubProbe) ReplaceOn() []string { return nil }

func (githubProbe) Create(_ context.Context, r *alchemy.Request[ThingArgs, ThingAttrs]) (ThingAttrs, error) {
	token, err := pubauth.GitHub(r.Credentials)
	if err != nil {
		return ThingAttrs{}, err
	}
	return ThingAttrs{Label: r.Props.Label, TokenHash: TokenHash(token)}, nil
}

func (p githubProbe) Update(ctx context.Context, r *alchemy.Request[ThingArgs, ThingAttrs]) (ThingAttrs, error) {
	return p.Create(ctx, r)
}

func (githubProbe) Delete(context.Context, *alchemy.Request[ThingArgs, ThingAttrs]) error { return nil }
