package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/stackrun"
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

func devRun(ctx context.Context, opts *DevOptions, file string, pass []string) error {
	io := opts.F.IO
	path, err := stackrun.Locate(file)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	root := stackrun.WatchRoot(abs)
	interval, settle := 200*time.Millisecond, 100*time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("ALCHEMY_DEV_POLL")); err == nil && d > 0 {
		interval, settle = d, d/2
	}
	s := &devSession{
		builder: &stackrun.Builder{Stderr: os.Stderr},
		watch:   stackrun.NewWatcher(root),
		file:    abs,
		args:    append([]string{"deploy", abs, "--yes"}, pass...),
		env:     []string{"ALCHEMY_DEV=1", "ALCHEMY_STACK_FILE=" + abs},
	}
	// A warning is said once per session, not once per cycle
	// (warnOncePerSession).
	if notices, err := os.CreateTemp("", "alchemy-dev-notices-*"); err == nil {
		notices.Close()
		defer os.Remove(notices.Name())
		s.env = append(s.env, devNoticesEnv+"="+notices.Name())
	}
	for _, f := range []*os.File{os.Stdout, os.Stderr} {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			s.watch.Ignore(fi)
		}
	}
	s.watch.Look()
	// Told of changes by the system, a session looks at once instead of
	// at the next poll; polling goes on underneath either way.
	if err := s.watch.Notify(); err != nil {
		io.Errorf("[dev] the system does not report changes to every directory here (%v): those are looked at every %s\n", err, interval)
	}
	defer s.watch.Close()
	for n := 1; ; n++ {
		start := time.Now()
		c := s.cycle(ctx)
		switch {
		case c.code == ExitInterrupted || errors.Is(ctx.Err(), context.Canceled):
			io.Errorf("[dev] stopped.\n")
			return &ExitError{Code: ExitInterrupted}
		case c.err != nil:
			io.Errorf("%s\n[dev] cycle %d failed to build after %s; fix it and save: alchemy keeps watching.\n", c.err, n, time.Since(start).Round(time.Millisecond))
		case c.code != 0:
			io.Errorf("[dev] cycle %d: the deploy failed (exit %d) after %s; alchemy keeps watching.\n", n, c.code, time.Since(start).Round(time.Millisecond))
		default:
			io.Errorf("[dev] cycle %d applied in %s; watching %s (Ctrl-C to stop)\n", n, time.Since(start).Round(time.Millisecond), root)
		}
		if c.stale {
			// The program that just ran is not what the sources build
			// any more: run the new one rather than wait for an edit.
			io.Errorf("[dev] changed while cycle %d ran: %s\n", n, describeChanges(root, c.changed))
			continue
		}
		if len(c.written) > 0 {
			io.Errorf("[dev] changed while cycle %d ran, taken as the deploy's own output: %s (if you edited it meanwhile, save it again)\n", n, describeChanges(root, c.written))
		}
		// While it waits, the session makes the next build of an edited
		// stack file a compile and a link (stackrun.Builder.Prepare).
		prepCtx, stopPrep := context.WithCancel(ctx)
		prepared := make(chan struct{})
		go func() {
			defer close(prepared)
			_ = s.builder.Prepare(prepCtx, s.file) // without a recipe, go build builds
		}()
		changed, err := s.watch.Wait(ctx, interval, settle)
		stopPrep()
		<-prepared
		if err != nil {
			io.Errorf("[dev] stopped.\n")
			return &ExitError{Code: ExitInterrupted}
		}
		io.Errorf("[dev] changed: %s\n", describeChanges(root, changed))
	}
}

// devSession is what every cycle of one `alchemy dev` works with.
type devSession struct {
	builder *stackrun.Builder
	watch   *stackrun.Watcher // what the stack's module held when the last cycle ended
	file    string            // the stack file, absolute
	args    []string          // the stack program's: deploy ...
	env     []string          // and its extra environment
}

// devCycleResult is what one cycle did.
type devCycleResult struct {
	code    int      // the deploy's exit code
	err     error    // the build failed
	stale   bool     // the stack's Go sources changed since they were built
	changed []string // files changed while the cycle ran
	written []string // of which while the deploy ran: taken as its own writes
}

// cycle rebuilds the stack (cached when only other files changed) and
// deploys it, then records what the module holds, so that what the deploy
// wrote never starts a cycle (stackrun.Watcher says why comparing content
// is how). An edit made while the cycle ran cannot be told from the
// deploy's writes, except the edits that matter most: the stack's Go
// sources are fingerprinted when the build starts (Built.Key) and after
// the deploy (Builder.Current), and a change there means the program that
// ran is already out of date.
func (s *devSession) cycle(ctx context.Context) (c devCycleResult) {
	built, err := s.builder.BuildStack(ctx, s.file)
	// Edits made while building are read by the deploy that starts now,
	// or, after a failed build, by the next one.
	c.changed = s.watch.Look()
	if err != nil {
		c.err = err
	} else {
		var rebuild bool
		c.code, rebuild, _ = execStack(ctx, s.builder, s.file, built.Exe, s.args, s.env)
		if rebuild {
			// It needs a state store it was built without, and did
			// nothing yet: built in, it deploys now.
			if built, err = s.builder.BuildStack(ctx, s.file); err != nil {
				c.err = err
			} else {
				c.code, _, _ = execStack(ctx, s.builder, s.file, built.Exe, s.args, s.env)
			}
		}
		c.written = s.watch.Look()
		c.changed = dedupeSorted(append(c.changed, c.written...))
	}
	if ctx.Err() != nil {
		return c
	}
	// An executable the cache holds is checked again: its manifest covers
	// the //go:embed files, which the key does not. One the cache did not
	// trust is rebuilt by the next cycle anyway; checking it would start a
	// cycle at once, and forever if it can never be trusted.
	key, exe, _ := s.builder.Current(s.file)
	c.stale = key != built.Key || (built.Cached && exe != built.Exe)
	return c
}

// dedupeSorted sorts paths and drops repeats.
func dedupeSorted(paths []string) []string {
	slices.Sort(paths)
	return slices.Compact(paths)
}

func describeChanges(root string, changed []string) string {
	var rel []string
	for i, p := range changed {
		if i == 5 {
			rel = append(rel, fmt.Sprintf("and %d more", len(changed)-5))
			break
		}
		if r, err := filepath.Rel(root, p); err == nil {
			p = r
		}
		rel = append(rel, p)
	}
	if len(rel) == 0 {
		return "the stack's Go sources"
	}
	return strings.Join(rel, ", ")
}
