package cli

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/state/backends"
)

// completeFlagsOnRequest registers the flags' completion functions only
// when the command run is cobra's __complete (what the shell scripts call
// on Tab): registering them walks every command's flags, ~0.5 ms of every
// start-up otherwise spent for nothing. __complete is a child of root, so
// root's persistent pre-run runs before it completes anything.
func completeFlagsOnRequest(f *Factory, root *cobra.Command) {
	root.PersistentPreRun = func(c *cobra.Command, _ []string) {
		if c.Name() == cobra.ShellCompRequestCmd || c.Name() == cobra.ShellCompNoDescRequestCmd {
			// A Tab never prompts (a shared store's credentials).
			f.IO.SetTTY(false, false, false)
			completeFlags(f, root)
		}
	}
}

// completeFlags gives --profile, --stage, --provider and --method of every
// command in the tree their shell completion, so a command added later
// with one of these flags completes it too. Completion runs on every Tab:
// it takes no lock and never prompts; it reads directory listings and
// profiles.json, except --stage on a shared store, which it asks (with a
// deadline) using the credentials the command would use.
func completeFlags(f *Factory, c *cobra.Command) {
	completers := map[string]cobra.CompletionFunc{
		"profile":  names(func(*cobra.Command) []cobra.Completion { return profileNames() }),
		"stage":    names(func(c *cobra.Command) []cobra.Completion { return stageNames(f, c) }),
		"provider": names(func(*cobra.Command) []cobra.Completion { return providerNames(f) }),
		"method": names(func(c *cobra.Command) []cobra.Completion {
			provider, _ := c.Flags().GetString("provider")
			return methodIDs(f, provider)
		}),
	}
	local := c.LocalNonPersistentFlags() // a new set each call: build it once
	for name, fn := range completers {
		if local.Lookup(name) != nil {
			_ = c.RegisterFlagCompletionFunc(name, fn) // only fails when registered twice
		}
	}
	for _, sub := range c.Commands() {
		completeFlags(f, sub)
	}
}

// names completes a flag from a list: never file names.
func names(list func(*cobra.Command) []cobra.Completion) cobra.CompletionFunc {
	return func(c *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return list(c), cobra.ShellCompDirectiveNoFileComp
	}
}

// profileNames are the profiles of the alchemy home ($ALCHEMY_HOME from
// the process environment, which a .env may not set, else ~/.alchemy). A
// home that cannot be read completes nothing: the command itself will say
// why.
func profileNames() []cobra.Completion {
	env, err := envfile.Load("", false)
	if err != nil {
		return nil
	}
	root, err := profile.Root(env)
	if err != nil {
		return nil
	}
	names, _ := profile.New(root, nil).Names()
	return names
}

// stageCompletionTimeout bounds how long a Tab waits for a shared store.
const stageCompletionTimeout = 2 * time.Second

// stageNames are the stages that have state in the store the command c
// would use (--state typed before the cursor, else ALCHEMY_STATE, else the
// stack's alchemy.WithState, else ./.alchemy/state at the module root),
// each described by the stacks that have it: without building the stack
// file the current stack is unknown. A shared store is asked with the
// credentials the command would use (the --profile typed, PGPASSWORD, …)
// within stageCompletionTimeout; one that cannot be reached, or refuses,
// completes nothing.
func stageNames(f *Factory, c *cobra.Command) []cobra.Completion {
	var flags StateFlags
	if fl := c.Flags().Lookup("state"); fl != nil && fl.Changed {
		flags.State, flags.stateSet = fl.Value.String(), true
	}
	var pf ProfileFlags
	if fl := c.Flags().Lookup("profile"); fl != nil && fl.Changed {
		pf.Profile, pf.profileSet = fl.Value.String(), true
	}
	if fl := c.Flags().Lookup("env-file"); fl != nil && fl.Changed {
		pf.EnvFile, pf.envFileSet = fl.Value.String(), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), stageCompletionTimeout)
	defer cancel()
	b, err := backends.Open(ctx, flags.choose(f.Stack).URL, backends.Options{Root: projectRoot(f), Getenv: envGetter(&pf),
		AWSCredentials: f.stateAWS(&pf, nil), Warn: func(string) {}})
	if err != nil {
		return nil
	}
	defer b.Close()
	stacks, _ := b.Stacks(ctx)
	byStage := map[string][]string{}
	for _, stack := range stacks {
		stages, _ := b.Stages(ctx, stack)
		for _, st := range stages {
			byStage[st] = append(byStage[st], stack)
		}
	}
	return described(byStage)
}

// completionRegistry is the providers this process knows: inside a stack
// program, also the stack's own.
func completionRegistry(f *Factory) *auth.Registry {
	if f.Stack != nil {
		return f.stackRegistry()
	}
	return f.Registry()
}

func providerNames(f *Factory) []cobra.Completion {
	var out []cobra.Completion
	for _, p := range completionRegistry(f).All() {
		out = append(out, p.Name())
	}
	return out
}

// methodIDs are the methods of --provider when it is given (described by
// their menu label), else of every provider (described by the providers
// that have each). Methods not built yet are left out.
func methodIDs(f *Factory, provider string) []cobra.Completion {
	reg := completionRegistry(f)
	providers := reg.All()
	if provider != "" {
		p, err := reg.Get(provider)
		if err != nil {
			return nil
		}
		providers = []auth.Provider{p}
	}
	byID := map[string][]string{}
	for _, p := range providers {
		for _, m := range p.Methods() {
			switch {
			case m.Unavailable:
			case provider != "":
				byID[m.ID] = []string{m.Label}
			default:
				byID[m.ID] = append(byID[m.ID], p.Name())
			}
		}
	}
	return described(byID)
}

// described turns name → owners into sorted completions "name\towner, owner".
func described(m map[string][]string) []cobra.Completion {
	var out []cobra.Completion
	for name, owners := range m {
		out = append(out, cobra.CompletionWithDesc(name, strings.Join(owners, ", ")))
	}
	sort.Strings(out)
	return out
}
