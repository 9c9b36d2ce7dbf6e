package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
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
	// Counts of terminal statuses, for the summary line.
	Succeeded, Failed, Skipped int
}

// Err summarises the failures, or is nil.
func (r *Result) Err() error {
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

type applier struct {
	spec  *Spec
	plan  *Plan
	store state.Store
	creds CredentialsFunc
	rep   Reporter
	// interrupt is cancelled on Ctrl-C: no new provider call starts after it.
	interrupt context.Context
	// work is never cancelled: a provider call in flight finishes and its
	// result is committed.
	work context.Context
	sem  chan struct{}
	// adopt is deploy --adopt.
	adopt bool

	mu       sync.Mutex
	result   Result
	runs     map[string]*run
	finalize []func()
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
	// Adopt lets providers take over existing resources this stack does not
	// own (deploy --adopt).
	Adopt bool
}

// ApplyWith is Apply with options.
func ApplyWith(ctx context.Context, spec *Spec, p *Plan, store state.Store, creds CredentialsFunc, o ApplyOptions, rep Reporter) *Result {
	concurrency := o.Concurrency
	if concurrency < 1 {
		concurrency = 1
	}
	a := &applier{spec: spec, plan: p, store: store, creds: creds, rep: rep, adopt: o.Adopt,
		interrupt: ctx, work: context.WithoutCancel(ctx), sem: make(chan struct{}, concurrency),
		runs: map[string]*run{}}
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
	a.phase(declared, a.applyDeclared)
	if len(a.result.Failures) == 0 && !a.result.Interrupted {
		// Old generations of replaced resources and resources removed from
		// the stack go last, dependents first.
		a.phase(gc, a.collectReplaced)
		a.phase(deletions, a.deleteOrphan)
	} else {
		for _, r := range deletions {
			a.skip(r.step, errors.New("not deleted: the deploy failed before resources removed from the stack are deleted"))
		}
	}
	if p.Destroy {
		a.finishDestroy()
	} else if len(a.result.Failures) == 0 && !a.result.Interrupted {
		a.writeOutputs()
	}
	// Commits are durable already; this puts them in their final layout.
	if err := state.Flush(a.work, store); err != nil {
		a.result.Failures = append(a.result.Failures, Failure{FQN: spec.Stack + "/" + spec.Stage, Type: "state", Err: err})
	}
	return &a.result
}

// phase runs fn for every run concurrently; each run's done channel closes
// when its fn returns, which is what its dependents wait on.
func (a *applier) phase(runs []*run, fn func(*run) error) {
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(r.done)
			r.err = fn(r)
		}()
	}
	wg.Wait()
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

func (a *applier) fail(s *Step, start time.Time, err error) error {
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

func (a *applier) succeed(s *Step, status string, start time.Time) {
	a.mu.Lock()
	a.result.Succeeded++
	a.mu.Unlock()
	a.report(s, status, start, "")
}

// call runs one provider call: it holds a concurrency slot, refuses to start
// after an interrupt, and is never cancelled once started.
func (a *applier) call(s *Step, fn func(ctx context.Context) error) error {
	select {
	case a.sem <- struct{}{}:
	case <-a.interrupt.Done():
		return errInterrupted
	}
	defer func() { <-a.sem }()
	if a.interrupt.Err() != nil {
		return errInterrupted
	}
	return fn(a.work)
}

var errInterrupted = errors.New("interrupted before it started")

func (a *applier) lookup(fqn string) (map[string]any, bool) {
	a.mu.Lock()
	r := a.runs[fqn]
	a.mu.Unlock()
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
	if err := a.store.Set(a.work, a.spec.Stack, a.spec.Stage, row); err != nil {
		return fmt.Errorf("could not save state: %w", err)
	}
	return nil
}

func (a *applier) request(s *Step, instanceID string, props map[string]any, old *state.Row) (*Request, error) {
	r := &Request{Stack: a.spec.Stack, Stage: a.spec.Stage, FQN: s.FQN, LogicalID: s.LogicalID, InstanceID: instanceID, Adopt: a.adopt,
		Note: func(msg string) { a.report(s, "note", time.Time{}, msg) }}
	if props != nil {
		r.Props, _ = json.Marshal(props)
	}
	if old != nil {
		r.OldProps, r.OldAttr = old.Props, old.Attr
	}
	if name := s.provider.Auth(); name != "" && a.creds != nil {
		c, err := a.creds(a.work, name)
		if err != nil {
			return nil, err
		}
		r.Credentials = c
	}
	return r, nil
}

// applyDeclared brings one declared resource to its planned state.
func (a *applier) applyDeclared(r *run) error {
	s := r.step
	for _, dep := range s.Node.Deps() {
		d := a.runs[dep]
		<-d.done
		if d.err != nil {
			return a.skip(s, fmt.Errorf("skipped because %s failed", dep))
		}
	}
	if s.Action == Noop {
		return a.keep(r)
	}
	start := time.Now()
	props, unknown, err := evalProps(s.Node, a.lookup)
	if err != nil {
		return a.fail(s, start, err)
	}
	if len(unknown) > 0 {
		return a.fail(s, start, fmt.Errorf("props %v are still unknown after their dependencies were applied", keys(unknown)))
	}
	if s.Action == Update && s.Row.Stable() && s.Row.Status != state.Replaced && len(s.Unknown) > 0 {
		// Planned as an update only because an input was not known yet; now
		// that it is, nothing may have changed after all.
		if reflect.DeepEqual(normalize(storedForm(props, s.Node.Secret)), decodeMap(s.Row.Props)) {
			return a.keep(r)
		}
	}
	switch s.Action {
	case Create:
		return a.create(r, props, start)
	case Update:
		return a.update(r, props, start)
	case Replace:
		return a.replace(r, props, start)
	}
	return fmt.Errorf("unexpected action %s", s.Action)
}

// keep leaves a resource as it is, saving only metadata that changed (who
// depends on it, its removal policy), which destroy relies on.
func (a *applier) keep(r *run) error {
	s := r.step
	r.attrs = decodeMap(s.Row.Attr)
	if !equalStrings(s.Row.Downstream, a.downstream(s.FQN)) || (s.Row.RemovalPolicy == "retain") != s.Node.Retain {
		row := *s.Row
		row.Downstream, row.RemovalPolicy = a.downstream(s.FQN), removalPolicy(s.Node)
		if err := a.commit(&row); err != nil {
			return a.fail(s, time.Time{}, err)
		}
	}
	a.report(s, "no change", time.Time{}, "")
	return nil
}

func (a *applier) baseRow(s *Step, props map[string]any) *state.Row {
	stored, _ := json.Marshal(storedForm(props, s.Node.Secret))
	return &state.Row{Kind: "resource", ResourceType: s.Type, FQN: s.FQN, LogicalID: s.LogicalID,
		Downstream: a.downstream(s.FQN), Props: stored, RemovalPolicy: removalPolicy(s.Node)}
}

// transition is one provider call of a declared resource and the rows
// committed around it.
type transition struct {
	row      *state.Row // committed with status before the call
	status   string     // reported while the call runs
	old      *state.Row // last applied props and attributes, for updates
	update   bool       // Update, else Create
	done     state.Status
	doneWord string
}

// provision commits t.row, makes the provider call, and commits the row
// again with the attributes it returned. The first commit happens before the
// resource waits for a concurrency slot, so it shares its flush with every
// other resource committing at the same time instead of costing each slot
// a flush of its own (after an interrupt, resources that never got a slot
// are left "creating": the next deploy resumes them with the same instance,
// so nothing is duplicated). The time reported starts with the slot.
func (a *applier) provision(r *run, props map[string]any, _ time.Time, t transition) error {
	s := r.step
	if err := a.commit(t.row); err != nil {
		return a.fail(s, time.Now(), err)
	}
	var attr json.RawMessage
	var start time.Time
	err := a.call(s, func(ctx context.Context) error {
		start = time.Now()
		a.report(s, t.status, time.Time{}, "")
		req, err := a.request(s, t.row.InstanceID, props, t.old)
		if err != nil {
			return err
		}
		if t.update {
			attr, err = s.provider.Update(ctx, req)
		} else {
			attr, err = s.provider.Create(ctx, req)
		}
		return err
	})
	if errors.Is(err, errInterrupted) {
		return a.interrupted(s)
	}
	if err != nil {
		return a.fail(s, start, err)
	}
	t.row.Status, t.row.Attr = t.done, attr
	if t.done != state.Replaced && t.update {
		t.row.Old = nil
	}
	if err := a.commit(t.row); err != nil {
		return a.fail(s, start, err)
	}
	r.attrs = decodeMap(attr)
	a.succeed(s, t.doneWord, start)
	return nil
}

func (a *applier) create(r *run, props map[string]any, start time.Time) error {
	s := r.step
	row := a.baseRow(s, props)
	row.InstanceID = state.NewInstanceID()
	if s.Row != nil {
		row.InstanceID = s.Row.InstanceID // resume with the same physical name
	}
	row.Status = state.Creating
	return a.provision(r, props, start, transition{row: row, status: "creating", done: state.Created, doneWord: "created"})
}

func (a *applier) update(r *run, props map[string]any, start time.Time) error {
	s := r.step
	row := a.baseRow(s, props)
	row.InstanceID = s.Row.InstanceID
	old := s.Row
	if s.Row.Status == state.Updating && s.Row.Old != nil {
		old = s.Row.Old // an interrupted update keeps its last stable snapshot
	}
	done := state.Updated
	if s.Row.Status == state.Replaced {
		row.Old, done = s.Row.Old, state.Replaced // old generations still await deletion
	} else {
		row.Old = &state.Row{Props: old.Props, Attr: old.Attr, Status: state.Updated}
	}
	row.Status, row.Attr = state.Updating, old.Attr
	return a.provision(r, props, start, transition{row: row, status: "updating", old: old, update: true, done: done, doneWord: "updated"})
}

func (a *applier) replace(r *run, props map[string]any, start time.Time) error {
	s := r.step
	if s.CleanupOnly {
		r.attrs = decodeMap(s.Row.Attr)
		a.report(s, "no change", time.Time{}, "old generation awaits deletion")
		return nil
	}
	row := a.baseRow(s, props)
	if s.Row.Status == state.Replacing {
		row.InstanceID, row.Old = s.Row.InstanceID, s.Row.Old
	} else {
		prev := *s.Row
		row.InstanceID, row.Old = state.NewInstanceID(), &prev
	}
	row.Status = state.Replacing
	return a.provision(r, props, start, transition{row: row, status: "replacing", done: state.Replaced, doneWord: "replaced"})
}

// collectReplaced deletes the old generations of a replaced resource,
// outermost first, then collapses the row to created.
func (a *applier) collectReplaced(r *run) error {
	s := r.step
	row, err := a.store.Get(a.work, a.spec.Stack, a.spec.Stage, s.FQN)
	if err != nil || row == nil || row.Status != state.Replaced {
		return err
	}
	start := time.Now()
	for row.Old != nil {
		old := row.Old
		if old.RemovalPolicy != "retain" {
			req, err := a.request(s, old.InstanceID, nil, old)
			if err != nil {
				return a.fail(s, start, err)
			}
			err = a.call(s, func(ctx context.Context) error { return s.provider.Delete(ctx, req) })
			if errors.Is(err, errInterrupted) {
				return a.interrupted(s)
			}
			if err != nil {
				return a.fail(s, start, fmt.Errorf("deleting the replaced generation: %w", err))
			}
		}
		row.Old = old.Old
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
		a.mu.Lock()
		dr := a.runs[d]
		a.mu.Unlock()
		if dr == nil || dr.step.Action != Delete {
			continue
		}
		<-dr.done
		if dr.err != nil {
			return a.skip(s, fmt.Errorf("skipped because deleting %s failed", d))
		}
	}
	start := time.Now()
	row := *s.Row
	retain := row.RemovalPolicy == "retain"
	if !retain {
		row.Status = state.Deleting
		if err := a.commit(&row); err != nil {
			return a.fail(s, start, err)
		}
		a.report(s, "deleting", time.Time{}, "")
		// Delete every generation: an interrupted replacement leaves old ones.
		for gen := &row; gen != nil; gen = gen.Old {
			if gen != &row && gen.RemovalPolicy == "retain" {
				continue
			}
			req, err := a.request(s, gen.InstanceID, nil, gen)
			if err != nil {
				return a.fail(s, start, err)
			}
			err = a.call(s, func(ctx context.Context) error { return s.provider.Delete(ctx, req) })
			if errors.Is(err, errInterrupted) {
				return a.interrupted(s)
			}
			if err != nil {
				return a.fail(s, start, err)
			}
		}
	}
	if err := a.store.Delete(a.work, a.spec.Stack, a.spec.Stage, s.FQN); err != nil {
		return a.fail(s, start, err)
	}
	if retain {
		a.succeed(s, "retained", start)
	} else {
		a.succeed(s, "deleted", start)
	}
	return nil
}

func (a *applier) interrupted(s *Step) error {
	a.mu.Lock()
	a.result.Interrupted = true
	a.mu.Unlock()
	return a.skip(s, errors.New("not started: interrupted"))
}

func (a *applier) writeOutputs() {
	out := map[string]any{}
	for _, o := range a.spec.Outputs {
		v, known, err := o.Value.Eval(a.lookup)
		if err != nil || !known {
			if err == nil {
				err = errors.New("its value is not known")
			}
			a.result.Failures = append(a.result.Failures, Failure{FQN: "output " + o.Name, Type: "output", Err: err})
			return
		}
		out[o.Name] = normalize(v)
	}
	raw, _ := json.Marshal(out)
	a.result.Outputs = out
	if prev, err := a.store.GetOutput(a.work, a.spec.Stack, a.spec.Stage); err == nil && prev != nil && reflect.DeepEqual(decodeMap(prev), normalize(out)) {
		return
	}
	if err := a.store.SetOutput(a.work, a.spec.Stack, a.spec.Stage, raw); err != nil {
		a.result.Outputs = nil
		a.result.Failures = append(a.result.Failures, Failure{FQN: "stack output", Type: "output", Err: err})
	}
}

// finishDestroy removes what is left of the stage and checks that nothing is.
func (a *applier) finishDestroy() {
	if len(a.result.Failures) > 0 || a.result.Interrupted {
		return
	}
	fail := func(err error) {
		a.result.Failures = append(a.result.Failures, Failure{FQN: a.spec.Stack + "/" + a.spec.Stage, Type: "stage", Err: err})
	}
	if err := a.store.DeleteStage(a.work, a.spec.Stack, a.spec.Stage); err != nil {
		fail(err)
		return
	}
	left, err := a.store.List(a.work, a.spec.Stack, a.spec.Stage)
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
