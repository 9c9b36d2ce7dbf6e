package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// NotConfiguredError is returned when a provider needs setting up and nobody
// can answer the questions. Its message names the command that fixes it.
type NotConfiguredError struct {
	Provider, Profile string
	// Hint replaces the default remedy.
	Hint string
}

func (e *NotConfiguredError) Error() string {
	hint := e.Hint
	if hint == "" {
		hint = fmt.Sprintf("Run `alchemy login --profile %s` to configure it, or set CI=1 to use environment-variable credentials.", e.Profile)
	}
	return fmt.Sprintf("No credentials configured for '%s' in profile '%s', and this process is non-interactive so it can't be configured interactively. %s", e.Provider, e.Profile, hint)
}

// Configure runs p's configure step for the context's profile under the
// interactive mutex, then saves what it produced in one transaction: the
// entry and the secrets it staged change together, the new configuration is
// saved before the replaced method's files are removed, and a replaced
// grant is revoked last (profile.Store.Commit). method "" asks for one.
func Configure(ctx context.Context, c *Context, p Provider, method string) (profile.Entry, error) {
	if method != "" {
		if _, err := MethodFor(p, method); err != nil {
			return nil, err
		}
	} else if !c.Interactive {
		return nil, &NotConfiguredError{Provider: p.Name(), Profile: c.Profile, Hint: loginHint(c.Profile, p)}
	}
	var entry profile.Entry
	err := prompt.Exclusive(func() error {
		if method != "" && c.Interactive {
			// No method menu to say it: the questions that follow do not
			// name the profile.
			c.IO.Info(fmt.Sprintf("%s Setting up %s with %s.", configureReason(c, p), p.Name(), method))
		}
		staged := *c
		staged.stage = c.Store.NewStage(c.Profile)
		staged.after = &[]func(){}
		var err error
		if entry, err = p.Configure(ctx, &staged, method); err != nil {
			return err
		}
		prev, removed, err := c.Store.Commit(ctx, c.Profile, p.Name(), entry, staged.stage, p.SecretKeys)
		if err != nil {
			return err
		}
		if f, ok := p.(Forgetter); ok && prev != nil && prev.Method() != entry.Method() {
			if err := f.Forget(ctx, c, prev, removed); err != nil {
				c.IO.Warn(fmt.Sprintf("%s: %v", p.Name(), err))
			}
		}
		for _, fn := range *staged.after {
			fn()
		}
		return nil
	})
	return entry, err
}

// Login refreshes an already configured provider under the interactive
// mutex. A provider whose configuration cannot be repaired in place (its
// stored credentials are gone or rejected) returns a *ReconfigureError:
// its configure step then runs again with the same method, asking for
// what is missing, or taking it from the environment without a terminal.
func Login(ctx context.Context, c *Context, p Provider, e profile.Entry) error {
	err := prompt.Exclusive(func() error { return p.Login(ctx, c, e) })
	var re *ReconfigureError
	if !errors.As(err, &re) {
		return err
	}
	c.IO.Info(re.Reason + "; configuring it again.")
	_, err = Configure(ctx, c, p, e.Method())
	return err
}

// ReconfigureError is what a provider's Login returns when the profile's
// configuration must be made again (see Login). Reason says why, without
// secrets.
type ReconfigureError struct{ Reason string }

func (e *ReconfigureError) Error() string { return e.Reason }

// Logout runs p's logout for its entry.
func Logout(ctx context.Context, c *Context, p Provider, e profile.Entry) error {
	return prompt.Exclusive(func() error { return p.Logout(ctx, c, e) })
}

// loginHint is the remedy for a provider that needs configuring without a
// terminal: the non-interactive form of login, with the variables it reads.
func loginHint(profileName string, p Provider) string {
	var ids []string
	for _, m := range p.Methods() {
		if !m.Unavailable {
			ids = append(ids, m.ID)
		}
	}
	return fmt.Sprintf("Run `alchemy login --profile %s --provider %s --method <%s>` to configure it from environment variables, or run `alchemy login --profile %s` in a terminal.", profileName, p.Name(), strings.Join(ids, "|"), profileName)
}

// configureReason says why p is being configured for the context's profile.
func configureReason(c *Context, p Provider) string {
	if e, _ := currentEntry(c, p.Name()); e != nil {
		return fmt.Sprintf("Profile '%s' signs in to %s with %s; configuring it again.", c.Profile, p.Name(), e.Method())
	}
	return fmt.Sprintf("Profile '%s' has no %s credentials.", c.Profile, p.Name())
}

func currentEntry(c *Context, provider string) (profile.Entry, error) {
	cfg, err := c.Store.Load()
	var invalid *profile.InvalidError
	if errors.As(err, &invalid) {
		return nil, nil // Update backs the file up and starts a new one.
	}
	if err != nil {
		return nil, err
	}
	return cfg.Profiles[c.Profile][provider], nil
}

// Forgetter is implemented by providers whose secrets hold something to
// give back when they are removed (an OAuth grant to revoke). secrets are
// the removed files' contents, by key; Forget runs after they are gone.
type Forgetter interface {
	Forget(ctx context.Context, c *Context, e profile.Entry, secrets map[string]json.RawMessage) error
}
