package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/state"
)

// cloud is a test provider with a stateful "cloud" it records calls on.
type cloud struct {
	mu      sync.Mutex
	objects map[string]map[string]any // instanceID -> props
	calls   []string
	failOn  map[string]error // FQN -> error on create/update
	replace []string
}

func newCloud() *cloud {
	return &cloud{objects: map[string]map[string]any{}, failOn: map[string]error{}}
}

func (c *cloud) Type() string { return "Test.Thing" }
func (c *cloud) Auth() string { return "" }
func (c *cloud) Version() int { return 0 }
func (c *cloud) Diff(_, _ json.RawMessage, changed []string) (engine.Change, error) {
	for _, k := range changed {
		for _, r := range c.replace {
			if k == r {
				return engine.ChangeReplace, nil
			}
		}
	}
	if len(changed) > 0 {
		return engine.ChangeUpdate, nil
	}
	return engine.ChangeNone, nil
}

func (c *cloud) put(op string, r *engine.Request) (json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, op+" "+r.FQN)
	if err := c.failOn[r.FQN]; err != nil {
		return nil, err
	}
	var props map[string]any
	_ = json.Unmarshal(r.Props, &props)
	c.objects[r.InstanceID] = props
	return json.Marshal(map[string]any{"id": r.FQN + "@" + r.InstanceID[:6], "echo": props["value"]})
}

func (c *cloud) Create(_ context.Context, r *engine.Request) (json.RawMessage, error) {
	return c.put("create", r)
}
func (c *cloud) Update(_ context.Context, r *engine.Request) (json.RawMessage, error) {
	return c.put("update", r)
}
func (c *cloud) Delete(_ context.Context, r *engine.Request) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, "delete "+r.FQN)
	delete(c.objects, r.InstanceID)
	return nil
}

func (c *cloud) takeCalls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	sort.Strings(out)
	return out
}

type lit struct{ v any }

func (lit) Deps() []string                          { return nil }
func (l lit) Eval(engine.Lookup) (any, bool, error) { return l.v, true, nil }

type ref struct{ fqn, attr string }

func (r ref) Deps() []string { return []string{r.fqn} }
func (r ref) Eval(l engine.Lookup) (any, bool, error) {
	a, ok := l(r.fqn)
	if !ok {
		return nil, false, nil
	}
	return a[r.attr], true, nil
}

type stack struct {
	c     *cloud
	nodes []*engine.Node
}

func (s *stack) add(id string, props map[string]engine.Value) {
	s.nodes = append(s.nodes, &engine.Node{FQN: id, LogicalID: id, Type: "Test.Thing", Props: props, Provider: s.c})
}

func (s *stack) spec(stage string) *engine.Spec {
	return &engine.Spec{Stack: "app", Stage: stage, Nodes: s.nodes}
}

func deploy(t *testing.T, spec *engine.Spec, store state.Store, destroy bool) (*engine.Plan, *engine.Result) {
	t.Helper()
	ctx := context.Background()
	p, err := engine.BuildPlan(ctx, spec, store, destroy, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p, engine.Apply(ctx, spec, p, store, nil, 4, nil)
}

func actions(p *engine.Plan) string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.FQN+":"+string(s.Action))
	}
	return strings.Join(out, " ")
}

func TestLifecycle(t *testing.T) {
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	c := newCloud()
	c.replace = []string{"zone"}
	s := &stack{c: c}
	s.add("A", map[string]engine.Value{"value": lit{"a1"}, "zone": lit{"z1"}})
	s.add("B", map[string]engine.Value{"value": ref{"A", "id"}})

	// Create: B waits for A and reads its attribute.
	p, res := deploy(t, s.spec("dev"), store, false)
	if got := actions(p); got != "A:create B:create" {
		t.Fatalf("plan = %s", got)
	}
	if !p.Steps[1].Unknown["value"] {
		t.Fatal("B.value should be unknown at plan time")
	}
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	rowA, _ := store.Get(context.Background(), "app", "dev", "A")
	rowB, _ := store.Get(context.Background(), "app", "dev", "B")
	if rowA.Status != state.Created || rowB.Status != state.Created {
		t.Fatalf("statuses %s %s", rowA.Status, rowB.Status)
	}
	if fmt.Sprint(rowA.Downstream) != "[B]" {
		t.Fatalf("A.downstream = %v", rowA.Downstream)
	}
	var bProps map[string]any
	json.Unmarshal(rowB.Props, &bProps)
	if !strings.HasPrefix(bProps["value"].(string), "A@") {
		t.Fatalf("B did not get A's id: %v", bProps)
	}
	c.takeCalls()

	// No-op: nothing is called, and B's value is known at plan time.
	p, res = deploy(t, s.spec("dev"), store, false)
	if got := actions(p); got != "A:noop B:noop" || p.HasChanges() {
		t.Fatalf("re-plan = %s", got)
	}
	if calls := c.takeCalls(); len(calls) != 0 || res.Err() != nil {
		t.Fatalf("no-op deploy called %v (%v)", calls, res.Err())
	}

	// Update A in place: B's input did not change (A's id is stable).
	s.nodes[0].Props["value"] = lit{"a2"}
	p, res = deploy(t, s.spec("dev"), store, false)
	// B's input is only known once A is applied, so the plan says update;
	// the apply finds it unchanged and makes no call for B.
	if got := actions(p); got != "A:update B:update" {
		t.Fatalf("update plan = %s", got)
	}
	if calls := c.takeCalls(); fmt.Sprint(calls) != "[update A]" || res.Err() != nil {
		t.Fatalf("calls = %v (%v)", calls, res.Err())
	}

	// Replace A: a new instance, B updated with the new id in the same
	// deploy, the old A deleted last.
	s.nodes[0].Props["zone"] = lit{"z2"}
	oldInstance := rowA.InstanceID
	p, res = deploy(t, s.spec("dev"), store, false)
	if got := actions(p); got != "A:replace B:update" {
		t.Fatalf("replace plan = %s", got)
	}
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	if calls := c.takeCalls(); fmt.Sprint(calls) != "[create A delete A update B]" {
		t.Fatalf("replace calls = %v", calls)
	}
	rowA, _ = store.Get(context.Background(), "app", "dev", "A")
	if rowA.InstanceID == oldInstance || rowA.Status != state.Created || rowA.Old != nil {
		t.Fatalf("after replace: %+v", rowA)
	}
	if _, ok := c.objects[oldInstance]; ok {
		t.Fatal("old generation not deleted")
	}
	rowB, _ = store.Get(context.Background(), "app", "dev", "B")
	json.Unmarshal(rowB.Props, &bProps)
	if !strings.HasPrefix(bProps["value"].(string), "A@"+rowA.InstanceID[:6]) {
		t.Fatalf("B still reads the old A: %v", bProps)
	}
	if p, _ = deploy(t, s.spec("dev"), store, false); p.HasChanges() {
		t.Fatalf("after replace, plan = %s", actions(p))
	}

	// Remove B from the stack: it is deleted.
	s.nodes = s.nodes[:1]
	p, res = deploy(t, s.spec("dev"), store, false)
	if got := actions(p); got != "A:noop B:delete" || res.Err() != nil {
		t.Fatalf("removal plan = %s (%v)", got, res.Err())
	}
	if rows, _ := store.List(context.Background(), "app", "dev"); fmt.Sprint(rows) != "[A]" {
		t.Fatalf("rows = %v", rows)
	}

	// Destroy: everything goes, then the stage's state.
	p, res = deploy(t, s.spec("dev"), store, true)
	if got := actions(p); got != "A:delete" || res.Err() != nil {
		t.Fatalf("destroy = %s (%v)", got, res.Err())
	}
	if len(c.objects) != 0 {
		t.Fatalf("left in cloud: %v", c.objects)
	}
	if stages, _ := store.Stages(context.Background(), "app"); len(stages) != 0 {
		t.Fatalf("stages left: %v", stages)
	}
}

func TestFailureStopsOnlyDependents(t *testing.T) {
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	c := newCloud()
	c.failOn["A"] = errors.New("boom")
	c.failOn["C"] = errors.New("bang")
	s := &stack{c: c}
	s.add("A", map[string]engine.Value{"value": lit{1}})
	s.add("B", map[string]engine.Value{"value": ref{"A", "id"}})
	s.add("C", map[string]engine.Value{"value": lit{3}})
	s.add("D", map[string]engine.Value{"value": lit{4}})
	_, res := deploy(t, s.spec("dev"), store, false)
	err := res.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"✗ A (Test.Thing): boom", "✗ C (Test.Thing): bang", "⊘ B (Test.Thing): skipped because A failed", "2 resource(s) failed (1 more skipped)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	if row, _ := store.Get(context.Background(), "app", "dev", "D"); row == nil || row.Status != state.Created {
		t.Fatalf("independent D not created: %+v", row)
	}
	// The failed create left a creating row: the next deploy resumes it with
	// the same instance.
	rowA, _ := store.Get(context.Background(), "app", "dev", "A")
	if rowA.Status != state.Creating {
		t.Fatalf("A status = %s", rowA.Status)
	}
	delete(c.failOn, "A")
	delete(c.failOn, "C")
	p, res := deploy(t, s.spec("dev"), store, false)
	if got := actions(p); got != "A:create B:create C:create D:noop" || res.Err() != nil {
		t.Fatalf("resume plan = %s (%v)", got, res.Err())
	}
	again, _ := store.Get(context.Background(), "app", "dev", "A")
	if again.InstanceID != rowA.InstanceID {
		t.Fatal("resumed create changed the instance id")
	}
	if len(c.objects) != 4 {
		t.Fatalf("objects = %d, want 4 (nothing duplicated)", len(c.objects))
	}
}

func TestStagesAreIsolated(t *testing.T) {
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	c := newCloud()
	s := &stack{c: c}
	s.add("A", map[string]engine.Value{"value": lit{1}})
	deploy(t, s.spec("dev"), store, false)
	deploy(t, s.spec("prod"), store, false)
	devA, _ := store.Get(context.Background(), "app", "dev", "A")
	prodA, _ := store.Get(context.Background(), "app", "prod", "A")
	if devA.InstanceID == prodA.InstanceID {
		t.Fatal("stages share an instance")
	}
	deploy(t, s.spec("dev"), store, true)
	if row, _ := store.Get(context.Background(), "app", "prod", "A"); row == nil {
		t.Fatal("destroying dev touched prod")
	}
	if len(c.objects) != 1 {
		t.Fatalf("objects = %d", len(c.objects))
	}
}

func TestPlanErrors(t *testing.T) {
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	s := &stack{c: newCloud()}
	s.add("A", map[string]engine.Value{"v": ref{"B", "id"}})
	s.add("B", map[string]engine.Value{"v": ref{"A", "id"}})
	_, err := engine.BuildPlan(context.Background(), s.spec("dev"), store, false, engine.Options{})
	if err == nil || !strings.Contains(err.Error(), "circular dependency between resources: A -> B -> A") {
		t.Fatalf("cycle: %v", err)
	}
	s = &stack{c: newCloud()}
	s.add("A", map[string]engine.Value{"v": ref{"Nope", "id"}})
	_, err = engine.BuildPlan(context.Background(), s.spec("dev"), store, false, engine.Options{})
	if err == nil || !strings.Contains(err.Error(), "A reads an output of Nope, which is not declared") {
		t.Fatalf("missing dep: %v", err)
	}
}

func TestInterruptStopsNewWork(t *testing.T) {
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	c := newCloud()
	s := &stack{c: c}
	for i := range 20 {
		s.add(fmt.Sprintf("R%02d", i), map[string]engine.Value{"value": lit{i}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := engine.BuildPlan(ctx, s.spec("dev"), store, false, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	res := engine.Apply(ctx, s.spec("dev"), p, store, nil, 1, nil)
	if !res.Interrupted {
		t.Fatal("not interrupted")
	}
	// Whatever started was committed; the next deploy finishes the rest
	// without duplicates.
	_, res = deploy(t, s.spec("dev"), store, false)
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	if len(c.objects) != 20 {
		t.Fatalf("objects = %d", len(c.objects))
	}
}

// A read of the rows started ahead serves the plan of its own stack and
// stage, and only that one; a stopped one is never taken.
func TestBuildPlanReadAhead(t *testing.T) {
	ctx := context.Background()
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	s := &stack{c: newCloud()}
	s.add("A", map[string]engine.Value{"value": lit{"a"}})
	if _, res := deploy(t, s.spec("dev"), store, false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	plan := func(ahead *engine.ReadAhead) string {
		t.Helper()
		p, err := engine.BuildPlan(ctx, s.spec("dev"), store, false, engine.Options{Rows: ahead})
		if err != nil {
			t.Fatal(err)
		}
		return actions(p)
	}
	if got := plan(engine.StartReadAhead(ctx, store, "app", "dev")); got != "A:noop" {
		t.Errorf("plan with the stage read ahead = %s", got)
	}
	// Read ahead for another stage (nothing there): the plan reads its own.
	if got := plan(engine.StartReadAhead(ctx, store, "app", "prod")); got != "A:noop" {
		t.Errorf("plan with another stage read ahead = %s", got)
	}
	// The rows read ahead are what the plan sees: taken from a store that
	// has since lost the row, the plan still finds it.
	ahead := engine.StartReadAhead(ctx, store, "app", "dev")
	other := state.NewLocal(filepath.Join(t.TempDir(), "empty"))
	p, err := engine.BuildPlan(ctx, s.spec("dev"), other, false, engine.Options{Rows: ahead})
	if err != nil || actions(p) != "A:noop" {
		t.Errorf("plan from rows read ahead = %v, %v", p, err)
	}
	// Stopped, or cancelled before it read anything: its error is the plan's.
	stopped := engine.StartReadAhead(ctx, store, "app", "dev")
	stopped.Stop()
	if _, err := engine.BuildPlan(ctx, s.spec("dev"), store, false, engine.Options{Rows: stopped}); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("plan with a stopped read ahead: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := engine.BuildPlan(ctx, s.spec("dev"), store, false, engine.Options{Rows: engine.StartReadAhead(cctx, store, "app", "dev")}); !errors.Is(err, context.Canceled) {
		t.Errorf("plan with a cancelled read ahead: %v", err)
	}
}

// Planned in waves on several goroutines, a plan is the plan made in
// order: a node sees the steps of the earlier nodes it reads, never those
// of later ones.
func TestBuildPlanInWaves(t *testing.T) {
	ctx := context.Background()
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	s := &stack{c: newCloud()}
	for i := range 300 {
		s.add(fmt.Sprintf("A%03d", i), map[string]engine.Value{"value": lit{fmt.Sprint(i)}})
	}
	// Later reads A000 (so it is planned after A000's wave, with Z planned
	// by then) and Z, which is declared after it.
	s.add("Later", map[string]engine.Value{"value": ref{"Z", "id"}, "a": ref{"A000", "id"}})
	for i := range 300 {
		s.add(fmt.Sprintf("B%03d", i), map[string]engine.Value{"value": ref{fmt.Sprintf("A%03d", i), "id"}})
	}
	s.add("Z", map[string]engine.Value{"value": lit{"z"}})
	if _, res := deploy(t, s.spec("dev"), store, false); res.Err() != nil {
		t.Fatal(res.Err())
	}
	p, err := engine.BuildPlan(ctx, s.spec("dev"), store, false, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range p.Steps {
		if st.FQN != s.nodes[i].FQN {
			t.Fatalf("step %d is %s, want %s (declaration order)", i, st.FQN, s.nodes[i].FQN)
		}
		want := engine.Noop
		if st.FQN == "Later" {
			// Z's attributes are not published to a node before it: its
			// value is unknown at plan time, as it was planned in order.
			want = engine.Update
			if !st.Unknown["value"] {
				t.Errorf("Later.value is known at plan time")
			}
		} else if len(st.Unknown) > 0 {
			t.Errorf("%s has unknown props %v", st.FQN, st.Unknown)
		}
		if st.Action != want {
			t.Errorf("%s: %s, want %s", st.FQN, st.Action, want)
		}
	}
	// A node whose plan fails leaves its readers unknown, as in order.
	s.nodes[0].Type = "Other.Thing" // A000: state holds a Test.Thing there
	if _, err := engine.BuildPlan(ctx, s.spec("dev"), store, false, engine.Options{}); err == nil || !strings.Contains(err.Error(), "A000 (Other.Thing)") {
		t.Fatalf("plan with a failing node: %v", err)
	}
}

type panicky struct{}

func (panicky) Deps() []string                        { return nil }
func (panicky) Eval(engine.Lookup) (any, bool, error) { panic("a stack's own bug") }

// A panic while props are evaluated on the planning goroutines goes on in
// the caller's, so its deferred calls (a lease's release) run.
func TestBuildPlanPanicReachesTheCaller(t *testing.T) {
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	s := &stack{c: newCloud()}
	for i := range 300 {
		s.add(fmt.Sprintf("A%03d", i), map[string]engine.Value{"value": lit{fmt.Sprint(i)}})
	}
	s.add("Bad", map[string]engine.Value{"value": panicky{}})
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "a stack's own bug") {
			t.Fatalf("recovered %v, want the stack's panic", r)
		}
	}()
	engine.BuildPlan(context.Background(), s.spec("dev"), store, false, engine.Options{})
	t.Fatal("BuildPlan returned")
}
