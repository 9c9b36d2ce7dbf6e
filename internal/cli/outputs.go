package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state/backends"
)

// OutputsOptions are the inputs of `alchemy outputs`.
type OutputsOptions struct {
	F          *Factory
	Stage      string
	stageSet   bool
	EnvFile    string
	envFileSet bool
	Stack      string // the stack file or its directory, for the alchemy binary
	State      StateFlags
	JSON       bool
	Name       string
}

// NewCmdOutputs builds `alchemy outputs`: a deployed stage's outputs, read
// from its state.
func NewCmdOutputs(f *Factory) *cobra.Command {
	opts := &OutputsOptions{F: f}
	cmd := &cobra.Command{
		Use:   "outputs [NAME]",
		Short: "Print the outputs of a deployed stage, from its state (nothing is deployed)",
		Long: `Print the stack outputs the last deploy of a stage saved, without deploying or asking any cloud.

Plain: one "name = value" line per output. With NAME: that output's value alone (a string as is,
anything else as JSON), for the shell. --json: one JSON object of every output (with NAME, that
value as JSON). Secret outputs read "(secret)", and asking for one by NAME fails. An unknown NAME
exits 1 listing the outputs there are; a stage never deployed exits 1.`,
		Example: `  alchemy outputs --stage prod
  curl "$(alchemy outputs --stage prod url)"
  alchemy outputs --stage prod --json | jq -r .url`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			opts.stageSet = c.Flags().Changed("stage")
			opts.envFileSet = c.Flags().Changed("env-file")
			if f.Stack == nil {
				// The stack's name is the stack program's: run it.
				return f.delegateFile(c.Context(), opts.Stack)
			}
			return outputsRun(c.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Stage, "stage", "", "Stage whose outputs to print (default $ALCHEMY_STAGE, $STAGE, else dev_$USER)")
	cmd.Flags().StringVar(&opts.EnvFile, "env-file", "", "Read environment variables from this dotenv file (default ./.env when present)")
	cmd.Flags().StringVar(&opts.Stack, "stack", "", "The stack file or its directory (default ./alchemy.run.go)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Print the outputs as JSON")
	opts.State.register(cmd, false)
	return cmd
}

func outputsRun(ctx context.Context, opts *OutputsOptions) error {
	f := opts.F
	if err := f.storeLinked(opts.State.choose(f.Stack)); err != nil {
		return err
	}
	env, err := envfile.Load(opts.EnvFile, opts.envFileSet)
	if err != nil {
		return err
	}
	st, err := resolveStage(opts.Stage, opts.stageSet, env)
	if err != nil {
		return err
	}
	stack := f.Stack.Name
	where := stack + "/" + st.Name
	pf := &ProfileFlags{EnvFile: opts.EnvFile, envFileSet: opts.envFileSet}
	opened, err := f.openState(ctx, opts.State.choose(f.Stack), f.Stack.Root(), backends.Options{
		Getenv:         func(k string) string { return envfile.Get(env, k) },
		AWSCredentials: f.stateAWS(pf, nil),
	})
	if err != nil {
		return err
	}
	defer opened.backend.Close()
	opened.note(f)
	store := opened.backend
	raw, err := store.GetOutput(ctx, stack, st.Name)
	if err != nil {
		return err
	}
	outputs := map[string]any{}
	if raw == nil {
		stages, err := store.Stages(ctx, stack)
		if err != nil {
			return err
		}
		if !slices.Contains(stages, st.Name) {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("Nothing is deployed to %s, so it has no outputs. Run `alchemy deploy --stage %s` first%s.", where, st.Name, otherStages(stages))}
		}
	} else if err := json.Unmarshal(raw, &outputs); err != nil {
		return fmt.Errorf("the saved outputs of %s are unreadable (%v). Run `alchemy deploy --stage %s` to save them again.", where, err, st.Name)
	}
	for k, v := range outputs {
		if secret.IsSealed(v) {
			outputs[k] = engine.SecretPlaceholder
		}
	}
	if opts.Name == "" {
		if opts.JSON {
			return writeJSON(f, outputs)
		}
		for _, k := range sortedKeys(outputs) {
			f.IO.Printf("%s = %s\n", k, showOutput(outputs[k]))
		}
		return nil
	}
	v, ok := outputs[opts.Name]
	switch {
	case !ok && len(outputs) == 0:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s has no output '%s': its stack declares no outputs (s.Output in the stack file).", where, opts.Name)}
	case !ok:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s has no output '%s'. Its outputs: %s.", where, opts.Name, strings.Join(sortedKeys(outputs), ", "))}
	case v == engine.SecretPlaceholder:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("Output '%s' of %s is secret: alchemy keeps it sealed in state and does not print it.", opts.Name, where)}
	case opts.JSON:
		return writeJSON(f, v)
	}
	f.IO.Printf("%s\n", showOutput(v))
	return nil
}

// showOutput is an output as a shell reads it: a string as is, anything else
// as JSON.
func showOutput(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return mustJSON(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// otherStages names the stages that are deployed, for an error about one
// that is not.
func otherStages(stages []string) string {
	if len(stages) == 0 {
		return ""
	}
	return " (deployed: " + strings.Join(stages, ", ") + ")"
}

// delegateFile runs the command in the stack program of file (the stack
// file or its directory; "" for ./alchemy.run.go), like delegate.
func (f *Factory) delegateFile(ctx context.Context, file string) error {
	if f.RunStack == nil {
		return errors.New("this alchemy binary cannot run stack files")
	}
	code, err := f.RunStack(ctx, file, os.Args[1:])
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}
