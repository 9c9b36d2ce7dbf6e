package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/stackfile"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/backends"
)

// StateOptions are the inputs every `alchemy state` command shares.
type StateOptions struct {
	F     *Factory
	Flags ProfileFlags // for an s3:// store: the profile whose AWS credentials reach it
	State StateFlags
}

// newCmdState builds `alchemy state list|get|delete|lease|unlock|migrate`
// over the selected store. Paths are <stack>/<stage>/<resource id>.
func newCmdState(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "state", Short: "Inspect, edit, unlock and move the state (.alchemy/state, or the store --state names)", GroupID: "stack",
		Long: `Inspect and edit the state, see and break stage leases, and copy state to another store.

The store is --state URL, else $ALCHEMY_STATE, else the stack's alchemy.WithState (read by running
./alchemy.run.go when there is one), else .alchemy/state at the module root. URLs: file://PATH or a
path (a project directory: its .alchemy/state), postgres://USER@HOST:PORT/DB, s3://BUCKET/PREFIX.`}
	newOpts := func(c *cobra.Command, lease bool) *StateOptions {
		o := &StateOptions{F: f}
		o.Flags.register(c)
		o.State.register(c, lease)
		return o
	}

	list := &cobra.Command{
		Use:   "list [stack[/stage]]",
		Short: "List stacks, a stack's stages, or a stage's resources",
		Args:  cobra.MaximumNArgs(1),
	}
	listOpts := newOpts(list, false)
	list.RunE = func(c *cobra.Command, args []string) error {
		return listOpts.run(c, func(ctx context.Context, st *openedState) error {
			path := ""
			if len(args) == 1 {
				path = strings.Trim(args[0], "/")
			}
			parts, err := statePath(path, 0, 2)
			if err != nil {
				return err
			}
			s := st.backend
			var names []string
			switch len(parts) {
			case 0:
				names, err = s.Stacks(ctx)
			case 1:
				names, err = s.Stages(ctx, parts[0])
			case 2:
				names, err = s.List(ctx, parts[0], parts[1])
			}
			if err != nil {
				return err
			}
			for _, n := range names {
				f.IO.Println(n)
			}
			return nil
		})
	}

	get := &cobra.Command{
		Use:   "get <stack>/<stage>/<resource>",
		Short: "Print one resource's state as JSON (secret values are stored hashed, or encrypted with ALCHEMY_PASSWORD)",
		Args:  cobra.ExactArgs(1),
	}
	getOpts := newOpts(get, false)
	get.RunE = func(c *cobra.Command, args []string) error {
		return getOpts.run(c, func(ctx context.Context, st *openedState) error {
			parts, err := statePath(args[0], 3, 3)
			if err != nil {
				return err
			}
			row, err := st.backend.Get(ctx, parts[0], parts[1], parts[2])
			if err != nil {
				return err
			}
			if row == nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no state at %s. Run `alchemy state list %s/%s` to see what there is.", args[0], parts[0], parts[1])}
			}
			b, err := json.MarshalIndent(row, "", "  ")
			if err != nil {
				return err
			}
			f.IO.Printf("%s\n", b)
			return nil
		})
	}

	var yes bool
	del := &cobra.Command{
		Use:   "delete <stack>/<stage>[/<resource>]",
		Short: "Forget a resource (or a whole stage) without deleting anything in the cloud",
		Args:  cobra.ExactArgs(1),
	}
	delOpts := newOpts(del, true)
	del.Flags().BoolVarP(&yes, "yes", "y", false, "Confirm")
	del.RunE = func(c *cobra.Command, args []string) error {
		return delOpts.run(c, func(ctx context.Context, st *openedState) error {
			parts, err := statePath(args[0], 2, 3)
			if err != nil {
				return err
			}
			if !yes {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("This forgets %s: alchemy will no longer manage it, and the cloud resources stay. Re-run with --yes to confirm.", args[0])}
			}
			// The stage's lease: never edit state a deploy is writing.
			held, err := f.takeLease(ctx, st.backend, parts[0], parts[1], "alchemy state delete "+args[0], delOpts.State.LockTimeout)
			if err != nil {
				return err
			}
			defer held.Release()
			s := held.Store()
			if err := state.Recover(ctx, s, parts[0], parts[1]); err != nil {
				return err
			}
			if len(parts) == 2 {
				err = s.DeleteStage(ctx, parts[0], parts[1])
			} else {
				var row *state.Row
				var corrupt *state.CorruptError
				row, err = s.Get(ctx, parts[0], parts[1], parts[2])
				switch {
				case errors.As(err, &corrupt):
					err = nil // unusable, but there: forgetting it is the way out
				case err == nil && row == nil:
					err = fmt.Errorf("no state at %s", args[0])
				}
				if err == nil {
					err = s.Delete(ctx, parts[0], parts[1], parts[2])
				}
			}
			if err == nil {
				err = state.Flush(ctx, s)
			}
			if err != nil {
				return err
			}
			f.IO.Printf("Deleted state at %s\n", args[0])
			return nil
		})
	}

	cmd.AddCommand(list, get, del, newCmdStateLease(f, newOpts), newCmdStateUnlock(f, newOpts), newCmdStateMigrate(f, newOpts))
	return cmd
}

// run opens the store and runs fn on it. In the alchemy binary, with no
// --state and no ALCHEMY_STATE, a stack file in the current directory may
// name its store (alchemy.WithState): the command then runs in the stack's
// own program, which knows it.
func (o *StateOptions) run(c *cobra.Command, fn func(ctx context.Context, st *openedState) error) error {
	f := o.F
	ch := o.State.choose(f.Stack)
	if f.Stack != nil {
		if err := f.storeLinked(ch); err != nil {
			return err
		}
	}
	if f.Stack == nil && ch.From == "" && f.RunStack != nil {
		if path, err := stackfile.Locate(""); err == nil {
			err := f.delegateFile(c.Context(), path)
			var exit *ExitError
			if err != nil && !errors.As(err, &exit) {
				return fmt.Errorf("%w\n`alchemy state` runs %s to learn its state store (alchemy.WithState); to do without it, name the store: --state URL (or ALCHEMY_STATE), or --state . for .alchemy/state", err, path)
			}
			return err
		}
	}
	st, err := f.openState(c.Context(), ch, projectRoot(f), backends.Options{
		Getenv:         envGetter(&o.Flags),
		AWSCredentials: f.stateAWS(&o.Flags, nil),
	})
	if err != nil {
		return err
	}
	defer st.backend.Close()
	st.note(f)
	return fn(c.Context(), st)
}

// newCmdStateLease builds `alchemy state lease`: who holds which stage.
func newCmdStateLease(f *Factory, newOpts func(*cobra.Command, bool) *StateOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lease",
		Short: "Show who holds the lease of each stage: holder, host, pid, command, since when",
		Long: `Show the stage leases of the store: one line per stage that a deploy, destroy, dev or state
delete holds, or that a run which died left behind (stale). A stale lease is taken over by the
next run of the stage (at once when its holder was a process on this host); a live one can be
broken with ` + "`alchemy state unlock STACK/STAGE`" + `.

--json prints an array of {stack, stage, holder, user, host, pid, command, started, renewed,
expires, stale, token}.`,
		Args: cobra.NoArgs,
	}
	opts := newOpts(cmd, false)
	cmd.Flags().BoolVar(&asJSON, "json", false, "Print the leases as JSON")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return opts.run(c, func(ctx context.Context, st *openedState) error {
			infos, err := st.backend.Leases(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				type leaseJSON struct {
					state.LeaseInfo
					Holder string `json:"holder"`
				}
				out := make([]leaseJSON, 0, len(infos))
				for _, i := range infos {
					out = append(out, leaseJSON{LeaseInfo: i, Holder: i.Holder()})
				}
				return writeJSON(f, out)
			}
			if len(infos) == 0 {
				f.IO.Printf("No stage is leased in %s.\n", st.backend.Describe())
				return nil
			}
			now := time.Now()
			for _, i := range infos {
				f.IO.Printf("%s/%s: %s\n", i.Stack, i.Stage, display.Safe(leaseLine(i, now)))
			}
			return nil
		})
	}
	return cmd
}

// leaseLine describes a lease: its holder, then its heartbeat.
func leaseLine(i state.LeaseInfo, now time.Time) string {
	s := i.Holder()
	if !i.Renewed.IsZero() {
		s += fmt.Sprintf(" · renewed %s ago", now.Sub(i.Renewed).Round(time.Second))
	}
	switch {
	case i.Stale:
		s += " · stale: its holder is gone, the next run takes it over"
	case !i.Expires.IsZero() && i.Expires.After(now):
		s += fmt.Sprintf(" · expires in %s without a heartbeat", i.Expires.Sub(now).Round(time.Second))
	}
	return s
}

// newCmdStateUnlock builds `alchemy state unlock STACK/STAGE`.
func newCmdStateUnlock(f *Factory, newOpts func(*cobra.Command, bool) *StateOptions) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "unlock <stack>/<stage>",
		Short: "Break a stage's lease, after showing its holder and asking",
		Long: `Break the lease of a stage whose holder is gone or stuck, so the next run takes it at once.

The holder is shown first, and in a terminal you are asked (No by default); --yes breaks it without
asking, and without a terminal --yes is required. Only the lease that was shown is broken: one
granted to another run in the meantime is left alone. The old holder's writes are refused from
then on; if it is still running, it stops before its next write.`,
		Args: cobra.ExactArgs(1),
	}
	opts := newOpts(cmd, false)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Break the lease without asking")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return opts.run(c, func(ctx context.Context, st *openedState) error {
			parts, err := statePath(strings.Trim(args[0], "/"), 2, 2)
			if err != nil {
				return err
			}
			where := parts[0] + "/" + parts[1]
			infos, err := st.backend.Leases(ctx)
			if err != nil {
				return err
			}
			var info *state.LeaseInfo
			for i := range infos {
				if infos[i].Stack == parts[0] && infos[i].Stage == parts[1] {
					info = &infos[i]
				}
			}
			if info == nil {
				f.IO.Printf("%s is not leased in %s: nothing to unlock.\n", where, st.backend.Describe())
				return nil
			}
			holder := display.Safe(info.Holder())
			f.IO.Printf("%s is leased by %s.\n", where, display.Safe(leaseLine(*info, time.Now())))
			if !info.Stale {
				f.IO.Printf("If that run is still going, breaking its lease lets another run change %s while it works; it stops before its next write.\n", where)
			}
			if !yes {
				pr, interactive := f.prompter()
				if !interactive {
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("Breaking the lease of %s needs --yes without a terminal. Nothing was changed.", where)}
				}
				var ok bool
				err := prompt.Exclusive(func() error {
					var err error
					ok, err = pr.Confirm(ctx, fmt.Sprintf("Break the lease of %s held by %s?", where, holder), false)
					return err
				})
				if err != nil {
					return err
				}
				if !ok {
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("The lease of %s was left alone.", where)}
				}
			}
			err = st.backend.Break(ctx, parts[0], parts[1], info.Token)
			var held *state.HeldError
			if errors.As(err, &held) {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("The lease of %s changed hands since it was shown: it is now held by %s, and was left alone. Run `alchemy state unlock %s` again to see it.", where, held.Info.Holder(), where)}
			}
			if err != nil {
				return err
			}
			f.IO.Printf("Broke the lease of %s, held by %s. The next run of the stage takes it at once; the old holder's writes are refused.\n", where, holder)
			return nil
		})
	}
	return cmd
}

// projectRoot is where .alchemy/ lives: the module root of the stack (the
// directory of the go.mod that builds it), else of the current directory.
func projectRoot(f *Factory) string {
	if f.Stack != nil {
		return f.Stack.Root()
	}
	return (&StackProgram{}).Root()
}

// statePath splits <stack>/<stage>/<resource id> (the id may itself contain
// slashes) and refuses anything that could leave the state directory, as a
// usage error (exit 2).
func statePath(p string, least, most int) ([]string, error) {
	parts, err := splitStatePath(p, least, most)
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nRun `alchemy state list` to see the stacks and stages.", err)}
	}
	return parts, nil
}

func splitStatePath(p string, least, most int) ([]string, error) {
	if p == "" {
		if least > 0 {
			return nil, errors.New("invalid state path: give <stack>/<stage>[/<resource>]")
		}
		return nil, nil
	}
	parts := strings.SplitN(p, "/", 3)
	if len(parts) < least || len(parts) > most {
		return nil, fmt.Errorf("invalid state path: %s (expected <stack>/<stage>%s)", p, map[bool]string{true: "/<resource>", false: ""}[most == 3])
	}
	for i, seg := range parts[:min(len(parts), 2)] {
		if err := state.ValidateSegment([]string{"stack", "stage"}[i], seg); err != nil {
			return nil, fmt.Errorf("invalid state path: %s: %w", p, err)
		}
	}
	return parts, nil
}
