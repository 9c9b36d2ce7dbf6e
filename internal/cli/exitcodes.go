package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
)

// rejectUnknownSubcommands makes every command that only groups others
// (root, profile, state, completion) refuse an argument it does not know.
// Left alone, cobra treats such a command as not runnable and prints its
// help with exit 0 for `alchemy profile shwo`, so a typo in a script looks
// like success. It also only suggests names at the root; here every level
// says "did you mean".
func rejectUnknownSubcommands(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = unknownSubcommand
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only for the root
		}
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	for _, sub := range c.Commands() {
		rejectUnknownSubcommands(sub)
	}
}

// unknownSubcommand is the Args of a grouping command: any argument is a
// subcommand that does not exist.
func unknownSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(": did you mean %s?", quoteJoin(s))
	}
	return errors.New(msg)
}

func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, " or ")
}

// checkMethod refuses a --method that none of providers has as a usage
// error (exit 2), like an unknown --provider, before anything is prompted
// or stored. A method that exists but is not built yet keeps its own
// error.
func checkMethod(providers []auth.Provider, method string) error {
	if method == "" {
		return nil
	}
	for _, p := range providers {
		var na *auth.NotAvailableError
		if _, err := auth.MethodFor(p, method); err != nil && !errors.As(err, &na) {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nRun `alchemy login --help` for usage.", err)}
		}
	}
	return nil
}

// strictHelp makes `alchemy help profil` the same usage error as
// `alchemy profil`; cobra's help command prints "Unknown help topic" and
// exits 0.
func strictHelp(root *cobra.Command) {
	for _, help := range root.Commands() {
		if help.Name() != "help" || help.Run == nil {
			continue
		}
		show := help.Run
		help.Run = nil
		help.RunE = func(c *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if target == nil {
				target = root
			}
			if err == nil && len(rest) > 0 {
				err = unknownSubcommand(target, rest)
			}
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nRun `%s --help` for usage.", err, target.CommandPath())}
			}
			show(c, args)
			return nil
		}
	}
}

// childExitCode is the exit code that passes on how a child process ended:
// its own code, or 128+N when signal N killed it, as shells report it (a
// Ctrl-C that reached the child is 130, "interrupted"). ExitCode() alone is
// -1 then, which the process would turn into 255.
func childExitCode(exit *exec.ExitError) int {
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return exit.ExitCode()
}
