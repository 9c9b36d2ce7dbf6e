package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/backends"
)

// StackProgram is a stack as its own program declares it: the CLI inside
// alchemy.run.go. Build declares the resources for a stage without touching
// any cloud.
type StackProgram struct {
	Name  string
	Build func(stage string) (*engine.Spec, error)
	// Auth are auth providers the stack adds to the bundled ones.
	Auth []auth.Provider
	// File is the stack file's absolute path, "" when unknown (then the
	// current directory stands in for its directory).
	File string
	// Stages binds stages to a profile and to accounts (alchemy.Stage).
	Stages []*StageBinding
	// State is the state store's URL (alchemy.WithState); "" is the local
	// store. --state and ALCHEMY_STATE override it.
	State string
}

// SDKProgram is set by package alchemy when it is linked: the program
// alchemy.Run(name, body, opts...) would run, without running it. body is a
// func(*alchemy.Stack), opts a []alchemy.StackOption; tests reach it
// typed through internal/stacktest.
var SDKProgram func(name string, body, opts any) *StackProgram

// Dir is the stack file's directory: relative paths in the stack resolve
// from it.
func (p *StackProgram) Dir() string {
	if p.File != "" {
		return filepath.Dir(p.File)
	}
	wd, _ := os.Getwd()
	return wd
}

// Root is the stack's module root, the directory of the go.mod that builds
// the stack file: its state (.alchemy/state) and locks live there, so the
// same stack run from any directory sees the same state. Without a go.mod
// above it, the stack file's directory.
func (p *StackProgram) Root() string {
	dir := p.Dir()
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// DefaultConcurrency bounds provider calls in flight.
const DefaultConcurrency = 16

// StackOptions are the inputs of deploy, plan and destroy.
type StackOptions struct {
	F           *Factory
	Flags       ProfileFlags
	State       StateFlags
	Op          string // "deploy", "plan", "destroy"
	Stage       string
	stageSet    bool
	Yes         bool
	Adopt       bool
	JSON        bool
	Detailed    bool
	Refresh     bool
	Concurrency int
	Args        []string
}

// NewCmdStack builds deploy, plan or destroy.
func NewCmdStack(f *Factory, op string, runF func(*StackOptions) error) *cobra.Command {
	opts := &StackOptions{F: f, Op: op}
	short := map[string]string{
		"deploy":  "Deploy the stack to a stage",
		"plan":    "Show what a deploy would change, without changing anything",
		"destroy": "Delete every resource of a stage, then its state",
	}[op]
	cmd := &cobra.Command{
		Use:   op + " [stack]",
		Short: short,
		Long: short + `.

[stack] is the stack file (default ./alchemy.run.go) or its directory. The stage is --stage, else
$ALCHEMY_STAGE, else $STAGE, else dev_$USER. Credentials come from the selected profile; a provider
the profile does not have yet is set up on the spot when run in a terminal. A stage the stack binds
(alchemy.Stage) runs with its profile, and the account of every bound provider is checked before
anything is changed.

Every run starts with one line saying where it acts: stack → stage, the profile, the account
of each provider it used, and the state store unless it is the default .alchemy/state
(hello → prod · profile prod · Cloudflare 0123…, AWS 1111… · state postgres://ci@db:5432/state).

The state store is --state URL, else $ALCHEMY_STATE (the process environment's, never a .env's),
else the stack's alchemy.WithState, else .alchemy/state at the module root.` + map[string]string{
			"deploy": `
A deploy holds the stage's lease from plan to the end of apply: another run of the stage fails at
once naming the holder, or waits for it with --lock-timeout 5m.
`,
			"destroy": `
A destroy holds the stage's lease from plan to the end: another run of the stage fails at once
naming the holder, or waits for it with --lock-timeout 5m.
`}[op] + `

--json writes exactly one JSON document to stdout, and progress, prompts and warnings to stderr:
  {"command": "` + op + `", "ok": true, "stack": "hello", "stage": "prod", "profile": "prod",
   "accounts": {"Cloudflare": "…"}, "state": "local .alchemy/state", "summary": {"create": 1},
   "resources": [{"id": "Greeting", "type": "Local.File", "action": "create", "status": "created"}],
   "outputs": {"path": "…"}, "deleted": ["…"], "failures": [{"id": "…", "error": "…"}]}
"status" is what an apply did to each resource; "outputs" comes with deploy, "deleted" with
destroy. On failure the exit code is non-zero, "ok" is false and "error" says why. Secret props
and outputs read "(secret)".`,
		Example: "  alchemy " + op + " --stage prod\n  alchemy " + op + " --stage prod --json | jq .summary",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Args = args
			opts.stageSet = c.Flags().Changed("stage")
			if c.Flags().Changed("concurrency") && opts.Concurrency < 1 {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--concurrency must be at least 1, not %d", opts.Concurrency)}
			}
			if runF != nil {
				return runF(opts)
			}
			if f.Stack == nil {
				err := f.delegate(c.Context(), args)
				var exit *ExitError
				if opts.JSON && err != nil && !errors.As(err, &exit) {
					// The stack program never ran (no stack file, a build
					// that failed, Ctrl-C while building), so it wrote no
					// document: --json still gets one.
					doc := &stackJSON{Command: op, Error: err.Error(), Summary: map[string]int{}, Resources: []planJSONStep{}}
					if werr := writeJSON(f, doc); werr != nil {
						return werr
					}
				}
				return err
			}
			return stackRun(c.Context(), opts)
		},
	}
	opts.Flags.register(cmd)
	opts.State.register(cmd, op != "plan")
	cmd.Flags().StringVar(&opts.Stage, "stage", "", "Stage to "+op+" (default $ALCHEMY_STAGE, $STAGE, else dev_$USER)")
	switch op {
	case "deploy":
		cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Apply without asking")
		cmd.Flags().BoolVar(&opts.Adopt, "adopt", false, "Take over existing cloud resources that are not owned by this stack")
		cmd.Flags().BoolVar(&opts.JSON, "json", false, "Print the result as JSON")
		cmd.Flags().IntVar(&opts.Concurrency, "concurrency", DefaultConcurrency, "Provider calls in flight at once")
		cmd.Flags().BoolVar(&opts.Refresh, "refresh", false, "Read every resource from its cloud first: converge what changed outside alchemy, re-create what was deleted")
	case "plan":
		cmd.Flags().BoolVar(&opts.Refresh, "refresh", false, "Read every resource from its cloud and show what changed outside alchemy")
		cmd.Flags().BoolVar(&opts.Detailed, "detailed", false, "Show the props that change")
		cmd.Flags().BoolVar(&opts.JSON, "json", false, "Print the plan as JSON")
	case "destroy":
		cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Destroy without asking")
		cmd.Flags().BoolVar(&opts.JSON, "json", false, "Print what was deleted as JSON")
		cmd.Flags().IntVar(&opts.Concurrency, "concurrency", DefaultConcurrency, "Provider calls in flight at once")
	}
	return cmd
}

// stackEnv is everything a stack command needs, resolved.
type stackEnv struct {
	root     string      // the module root: .alchemy/ lives there
	lease    state.Lease // the stage lease, held by deploy and destroy
	st       *openedState
	secrets  *secret.Codec
	s        *session
	stage    Stage
	binding  *StageBinding // nil: the stage is not bound
	spec     *engine.Spec
	store    state.Store
	resolver *auth.Resolver
	reg      *auth.Registry
	envOnly  bool // CI without a chosen profile: credentials from the environment
	ahead    *engine.ReadAhead
}

func (f *Factory) stackEnv(ctx context.Context, opts *StackOptions) (*stackEnv, error) {
	if err := f.storeLinked(opts.State.choose(f.Stack)); err != nil {
		return nil, err
	}
	if err := f.providersLinked(append(f.Stack.boundProviders(), engine.RegisteredAuths()...)...); err != nil {
		return nil, err
	}
	reg := f.stackRegistry()
	bindings, err := f.Stack.stageBindings(reg)
	if err != nil {
		return nil, err
	}
	var st Stage
	var bound *StageBinding
	// The stage decides the profile when it is bound to one, so it is
	// resolved first, from the same environment.
	s, err := f.openSession(&opts.Flags, func(env *envfile.Env, sel profile.Selection) (profile.Selection, error) {
		var err error
		if st, err = resolveStage(opts.Stage, opts.stageSet, env); err != nil {
			return sel, err
		}
		bound = bindings[st.Name]
		return bound.selectProfile(sel, opts.Op)
	})
	if err != nil {
		return nil, err
	}
	// Under CI each provider reads its env method, unless a profile was
	// chosen explicitly (--profile, ALCHEMY_PROFILE, or the stage's
	// binding): the seed's CI pairing is `alchemy deploy --stage prod
	// --profile prod`.
	envOnly := s.envOnly()
	resolver := auth.NewResolver(s.Auth, reg, envOnly)
	if bound != nil {
		resolver.Check = bound.checkAccount(s.Auth, envOnly)
		if bound.Profile != "" {
			resolver.Pinned = bound.source()
		}
	}
	choice := opts.State.choose(f.Stack)
	openState := func() (*openedState, error) {
		return f.openState(ctx, choice, f.Stack.Root(), backends.Options{
			Getenv:         func(k string) string { return envfile.Get(s.Env, k) },
			AWSCredentials: f.stateAWS(&opts.Flags, resolver.Credentials),
		})
	}
	// A plan on the local store reads the stage's rows while the stack's
	// program declares its resources: both take time in proportion to the
	// stack, and the reads wait on the file system. (Only a plan: the
	// other commands read after taking the stage's lease. Only the local
	// store: a shared one is not contacted before the stack is known.)
	var opened *openedState
	var ahead *engine.ReadAhead
	if loc, err := backends.Parse(choice.URL, f.Stack.Root()); opts.Op == "plan" && err == nil && !loc.Remote() {
		if opened, err = openState(); err != nil {
			return nil, err
		}
		ahead = engine.StartReadAhead(ctx, opened.backend, f.Stack.Name, st.Name)
	}
	spec, err := f.Stack.Build(st.Name)
	if err == nil {
		err = f.providersLinked(spec.Auths()...)
	}
	if err != nil {
		if opened != nil {
			ahead.Stop()
			opened.backend.Close()
		}
		return nil, err
	}
	f.warnDisagreements(s, resolver)
	home, _ := profile.Root(s.Env)
	if opened == nil {
		if opened, err = openState(); err != nil {
			return nil, err
		}
	}
	return &stackEnv{s: s, stage: st, binding: bound, spec: spec, root: f.Stack.Root(),
		secrets: secret.New(envfile.Get(s.Env, "ALCHEMY_PASSWORD"), home),
		st:      opened, store: opened.backend, ahead: ahead,
		resolver: resolver, reg: reg, envOnly: envOnly}, nil
}

// stackRegistry is the auth providers of a stack program: the ones it adds
// (alchemy.WithAuth), then the bundled ones.
func (f *Factory) stackRegistry() *auth.Registry {
	return auth.NewRegistry(append(append([]auth.Provider{}, f.Stack.Auth...), f.Registry().All()...)...)
}

// checkAccounts resolves, and so checks, the credentials of every provider
// the stage binds to an account, before the stage's lease is taken or its
// state read (but for a plan on the local store, which reads its files
// meanwhile: nothing leaves the machine). Also a provider no declared
// resource uses: resources of it left in state are deleted with its
// credentials.
func (env *stackEnv) checkAccounts(ctx context.Context) error {
	if env.binding == nil {
		return nil
	}
	for _, a := range env.binding.Accounts {
		if err := env.resolver.Ensure(ctx, a.Provider); err != nil {
			return err
		}
	}
	return nil
}

// stackRun runs deploy, plan or destroy. Under --json it writes one
// document to stdout whatever happens (stackJSON), and everything else to
// stderr.
func stackRun(ctx context.Context, opts *StackOptions) error {
	r := &stackRunner{opts: opts, out: opts.F.IO.Out}
	if opts.JSON {
		r.out = opts.F.IO.ErrOut
		r.doc = &stackJSON{Command: opts.Op, Stack: opts.F.Stack.Name, Summary: map[string]int{}, Resources: []planJSONStep{}}
	}
	err := r.run(ctx)
	if r.doc != nil {
		r.doc.OK = err == nil
		if err != nil {
			r.doc.Error = err.Error()
		}
		if werr := writeJSON(opts.F, r.doc); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// stackRunner is one run of a stack command.
type stackRunner struct {
	opts *StackOptions
	env  *stackEnv
	out  io.Writer  // stdout, or stderr when stdout carries the --json document
	doc  *stackJSON // the --json document; nil without --json
	// writes collects what the provider calls wrote on this machine, for
	// `alchemy dev` (devWritesCollector); nil otherwise.
	writes *engine.LocalWrites
}

func (r *stackRunner) run(ctx context.Context) error {
	opts := r.opts
	ios := opts.F.IO
	env, err := opts.F.stackEnv(ctx, opts)
	if err != nil {
		return err
	}
	defer env.st.backend.Close()
	defer env.ahead.Stop()
	if err := confirmNewProfile(ctx, env.s); err != nil {
		return err
	}
	r.env = env
	r.writes = devWritesCollector()
	if r.doc != nil {
		r.doc.Stage = env.stage.Name
		if !env.envOnly {
			r.doc.Profile = env.s.Sel.Name
		}
		r.doc.Binding = env.binding.json()
		r.doc.State = env.st.backend.Describe()
	}
	if opts.Op == "deploy" {
		if err := env.checkSecretsStorable(); err != nil {
			return err
		}
	}
	destroy := opts.Op == "destroy"
	if destroy {
		// Nothing to destroy is not a failure (destroy is idempotent), and
		// needs neither credentials nor a lock: nothing is written for a
		// stage that was never deployed.
		deployed, err := env.deployed(ctx)
		if err != nil {
			return err
		}
		if !deployed {
			fmt.Fprintln(r.out, env.contextLine(nil))
			fmt.Fprintf(r.out, "Nothing is deployed to %s/%s.\n", env.spec.Stack, env.spec.Stage)
			return nil
		}
	}
	if err := env.checkAccounts(ctx); err != nil {
		return err
	}
	if opts.Op != "plan" {
		// One writer per stage, from plan to the end of apply: a second run
		// that planned before the first finished would create everything
		// again. (plan only reads, and reads a running deploy's journal.)
		held, err := opts.F.takeLease(ctx, env.st.backend, env.spec.Stack, env.spec.Stage,
			"alchemy "+opts.Op+" --stage "+env.spec.Stage, opts.State.LockTimeout)
		if err != nil {
			return err
		}
		defer held.Release()
		// Every write goes through the lease: a run that lost it (broken,
		// taken over) never overwrites the new holder's state.
		env.store = held.Store()
		env.lease = held
		// A run killed before it wrote its journal into the row files leaves
		// the journal: finish that first, so the files are whole again.
		if err := state.Recover(ctx, env.store, env.spec.Stack, env.spec.Stage); err != nil {
			return err
		}
	}
	plan, err := engine.BuildPlan(ctx, env.spec, env.store, destroy, engine.Options{Credentials: env.resolver.Ensure, Secrets: env.secrets,
		Refresh: opts.Refresh, Adopt: opts.Adopt, Resolve: env.resolver.Credentials, Rows: env.ahead, Writes: r.writes})
	if err != nil {
		return err
	}
	// The credentials the plan needed are resolved now: the context line
	// names the accounts they act in.
	accounts := env.accounts()
	fmt.Fprintln(r.out, env.contextLine(accounts))
	if r.doc != nil {
		r.doc.Accounts = accountsJSON(accounts)
		r.doc.addPlan(plan)
	}
	printPlan(r.out, plan, ios.Plain(), ios.Color(opts.JSON), opts.Detailed)
	if opts.Op == "plan" {
		return nil
	}
	if plan.HasChanges() {
		if err := approve(ctx, opts, env, plan); err != nil {
			return err
		}
	}
	return r.apply(ctx, plan)
}

// apply carries out an approved plan.
func (r *stackRunner) apply(ctx context.Context, plan *engine.Plan) error {
	opts, env, ios := r.opts, r.env, r.opts.F.IO
	start := time.Now()
	verb := map[string]string{"deploy": "Deploying", "destroy": "Destroying"}[opts.Op]
	prog := newProgress(ios, len(plan.Steps), verb)
	prog.w = r.out
	creds := func(ctx context.Context, name string) (auth.Credentials, error) {
		return env.resolver.Credentials(ctx, name)
	}
	if !plan.HasChanges() {
		// Nothing to create, change or delete, but the stack outputs may
		// still differ from the saved ones (an output changed, or a killed run
		// never saved them): the apply saves them, quietly.
		prog = nil
	}
	rec := &statusRecorder{statuses: map[string]string{}}
	if prog != nil {
		rec.next = prog
	}
	ao := engine.ApplyOptions{Concurrency: opts.Concurrency, Adopt: opts.Adopt, Abort: opts.F.Abort, Writes: r.writes}
	if env.lease != nil {
		ao.Lease = env.lease
	}
	applied := make(chan struct{})
	if opts.F.Abort != nil {
		go func() {
			select {
			case <-opts.F.Abort.Done():
				ios.Warn("second interrupt: cancelling the calls in flight (what they were doing is resumed by the next run)")
			case <-applied:
			}
		}()
	}
	res := engine.ApplyWith(ctx, env.spec, plan, env.store, creds, ao, rec)
	close(applied)
	reportDevWrites(r.writes)
	if prog != nil {
		prog.done()
		fmt.Fprintln(r.out)
		fmt.Fprintln(r.out, summaryLine(res, time.Since(start)))
	}
	if r.doc != nil {
		r.doc.addResult(res, rec.statuses)
	} else if len(res.Outputs) > 0 {
		printOutputs(opts.F, res.Outputs)
	}
	if res.Interrupted {
		return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("Interrupted: in-flight work finished and its state was saved. Run `alchemy %s` again to continue.", opts.Op)}
	}
	if err := res.Err(); err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}

// statusRecorder keeps each resource's last terminal status for --json,
// passing every report on to the progress display (when there is one).
type statusRecorder struct {
	next     engine.Reporter
	mu       sync.Mutex
	statuses map[string]string
}

func (s *statusRecorder) Status(fqn, typ, status string, elapsed time.Duration, detail string) {
	if _, done := terminal[status]; (done && status != "cleaned up") || status == "no change" {
		s.mu.Lock()
		s.statuses[fqn] = status
		s.mu.Unlock()
	}
	if s.next != nil {
		s.next.Status(fqn, typ, status, elapsed, detail)
	}
}

// deployed reports whether the stage has any state: rows or saved outputs.
func (env *stackEnv) deployed(ctx context.Context) (bool, error) {
	stages, err := env.store.Stages(ctx, env.spec.Stack)
	if err != nil {
		return false, err
	}
	return slices.Contains(stages, env.spec.Stage), nil
}

// providerAccount is the account one provider's credentials act in.
type providerAccount struct {
	Provider, ID string
	// Checked: the stage binds this account, and the credentials were
	// checked against it.
	Checked bool
}

// accounts are the accounts this run's resolved credentials act in: a bound
// stage's (checked before anything was read), else what the credentials
// name (no request is made to find out).
func (env *stackEnv) accounts() []providerAccount {
	var out []providerAccount
	for name, creds := range env.resolver.Resolved() {
		id, bound := env.binding.account(name)
		if !bound {
			if p, err := env.reg.Get(name); err == nil {
				if n, ok := p.(auth.AccountNamer); ok {
					id = n.KnownAccount(creds)
				}
			}
		}
		if id != "" {
			out = append(out, providerAccount{Provider: name, ID: id, Checked: bound})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Provider < out[j].Provider })
	return out
}

func accountsJSON(accounts []providerAccount) map[string]string {
	if len(accounts) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, a := range accounts {
		m[a.Provider] = a.ID
	}
	return m
}

// contextLine is the line every plan, deploy and destroy starts with: which
// stack and stage, with which profile, in which accounts, on which state
// store when it is not the default —
// "hello → prod · profile prod · Cloudflare 0123…, AWS 1111… (checked) · state postgres://ci@db:5432/state".
// Account ids are not secrets; they are what a person must check.
func (env *stackEnv) contextLine(accounts []providerAccount) string {
	who := "profile " + display.Safe(env.s.Sel.Name)
	if env.envOnly {
		who = "credentials from the environment (CI, no profile selected)"
	}
	line := env.spec.Stack + " → " + env.spec.Stage + " · " + who
	var ids []string
	for _, a := range accounts {
		id := a.Provider + " " + display.Safe(a.ID)
		if a.Checked {
			id += " (checked)"
		}
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		line += " · " + strings.Join(ids, ", ")
	}
	if l := env.st.label(); l != "" {
		line += " · " + display.Safe(l)
	}
	return line
}

// checkSecretsStorable refuses, before anything is read or changed, a
// deploy that has secrets to store in a shared store without
// ALCHEMY_PASSWORD: there they could only be hashed with this machine's
// key, which no other machine can check or open (backends.Guard refuses
// such a write too; this says it before the first resource, and names
// them all).
func (env *stackEnv) checkSecretsStorable() error {
	if !env.st.loc.Remote() || env.secrets.Encrypts() {
		return nil
	}
	var names []string
	for _, n := range env.spec.Nodes {
		for k, v := range n.Props {
			if n.Secret[k] || (v != nil && engine.IsSecret(v)) {
				names = append(names, n.FQN+"."+k)
			}
		}
	}
	for _, o := range env.spec.Outputs {
		if engine.IsSecret(o.Value) {
			names = append(names, "output "+o.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s/%s has secrets to store (%s) in the shared state %s, and ALCHEMY_PASSWORD is not set: they could only be stored hashed with this machine's key, which no other machine can check or decrypt. Set ALCHEMY_PASSWORD (the same for everyone who deploys this stack) and run again. Nothing was changed.",
		env.spec.Stack, env.spec.Stage, strings.Join(names, ", "), env.st.backend.Describe())}
}

// approve asks before changing anything, on a terminal; --yes skips it;
// without a terminal nothing is changed.
func approve(ctx context.Context, opts *StackOptions, env *stackEnv, plan *engine.Plan) error {
	if opts.Yes {
		return nil
	}
	op := opts.Op
	if !env.s.Auth.Interactive {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("Cannot prompt for approval in a non-interactive terminal. Nothing was changed — re-run with --yes to %s.", op)}
	}
	title := approvalTitle(op, env.spec, plan)
	label := map[string]string{"deploy": "Deploy", "destroy": "Destroy"}[op]
	initial := label
	if op == "destroy" {
		initial = "Cancel"
	}
	var choice string
	err := prompt.Exclusive(func() error {
		var err error
		choice, err = env.s.Auth.Prompt.Select(ctx, title, []prompt.Option{{Value: label}, {Value: "Cancel"}}, initial)
		return err
	})
	if err != nil {
		return err
	}
	if choice != label {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s aborted: plan declined.", label)}
	}
	return nil
}

// approvalTitle says what is about to change and where: "Deploy 3 changes
// to hello/prod?", "Destroy 5 resources of hello/prod?".
func approvalTitle(op string, spec *engine.Spec, plan *engine.Plan) string {
	n := 0
	for _, s := range plan.Steps {
		if s.Action != engine.Noop {
			n++
		}
	}
	where := spec.Stack + "/" + spec.Stage
	if op == "destroy" {
		return fmt.Sprintf("Destroy %s of %s?", plural(n, "resource"), where)
	}
	return fmt.Sprintf("Deploy %s to %s?", plural(n, "change"), where)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func printOutputs(f *Factory, outputs map[string]any) {
	if len(outputs) == 0 {
		return
	}
	f.IO.Printf("\nOutputs:\n")
	for _, k := range sortedKeys(outputs) {
		v := outputs[k]
		if s, ok := v.(string); ok {
			f.IO.Printf("  %s: %s\n", k, s)
		} else {
			f.IO.Printf("  %s: %s\n", k, mustJSON(v))
		}
	}
}

func decodeAny(raw []byte) map[string]any {
	m := map[string]any{}
	_ = jsonUnmarshal(raw, &m)
	return m
}

// delegate runs a stack command in the stack's own program: the alchemy
// binary builds alchemy.run.go with the user's go.mod and runs it with the
// same arguments.
func (f *Factory) delegate(ctx context.Context, args []string) error {
	file := ""
	if len(args) > 0 {
		file = args[0]
	}
	return f.delegateFile(ctx, file)
}
