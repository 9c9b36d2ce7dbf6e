package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/backends"
)

// StateFlags are --state, and --lock-timeout for the commands that take a
// stage's lease.
type StateFlags struct {
	State       string
	stateSet    bool
	LockTimeout time.Duration
}

const stateFlagHelp = "State store: file://PATH or a path, postgres://…, s3://bucket/prefix?region=… (default $ALCHEMY_STATE, else the stack's alchemy.WithState, else .alchemy/state)"

// register adds --state (and --lock-timeout when lease) to cmd.
func (s *StateFlags) register(cmd *cobra.Command, lease bool) {
	cmd.Flags().StringVar(&s.State, "state", "", stateFlagHelp)
	if lease {
		cmd.Flags().DurationVar(&s.LockTimeout, "lock-timeout", 0, "How long to wait for another run's lease of the stage (e.g. 5m); default: fail at once, naming the holder")
	}
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		s.stateSet = c.Flags().Changed("state")
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// pass is the flags to hand to a stack program run for this command.
func (s *StateFlags) pass(c *cobra.Command) []string {
	var out []string
	if c.Flags().Changed("state") {
		out = append(out, "--state", s.State)
	}
	if c.Flags().Lookup("lock-timeout") != nil && c.Flags().Changed("lock-timeout") {
		out = append(out, "--lock-timeout", s.LockTimeout.String())
	}
	return out
}

// stateChoice is the store a command uses and what chose it.
type stateChoice struct {
	URL string
	// From is "--state", "ALCHEMY_STATE", "alchemy.WithState", or "" for
	// the default (the local store at the module root).
	From string
}

// envState is ALCHEMY_STATE, from the process environment only: a .env
// cannot move the state (envfile protects it).
func envState() string { return os.Getenv("ALCHEMY_STATE") }

// choose applies the precedence: --state, ALCHEMY_STATE, the stack's
// alchemy.WithState, the local default.
func (s *StateFlags) choose(p *StackProgram) stateChoice {
	switch {
	case s.stateSet:
		return stateChoice{URL: s.State, From: "--state"}
	case envState() != "":
		return stateChoice{URL: envState(), From: "ALCHEMY_STATE"}
	case p != nil && p.State != "":
		return stateChoice{URL: p.State, From: "alchemy.WithState"}
	}
	return stateChoice{}
}

// openedState is a command's store, open.
type openedState struct {
	backend state.Backend
	loc     backends.Location
	choice  stateChoice
}

// stackNeedsEnv names the file in which a stack program built by alchemy
// says what it needs and was built without (ExitNeedsStore): a shared file
// (newShared), its descriptor 3.
const stackNeedsEnv = "ALCHEMY_STACK_NEEDS"

// programNeeds is that file in a stack program run by alchemy, claimed at
// package init (claimShared); nil otherwise.
var programNeeds = claimShared(os.Getenv(stackNeedsEnv))

// newNeeds makes the needs file for one run of a program.
func newNeeds() (*needsFile, error) {
	f, err := newShared("alchemy-needs-*")
	if err != nil {
		return nil, err
	}
	n := &needsFile{f: f, env: sharedEnv(stackNeedsEnv, f, 3)}
	if sharedByDescriptor {
		n.files = []*os.File{f}
	} else {
		n.path = f.Name()
	}
	return n, nil
}

// needsFile is the alchemy command's end of it: the program's exit says
// whether to read it.
type needsFile struct {
	f     *os.File
	env   string     // what the program is given
	files []*os.File // its descriptors 3, … (stackrun.Exec)
	path  string     // removed once read, when it has a name
}

// feature is what the program wrote: "" when nothing.
func (n *needsFile) feature() string {
	buf := make([]byte, 64)
	k, _ := n.f.ReadAt(buf, 0)
	return strings.TrimSpace(string(buf[:k]))
}

func (n *needsFile) close() {
	n.f.Close()
	if n.path != "" {
		os.Remove(n.path)
	}
}

// storeLinked checks, before a stack command does or prints anything, that
// this program links the store ch names. One alchemy built without it is
// told so (ExitNeedsStore): alchemy builds it in and runs the command
// again, so nothing is done twice. Run by hand, it says what to do.
func (f *Factory) storeLinked(ch stateChoice) error {
	feature := backends.Needs(ch.URL, f.Stack.Root())
	if feature == "" {
		return nil
	}
	loc, _ := backends.Parse(ch.URL, f.Stack.Root())
	return needFeature(feature, fmt.Errorf("%w (chosen by %s). Nothing was changed.",
		&backends.NotLinkedError{Display: loc.Display, Feature: feature}, ch.From))
}

// providersLinked checks, before a stack command does anything, that this
// program links the built-in auth providers among names (the providers a
// stack's bindings, resources and registered types name). A program
// alchemy built with only the providers its resources' packages bring
// (-tags=alchemy_noproviders) says it needs them all (ExitNeedsStore, as
// for a store); run by hand, it says what to do.
func (f *Factory) providersLinked(names ...string) error {
	return f.linkedOr("providers", names...)
}

// linkedOr is providersLinked asking for feature instead.
func (f *Factory) linkedOr(feature string, names ...string) error {
	missing := auth.Unlinked(names...)
	if len(missing) == 0 {
		return nil
	}
	what := missing[0] + " auth provider"
	if n := len(missing); n > 1 {
		what = strings.Join(missing[:n-1], ", ") + " and " + missing[n-1] + " auth providers"
	}
	return needFeature(feature, fmt.Errorf("this program was built without the %s (alchemy builds a stack's program with only the providers its resources use); run the stack with the alchemy command, which builds them in when a stack needs them. Nothing was changed.", what))
}

// needFeature is what a program built without feature does when it needs
// it: under alchemy (ALCHEMY_STACK_NEEDS), say so in the file alchemy
// named and exit with ExitNeedsStore, having done nothing; run by hand,
// fail with notLinked.
func needFeature(feature string, notLinked error) error {
	if programNeeds != nil {
		if _, err := programNeeds.WriteAt([]byte(feature+"\n"), 0); err == nil {
			return &ExitError{Code: ExitNeedsStore}
		}
	}
	return &ExitError{Code: ExitFailure, Err: notLinked}
}

// openState opens the chosen store. A URL that cannot be used is a usage
// error naming where it came from.
func (f *Factory) openState(ctx context.Context, ch stateChoice, root string, o backends.Options) (*openedState, error) {
	loc, err := backends.Parse(ch.URL, root)
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w (from %s)", err, ch.From)}
	}
	o.Root = root
	if o.Warn == nil {
		o.Warn = f.IO.Warn
	}
	b, err := backends.Open(ctx, ch.URL, o)
	if err != nil {
		var nl *backends.NotLinkedError
		if errors.As(err, &nl) {
			return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("%w (chosen by %s). Nothing was changed.", err, ch.From)}
		}
		return nil, fmt.Errorf("opening the state %s (chosen by %s): %w", loc.Display, ch.From, err)
	}
	return &openedState{backend: b, loc: loc, choice: ch}, nil
}

// label names the store in a context line: "" for the default local
// store, else "state postgres://alice@db:5432/state" or "state
// ../shared/.alchemy/state".
func (o *openedState) label() string {
	if o == nil || o.choice.From == "" {
		return ""
	}
	return "state " + strings.TrimPrefix(o.backend.Describe(), "local ")
}

// note is said on stderr by the `alchemy state` commands whose stdout is
// data: which store, when it is not the default.
func (o *openedState) note(f *Factory) {
	if l := o.label(); l != "" {
		f.IO.Errorf("(%s, from %s)\n", l, o.choice.From)
	}
}

// leaseIdentityEnv makes this process hold leases as another identity,
// "user@host:pid". It exists for tests that run two processes as two
// machines; every run that honours it says so on stderr. Only the process
// environment sets it (it is read here, never through a .env).
const leaseIdentityEnv = "ALCHEMY_TEST_LEASE_IDENTITY"

func leaseIdentity(f *Factory) (*state.Identity, error) {
	v := os.Getenv(leaseIdentityEnv)
	if v == "" {
		return nil, nil
	}
	who, pid, ok := strings.Cut(v, ":")
	user, host, hasUser := strings.Cut(who, "@")
	if !hasUser {
		user, host = "", who
	}
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || host == "" || n <= 0 {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s=%q: expected user@host:pid", leaseIdentityEnv, v)}
	}
	f.IO.Warn(fmt.Sprintf("%s is set: this run holds leases as %s@%s (pid %d), not as itself. It is meant for tests.", leaseIdentityEnv, user, host, n))
	return &state.Identity{User: user, Host: host, PID: n}, nil
}

// leaseTTLEnv shortens the TTL of the leases this process takes in a
// shared store (a Go duration), for tests that let a paused or killed
// holder's lease expire; every run that honours it says so on stderr.
// Only the process environment sets it.
const leaseTTLEnv = "ALCHEMY_TEST_LEASE_TTL"

func leaseTTL(f *Factory) (time.Duration, error) {
	v := os.Getenv(leaseTTLEnv)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 500*time.Millisecond {
		return 0, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s=%q: expected a duration of at least 500ms", leaseTTLEnv, v)}
	}
	f.IO.Warn(fmt.Sprintf("%s is set: leases this run takes in a shared store expire %s after their last heartbeat. It is meant for tests.", leaseTTLEnv, d))
	return d, nil
}

// takeLease takes the lease of stack/stage for command, waiting up to
// wait: the one place every command that changes a stage gets its lease,
// and the wording of "someone else has it".
func (f *Factory) takeLease(ctx context.Context, b state.Backend, stack, stage, command string, wait time.Duration) (state.Lease, error) {
	id, err := leaseIdentity(f)
	if err != nil {
		return nil, err
	}
	ttl, err := leaseTTL(f)
	if err != nil {
		return nil, err
	}
	l, err := b.Acquire(ctx, stack, stage, state.LeaseOptions{Command: command, Wait: wait, Identity: id, TTL: ttl,
		OnWait: func(i state.LeaseInfo) {
			f.IO.Errorf("Waiting for the lease of %s/%s, held by %s (up to %s)\n", stack, stage, i.Holder(), wait)
		}})
	var held *state.HeldError
	if errors.As(err, &held) {
		where := stack + "/" + stage
		if held.Waited > 0 {
			return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("Another alchemy run still holds %s after %s: %s. Nothing was changed. Wait longer (--lock-timeout), or if it is gone, `alchemy state unlock %s`.",
				where, held.Waited.Round(time.Second), held.Info.Holder(), where)}
		}
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("Another alchemy run holds %s: %s. Nothing was changed. Wait for it (--lock-timeout 5m), or if it is gone, `alchemy state unlock %s`.",
			where, held.Info.Holder(), where)}
	}
	return l, err
}

// envGetter reads the environment a command's --env-file (or ./.env)
// adds to the process's, loaded on first use.
func envGetter(p *ProfileFlags) func(string) string {
	var once sync.Once
	var env *envfile.Env
	return func(k string) string {
		once.Do(func() { env, _ = envfile.Load(p.EnvFile, p.envFileSet) })
		if env == nil {
			return os.Getenv(k)
		}
		return envfile.Get(env, k)
	}
}
