package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/state"
)

// newCmdState builds `alchemy state list|get|delete` over the project's
// local state (./.alchemy/state). Paths are <stack>/<stage>/<resource id>.
func newCmdState(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "state", Short: "Inspect and edit the project's state (.alchemy/state at the module root)", GroupID: "stack"}
	store := func() (*state.Local, error) {
		return state.NewLocal(filepath.Join(projectRoot(f), ".alchemy", "state")), nil
	}
	list := &cobra.Command{
		Use:   "list [stack[/stage]]",
		Short: "List stacks, a stack's stages, or a stage's resources",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			path := ""
			if len(args) == 1 {
				path = strings.Trim(args[0], "/")
			}
			parts, err := statePath(path, 0, 2)
			if err != nil {
				return err
			}
			var names []string
			switch len(parts) {
			case 0:
				names, err = s.Stacks(c.Context())
			case 1:
				names, err = s.Stages(c.Context(), parts[0])
			case 2:
				names, err = s.List(c.Context(), parts[0], parts[1])
			}
			if err != nil {
				return err
			}
			for _, n := range names {
				f.IO.Println(n)
			}
			return nil
		},
	}
	get := &cobra.Command{
		Use:   "get <stack>/<stage>/<resource>",
		Short: "Print one resource's state as JSON (secret values are stored hashed, or encrypted with ALCHEMY_PASSWORD)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			parts, err := statePath(args[0], 3, 3)
			if err != nil {
				return err
			}
			row, err := s.Get(c.Context(), parts[0], parts[1], parts[2])
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
		},
	}
	var yes bool
	del := &cobra.Command{
		Use:   "delete <stack>/<stage>[/<resource>]",
		Short: "Forget a resource (or a whole stage) without deleting anything in the cloud",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			parts, err := statePath(args[0], 2, 3)
			if err != nil {
				return err
			}
			if !yes {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("This forgets %s: alchemy will no longer manage it, and the cloud resources stay. Re-run with --yes to confirm.", args[0])}
			}
			// The stage's lease: never edit state a deploy is writing.
			held, err := acquireStage(c.Context(), f, projectRoot(f), parts[0], parts[1], "alchemy state delete "+args[0])
			if err != nil {
				return err
			}
			defer held.Release()
			if err := state.Recover(c.Context(), s, parts[0], parts[1]); err != nil {
				return err
			}
			if len(parts) == 2 {
				err = s.DeleteStage(c.Context(), parts[0], parts[1])
			} else {
				var row *state.Row
				var corrupt *state.CorruptError
				row, err = s.Get(c.Context(), parts[0], parts[1], parts[2])
				switch {
				case errors.As(err, &corrupt):
					err = nil // unusable, but there: forgetting it is the way out
				case err == nil && row == nil:
					err = fmt.Errorf("no state at %s", args[0])
				}
				if err == nil {
					err = s.Delete(c.Context(), parts[0], parts[1], parts[2])
				}
				if err == nil {
					err = s.Flush(c.Context())
				}
			}
			if err != nil {
				return err
			}
			f.IO.Printf("Deleted state at %s\n", args[0])
			return nil
		},
	}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "Confirm")
	cmd.AddCommand(list, get, del)
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
