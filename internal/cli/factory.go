// Package cli is the alchemy command tree. Each command has an Options struct
// holding its inputs and dependencies, a NewCmdX that only parses flags into
// it, and an xRun that does the work, so every command is testable without a
// terminal.
package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// Factory holds what every command shares.
type Factory struct {
	IO       *iostreams.IOStreams
	Registry func() *auth.Registry
	HTTP     *http.Client
	Now      func() time.Time
	// Prompter overrides the prompter chosen from IO (tests).
	Prompter prompt.Prompter
	// Stack is set inside a stack program (alchemy.Run): stack commands run
	// in-process.
	Stack *StackProgram
	// RunStack builds the stack file and runs it with args, in the alchemy
	// binary; it returns the program's exit code.
	RunStack func(ctx context.Context, file string, args []string) (int, error)
	// Abort is done after a second interrupt: provider calls in flight are
	// cancelled instead of awaited. nil: never.
	Abort context.Context
}

// ProfileFlags are --profile and --env-file, shared by every command that
// authenticates.
type ProfileFlags struct {
	Profile    string
	profileSet bool
	EnvFile    string
	envFileSet bool
}

func (p *ProfileFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.Profile, "profile", "", "Auth profile to use (~/.alchemy/profiles.json). Defaults to $ALCHEMY_PROFILE, else 'default'.")
	cmd.Flags().StringVar(&p.EnvFile, "env-file", "", "Read environment variables from this dotenv file (default ./.env when present)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		p.profileSet = c.Flags().Changed("profile")
		p.envFileSet = c.Flags().Changed("env-file")
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// session is what an authenticating command works with.
type session struct {
	Env   *envfile.Env
	Sel   profile.Selection
	Store *profile.Store
	Auth  *auth.Context
}

func (f *Factory) session(p *ProfileFlags) (*session, error) {
	return f.openSession(p, nil)
}

// openSession is session with a last word on the profile: pick, when not
// nil, sees the environment and the selection and may replace or refuse it
// (a stage's binding) before anything in the alchemy home is read or written.
func (f *Factory) openSession(p *ProfileFlags, pick func(*envfile.Env, profile.Selection) (profile.Selection, error)) (*session, error) {
	env, err := envfile.Load(p.EnvFile, p.envFileSet)
	if err != nil {
		return nil, err
	}
	if w := env.IgnoredWarning(); w != "" {
		f.IO.Warn(w)
	}
	sel, err := profile.Select(p.Profile, p.profileSet, env)
	if err != nil {
		return nil, err
	}
	if pick != nil {
		if sel, err = pick(env, sel); err != nil {
			return nil, err
		}
	}
	root, err := profile.Root(env)
	if err != nil {
		return nil, err
	}
	store := profile.New(root, f.IO.Warn)
	for _, pr := range f.Registry().All() {
		if sh, ok := pr.(interface{ Shape() profile.Shape }); ok {
			store.Register(sh.Shape())
		}
	}
	// A configure a killed process left half-saved is completed before
	// anything reads the profiles.
	if err := store.Settle(context.Background()); err != nil {
		return nil, err
	}
	pr, interactive := f.prompter()
	return &session{Env: env, Sel: sel, Store: store, Auth: &auth.Context{
		Profile:     sel.Name,
		Store:       store,
		Env:         env,
		IO:          f.IO,
		Prompt:      prompt.Registering(pr),
		HTTP:        f.HTTP,
		Interactive: interactive,
		Now:         f.Now,
	}}, nil
}

// prompter is the prompter of this run, and whether a person can answer it.
func (f *Factory) prompter() (prompt.Prompter, bool) {
	pr := f.Prompter
	if pr == nil {
		pr = prompt.New(f.IO)
	}
	_, nobody := pr.(prompt.NonInteractive)
	return pr, !nobody
}

// ExitError ends the process with Code after printing Err (when not nil).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// errSilent ends with exit 1 after the command already printed why.
var errSilent = &ExitError{Code: 1}

// Exit codes.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130
	// ExitNeedsStore is between alchemy and the stack programs it builds:
	// the program was built without the state store its command needs,
	// named in the file $ALCHEMY_STACK_NEEDS, before it did or printed
	// anything; alchemy builds it in and runs the command again.
	ExitNeedsStore = 120
)

// ExitCode maps an error from a command to the process exit code, printing
// what the user needs to see.
func ExitCode(io *iostreams.IOStreams, err error) int {
	var exit *ExitError
	var na *auth.NotAvailableError
	switch {
	case err == nil:
		return ExitOK
	case auth.IsCancelled(err):
		io.Errorf("\nCancelled.\n")
		return ExitInterrupted
	case errors.Is(err, context.Canceled):
		io.Errorf("\nInterrupted.\n")
		return ExitInterrupted
	case errors.As(err, &exit):
		if exit.Err != nil {
			io.Errorf("%s\n", exit.Err)
		}
		return exit.Code
	case errors.As(err, &na):
		io.Errorf("%s\n", err)
		return ExitUsage
	}
	io.Errorf("%s\n", err)
	return ExitFailure
}
