package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// NewRoot builds the command tree.
func NewRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "alchemy",
		Short: "Infrastructure as Go code: plan, deploy and destroy stacks per stage, signed in through profiles",
		Long: `alchemy deploys a stack written in Go (alchemy.run.go) to a stage, and signs in to each
cloud through a profile: a named bundle of credentials in ~/.alchemy (or $ALCHEMY_HOME).

The profile is --profile, else $ALCHEMY_PROFILE (the shell's, then --env-file's or ./.env's), else 'default'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetIn(f.IO.In)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nRun `%s --help` for usage.", err, c.CommandPath())}
	})
	root.AddGroup(&cobra.Group{ID: "stack", Title: "Stack commands:"}, &cobra.Group{ID: "auth", Title: "Authentication:"})

	for _, c := range []*cobra.Command{
		NewCmdStack(f, "deploy", nil),
		NewCmdStack(f, "plan", nil),
		NewCmdStack(f, "destroy", nil),
		NewCmdDev(f),
		NewCmdOutputs(f),
	} {
		c.GroupID = "stack"
		root.AddCommand(c)
	}
	root.AddCommand(newCmdState(f))
	root.AddCommand(NewCmdInit(f))

	login := NewCmdLogin(f, nil)
	login.GroupID = "auth"
	logout := NewCmdLogout(f, nil)
	logout.GroupID = "auth"
	prof := newCmdProfile(f)
	prof.GroupID = "auth"
	root.AddCommand(login, logout, prof, newCmdVersion(f))
	finishTree(f, root)
	return root
}

// usageErrors makes a wrong number of arguments a usage error (exit 2, with
// a pointer to --help), like an unknown flag.
func usageErrors(c *cobra.Command) {
	if orig := c.Args; orig != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := orig(cmd, args); err != nil {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nRun `%s --help` for usage.", err, cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageErrors(sub)
	}
}

// MainStack runs the CLI inside a stack program (alchemy.Run).
func MainStack(p *StackProgram) int {
	tuneGC()
	f := systemFactory(linkedRegistry)
	f.Stack = p
	if len(os.Args) < 2 || !leanCommands[os.Args[1]] {
		// What alchemy runs in a stack program is a stack command, the
		// state commands and login, which check the providers they need;
		// anything else may list every provider.
		if err := f.providersLinked(auth.Builtin...); err != nil {
			return ExitCode(f.IO, err)
		}
	}
	return run(f)
}

// leanCommands run in a stack program that links only the built-in auth
// providers its resources use: they ask for the others when they need
// them (providersLinked).
var leanCommands = map[string]bool{"deploy": true, "plan": true, "destroy": true, "outputs": true, "state": true, "login": true, "version": true}

// linkedRegistry is a stack program's: the built-in providers it links
// (auth.Link), which are every one unless alchemy built it for a stack
// that needs only those its resources' packages bring
// (-tags=alchemy_noproviders; f.providersLinked).
func linkedRegistry() *auth.Registry { return auth.NewRegistry(auth.Linked()...) }

// tuneGC sets a stack program's GC percentage to stackGCPercent unless the
// user set GOGC. A stack program lives for one command and keeps little:
// the rows it read, the plan. With the default (100) a plan of 10,000
// resources collects five times on its way to ~15 MB, and on a busy
// machine those collections take CPU it is short of: at 300 it plans ~9%
// faster there, for ~18 MiB more at the peak of a deploy of 10,000
// resources (63 → 81 MiB).
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(stackGCPercent)
	}
}

const stackGCPercent = 300

func systemFactory(reg func() *auth.Registry) *Factory {
	return &Factory{
		IO:       iostreams.System(),
		Registry: reg,
		HTTP:     &http.Client{Timeout: 60 * time.Second},
		Now:      time.Now,
	}
}

func run(f *Factory) int {
	ctx, abort, stop := interrupts()
	defer stop()
	f.Abort = abort
	root := NewRoot(f)
	root.SetArgs(os.Args[1:])
	return ExitCode(f.IO, root.ExecuteContext(ctx))
}

// interrupts turns SIGINT and SIGTERM into two contexts: the first signal
// cancels ctx (no new work starts; calls in flight finish and are saved),
// the second cancels abort (calls in flight are cancelled; every row they
// touch was saved before they started, so the next run resumes them).
func interrupts() (ctx, abort context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	abort, cancelAbort := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-sigs:
			case <-done:
				return
			}
			n++
			if n == 1 {
				cancel()
				continue
			}
			if n == 2 {
				cancelAbort()
			}
		}
	}()
	return ctx, abort, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
		cancelAbort()
	}
}
