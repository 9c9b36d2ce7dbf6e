package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
)

// Reporter receives progress. Implementations must be safe for concurrent use.
type Reporter interface {
	// Status reports a resource entering a status ("creating", "created",
	// "fail", ...). elapsed is set on terminal statuses; detail carries an
	// error or note.
	Status(fqn, typ, status string, elapsed time.Duration, detail string)
}

// Failure is a resource the apply could not bring to its planned state.
type Failure struct {
	FQN, Type string
	Err       error
	// Skipped is set when the resource was not attempted because something
	// it depends on failed, or the run was interrupted.
	Skipped bool
}

// Result is the outcome of an apply.
type Result struct {
	Outputs     map[string]any
	Failures    []Failure
	Interrupted bool
	// LeaseLost is set when the stage lease was lost during the apply: it
	// stopped, and nothing after the loss was committed.
	LeaseLost error
	// Counts of terminal statuses, for the summary line.
	Succeeded, Failed, Skipped int
}

// Err summarises the failures, or is nil.
func (r *Result) Err() error {
	if r.LeaseLost != nil {
		return fmt.Errorf("%w. This run stopped and committed nothing more; what it committed before is kept. Run the command again once the other run is done", r.LeaseLost)
	}
	if len(r.Failures) == 0 {
		return nil
	}
	var b strings.Builder
	failed, skipped := 0, 0
	for _, f := range r.Failures {
		if f.Skipped {
			skipped++
		} else {
			failed++
		}
	}
	fmt.Fprintf(&b, "%d resource(s) failed", failed)
	if skipped > 0 {
		fmt.Fprintf(&b, " (%d more skipped)", skipped)
	}
	b.WriteString(":")
	for _, f := range r.Failures {
		glyph := "✗"
		if f.Skipped {
			glyph = "⊘"
		}
		fmt.Fprintf(&b, "\n  %s %s (%s): %v", glyph, f.FQN, f.Type, f.Err)
	}
	return errors.New(b.String())
}

// CredentialsFunc returns the credentials of an auth provider.
type CredentialsFunc func(ctx context.Context, authName string) (auth.Credentials, error)

// Lease is the stage lease an apply holds: Lost is closed when it is lost
// (taken over, broken), and Err says how.
type Lease interface {
	Lost() <-chan struct{}
	Err() error
}

type applier struct {
	spec  *Spec
	plan  *Plan
	store state.Store
	creds CredentialsFunc
	rep   Reporter
	// interrupt is cancelled on Ctrl-C: no new provider call starts after it.
	interrupt context.Context
	// calls is what provider calls run on: cancelled only by an abort (a
	// second Ctrl-C) or a lost lease, so a call in flight after one Ctrl-C
	// finishes and its result is committed.
	calls context.Context
	// commits is never cancelled: a commit either happens or the store
	// refuses it.
	commits context.Context
	sem     chan struct{}
	// width bounds the resources being worked on at once (committing,
	// waiting for a slot, calling).
	width int
	// adopt is deploy --adopt.
	adopt bool
	// writes collects the calls' local writes (nil: not collected).
	writes *LocalWrites
	// secrets seals secret props; scrub removes their values from errors
	// and notes.
	secrets *secret.Codec
	scrub   scrubber

	// runs are the runs by FQN, filled before the first phase and only read
	// after.
	runs map[string]*run

	mu         sync.Mutex
	result     Result
	refreshers map[string]*Refresher
}

// refresher is the one Refresher of an auth provider for this run.
func (a *applier) refresher(name string) *Refresher {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.refreshers == nil {
		a.refreshers = map[string]*Refresher{}
	}
	r := a.refreshers[name]
	if r == nil {
		r = NewRefresher(name, a.creds)
		a.refreshers[name] = r
	}
	return r
}

type run struct {
	step  *Step
	done  chan struct{}
	attrs map[string]any
	err   error
}

// Apply carries out a plan. ctx is the interrupt: when it is cancelled no
// new provider call starts, calls in flight finish and are committed, and
// the result says Interrupted.
func Apply(ctx context.Context, spec *Spec, p *Plan, store state.Store, creds CredentialsFunc, concurrency int, rep Reporter) *Result {
	return ApplyWith(ctx, spec, p, store, creds, ApplyOptions{Concurrency: concurrency}, rep)
}

// ApplyOptions tune an apply.
type ApplyOptions struct {
	// Concurrency bounds provider calls in flight.
	Concurrency int
	// Adopt lets the engine take over existing resources this stack does
	// not own (deploy --adopt).
	Adopt bool
	// Abort, when done, cancels the provider calls in flight (a second
	// Ctrl-C). State stays resumable: every call's row was committed before
	// it started.
	Abort context.Context
	// Lease, when lost, stops the apply: calls in flight are cancelled and
	// nothing more is committed (the store is fenced by the same lease).
	Lease Lease
	// Writes, when set, collects what the provider calls say they wrote
	// on this machine (alchemy dev).
	Writes *LocalWrites
}

// ApplyWith is Apply with options.
func ApplyWith(ctx context.Context, spec *Spec, p *Plan, store state.Store, creds CredentialsFunc, o ApplyOptions, rep Reporter) *Result {
	concurrency := o.Concurrency
	if concurrency < 1 {
		concurrency = 1
	}
	calls, cancelCalls := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelCalls(nil)
	stopWatch := make(chan struct{})
	var watching sync.WaitGroup
	defer watching.Wait()
	defer close(stopWatch)
	var abort <-chan struct{}
	if o.Abort != nil {
		abort = o.Abort.Done()
	}
	var lost <-chan struct{}
	if o.Lease != nil {
		lost = o.Lease.Lost()
	}
	a := &applier{spec: spec, plan: p, store: store, creds: creds, rep: rep, adopt: o.Adopt,
		interrupt: ctx, calls: calls, commits: context.WithoutCancel(ctx), sem: make(chan struct{}, concurrency),
		width: max(minWidth, widthPerSlot*concurrency), runs: make(map[string]*run, len(p.Steps)), secrets: p.secrets,
		writes: o.Writes}
	if a.secrets == nil {
		a.secrets = secret.New("", "")
	}
	if abort != nil || lost != nil {
		interrupt, cancelInterrupt := context.WithCancel(ctx)
		defer cancelInterrupt()
		a.interrupt = interrupt
		watching.Go(func() {
			select {
			case <-abort:
				cancelInterrupt()
				cancelCalls(errAborted)
			case <-lost:
				a.mu.Lock()
				a.result.LeaseLost = o.Lease.Err()
				a.mu.Unlock()
				cancelInterrupt()
				cancelCalls(o.Lease.Err())
			case <-stopWatch:
			}
		})
	}
	var declared, deletions, gc []*run
	for _, s := range p.Steps {
		r := &run{step: s, done: make(chan struct{})}
		a.runs[s.FQN] = r
		switch s.Action {
		case Delete:
			deletions = append(deletions, r)
		case Replace:
			// The old generations are deleted in a later phase, by a run of
			// their own.
			gc = append(gc, &run{step: s, done: make(chan struct{})})
			declared = append(declared, r)
		default:
			declared = append(declared, r)
		}
	}
	a.phase(declared, a.dependencies, a.applyDeclared)
	if a.healthy() {
		// Old generations of replaced resources and resources removed from
		// the stack go last, dependents first.
		a.phase(gc, nil, a.collectReplaced)
		a.phase(deletions, a.deletedDependents, a.deleteOrphan)
	} else {
		for _, r := range deletions {
			a.skip(r.step, errors.New("not deleted: the deploy failed before resources removed from the stack are deleted"))
		}
	}
	if p.Destroy {
		a.finishDestroy()
	} else if a.healthy() {
		a.writeOutputs()
	}
	// Commits are durable already; this puts them in their final layout.
	if err := state.Flush(a.commits, store); err != nil && a.result.LeaseLost == nil {
		a.result.Failures = append(a.result.Failures, Failure{FQN: spec.Stack + "/" + spec.Stage, Type: "state", Err: err})
	}
	return &a.result
}

// A phase works on up to widthPerSlot resources per provider slot, and at
// least minWidth: enough that the commits of many resources share each
// flush of the state journal, few enough that the goroutines stay a small
// part of the run's memory.
const (
	widthPerSlot = 16
	minWidth     = 64
)

var errAborted = errors.New("aborted by a second interrupt")

func (a *applier) healthy() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.result.Failures) == 0 && !a.result.Interrupted && a.result.LeaseLost == nil
}

// phase runs fn for every run once the runs it waits for (after, among
// this phase's) are done; each run's done channel closes when its fn
// returns. It is Kahn's algorithm on a bounded pool of workers: a run starts
// only once it can go straight to work, so goroutines, their stacks and the
// contention on the state store grow with the pool, not with the stack. The
// pool is much wider than the provider concurrency, so that the commits of
// many resources share each flush of the state journal.
func (a *applier) phase(runs []*run, after func(*run) []*run, fn func(*run) error) {
	if len(runs) == 0 {
		return
	}
	index := make(map[*run]int, len(runs))
	for i, r := range runs {
		index[r] = i
	}
	waits := make([]int, len(runs))        // unfinished runs each run waits for
	dependents := make([][]int, len(runs)) // who waits for each run
	if after != nil {
		for i, r := range runs {
			for _, d := range after(r) {
				if j, ok := index[d]; ok && j != i {
					waits[i]++
					dependents[j] = append(dependents[j], i)
				}
			}
		}
	}
	// ready holds the runs that can start, in the order they became able
	// to; it has room for every run, so releasing one never blocks.
	ready := make(chan int, len(runs))
	var mu sync.Mutex // guards everything below
	released := make([]bool, len(runs))
	outstanding, left, cursor := 0, len(runs), 0 // released and unfinished; unfinished; where to look for a run to force
	release := func(i int) {
		released[i] = true
		outstanding++
		ready <- i
	}
	unblock := func() {
		// Nothing runs and nothing can start, yet runs are left: they wait
		// for each other (a cycle among rows another version wrote). Start
		// one rather than wait forever; it finds what it waits for not done.
		for outstanding == 0 && left > 0 {
			for released[cursor] {
				cursor++
			}
			release(cursor)
		}
	}
	for i := range runs {
		if waits[i] == 0 {
			release(i)
		}
	}
	unblock()
	var wg sync.WaitGroup
	for range min(a.width, len(runs)) {
		wg.Go(func() {
			for i := range ready {
				r := runs[i]
				r.err = fn(r)
				close(r.done)
				mu.Lock()
				outstanding--
				left--
				for _, j := range dependents[i] {
					if waits[j]--; waits[j] == 0 && !released[j] {
						release(j)
					}
				}
				if left == 0 {
					close(ready)
				}
				unblock()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// finished reports whether r is done, without waiting: phase starts a run
// only after the runs it waits for, except to break a cycle.
func finished(r *run) bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (a *applier) report(s *Step, status string, start time.Time, detail string) {
	var elapsed time.Duration
	if !start.IsZero() {
		elapsed = time.Since(start)
	}
	if a.rep != nil {
		a.rep.Status(s.FQN, s.Type, status, elapsed, detail)
	}
}

func (a *applier) note(s *Step, msg string) { a.report(s, "note", time.Time{}, a.scrub.scrub(msg)) }

func (a *applier) fail(s *Step, start time.Time, err error) error {
	err = a.scrub.err(err)
	a.mu.Lock()
	a.result.Failures = append(a.result.Failures, Failure{FQN: s.FQN, Type: s.Type, Err: err})
	a.result.Failed++
	a.mu.Unlock()
	a.report(s, "fail", start, firstLine(err.Error()))
	return err
}

func (a *applier) skip(s *Step, err error) error {
	a.mu.Lock()
	a.result.Failures = append(a.result.Failures, Failure{FQN: s.FQN, Type: s.Type, Err: err, Skipped: true})
	a.result.Skipped++
	a.mu.Unlock()
	a.report(s, "skipped", time.Time{}, err.Error())
	return err
}

func (a *applier) succeed(s *Step, status string, start time.Time, detail string) {
	a.mu.Lock()
	a.result.Succeeded++
	a.mu.Unlock()
	a.report(s, status, start, detail)
}

// call runs provider calls: it holds a concurrency slot and refuses to
// start after an interrupt. fn runs on a context that only an abort or a
// lost lease cancels, and a panic in it fails this resource alone.
func (a *applier) call(s *Step, fn func(ctx context.Context) error) (err error) {
	select {
	case a.sem <- struct{}{}:
	case <-a.interrupt.Done():
		return errInterrupted
	}
	defer func() { <-a.sem }()
	if a.interrupt.Err() != nil {
		return errInterrupted
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("the %s provider panicked: %v\n%s", s.Type, v, panicSite(debug.Stack()))
		}
	}()
	err = fn(a.calls)
	if err != nil && a.calls.Err() != nil {
		if errors.Is(context.Cause(a.calls), errAborted) {
			return errAbortedInFlight
		}
		err = fmt.Errorf("%w (%v)", err, context.Cause(a.calls))
	}
	return err
}

var (
	errInterrupted = errors.New("not started: interrupted")
	// errAbortedInFlight is a call a second interrupt cancelled: like one
	// that never started, its row was committed first and the next run
	// resumes it.
	errAbortedInFlight = fmt.Errorf("cancelled in flight by a second interrupt; the next run resumes it: %w", errInterrupted)
)

// dependencies are the runs of the resources r's props read.
func (a *applier) dependencies(r *run) []*run {
	var out []*run
	for _, d := range r.step.Node.Deps() {
		out = append(out, a.runs[d])
	}
	return out
}

// deletedDependents are the runs deleting resources that depended on the
// one r deletes: they go first.
func (a *applier) deletedDependents(r *run) []*run {
	var out []*run
	for _, d := range r.step.Row.Downstream {
		if dr := a.runs[d]; dr != nil && dr.step.Action == Delete {
			out = append(out, dr)
		}
	}
	return out
}

func (a *applier) lookup(fqn string) (map[string]any, bool) {
	r := a.runs[fqn] // written before the first phase, read-only since
	if r == nil {
		return nil, false
	}
	select {
	case <-r.done:
		return r.attrs, r.err == nil && r.attrs != nil
	default:
		return nil, false
	}
}

func (a *applier) commit(row *state.Row) error {
	if err := a.store.Set(a.commits, a.spec.Stack, a.spec.Stage, row); err != nil {
		return fmt.Errorf("could not save state: %w", err)
	}
	return nil
}

// request is a provider request for one generation of s: its instance, the
// props to apply (nil for a delete), and what is known of it (old).
func (a *applier) request(s *Step, instanceID string, props map[string]any, old *state.Row) (*Request, error) {
	r := a.spec.request(s.FQN, s.LogicalID, instanceID, nil)
	r.Note = func(msg string) { a.note(s, msg) }
	if a.writes != nil {
		a.writes.called(s.provider, r)
	}
	if props != nil {
		r.Props, _ = json.Marshal(props)
	}
	if old != nil {
		oldProps, err := a.secrets.OpenProps(old.Props)
		if err != nil {
			return nil, fmt.Errorf("reading its state: %w", err)
		}
		r.OldProps, r.OldAttr = oldProps, old.Attr
	}
	if name := s.provider.Auth(); name != "" && a.creds != nil {
		c, err := a.creds(a.calls, name)
		if err != nil {
			return nil, err
		}
		r.Credentials, r.Refresh = c, a.refresher(name)
	}
	return r, nil
}

// applyDeclared brings one declared resource to its planned state.
func (a *applier) applyDeclared(r *run) error {
	s := r.step
	for _, dep := range s.Node.Deps() {
		d := a.runs[dep]
		if !finished(d) {
			return a.skip(s, fmt.Errorf("skipped because %s did not finish first", dep))
		}
		if d.err != nil {
			return a.skip(s, fmt.Errorf("skipped because %s failed", dep))
		}
	}
	if s.Action == Noop {
		for k := range s.Secret {
			a.scrub.add(s.Props[k])
		}
		return a.keep(r)
	}
	start := time.Now()
	props, unknown, err := evalProps(s.Node, a.lookup)
	if err != nil {
		return a.fail(s, start, err)
	}
	for k := range s.Secret {
		a.scrub.add(props[k])
	}
	if len(unknown) > 0 {
		return a.fail(s, start, fmt.Errorf("props %v are still unknown after their dependencies were applied", keys(unknown)))
	}
	if s.Action == Update && s.Row.Stable() && s.Row.Status != state.Replaced && len(s.Unknown) > 0 {
		// Planned as an update only because an input was not known yet; now
		// that it is, nothing may have changed after all.
		changed, _, err := diffProps(a.secrets, a.spec, s.FQN, decodeMap(s.Row.Props), props, nil, s.Secret)
		if err != nil {
			return a.fail(s, start, err)
		}
		if len(changed) == 0 {
			return a.keep(r)
		}
	}
	switch s.Action {
	case Create:
		return a.create(r, props)
	case Update:
		return a.update(r, props)
	case Replace:
		return a.replace(r, props)
	}
	return fmt.Errorf("unexpected action %s", s.Action)
}

// keep leaves a resource as it is, saving only metadata that changed (who
// depends on it, its removal policy), which destroy relies on.
func (a *applier) keep(r *run) error {
	s := r.step
	r.attrs = decodeMap(s.Row.Attr)
	if !equalStrings(s.Row.Downstream, a.downstream(s.FQN)) || (s.Row.RemovalPolicy == "retain") != s.Node.Retain || (s.Reseal && len(s.Unknown) == 0) {
		row := *s.Row
		row.Downstream, row.RemovalPolicy = a.downstream(s.FQN), removalPolicy(s.Node)
		if s.Reseal && len(s.Unknown) == 0 {
			// A secret stored in an old or clear form: seal it properly.
			sealed, err := sealProps(a.secrets, a.spec, s.FQN, s.Props, s.Secret)
			if err != nil {
				return a.fail(s, time.Time{}, err)
			}
			row.Props = sealed
		}
		if err := a.commit(&row); err != nil {
			return a.fail(s, time.Time{}, err)
		}
	}
	a.report(s, "no change", time.Time{}, "")
	return nil
}

func (a *applier) baseRow(s *Step, props map[string]any) (*state.Row, error) {
	stored, err := sealProps(a.secrets, a.spec, s.FQN, props, s.Secret)
	if err != nil {
		return nil, err
	}
	return &state.Row{Kind: "resource", ResourceType: s.Type, FQN: s.FQN, LogicalID: s.LogicalID,
		ProviderVersion: s.provider.Version(), Downstream: a.downstream(s.FQN), Props: stored, RemovalPolicy: removalPolicy(s.Node)}, nil
}

// outcome is what a provider call left: the attributes to commit, how to
// report it, and a note.
type outcome struct {
	attr        json.RawMessage
	start       time.Time
	word, extra string
}

// finish commits row as done with the attributes the call returned, and
// publishes them to the resource's dependents.
func (a *applier) finish(r *run, row *state.Row, done state.Status, o outcome, err error) error {
	s := r.step
	if errors.Is(err, errInterrupted) {
		return a.interrupted(s, err)
	}
	if err != nil {
		return a.fail(s, o.start, err)
	}
	row.Status, row.Attr = done, o.attr
	if err := a.commit(row); err != nil {
		return a.fail(s, o.start, err)
	}
	r.attrs = decodeMap(o.attr)
	a.succeed(s, o.word, o.start, o.extra)
	return nil
}

// create brings a new resource into existence, or resumes one whose create
// was interrupted (the same instance, so the same physical name).
func (a *applier) create(r *run, props map[string]any) error {
	s := r.step
	row, err := a.baseRow(s, props)
	if err != nil {
		return a.fail(s, time.Now(), err)
	}
	row.Status = state.Creating
	row.InstanceID = state.NewInstanceID()
	if s.Row != nil {
		row.InstanceID = s.Row.InstanceID
	}
	o, err := a.bringUp(r, row, props, s.Row, "creating", "created")
	return a.finish(r, row, state.Created, o, err)
}

// bringUp makes the generation row describes exist: it looks for a
// resource already there (providers that can Read), takes it over when it
// is provably ours or --adopt says so, refuses otherwise, and creates it
// when there is none. row is committed, claimed, before the provider is
// asked to create anything, so a kill at any point leaves a row that the
// next run resumes without mistaking someone else's resource for its own.
// evidence is the row as it was before this run (nil for a new resource):
// its claim proves an earlier run of this resource issued the create.
func (a *applier) bringUp(r *run, row *state.Row, props map[string]any, evidence *state.Row, status, word string) (outcome, error) {
	s := r.step
	o := outcome{word: word}
	// Provider calls hold a concurrency slot; commits never do. A commit
	// made outside a slot shares its flush with every other resource
	// committing at the same time, instead of costing each slot a flush of
	// its own. The time reported starts with the first slot.
	var req *Request
	callProvider := func(fn func(ctx context.Context) error) error {
		return a.call(s, func(ctx context.Context) error {
			if req == nil {
				o.start = time.Now()
				a.report(s, status, time.Time{}, "")
				var err error
				if req, err = a.request(s, row.InstanceID, props, nil); err != nil {
					return err
				}
			}
			return fn(ctx)
		})
	}
	create := func() error {
		return callProvider(func(ctx context.Context) (err error) {
			o.attr, err = s.provider.Create(ctx, req)
			return err
		})
	}
	reader, _ := s.provider.(Reader)
	if reader == nil {
		// Nothing outside alchemy to find: whatever Create makes is ours.
		row.Claimed = true
		if err := a.commit(row); err != nil {
			return o, err
		}
		return o, create()
	}
	var found *Found
	look := func() error {
		return callProvider(func(ctx context.Context) (err error) {
			found, err = reader.Read(ctx, req)
			if err != nil {
				return fmt.Errorf("looking for an existing resource before creating it: %w", err)
			}
			return nil
		})
	}
	if err := look(); err != nil {
		return o, err
	}
	if found == nil {
		row.Claimed = true
		if err := a.commit(row); err != nil {
			return o, err
		}
		err := create()
		if !errors.Is(err, ErrAlreadyExists) {
			return o, err
		}
		// Taken between the look and the create: judge what is there now,
		// without counting the claim just made, unless this very call may
		// have made it (an attempt whose answer was lost).
		createErr := err
		if err := look(); err != nil || found == nil {
			return o, createErr
		}
		judgeBy := evidence
		if errors.Is(createErr, ErrMaybeCreated) {
			judgeBy = row
		}
		why, refused := a.ownership(s, found, judgeBy)
		if refused != nil {
			if judgeBy != row {
				a.unclaim(s, row, evidence)
			}
			return o, refused
		}
		o.extra = why
	} else {
		why, refused := a.ownership(s, found, evidence)
		if refused != nil {
			return o, refused
		}
		o.extra = why
		row.Claimed, row.Attr = true, found.Attr
		if err := a.commit(row); err != nil {
			return o, err
		}
	}
	// Take it over: converge it from what it is to what is declared.
	a.note(s, o.extra)
	o.word = "adopted"
	err := callProvider(func(ctx context.Context) (err error) {
		req.OldProps, req.OldAttr = found.Props, found.Attr
		o.attr, err = s.provider.Update(ctx, req)
		return err
	})
	return o, err
}

// unclaim takes back the claim bringUp committed for a create that found
// the name taken by a resource that is not ours: the row must not make it
// look like ours to the next run or to destroy.
func (a *applier) unclaim(s *Step, row *state.Row, evidence *state.Row) {
	if evidence == nil && row.Status == state.Creating {
		_ = a.store.Delete(a.commits, a.spec.Stack, a.spec.Stage, row.FQN)
		return
	}
	row.Claimed = evidence != nil && evidence.Claimed && evidence.InstanceID == row.InstanceID
	_ = a.commit(row)
}

// ownership is the one adoption policy: a resource found where a create is
// about to happen may be taken over when it is provably this resource's
// (its ownership tags, a name generated from this instance, or this row's
// own claimed create), or when --adopt says so; never when it cannot be
// (another account). why says which; refused says why not, naming --adopt.
func (a *applier) ownership(s *Step, f *Found, evidence *state.Row) (why string, refused error) {
	return judge(a.spec, s, f, evidence, a.adopt)
}

func judge(spec *Spec, s *Step, f *Found, evidence *state.Row, adopt bool) (why string, refused error) {
	name := f.Name
	if name == "" {
		name = "it"
	}
	switch {
	case f.Unadoptable != "":
		return "", fmt.Errorf("Cannot create %s (%s): %s already exists and %s, so it cannot be taken over. Choose another name.", s.FQN, s.Type, name, f.Unadoptable)
	case provenOurs(spec, s.FQN, f, evidence):
		if f.Stamp == nil && !f.Generated {
			return fmt.Sprintf("%s is the one an interrupted create of this resource made: taking it over", name), nil
		}
		if f.Generated {
			return fmt.Sprintf("%s already exists with the name this resource generated: taking it over", name), nil
		}
		return fmt.Sprintf("%s already exists with this resource's ownership tags: taking it over", name), nil
	case adopt:
		if f.Stamp != nil {
			return fmt.Sprintf("%s belongs to %s: taking it over (--adopt)", name, f.Stamp), nil
		}
		return fmt.Sprintf("%s already exists: taking it over (--adopt)", name), nil
	}
	owner := ""
	if f.Stamp != nil {
		owner = fmt.Sprintf(" (its ownership tags name %s)", f.Stamp)
	}
	return "", fmt.Errorf("Cannot adopt resource '%s' (%s): %s exists in the cloud but is not owned by this stack/stage/logical-id%s. Re-run with `--adopt` to take it over, or choose another name.", s.FQN, s.Type, name, owner)
}

// provenOurs reports whether a found resource is provably the one of the
// resource fqn: it carries its stamp, its name was generated from its
// instance, or evidence (its row) shows it created it and nothing says
// otherwise (no stamp, from a provider that would have written one).
func provenOurs(spec *Spec, fqn string, f *Found, evidence *state.Row) bool {
	if f.Unadoptable != "" {
		return false
	}
	mine := Stamp{Stack: spec.Stack, Stage: spec.Stage, ID: fqn}
	return (f.Stamp != nil && *f.Stamp == mine) || f.Generated ||
		(f.Stamp == nil && !f.StampedOnCreate && evidenceClaims(evidence))
}

// evidenceClaims reports whether a row proves that this resource itself
// created (or took over) whatever exists under its name.
func evidenceClaims(row *state.Row) bool {
	if row == nil {
		return false
	}
	if row.Claimed {
		return true
	}
	switch row.Status {
	case state.Creating, state.Replacing:
		return false // the TypeScript tool's, or from before claims: proves nothing
	}
	return len(row.Attr) > 0
}

func (a *applier) update(r *run, props map[string]any) error {
	s := r.step
	row, err := a.baseRow(s, props)
	if err != nil {
		return a.fail(s, time.Now(), err)
	}
	row.InstanceID = s.Row.InstanceID
	old := s.Row
	if s.Row.Status == state.Updating && s.Row.Old != nil {
		old = s.Row.Old // an interrupted update keeps its last stable snapshot
	}
	done := state.Updated
	if s.Row.Status == state.Replaced {
		row.Old, done = s.Row.Old, state.Replaced // old generations still await deletion
	} else {
		row.Old = snapshotOf(s.Row, old)
	}
	row.Status, row.Attr = state.Updating, old.Attr
	if err := a.commit(row); err != nil {
		return a.fail(s, time.Now(), err)
	}
	o := outcome{word: "updated"}
	from := old
	if s.Live != nil {
		// A refresh read it: converge from what it is, not what it was.
		from = &state.Row{Props: s.Live.Props, Attr: s.Live.Attr}
	}
	err = a.call(s, func(ctx context.Context) error {
		o.start = time.Now()
		a.report(s, "updating", time.Time{}, "")
		req, err := a.request(s, row.InstanceID, props, from)
		if err != nil {
			return err
		}
		o.attr, err = s.provider.Update(ctx, req)
		return err
	})
	if err == nil && done != state.Replaced {
		row.Old = nil
	}
	return a.finish(r, row, done, o, err)
}

// snapshotOf is the stable row an update starts from, whole: instance id
// and removal policy included, so that a replacement after a failed update
// still knows what to delete and what to keep.
func snapshotOf(row, stable *state.Row) *state.Row {
	snap := *row
	snap.Props, snap.Attr, snap.Old, snap.Claimed = stable.Props, stable.Attr, nil, false
	if !snap.Stable() {
		snap.Status = state.Updated
	}
	return &snap
}

// generationOf is the previous generation a replacement leaves behind: a
// copy of the row, with an updating row's snapshot folded back (it is the
// same resource, not an older generation).
func generationOf(row *state.Row) *state.Row {
	g := *row
	if g.Status == state.Updating {
		if g.Old != nil {
			g.Props = g.Old.Props
		}
		g.Status, g.Old = state.Updated, nil
	}
	return &g
}

func (a *applier) replace(r *run, props map[string]any) error {
	s := r.step
	if s.CleanupOnly {
		r.attrs = decodeMap(s.Row.Attr)
		a.report(s, "no change", time.Time{}, "old generation awaits deletion")
		return nil
	}
	row, err := a.baseRow(s, props)
	if err != nil {
		return a.fail(s, time.Now(), err)
	}
	var evidence *state.Row
	if s.Row.Status == state.Replacing {
		row.InstanceID, row.Old, row.DeleteFirst, row.Claimed = s.Row.InstanceID, s.Row.Old, s.Row.DeleteFirst, s.Row.Claimed
		evidence = s.Row
	} else {
		row.InstanceID, row.Old, row.DeleteFirst = s.NewInstanceID, generationOf(s.Row), s.DeleteFirst
		if row.InstanceID == "" {
			row.InstanceID = state.NewInstanceID()
		}
	}
	row.Status = state.Replacing
	if row.DeleteFirst && row.Old != nil {
		for _, g := range row.Old.Generations() {
			if g.RemovalPolicy == "retain" {
				return a.fail(s, time.Now(), fmt.Errorf("%s must be replaced, its new generation needs the name of the current one, and the current one has removal policy retain, so it can be neither kept nor deleted. Remove alchemy.Retain() from %s for this deploy, or give it a new name", s.FQN, s.FQN))
			}
		}
	}
	if err := a.commit(row); err != nil {
		return a.fail(s, time.Now(), err)
	}
	if row.DeleteFirst && row.Old != nil {
		a.note(s, "Deleting the current resource before creating its replacement, which needs the same name...")
		for _, g := range row.Old.Generations() {
			if err := a.deleteGeneration(s, g, nil); err != nil {
				if errors.Is(err, errInterrupted) {
					return a.interrupted(s, err)
				}
				return a.fail(s, time.Now(), fmt.Errorf("deleting it before its replacement: %w", err))
			}
		}
		row.Old = nil
		if err := a.commit(row); err != nil {
			return a.fail(s, time.Now(), err)
		}
	}
	done := state.Replaced
	if row.Old == nil {
		done = state.Created
	}
	o, err := a.bringUp(r, row, props, evidence, "creating replacement", "replaced")
	return a.finish(r, row, done, o, err)
}

// deleteGeneration deletes one generation of a resource, but only what is
// provably this resource's: a generation with attributes was created (or
// taken over) by it; one without (a create interrupted or refused) is
// looked up first and deleted only if it is ours. current, when set, is the
// generation that replaces it: if both are the same cloud resource, nothing
// is deleted.
func (a *applier) deleteGeneration(s *Step, g *state.Row, current *state.Row) error {
	if g.RemovalPolicy == "retain" {
		a.note(s, "Keeping the old generation (removal policy: retain)")
		return nil
	}
	if id, ok := s.provider.(Identifier); ok && current != nil && len(g.Attr) > 0 && len(current.Attr) > 0 {
		if old := id.Identity(g.Attr); old != "" && old == id.Identity(current.Attr) {
			a.note(s, fmt.Sprintf("The old generation is the same cloud resource as the new one (%s): not deleting it", old))
			return nil
		}
	}
	reader, _ := s.provider.(Reader)
	proven := len(g.Attr) > 0 && evidenceClaims(g)
	return a.call(s, func(ctx context.Context) error {
		req, err := a.request(s, g.InstanceID, nil, g)
		if err != nil {
			return err
		}
		switch {
		case proven:
		case reader != nil:
			// Look it up by the props it was being created with.
			req.Props = req.OldProps
			found, err := reader.Read(ctx, req)
			if err != nil {
				return fmt.Errorf("looking for it before deleting it: %w", err)
			}
			req.Props = nil
			if found == nil {
				return nil
			}
			if !provenOurs(a.spec, s.FQN, found, g) {
				name := found.Name
				if name == "" {
					name = "the resource found under its name"
				}
				a.note(s, fmt.Sprintf("Not deleting %s: this stack never created it", name))
				return nil
			}
			req.OldAttr = found.Attr
		case !g.Claimed:
			return nil // its create was never issued
		}
		return s.provider.Delete(ctx, req)
	})
}

// collectReplaced deletes the old generations of a replaced resource,
// outermost first, then collapses the row to created.
func (a *applier) collectReplaced(r *run) error {
	s := r.step
	row, err := a.store.Get(a.commits, a.spec.Stack, a.spec.Stage, s.FQN)
	if err != nil || row == nil || row.Status != state.Replaced {
		return err
	}
	start := time.Now()
	for row.Old != nil {
		old := row.Old
		if err := a.deleteGeneration(s, old, row); err != nil {
			if errors.Is(err, errInterrupted) {
				return a.interrupted(s, err)
			}
			return a.fail(s, start, fmt.Errorf("deleting the replaced generation: %w", err))
		}
		row.Old = nil
		if old.Status == state.Replacing || old.Status == state.Replaced {
			row.Old = old.Old
		}
		if row.Old == nil {
			row.Status = state.Created
		}
		if err := a.commit(row); err != nil {
			return a.fail(s, start, err)
		}
	}
	a.report(s, "cleaned up", start, "replaced generation deleted")
	return nil
}

// deleteOrphan deletes a resource that is no longer declared, after every
// resource that depended on it.
func (a *applier) deleteOrphan(r *run) error {
	s := r.step
	for _, d := range s.Row.Downstream {
		// Not finished only in a cycle of deletions (see phase): this
		// one goes first.
		if dr := a.runs[d]; dr != nil && dr.step.Action == Delete && finished(dr) && dr.err != nil {
			return a.skip(s, fmt.Errorf("skipped because deleting %s failed", d))
		}
	}
	start := time.Now()
	retain := s.Row.RemovalPolicy == "retain"
	if s.Gone && len(s.Row.Generations()) == 1 {
		// A refresh found it gone already: only its row is left.
		retain = false
	} else if !retain {
		gens := s.Row.Generations()
		if evidenceClaims(s.Row) {
			// A row that proves nothing (a create refused or never issued)
			// stays as it is: marked deleting, it would look like ours.
			row := *s.Row
			if row.Status == state.Updating {
				row.Old = nil // its snapshot is the same resource
			}
			row.Status = state.Deleting
			if err := a.commit(&row); err != nil {
				return a.fail(s, start, err)
			}
		}
		a.report(s, "deleting", time.Time{}, "")
		for _, g := range gens {
			if err := a.deleteGeneration(s, g, nil); err != nil {
				if errors.Is(err, errInterrupted) {
					return a.interrupted(s, err)
				}
				return a.fail(s, start, err)
			}
		}
	}
	if err := a.store.Delete(a.commits, a.spec.Stack, a.spec.Stage, s.FQN); err != nil {
		return a.fail(s, start, err)
	}
	if retain {
		a.succeed(s, "retained", start, "")
	} else {
		a.succeed(s, "deleted", start, "")
	}
	return nil
}

func (a *applier) interrupted(s *Step, err error) error {
	a.mu.Lock()
	a.result.Interrupted = true
	a.mu.Unlock()
	return a.skip(s, err)
}

func (a *applier) writeOutputs() {
	out := map[string]any{}
	stored := map[string]any{}
	for _, o := range a.spec.Outputs {
		v, known, err := o.Value.Eval(a.lookup)
		if err != nil || !known {
			if err == nil {
				err = errors.New("its value is not known")
			}
			a.result.Failures = append(a.result.Failures, Failure{FQN: "output " + o.Name, Type: "output", Err: a.scrub.err(err)})
			return
		}
		v = normalize(v)
		out[o.Name], stored[o.Name] = v, v
		if IsSecret(o.Value) {
			out[o.Name] = SecretPlaceholder
			if stored[o.Name], err = a.secrets.Seal(a.spec.where("", o.Name), v); err != nil {
				a.result.Failures = append(a.result.Failures, Failure{FQN: "output " + o.Name, Type: "output", Err: err})
				return
			}
		}
	}
	a.result.Outputs = out
	if prev, err := a.store.GetOutput(a.commits, a.spec.Stack, a.spec.Stage); err == nil && prev != nil {
		if same, err := sameOutputs(a.secrets, a.spec, decodeMap(prev), a.spec.Outputs, a.lookup); err == nil && same {
			return
		}
	}
	raw, _ := json.Marshal(stored)
	if err := a.store.SetOutput(a.commits, a.spec.Stack, a.spec.Stage, raw); err != nil {
		a.result.Outputs = nil
		a.result.Failures = append(a.result.Failures, Failure{FQN: "stack output", Type: "output", Err: err})
	}
}

// SecretPlaceholder stands for a secret stack output wherever outputs are
// shown.
const SecretPlaceholder = "(secret)"

// sameOutputs reports whether the saved output record holds exactly the
// outputs' values now (secrets compared through the codec).
func sameOutputs(c *secret.Codec, spec *Spec, prev map[string]any, outputs []NamedValue, lookup Lookup) (bool, error) {
	if len(prev) != len(outputs) {
		return false, nil
	}
	for _, o := range outputs {
		v, known, err := o.Value.Eval(lookup)
		if err != nil || !known {
			return false, err
		}
		old, ok := prev[o.Name]
		if !ok {
			return false, nil
		}
		if IsSecret(o.Value) || secret.IsSealed(old) {
			match, rewrite, err := c.Matches(spec.where("", o.Name), old, normalize(v))
			if err != nil || !match || rewrite {
				return false, err
			}
			continue
		}
		if !reflect.DeepEqual(old, normalize(v)) {
			return false, nil
		}
	}
	return true, nil
}

// finishDestroy removes what is left of the stage and checks that nothing is.
func (a *applier) finishDestroy() {
	if len(a.result.Failures) > 0 || a.result.Interrupted {
		return
	}
	fail := func(err error) {
		a.result.Failures = append(a.result.Failures, Failure{FQN: a.spec.Stack + "/" + a.spec.Stage, Type: "stage", Err: err})
	}
	if err := a.store.DeleteStage(a.commits, a.spec.Stack, a.spec.Stage); err != nil {
		fail(err)
		return
	}
	left, err := a.store.List(a.commits, a.spec.Stack, a.spec.Stage)
	if err != nil {
		fail(err)
		return
	}
	if len(left) > 0 {
		fail(fmt.Errorf("destroy of %s/%s reported success but %d state row(s) remain (%s)", a.spec.Stack, a.spec.Stage, len(left), strings.Join(left, ", ")))
	}
}

func (a *applier) downstream(fqn string) []string {
	d := append([]string{}, a.plan.downstream[fqn]...)
	sort.Strings(d)
	return d
}

func removalPolicy(n *Node) string {
	if n.Retain {
		return "retain"
	}
	return "destroy"
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// panicSite is the first frames of a panic's stack that are not the
// runtime's or the engine's: where in the provider it happened.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	var out []string
	for i := 0; i+1 < len(lines) && len(out) < 4; i++ {
		fn := lines[i]
		if strings.HasPrefix(fn, "\t") || fn == "" || strings.HasPrefix(fn, "goroutine ") {
			continue
		}
		if strings.HasPrefix(fn, "runtime/") || strings.HasPrefix(fn, "panic(") || strings.Contains(fn, "internal/engine.") {
			continue
		}
		out = append(out, "    at "+fn+" ("+strings.TrimSpace(lines[i+1])+")")
	}
	return strings.Join(out, "\n")
}
