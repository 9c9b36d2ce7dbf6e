package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// DevOptions are the inputs of `alchemy dev`.
type DevOptions struct {
	F           *Factory
	Flags       ProfileFlags
	Stage       string
	stageSet    bool
	Yes         bool
	Concurrency int
	State       StateFlags
}

// NewCmdDev builds `alchemy dev`: deploy, then watch and redeploy.
func NewCmdDev(f *Factory) *cobra.Command {
	opts := &DevOptions{F: f}
	cmd := &cobra.Command{
		Use:   "dev [stack]",
		Short: "Deploy, then watch the stack and redeploy what changed, until Ctrl-C",
		Long: `Deploy the stage (default dev_$USER) without asking, then watch the stack's module: the stack
file, the packages it imports from the module, and files its resources read there (a Worker's
script, a Lambda's directory). On a change, rebuild, plan and apply only what changed. A compile
error or a failed apply is printed and the session keeps watching; Ctrl-C stops after the provider
call in flight has committed its state.

A stage other than your own dev_$USER (--stage, $ALCHEMY_STAGE or $STAGE) is deployed on every save
without asking, so dev asks first in a terminal; elsewhere it needs --yes.`,
		Example: `  alchemy dev
  alchemy dev ./infra/alchemy.run.go
  alchemy dev --stage preview --yes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if f.Stack != nil {
				return &ExitError{Code: ExitUsage, Err: errors.New("alchemy dev rebuilds the stack file on every change, so it runs from the alchemy binary: alchemy dev path/to/alchemy.run.go")}
			}
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			opts.stageSet = c.Flags().Changed("stage")
			if err := confirmDevStage(c.Context(), opts); err != nil {
				return err
			}
			var pass []string
			if c.Flags().Changed("stage") {
				pass = append(pass, "--stage", opts.Stage)
			}
			if c.Flags().Changed("profile") {
				pass = append(pass, "--profile", opts.Flags.Profile)
			}
			if c.Flags().Changed("env-file") {
				pass = append(pass, "--env-file", opts.Flags.EnvFile)
			}
			if c.Flags().Changed("concurrency") {
				pass = append(pass, "--concurrency", strconv.Itoa(opts.Concurrency))
			}
			// Every cycle is a deploy, which takes the stage's lease in
			// the store these name.
			pass = append(pass, opts.State.pass(c)...)
			return devRun(c.Context(), opts, file, pass)
		},
	}
	opts.Flags.register(cmd)
	opts.State.register(cmd, true)
	cmd.Flags().StringVar(&opts.Stage, "stage", "", "Stage to deploy (default $ALCHEMY_STAGE, $STAGE, else dev_$USER)")
	cmd.Flags().IntVar(&opts.Concurrency, "concurrency", DefaultConcurrency, "Provider calls in flight at once")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Watch and deploy a stage other than dev_$USER without asking")
	return cmd
}

// confirmDevStage asks before dev deploys every save to a stage that is not
// the user's own dev_$USER (ALCHEMY_STAGE=prod left in a shell would
// otherwise redeploy prod on every keystroke saved): --yes, or a person
// saying yes.
func confirmDevStage(ctx context.Context, opts *DevOptions) error {
	env, err := envfile.Load(opts.Flags.EnvFile, opts.Flags.envFileSet)
	if err != nil {
		return err
	}
	st, err := resolveStage(opts.Stage, opts.stageSet, env)
	if err != nil {
		return err
	}
	own, _ := resolveStage("", false, withoutStage{env})
	if opts.Yes || st.Name == own.Name {
		return nil
	}
	pr, interactive := opts.F.prompter()
	if !interactive {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("alchemy dev deploys every change to stage %s (from %s) without asking, and %s is not your development stage %s. Nothing was deployed. Re-run with --yes to watch and deploy %s, or without %s to use %s.",
			st.Name, st.Source, st.Name, own.Name, st.Name, st.Source, own.Name)}
	}
	var ok bool
	err = prompt.Exclusive(func() error {
		var err error
		ok, err = pr.Confirm(ctx, fmt.Sprintf("Watch and deploy every change to stage %s (from %s), not your %s?", st.Name, st.Source, own.Name), false)
		return err
	})
	if err != nil {
		return err
	}
	if !ok {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("Nothing was deployed. Run `alchemy dev` without %s to use your stage %s.", st.Source, own.Name)}
	}
	return nil
}

// withoutStage is the environment without the variables that choose a
// stage: what decides the default one.
type withoutStage struct{ envfile.Source }

func (w withoutStage) Lookup(key string) (string, bool) {
	if key == "ALCHEMY_STAGE" || key == "STAGE" {
		return "", false
	}
	return w.Source.Lookup(key)
}
