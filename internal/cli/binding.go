package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// StageBinding is what a stack declares about one of its stages
// (alchemy.Stage): the profile it runs with and the account each provider's
// credentials must act in. It turns "use the prod credentials for prod" from
// a habit into a check made before anything changes.
type StageBinding struct {
	Stage   string
	Profile string
	// Accounts in declaration order.
	Accounts []AccountBinding
	errs     []error
}

// AccountBinding is the account one provider's credentials must act in.
type AccountBinding struct {
	Provider, ID string
}

// SetProfile binds the stage to a profile. Two different ones are a
// declaration error, reported when the stack runs.
func (b *StageBinding) SetProfile(name string) {
	if b.Profile != "" && b.Profile != name {
		b.errs = append(b.errs, fmt.Errorf("alchemy.Profile is given twice (%q and %q): a stage runs with one profile", b.Profile, name))
	}
	b.Profile = name
}

// AddAccount binds the stage's credentials of provider to account id.
func (b *StageBinding) AddAccount(provider, id string) {
	b.Accounts = append(b.Accounts, AccountBinding{Provider: provider, ID: strings.TrimSpace(id)})
}

// stageBindings checks every binding of the stack, whichever stage runs (a
// typo in prod's binding fails the next dev deploy rather than the first
// prod one), and returns them by stage with provider names as registered.
func (p *StackProgram) stageBindings(reg *auth.Registry) (map[string]*StageBinding, error) {
	out := map[string]*StageBinding{}
	var errs []error
	for _, decl := range p.Stages {
		bad := func(err error) { errs = append(errs, fmt.Errorf("alchemy.Stage(%q): %w", decl.Stage, err)) }
		for _, err := range decl.errs {
			bad(err)
		}
		if !validStage(decl.Stage) {
			bad(fmt.Errorf("not a stage name: stage names match ^[a-z0-9][-_a-z0-9]*$"))
		}
		if out[decl.Stage] != nil {
			bad(fmt.Errorf("declared twice: give each stage one alchemy.Stage"))
		}
		if decl.Profile != "" {
			if err := profile.ValidateName(decl.Profile); err != nil {
				bad(fmt.Errorf("alchemy.Profile: %w", err))
			}
		}
		b := &StageBinding{Stage: decl.Stage, Profile: decl.Profile}
		for _, a := range decl.Accounts {
			prov, err := reg.Get(a.Provider)
			switch {
			case err != nil:
				bad(fmt.Errorf("alchemy.Account: %w", err))
				continue
			case !isAccountReader(prov):
				bad(fmt.Errorf("alchemy.Account: %s credentials do not act in an account alchemy can check; accounts can be bound for %s", prov.Name(), strings.Join(accountProviders(reg), ", ")))
				continue
			case a.ID == "":
				bad(fmt.Errorf("alchemy.Account(%q, \"\"): the account id is empty", prov.Name()))
				continue
			}
			if _, dup := b.account(prov.Name()); dup {
				bad(fmt.Errorf("alchemy.Account(%q, ...) is given twice: a provider's credentials act in one account", prov.Name()))
				continue
			}
			b.Accounts = append(b.Accounts, AccountBinding{Provider: prov.Name(), ID: a.ID})
		}
		out[decl.Stage] = b
	}
	if len(errs) > 0 {
		return nil, &engine.DeclarationError{Stack: p.Name, Errs: errs}
	}
	return out, nil
}

// boundProviders are the providers the stack's stages bind accounts of.
func (p *StackProgram) boundProviders() []string {
	var out []string
	for _, decl := range p.Stages {
		for _, a := range decl.Accounts {
			out = append(out, a.Provider)
		}
	}
	return out
}

func isAccountReader(p auth.Provider) bool {
	_, ok := p.(auth.AccountReader)
	return ok
}

func accountProviders(reg *auth.Registry) []string {
	var names []string
	for _, p := range reg.All() {
		if isAccountReader(p) {
			names = append(names, p.Name())
		}
	}
	sort.Strings(names)
	return names
}

// account is the account bound for provider.
func (b *StageBinding) account(provider string) (string, bool) {
	if b == nil {
		return "", false
	}
	for _, a := range b.Accounts {
		if a.Provider == provider {
			return a.ID, true
		}
	}
	return "", false
}

// selectProfile applies the binding to the profile the command line and
// environment selected: with none chosen, the bound one (which then counts
// as chosen, also under CI); a chosen one that differs is refused.
func (b *StageBinding) selectProfile(sel profile.Selection, op string) (profile.Selection, error) {
	if b == nil || b.Profile == "" || sel.Name == b.Profile {
		return sel, nil
	}
	if !sel.Explicit() {
		return profile.Selection{Name: b.Profile, Source: b.source()}, nil
	}
	fix := fmt.Sprintf("run it without --profile (the binding selects '%s')", b.Profile)
	switch {
	case strings.HasPrefix(sel.Source, "ALCHEMY_PROFILE in "):
		fix = fmt.Sprintf("remove ALCHEMY_PROFILE from %s, or pass --profile %s", strings.TrimPrefix(sel.Source, "ALCHEMY_PROFILE in "), b.Profile)
	case sel.Source == "ALCHEMY_PROFILE":
		fix = fmt.Sprintf("unset ALCHEMY_PROFILE, or pass --profile %s", b.Profile)
	}
	return sel, &ExitError{Code: ExitUsage, Err: fmt.Errorf(
		"Stage %s is bound to profile '%s' in the stack file, but %s selects profile '%s'. Nothing was done. To %s stage %s, %s; to run it with another profile, change alchemy.Profile(%q) in the stack file.",
		b.Stage, b.Profile, sel.Source, sel.Name, op, b.Stage, fix, b.Profile)}
}

// source is what selected the profile, as `profile list` says it.
func (b *StageBinding) source() string {
	return "stage " + b.Stage + " in the stack file"
}

// checkAccount is the resolver's Check for a bound stage: credentials of a
// provider bound to an account reach nothing (the planner, a refresh, an
// apply) until the account they act in is the bound one. envOnly: CI reads
// the environment, not the profile.
func (b *StageBinding) checkAccount(c *auth.Context, envOnly bool) func(context.Context, auth.Provider, auth.Credentials) error {
	return func(ctx context.Context, p auth.Provider, creds auth.Credentials) error {
		want, ok := b.account(p.Name())
		if !ok {
			return nil
		}
		mismatch := &AccountMismatchError{Stage: b.Stage, Provider: p.Name(), Want: want, Source: creds.Source()}
		if !envOnly {
			mismatch.Profile = c.Profile
		}
		got, err := p.(auth.AccountReader).Account(ctx, c, creds)
		if err != nil {
			return fmt.Errorf("Stage %s is bound to %s account %s, but which account %s act in could not be checked: %w. Nothing was changed; run the command again once it can be checked.",
				b.Stage, p.Name(), want, mismatch.whose(), err)
		}
		if !strings.EqualFold(got, want) {
			mismatch.Got = got
			return mismatch
		}
		return nil
	}
}

// AccountMismatchError is a bound stage's credentials acting in another
// account than the one the stack binds.
type AccountMismatchError struct {
	Stage, Provider string
	// Want is the bound account, Got the one the credentials act in ("" when
	// they name none).
	Want, Got string
	// Profile is "" when CI read the credentials from the environment.
	Profile string
	Source  auth.Source
}

func (e *AccountMismatchError) whose() string {
	if e.Profile == "" {
		return fmt.Sprintf("the %s credentials from the environment (CI, no profile selected)", e.Provider)
	}
	return fmt.Sprintf("the %s credentials of profile '%s' (%s)", e.Provider, e.Profile, e.Source)
}

func (e *AccountMismatchError) Error() string {
	got := "account " + e.Got
	if e.Got == "" {
		got = "no account"
	}
	var fix string
	switch {
	case e.Profile == "":
		fix = fmt.Sprintf("export credentials of account %s in the environment", e.Want)
	case e.Source.Type == "env":
		fix = fmt.Sprintf("profile '%s' reads them from environment variables: export credentials of account %s", e.Profile, e.Want)
	default:
		fix = fmt.Sprintf("run `alchemy login --profile %s --provider %s --configure` and sign in to account %s", e.Profile, e.Provider, e.Want)
	}
	return fmt.Sprintf("Stage %s is bound to %s account %s, but %s act in %s. Nothing was changed. To continue, %s; if the binding is wrong, correct alchemy.Account(%q, %q) for stage %s in the stack file.",
		e.Stage, e.Provider, e.Want, e.whose(), got, fix, e.Provider, e.Want, e.Stage)
}

// bindingJSON is the binding in `plan --json` / `deploy --json`.
type bindingJSON struct {
	Profile  string            `json:"profile,omitempty"`
	Accounts map[string]string `json:"accounts,omitempty"`
}

func (b *StageBinding) json() *bindingJSON {
	if b == nil || b.Profile == "" && len(b.Accounts) == 0 {
		return nil
	}
	j := &bindingJSON{Profile: b.Profile}
	for _, a := range b.Accounts {
		if j.Accounts == nil {
			j.Accounts = map[string]string{}
		}
		j.Accounts[a.Provider] = a.ID
	}
	return j
}
