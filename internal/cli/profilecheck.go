package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/suggest"
)

// Only `alchemy login` creates a profile, and the first deploy of the
// default one (the seed: new users never think about profiles). Every
// other command refuses a name that does not exist: a misspelled --profile
// used to become a new, empty profile and open a credentials menu. The exit
// code is 1, not 2: the command line is well formed; what it names is
// missing from ~/.alchemy, as with a stage or a state path that is not there.

// profileError is the error of a command that reads a profile that does
// not exist: the profiles it may have meant, and how to create this one.
func (s *session) profileError(cfg *profile.Config) error {
	name := display.Safe(s.Sel.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "Profile '%s' does not exist (selected by %s).", name, s.Sel.Source)
	if dym := didYouMean(s.Sel.Name, cfg); dym != "" {
		fmt.Fprintf(&b, " Did you mean %s?", dym)
	}
	if len(cfg.Profiles) == 0 {
		fmt.Fprintf(&b, "\nThere are no profiles yet. Run `alchemy login --profile %s` to create it.", name)
	} else {
		fmt.Fprintf(&b, "\nRun `alchemy profile list` to see the profiles, or `alchemy login --profile %s` to create this one.", name)
	}
	if !s.Auth.Interactive {
		fmt.Fprintf(&b, " Without a terminal, `alchemy login --profile %s --provider <name> --method <method>` creates it from environment variables.", name)
	}
	return &ExitError{Code: ExitFailure, Err: errors.New(b.String())}
}

// didYouMean is "'a'" or "'a' or 'b'": the existing profiles closest to
// name, at most three; "" when none is close.
func didYouMean(name string, cfg *profile.Config) string {
	names := suggest.Closest(name, cfg.Names())
	if len(names) > 3 {
		names = names[:3]
	}
	for i, n := range names {
		names[i] = "'" + display.Safe(n) + "'"
	}
	return strings.Join(names, " or ")
}

// existingProfile loads the profiles and returns the selected one, or the
// unknown-profile error.
func (s *session) existingProfile() (*profile.Config, profile.Profile, error) {
	cfg, err := s.Store.Load()
	if err != nil {
		return nil, nil, err
	}
	p, ok := cfg.Profiles[s.Sel.Name]
	if !ok {
		return cfg, nil, s.profileError(cfg)
	}
	return cfg, p, nil
}

// confirmNewProfile lets a stack command go on with a profile that does
// not exist only when it is the default one, or a person says to create
// it: the providers the stack needs are then set up in it on the spot.
// Under CI without a chosen profile no profile is read at all.
func confirmNewProfile(ctx context.Context, s *session) error {
	if s.envOnly() || s.Sel.Name == profile.DefaultName {
		return nil
	}
	cfg, err := s.Store.Load()
	var invalid *profile.InvalidError
	if errors.As(err, &invalid) {
		// Unusable: the first write moves it to a backup and starts anew
		// (the resolver warns), so which profiles it held is unknown.
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := cfg.Profiles[s.Sel.Name]; ok {
		return nil
	}
	// In a dev session, yes is said once: a stack that needs no
	// credentials saves nothing in the profile, and every cycle would ask.
	said := "create profile " + s.Sel.Name
	if saidInSession(said) {
		return nil
	}
	if !s.Auth.Interactive {
		return s.profileError(cfg)
	}
	title := fmt.Sprintf("Profile '%s' does not exist.", display.Safe(s.Sel.Name))
	if dym := didYouMean(s.Sel.Name, cfg); dym != "" {
		title += fmt.Sprintf(" Did you mean %s?", dym)
	}
	// Two lines: a form truncates a title at the terminal's width.
	title += fmt.Sprintf("\nCreate profile '%s'?", display.Safe(s.Sel.Name))
	create, err := confirm(ctx, s, title)
	if err != nil {
		return err
	}
	if !create {
		return s.profileError(cfg)
	}
	noteInSession(said)
	return nil
}

// confirm asks a yes/no question, No by default, holding the prompt.
func confirm(ctx context.Context, s *session, title string) (bool, error) {
	var yes bool
	err := prompt.Exclusive(func() error {
		var err error
		yes, err = s.Auth.Prompt.Confirm(ctx, title, false)
		return err
	})
	return yes, err
}

// confirmRemoval is the question before logout and profile clear remove
// credentials: --yes answers it; without a terminal and without --yes
// nothing is removed and the command fails (exit 1, as an unapproved deploy does) naming --yes.
// detail, when not "", says more, on a line of its own in the prompt.
func confirmRemoval(ctx context.Context, s *session, yes bool, command, question, detail string) error {
	if yes {
		return nil
	}
	if !s.Auth.Interactive {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s Nothing was removed: this process is non-interactive, so it cannot ask. Re-run with --yes to confirm: %s --yes", strings.TrimSpace(question+" "+detail), command)}
	}
	title := question
	if detail != "" {
		title += "\n" + detail
	}
	ok, err := confirm(ctx, s, title)
	if err != nil {
		return err
	}
	if !ok {
		return &ExitError{Code: ExitFailure, Err: errors.New("Nothing was removed.")}
	}
	return nil
}

// confirmLogout asks before signing the profile out of targets.
func confirmLogout(ctx context.Context, s *session, opts *LogoutOptions, targets []auth.Provider) error {
	if len(targets) == 0 {
		return nil
	}
	names := make([]string, len(targets))
	for i, p := range targets {
		names[i] = p.Name()
	}
	name := display.Safe(s.Sel.Name)
	command := "alchemy logout --profile " + name
	if opts.Provider != "" {
		command += " --provider " + names[0]
	}
	if opts.SSO {
		command += " --sso"
	}
	return confirmRemoval(ctx, s, opts.Yes, command, fmt.Sprintf("Sign profile '%s' out of %s?", name, display.Safe(strings.Join(names, ", "))),
		"Stored secrets are removed and OAuth grants revoked; the method choice is kept.")
}
