package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
)

// Action is what a deploy does to one resource.
type Action string

const (
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Noop    Action = "noop"
	Delete  Action = "delete"
)

// Step is the plan for one resource.
type Step struct {
	FQN       string
	LogicalID string
	Type      string
	Action    Action
	// Node is the declaration; nil for a deletion.
	Node *Node
	// Row is the persisted state; nil for a new resource.
	Row *state.Row
	// Props are the props as far as they are known at plan time; Unknown
	// lists those that are only known after apply.
	Props   map[string]any
	Unknown map[string]bool
	// OldProps are the last applied props, for --detailed; set when they
	// differ from Props.
	OldProps map[string]any
	// Changed lists the props that differ from the last applied ones.
	Changed []string
	// Resume is set when the step finishes an interrupted operation.
	Resume bool
	// CleanupOnly is a replace whose new generation already exists: only
	// the old generations remain to be deleted.
	CleanupOnly bool
	// DeleteFirst is a replace whose new generation would have the old
	// one's name: the old one is deleted before the new one is created.
	DeleteFirst bool
	// NewInstanceID is the instance id of a replacement's new generation.
	NewInstanceID string
	// Secret names the props whose values are secret: never shown, stored
	// sealed.
	Secret map[string]bool
	// What plan --refresh found (Refresh): Live is the resource as it is,
	// Drift the props that changed outside alchemy, Gone that it no longer
	// exists, Exists what a create would find under its name.
	Live   *Found
	Drift  []Drift
	Gone   bool
	Exists string
	// Reseal is set when a secret prop is stored in a form that must be
	// written again (an old unsalted hash, or in clear).
	Reseal   bool
	provider Provider
}

// Drift is a prop changed outside alchemy: Stored is what the last deploy
// applied, Live what the resource has now (both "(secret)" for secrets).
type Drift struct {
	Prop   string `json:"prop"`
	Stored any    `json:"stored"`
	Live   any    `json:"live"`
}

// Plan is what a deploy or destroy will do.
type Plan struct {
	Stack, Stage string
	Destroy      bool
	// Steps are the declared resources in declaration order, then the
	// deletions sorted by FQN.
	Steps []*Step
	// OutputChanges names the stack outputs a deploy would change (new,
	// different, removed, or only known after apply), sorted.
	OutputChanges []string
	// downstream maps a declared FQN to the declared FQNs that read it.
	downstream map[string][]string
	secrets    *secret.Codec
}

// Counts returns how many steps take each action.
func (p *Plan) Counts() map[Action]int {
	c := map[Action]int{}
	for _, s := range p.Steps {
		c[s.Action]++
	}
	return c
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	for _, s := range p.Steps {
		if s.Action != Noop {
			return true
		}
	}
	return false
}

// Options tune planning and applying.
type Options struct {
	// Credentials resolves an auth provider's credentials, lazily, the first
	// time a resource that needs them is planned.
	Credentials func(ctx context.Context, authName string) error
	// Concurrency bounds provider calls in flight.
	Concurrency int
	// Secrets seals and opens secret props in state (ALCHEMY_PASSWORD, or
	// the keyed hash of the alchemy home).
	Secrets *secret.Codec
	// Refresh reads every resource from its cloud (plan --refresh): what
	// changed outside alchemy is shown and converged, what was deleted is
	// created again. Without it, planning never calls a provider.
	Refresh bool
	// Resolve gives the credentials Refresh's reads need.
	Resolve CredentialsFunc
	// Adopt is deploy --adopt (what a refresh says about existing
	// resources depends on it).
	Adopt bool
	// Rows, when set, is a read of the stage's rows started earlier: the
	// plan takes them from it instead of reading the store (if it read the
	// same stack and stage).
	Rows *ReadAhead
	// Writes, when set, records the refresh's provider calls as
	// ApplyOptions.Writes does the apply's.
	Writes *LocalWrites
}

// ReadAhead reads a stage's rows in the background, to be taken by one
// plan.
type ReadAhead struct {
	stack, stage string
	cancel       context.CancelFunc
	done         chan struct{}
	rows         map[string]*state.Row
	err          error
}

// StartReadAhead starts reading the rows of stack/stage from store.
func StartReadAhead(ctx context.Context, store state.Store, stack, stage string) *ReadAhead {
	ctx, cancel := context.WithCancel(ctx)
	r := &ReadAhead{stack: stack, stage: stage, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.rows, r.err = state.LoadAll(ctx, store, stack, stage)
	}()
	return r
}

// Stop abandons the read and waits until it stopped.
func (r *ReadAhead) Stop() {
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// take returns the rows once read, if they are those of stack/stage.
func (r *ReadAhead) take(stack, stage string) (rows map[string]*state.Row, ok bool, err error) {
	if r == nil {
		return nil, false, nil
	}
	<-r.done
	r.cancel()
	if r.stack != stack || r.stage != stage {
		return nil, false, nil
	}
	return r.rows, true, r.err
}

// BuildPlan compares the spec with the stage's state. It never writes.
func BuildPlan(ctx context.Context, spec *Spec, store state.Store, destroy bool, opts Options) (*Plan, error) {
	rows, ok, err := opts.Rows.take(spec.Stack, spec.Stage)
	if !ok {
		rows, err = state.LoadAll(ctx, store, spec.Stack, spec.Stage)
	}
	if err != nil {
		return nil, err
	}
	p := &Plan{Stack: spec.Stack, Stage: spec.Stage, Destroy: destroy, downstream: map[string][]string{}, secrets: opts.Secrets,
		Steps: make([]*Step, 0, max(len(spec.Nodes), len(rows)))}
	if p.secrets == nil {
		p.secrets = secret.New("", "")
	}
	declared := make(map[string]*Step, len(spec.Nodes))
	needAuth := func(prov Provider) error {
		if prov.Auth() == "" || opts.Credentials == nil {
			return nil
		}
		return opts.Credentials(ctx, prov.Auth())
	}
	if !destroy {
		seen := make(map[string]bool, len(spec.Nodes))
		for _, n := range spec.Nodes {
			if seen[n.FQN] {
				return nil, fmt.Errorf("resource id %q is declared twice in stack %s: logical ids must be unique", n.FQN, spec.Stack)
			}
			seen[n.FQN] = true
		}
		for _, n := range spec.Nodes {
			for _, d := range n.Deps() {
				if !seen[d] {
					return nil, fmt.Errorf("%s reads an output of %s, which is not declared in this stack", n.FQN, d)
				}
				p.downstream[d] = append(p.downstream[d], n.FQN)
			}
		}
		if err := checkCycles(spec.Nodes); err != nil {
			return nil, err
		}
		var live map[string]*liveState
		if opts.Refresh {
			for _, n := range spec.Nodes {
				if err := needAuth(n.Provider); err != nil {
					return nil, err
				}
			}
			if live, err = refresh(ctx, spec, p.secrets, opts.Resolve, opts.Writes, rows, declaredProviders(spec)); err != nil {
				return nil, err
			}
		}
		var errs []string
		if live == nil {
			for _, n := range spec.Nodes {
				if err := needAuth(n.Provider); err != nil {
					return nil, err
				}
			}
			steps, stepErrs := planNodes(spec, p.secrets, rows)
			for i, n := range spec.Nodes {
				if err := stepErrs[i]; err != nil {
					errs = append(errs, fmt.Sprintf("%s (%s): %v", n.FQN, n.Type, err))
					continue
				}
				declared[n.FQN] = steps[i]
				p.Steps = append(p.Steps, steps[i])
			}
		} else {
			// A refresh changes steps as they are planned: in order.
			lookup := planLookup(declared)
			for _, n := range spec.Nodes {
				s, err := planNode(spec, p.secrets, n, rows[n.FQN], lookup)
				if err == nil {
					err = applyRefresh(spec, p.secrets, s, live[n.FQN])
				}
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s (%s): %v", n.FQN, n.Type, err))
					continue
				}
				declared[n.FQN] = s
				p.Steps = append(p.Steps, s)
			}
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("planning failed:\n  %s", strings.Join(errs, "\n  "))
		}
		if opts.Refresh {
			if err := probeCreates(ctx, spec, opts.Resolve, opts.Writes, p.Steps, opts.Adopt); err != nil {
				return nil, err
			}
		}
	}
	if !destroy {
		changes, err := outputChanges(ctx, spec, store, p.secrets, declared)
		if err != nil {
			return nil, err
		}
		p.OutputChanges = changes
	}
	var orphans []string
	for fqn := range rows {
		if declared[fqn] == nil {
			orphans = append(orphans, fqn)
		}
	}
	sort.Strings(orphans)
	providerFor := providers(spec)
	for _, fqn := range orphans {
		row := rows[fqn]
		prov, err := providerFor(row.ResourceType)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fqn, err)
		}
		if err := checkVersion(row, prov); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", fqn, row.ResourceType, err)
		}
		if err := needAuth(prov); err != nil {
			return nil, err
		}
		step := &Step{FQN: fqn, LogicalID: row.LogicalID, Type: row.ResourceType, Action: Delete,
			Row: row, OldProps: decodeMap(row.Props), provider: prov}
		if opts.Refresh {
			live, err := refresh(ctx, spec, p.secrets, opts.Resolve, opts.Writes, map[string]*state.Row{fqn: row}, func(string) Provider { return prov })
			if err != nil {
				return nil, err
			}
			if l := live[fqn]; l != nil && l.found == nil {
				step.Gone = true
			}
		}
		p.Steps = append(p.Steps, step)
	}
	return p, nil
}

func declaredProviders(spec *Spec) func(fqn string) Provider {
	byFQN := make(map[string]Provider, len(spec.Nodes))
	for _, n := range spec.Nodes {
		byFQN[n.FQN] = n.Provider
	}
	return func(fqn string) Provider { return byFQN[fqn] }
}

// liveState is what a refresh read found of one resource: found is nil
// when it no longer exists.
type liveState struct {
	found *Found
}

// refreshWorkers bounds the reads of a refresh.
const refreshWorkers = 16

// readJob is one read of a refresh: the resource a row (or, for a create,
// the declared props) names.
type readJob struct {
	fqn, logicalID, instanceID string
	props, attr                json.RawMessage
	reader                     Reader
	prov                       Provider
}

// refresh reads, from its cloud, every resource of rows that a stable row
// describes and whose provider can Read.
func refresh(ctx context.Context, spec *Spec, codec *secret.Codec, resolve CredentialsFunc, writes *LocalWrites, rows map[string]*state.Row, provider func(string) Provider) (map[string]*liveState, error) {
	var jobs []readJob
	for fqn, row := range rows {
		prov := provider(fqn)
		if prov == nil || row == nil || !row.Stable() || len(row.Attr) == 0 {
			continue
		}
		r, ok := prov.(Reader)
		if !ok {
			continue
		}
		props, err := codec.OpenProps(row.Props)
		if err != nil {
			return nil, fmt.Errorf("refreshing %s (%s): %w", fqn, row.ResourceType, err)
		}
		jobs = append(jobs, readJob{fqn: fqn, logicalID: row.LogicalID, instanceID: row.InstanceID, props: props, attr: row.Attr, reader: r, prov: prov})
	}
	return readAll(ctx, spec, resolve, writes, jobs)
}

// readAll runs reads with bounded concurrency.
func readAll(ctx context.Context, spec *Spec, resolve CredentialsFunc, writes *LocalWrites, jobs []readJob) (map[string]*liveState, error) {
	out := make(map[string]*liveState, len(jobs))
	var mu sync.Mutex
	var firstErr error
	next := make(chan readJob)
	var wg sync.WaitGroup
	for range min(refreshWorkers, len(jobs)) {
		wg.Go(func() {
			for j := range next {
				req := spec.request(j.fqn, j.logicalID, j.instanceID, j.props)
				req.OldAttr = j.attr
				req.Note = func(string) {}
				if writes != nil {
					writes.called(j.prov, req)
				}
				var err error
				var found *Found
				if name := j.prov.Auth(); name != "" && resolve != nil {
					req.Credentials, err = resolve(ctx, name)
				}
				if err == nil {
					found, err = j.reader.Read(ctx, req)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("refreshing %s (%s): %w", j.fqn, j.prov.Type(), err)
				}
				out[j.fqn] = &liveState{found: found}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return out, firstErr
}

// probeCreates looks, for every resource about to be created, for one
// already under its name, and says what the deploy will do with it.
func probeCreates(ctx context.Context, spec *Spec, resolve CredentialsFunc, writes *LocalWrites, steps []*Step, adopt bool) error {
	var jobs []readJob
	byFQN := map[string]*Step{}
	for _, s := range steps {
		r, ok := s.provider.(Reader)
		if !ok || s.Action != Create || s.Row != nil || len(s.Unknown) > 0 {
			continue
		}
		props, _ := json.Marshal(s.Props)
		jobs = append(jobs, readJob{fqn: s.FQN, logicalID: s.LogicalID, instanceID: state.NewInstanceID(), props: props, reader: r, prov: s.provider})
		byFQN[s.FQN] = s
	}
	found, err := readAll(ctx, spec, resolve, writes, jobs)
	if err != nil {
		return err
	}
	for fqn, l := range found {
		f := l.found
		if f == nil {
			continue
		}
		s := byFQN[fqn]
		if why, refused := judge(spec, s, f, nil, adopt); refused != nil {
			s.Exists = "the deploy will refuse it: " + refused.Error()
		} else {
			s.Exists = why
		}
	}
	return nil
}

// applyRefresh changes a declared resource's step by what its refresh
// found: gone, it is created again (same instance); changed outside
// alchemy, it is updated from what it is now.
func applyRefresh(spec *Spec, codec *secret.Codec, s *Step, l *liveState) error {
	if l == nil {
		return nil
	}
	if l.found == nil {
		s.Gone = true
		if s.Action != Replace {
			s.Action, s.Resume = Create, true
		}
		return nil
	}
	s.Live = l.found
	if len(l.found.Props) == 0 {
		return nil
	}
	stored, live := decodeMap(s.Row.Props), decodeMap(l.found.Props)
	changed, _, err := diffProps(codec, spec, s.FQN, stored, live, nil, s.Secret)
	if err != nil {
		return err
	}
	for _, k := range changed {
		if _, read := live[k]; !read && secret.IsSealed(stored[k]) {
			// A secret stored as a hash: nothing can read it back to compare.
			continue
		}
		d := Drift{Prop: k, Stored: stored[k], Live: live[k]}
		if s.Secret[k] || secret.IsSealed(d.Stored) {
			d.Stored, d.Live = SecretPlaceholder, SecretPlaceholder
		}
		s.Drift = append(s.Drift, d)
	}
	if len(s.Drift) > 0 && s.Action == Noop {
		// Converge it back to what the stack declares.
		s.Action = Update
		for _, d := range s.Drift {
			s.Changed = append(s.Changed, d.Prop)
		}
	}
	return nil
}

func outputChanges(ctx context.Context, spec *Spec, store state.Store, codec *secret.Codec, declared map[string]*Step) ([]string, error) {
	raw, err := store.GetOutput(ctx, spec.Stack, spec.Stage)
	if err != nil {
		return nil, err
	}
	prev := decodeMap(raw)
	var changed []string
	seen := map[string]bool{}
	for _, o := range spec.Outputs {
		seen[o.Name] = true
		same, err := sameOutputs(codec, spec, map[string]any{o.Name: prev[o.Name]}, []NamedValue{o}, planLookup(declared))
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Name, err)
		}
		if _, ok := prev[o.Name]; !ok || !same {
			changed = append(changed, o.Name)
		}
	}
	for name := range prev {
		if !seen[name] {
			changed = append(changed, name)
		}
	}
	sort.Strings(changed)
	return changed, nil
}

// planNode applies the decision table: the persisted status and the diff
// decide the action, so a row left mid-operation is resumed.
func planNode(spec *Spec, codec *secret.Codec, n *Node, row *state.Row, lookup Lookup) (*Step, error) {
	s := &Step{FQN: n.FQN, LogicalID: n.LogicalID, Type: n.Type, Node: n, Row: row, provider: n.Provider, Secret: secretProps(n)}
	props, unknown, err := evalProps(n, lookup)
	if err != nil {
		return nil, err
	}
	s.Props, s.Unknown = props, unknown
	if row == nil {
		s.Action = Create
		return s, nil
	}
	if row.ResourceType != n.Type {
		return nil, fmt.Errorf("state holds a %s at this id; remove it with `alchemy state delete` or use another id", row.ResourceType)
	}
	if err := checkVersion(row, n.Provider); err != nil {
		return nil, err
	}
	if !storedAsDeclared(row.Props, props, unknown, s.Secret) {
		old := decodeMap(row.Props)
		s.OldProps = old
		if s.Changed, s.Reseal, err = diffProps(codec, spec, n.FQN, old, props, unknown, s.Secret); err != nil {
			return nil, fmt.Errorf("reading its state: %w", err)
		}
	}
	change := ChangeNone
	if len(s.Changed) > 0 {
		oldJSON, err := codec.OpenProps(row.Props)
		if err != nil {
			return nil, fmt.Errorf("reading its state: %w", err)
		}
		newJSON, _ := json.Marshal(props)
		if change, err = n.Provider.Diff(oldJSON, newJSON, s.Changed); err != nil {
			return nil, err
		}
	}
	switch row.Status {
	case state.Creating, state.Deleting:
		s.Action, s.Resume = Create, true
		if change == ChangeReplace && row.Status == state.Creating {
			s.Action = Replace
		}
	case state.Updating:
		s.Action, s.Resume = Update, true
		if change == ChangeReplace {
			s.Action = Replace
		}
	case state.Replacing:
		s.Action, s.Resume, s.DeleteFirst = Replace, true, row.DeleteFirst
		return s, nil
	case state.Replaced:
		switch change {
		case ChangeNone:
			s.Action, s.CleanupOnly = Replace, true
			return s, nil
		case ChangeUpdate:
			s.Action = Update
		default:
			s.Action = Replace
		}
	default:
		s.Action = map[Change]Action{ChangeNone: Noop, ChangeUpdate: Update, ChangeReplace: Replace}[change]
	}
	if s.Action == Replace {
		s.NewInstanceID = state.NewInstanceID()
		s.DeleteFirst = sameName(spec, codec, n, row, props, s.NewInstanceID)
	}
	return s, nil
}

// storedAsDeclared reports whether the stored props are, byte for byte,
// what the declared ones marshal to (as this tool stores them): then
// nothing changed, and a plan need not decode and compare them (most
// resources of most plans). Secrets, sealed values and unknown props take
// the long way.
func storedAsDeclared(stored json.RawMessage, props map[string]any, unknown, secrets map[string]bool) bool {
	if len(secrets) > 0 || len(unknown) > 0 || bytes.Contains(stored, []byte(`"__secret__"`)) {
		return false
	}
	declared, ok := appendSimpleJSON(nil, props)
	if !ok {
		var err error
		if declared, err = json.Marshal(props); err != nil {
			return false
		}
	}
	return bytes.Equal(declared, stored)
}

// appendSimpleJSON appends props as json.Marshal writes them when every
// value is a plain string (printable ASCII that needs no escape), an
// integral number below 2^53, a boolean or null; otherwise ok is false
// and json.Marshal must do it. It is how most resources' props look, and
// a no-op plan of 10,000 resources marshalled each through reflection.
func appendSimpleJSON(b []byte, props map[string]any) (_ []byte, ok bool) {
	var small [8]string
	keys := small[:0]
	for k := range props {
		if !plainJSONString(k) {
			return b, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		switch v := props[k].(type) {
		case nil:
			b = append(b, "null"...)
		case bool:
			b = strconv.AppendBool(b, v)
		case string:
			if !plainJSONString(v) {
				return b, false
			}
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		case float64:
			if v != math.Trunc(v) || math.Abs(v) >= 1<<53 || (v == 0 && math.Signbit(v)) {
				return b, false
			}
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			return b, false
		}
	}
	return append(b, '}'), true
}

// plainJSONString reports whether encoding/json writes s as is between
// quotes: printable ASCII without '"', '\\' or the HTML characters it
// escapes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// sameName reports whether a replacement's new generation would get the
// name of the generation it replaces: then both cannot exist at once.
func sameName(spec *Spec, codec *secret.Codec, n *Node, old *state.Row, props map[string]any, newInstance string) bool {
	id, ok := n.Provider.(Identifier)
	if !ok {
		return false
	}
	newProps, _ := json.Marshal(props)
	oldProps, err := codec.OpenProps(old.Props)
	if err != nil {
		return false
	}
	oldName := id.Name(spec.request(n.FQN, n.LogicalID, old.InstanceID, oldProps))
	newName := id.Name(spec.request(n.FQN, n.LogicalID, newInstance, newProps))
	return oldName != "" && oldName == newName
}

// checkVersion refuses a row written by a newer version of its provider:
// its fields may mean something this version would misread.
func checkVersion(row *state.Row, p Provider) error {
	if row.ProviderVersion > p.Version() {
		return fmt.Errorf("its state row was written by version %d of the %s provider, and this alchemy has version %d: upgrade alchemy (go get -u github.com/alchemy-go/alchemy) and re-run", row.ProviderVersion, row.ResourceType, p.Version())
	}
	return nil
}

// planLookup publishes, at plan time, only the attributes that will not
// change: those of a resource that stays as it is.
func planLookup(declared map[string]*Step) Lookup {
	return func(fqn string) (map[string]any, bool) {
		return stableAttrs(declared[fqn])
	}
}

func stableAttrs(s *Step) (map[string]any, bool) {
	if s == nil || s.Action != Noop || s.Row == nil || !s.Row.Stable() {
		return nil, false
	}
	return decodeMap(s.Row.Attr), true
}

// planNodes plans every node as planNode would one after the other, in
// their order: a node sees the steps of the nodes it reads that come
// before it (and, like in order, none that comes after). Nodes that read
// nothing planned, or only what is planned already, are planned together
// on the available CPUs: a no-op plan of 10,000 resources was otherwise
// one long loop on one core, the slower the busier the machine.
func planNodes(spec *Spec, codec *secret.Codec, rows map[string]*state.Row) ([]*Step, []error) {
	nodes := spec.Nodes
	steps := make([]*Step, len(nodes))
	errs := make([]error, len(nodes))
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		index[n.FQN] = i
	}
	// A node's wave is one after the latest of the earlier nodes it reads.
	wave := make([]int, len(nodes))
	var waves [][]int
	for i, n := range nodes {
		for _, d := range n.Deps() {
			if j, ok := index[d]; ok && j < i {
				wave[i] = max(wave[i], wave[j]+1)
			}
		}
		for len(waves) <= wave[i] {
			waves = append(waves, nil)
		}
		waves[wave[i]] = append(waves[wave[i]], i)
	}
	plan := func(i int) {
		lookup := func(fqn string) (map[string]any, bool) {
			if j, ok := index[fqn]; ok && j < i {
				return stableAttrs(steps[j])
			}
			return nil, false
		}
		steps[i], errs[i] = planNode(spec, codec, nodes[i], rows[nodes[i].FQN], lookup)
		if errs[i] != nil {
			steps[i] = nil
		}
	}
	for _, w := range waves {
		workers := min(runtime.GOMAXPROCS(0), len(w)/planBatch)
		if workers < 2 {
			for _, i := range w {
				plan(i)
			}
			continue
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		var panicked atomic.Value
		for range workers {
			wg.Go(func() {
				// A panic (in a stack's own code evaluating props) goes on in
				// the caller's goroutine, whose deferred calls (the lease's
				// release) must still run.
				defer func() {
					if r := recover(); r != nil {
						panicked.CompareAndSwap(nil, fmt.Sprintf("%v\n\n%s", r, debug.Stack()))
					}
				}()
				for {
					end := int(next.Add(planBatch))
					start := end - planBatch
					if start >= len(w) {
						return
					}
					for _, i := range w[start:min(end, len(w))] {
						plan(i)
					}
				}
			})
		}
		wg.Wait()
		if r := panicked.Load(); r != nil {
			panic(r)
		}
	}
	return steps, errs
}

// planBatch is how many nodes a planning worker takes at once; a wave
// smaller than two batches is planned on one goroutine.
const planBatch = 64

// evalProps evaluates every prop; unknown ones are left out of the map and
// listed.
func evalProps(n *Node, lookup Lookup) (map[string]any, map[string]bool, error) {
	props := make(map[string]any, len(n.Props))
	var unknown map[string]bool // nil until a prop is unknown
	for name, v := range n.Props {
		if v == nil {
			continue
		}
		val, known, err := v.Eval(lookup)
		if err != nil {
			return nil, nil, fmt.Errorf("prop %s: %w", name, err)
		}
		if !known {
			if unknown == nil {
				unknown = map[string]bool{}
			}
			unknown[name] = true
			continue
		}
		props[name] = normalize(val)
	}
	return props, unknown, nil
}

// normalize turns a Go value into its JSON form (maps, slices, float64,
// strings, bools) so that comparisons with values read back from state are
// exact.
func normalize(v any) any {
	switch v := v.(type) {
	case nil, bool, float64:
		return v
	case string:
		if utf8.ValidString(v) {
			return v // JSON would replace invalid bytes: the long way does
		}
	case int:
		if f := float64(v); int(f) == v {
			return f
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func decodeMap(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}

// checkCycles rejects a dependency cycle, naming its members.
func checkCycles(nodes []*Node) error {
	byFQN := make(map[string]*Node, len(nodes))
	for _, n := range nodes {
		byFQN[n.FQN] = n
	}
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(nodes))
	var stack []string
	var visit func(fqn string) error
	visit = func(fqn string) error {
		color[fqn] = grey
		stack = append(stack, fqn)
		for _, d := range byFQN[fqn].Deps() {
			switch color[d] {
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				return fmt.Errorf("circular dependency between resources: %s -> %s", strings.Join(stack[i:], " -> "), d)
			case white:
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[fqn] = black
		return nil
	}
	for _, n := range nodes {
		if color[n.FQN] == white {
			if err := visit(n.FQN); err != nil {
				return err
			}
		}
	}
	return nil
}
