// Package github is the GitHub auth provider: delegate to the GitHub CLI
// (`gh auth token`), a personal access token stored in the profile, or a token
// from the environment. GitHub's OAuth apps need a client secret, so there is
// no OAuth method.
package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/github/ghapi"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// Name is the provider's key in profiles.json.
const Name = "GitHub"

const storedKey = "gh-stored"

// Provider implements auth.Provider for GitHub.
type Provider struct{}

var _ auth.Provider = Provider{}

func (Provider) Name() string { return Name }

func (Provider) Methods() []auth.Method {
	return []auth.Method{
		{ID: "gh-cli", Label: "GitHub CLI", Hint: "delegate to `gh auth token` (run `gh auth login` first)"},
		{ID: "env", Label: "Environment Variables", Hint: "GITHUB_ACCESS_TOKEN or GITHUB_TOKEN"},
		{ID: "stored", Label: "Personal Access Token", Hint: "enter PAT interactively, stored in ~/.alchemy/credentials"},
	}
}

// Stored is credentials/<profile>/gh-stored.json.
type Stored struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

// Secrets is the token.
func (s *Stored) Secrets() []string { return []string{s.Token} }

// Credentials are a resolved GitHub token.
type Credentials struct {
	Token  string
	source auth.Source
}

func (c *Credentials) Source() auth.Source { return c.source }

// GitHubToken is what auth.GitHub reads (auth.GitHubReader).
func (c *Credentials) GitHubToken() (string, bool) {
	if c == nil {
		return "", false
	}
	return c.Token, true
}

// Env is the token as GITHUB_TOKEN, for alchemy profile env / exec.
func (c *Credentials) Env() map[string]string { return map[string]string{"GITHUB_TOKEN": c.Token} }

// Secrets is the token.
func (c *Credentials) Secrets() []string { return []string{c.Token} }

// Inherited are the variables gh and the GitHub SDKs read tokens from.
func (c *Credentials) Inherited() []string {
	return []string{"GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"}
}
func (c *Credentials) Expires() (time.Time, bool) { return time.Time{}, false }
func (c *Credentials) Fields(time.Time) []auth.Field {
	return []auth.Field{{Key: "token", Value: display.Redact(c.Token, 6)}}
}

func (Provider) SecretKeys(e profile.Entry) []string {
	if e.Method() == "stored" {
		return []string{storedKey}
	}
	return nil
}

func entry(method string) (profile.Entry, error) {
	return profile.NewEntry(map[string]string{"method": method})
}

func (p Provider) Configure(ctx context.Context, c *auth.Context, method string) (profile.Entry, error) {
	if method == "" {
		var err error
		if method, err = auth.ChooseMethod(ctx, c, p); err != nil {
			return nil, err
		}
	}
	switch method {
	case "gh-cli":
		if _, err := ghToken(ctx); err != nil {
			return nil, err
		}
		c.IO.Success("GitHub: gh CLI authentication available.")
		return entry("gh-cli")
	case "env":
		if _, err := readEnv(c.Env); err != nil && !c.Interactive {
			c.IO.Warn(fmt.Sprintf("GitHub: %s; the profile will use it once it is set.", err))
		}
		return entry("env")
	case "stored":
		if err := captureStored(ctx, c); err != nil {
			return nil, err
		}
		return entry("stored")
	}
	_, err := auth.MethodFor(p, method)
	return nil, err
}

func captureStored(ctx context.Context, c *auth.Context) error {
	var token string
	if c.Interactive {
		var err error
		token, err = c.Prompt.Input(ctx, prompt.Input{Title: "GitHub Personal Access Token (needs `repo` scope; `workflow` for Actions)", Secret: true, Required: true})
		if err != nil {
			return err
		}
	} else {
		creds, err := readEnv(c.Env)
		if err != nil {
			return auth.Errorf("%s Then run this command again to store it.", err)
		}
		token = creds.Token
	}
	if err := verify(ctx, c, token); err != nil {
		return err
	}
	if err := c.WithSecrets(ctx, func(tx *profile.Tx) error {
		return tx.WriteSecret(storedKey, Stored{Type: "pat", Token: token})
	}); err != nil {
		return err
	}
	c.IO.Success("GitHub: credentials saved.")
	return nil
}

func verify(ctx context.Context, c *auth.Context, token string) error {
	base := envfile.Get(c.Env, "GITHUB_API_URL")
	_, err := ghapi.CurrentUser(ctx, c.HTTP, base, token)
	switch {
	case err == nil:
		return nil
	case ghapi.IsRejected(err):
		return auth.Errorf("GitHub rejected this token (%v). Nothing was saved. Create a new token, then run `alchemy login --profile %s --provider GitHub --configure` again", err, c.Profile)
	case ghapi.IsUnreachable(err):
		c.IO.Warn(fmt.Sprintf("GitHub: could not reach the GitHub API to check the token (%v); saving it unchecked.", err))
		return nil
	default:
		return auth.Errorf("GitHub: could not check the token: %v", err)
	}
}

func (p Provider) Login(ctx context.Context, c *auth.Context, e profile.Entry) error {
	switch e.Method() {
	case "gh-cli":
		if _, err := ghToken(ctx); err != nil {
			return auth.Errorf("GitHub: %s", err)
		}
		c.IO.Success("GitHub: gh CLI authentication available.")
		return nil
	case "env":
		if _, err := readEnv(c.Env); err != nil {
			return err
		}
		c.IO.Success("GitHub: using a token from environment variables.")
		return nil
	case "stored":
		var s Stored
		found, err := c.ReadSecret(storedKey, &s)
		if err != nil {
			return err
		}
		if !found {
			return captureStored(ctx, c)
		}
		_, err = ghapi.CurrentUser(ctx, c.HTTP, envfile.Get(c.Env, "GITHUB_API_URL"), s.Token)
		switch {
		case ghapi.IsRejected(err):
			// Asked for again (or read from GITHUB_TOKEN without a terminal).
			return &auth.ReconfigureError{Reason: fmt.Sprintf("GitHub rejected the stored token (%v)", err)}
		case ghapi.IsUnreachable(err):
			c.IO.Warn(fmt.Sprintf("GitHub: could not reach the GitHub API to check the stored token (%v); it stays unchecked.", err))
			return nil
		case err != nil:
			return auth.Errorf("GitHub: could not check the stored token: %v", err)
		}
		c.IO.Success("GitHub: stored token is valid.")
		return nil
	}
	_, err := auth.MethodFor(p, e.Method())
	return err
}

func (Provider) Logout(ctx context.Context, c *auth.Context, e profile.Entry) error {
	switch e.Method() {
	case "stored":
		if err := c.WithSecrets(ctx, func(tx *profile.Tx) error { return tx.DeleteSecret(storedKey) }); err != nil {
			return err
		}
		c.IO.Success("GitHub: stored credentials removed")
	case "gh-cli":
		c.IO.Info("GitHub: credentials belong to the GitHub CLI; run `gh auth logout` to sign it out.")
	case "env":
		c.IO.Info("GitHub: the token comes from environment variables; nothing stored to remove.")
	}
	return nil
}

func (p Provider) Read(ctx context.Context, c *auth.Context, e profile.Entry) (auth.Credentials, error) {
	switch e.Method() {
	case "gh-cli":
		tok, err := ghToken(ctx)
		if err != nil {
			return nil, err
		}
		return &Credentials{Token: tok, source: auth.Source{Type: "gh-cli"}}, nil
	case "env":
		return readEnv(c.Env)
	case "stored":
		var s Stored
		found, err := c.ReadSecret(storedKey, &s)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, auth.Errorf("GitHub stored credentials not found. Run: alchemy login --profile %s --configure", c.Profile)
		}
		return &Credentials{Token: s.Token, source: auth.Source{Type: "stored"}}, nil
	}
	_, err := auth.MethodFor(p, e.Method())
	return nil, err
}

func readEnv(env envfile.Source) (*Credentials, error) {
	for _, name := range []string{"GITHUB_ACCESS_TOKEN", "GITHUB_TOKEN"} {
		if v := envfile.Get(env, name); v != "" {
			return auth.Loaded(&Credentials{Token: v, source: auth.Source{Type: "env", Details: name}}), nil
		}
	}
	return nil, auth.Errorf("GitHub env credentials not found. Set GITHUB_ACCESS_TOKEN or GITHUB_TOKEN.")
}

// ghToken asks the GitHub CLI for its token. The token is on stdout, so
// stdout is never put into an error; only stderr is.
func ghToken(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "gh", "auth", "token")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		// gh is there, and has no token to give: signed out, or its
		// config is not readable. Its own words say which.
		return "", auth.Errorf("the GitHub CLI (gh) is installed but not signed in (`gh auth token` exited with %d: %s). Run `gh auth login`, then run this command again", exitErr.ExitCode(), strings.TrimSpace(stderr.String()))
	case err != nil:
		return "", auth.Errorf("gh CLI not available: could not invoke `gh`. Install GitHub CLI from https://cli.github.com/ and run `gh auth login`.")
	}
	tok := strings.TrimSpace(stdout.String())
	if tok == "" {
		return "", auth.Errorf("gh auth token returned empty output")
	}
	return tok, nil
}
