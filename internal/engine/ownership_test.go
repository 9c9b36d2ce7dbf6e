package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/state"
)

// named is a test cloud of resources with unique names, ids and ownership
// stamps, like a cloud account: the provider implements Read and
// Identifier, and every call is recorded in order.
type named struct {
	mu    sync.Mutex
	byID  map[string]*thing
	next  int
	calls []string
	// Hooks run inside the provider calls (under no lock).
	beforeCreate func(r *engine.Request)
	failUpdate   error
	panicOn      string // FQN whose Create panics
	// lostAnswer makes Create create the thing, lose the answer, retry
	// and report the name taken (wrapping ErrMaybeCreated), unstamped.
	lostAnswer bool
	// stampedOnCreate: Read says the stamp is written by Create itself.
	stampedOnCreate bool
	// notReader hides Read, for the providers that cannot look things up.
	version int
}

type thing struct {
	id, name string
	stamp    *engine.Stamp
	props    map[string]any
}

func newNamed() *named { return &named{byID: map[string]*thing{}} }

func (c *named) Type() string { return "Test.Named" }
func (c *named) Auth() string { return "" }
func (c *named) Version() int { return c.version }

// Props: "name" (explicit name; else generated from the instance), "zone"
// (replaces), "size" (updates in place).
func (c *named) Diff(_, _ json.RawMessage, changed []string) (engine.Change, error) {
	for _, k := range changed {
		if k == "zone" || k == "name" {
			return engine.ChangeReplace, nil
		}
	}
	if len(changed) > 0 {
		return engine.ChangeUpdate, nil
	}
	return engine.ChangeNone, nil
}

func props(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(raw, &m)
	return m
}

func (c *named) Name(r *engine.Request) string {
	if n, _ := props(r.Props)["name"].(string); n != "" {
		return n
	}
	return "gen-" + r.FQN + "-" + r.InstanceID[:8]
}

func (c *named) Identity(attr json.RawMessage) string {
	id, _ := props(attr)["id"].(string)
	return id
}

func (c *named) record(op string, r *engine.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, op+" "+r.FQN)
}

func (c *named) find(name string) *thing {
	for _, t := range c.byID {
		if t.name == name {
			return t
		}
	}
	return nil
}

// put adds a resource directly, as someone outside alchemy would.
func (c *named) put(name string, stamp *engine.Stamp) *thing {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	t := &thing{id: fmt.Sprintf("id-%d", c.next), name: name, stamp: stamp, props: map[string]any{"name": name}}
	c.byID[t.id] = t
	return t
}

func attrOf(t *thing) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"id": t.id, "name": t.name})
	return b
}

func (c *named) Read(_ context.Context, r *engine.Request) (*engine.Found, error) {
	c.record("read", r)
	c.mu.Lock()
	defer c.mu.Unlock()
	var t *thing
	if id := c.Identity(r.OldAttr); id != "" {
		t = c.byID[id]
	} else {
		t = c.find(c.Name(r))
	}
	if t == nil {
		return nil, nil
	}
	live, _ := json.Marshal(t.props)
	_, explicit := props(r.Props)["name"].(string)
	return &engine.Found{Attr: attrOf(t), Props: live, Name: "thing " + t.name, Stamp: t.stamp,
		Generated: !explicit && strings.HasPrefix(t.name, "gen-"), StampedOnCreate: c.stampedOnCreate}, nil
}

func (c *named) Create(_ context.Context, r *engine.Request) (json.RawMessage, error) {
	c.record("create", r)
	if c.panicOn == r.FQN {
		panic("provider bug")
	}
	if c.beforeCreate != nil {
		c.beforeCreate(r)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	name := c.Name(r)
	if c.find(name) != nil {
		return nil, fmt.Errorf("thing %s: %w", name, engine.ErrAlreadyExists)
	}
	c.next++
	t := &thing{id: fmt.Sprintf("id-%d", c.next), name: name, props: props(r.Props),
		stamp: &engine.Stamp{Stack: r.Stack, Stage: r.Stage, ID: r.FQN}}
	c.byID[t.id] = t
	if c.lostAnswer {
		t.stamp = nil // the tagging after the create never ran
		return nil, fmt.Errorf("thing %s: %w (%w)", name, engine.ErrAlreadyExists, engine.ErrMaybeCreated)
	}
	return attrOf(t), nil
}

func (c *named) Update(_ context.Context, r *engine.Request) (json.RawMessage, error) {
	c.record("update", r)
	if c.failUpdate != nil {
		return nil, c.failUpdate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.byID[c.Identity(r.OldAttr)]
	if t == nil {
		return nil, errors.New("update of a thing that does not exist")
	}
	t.props = props(r.Props)
	t.stamp = &engine.Stamp{Stack: r.Stack, Stage: r.Stage, ID: r.FQN}
	return attrOf(t), nil
}

func (c *named) Delete(_ context.Context, r *engine.Request) error {
	c.record("delete", r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if id := c.Identity(r.OldAttr); id != "" {
		delete(c.byID, id)
		return nil
	}
	if t := c.find(c.Name(&engine.Request{FQN: r.FQN, InstanceID: r.InstanceID, Props: r.OldProps})); t != nil {
		delete(c.byID, t.id)
	}
	return nil
}

func (c *named) takeCalls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *named) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, t := range c.byID {
		out = append(out, t.name)
	}
	slices.Sort(out)
	return out
}

// fixture is one stack of named things over a fresh store.
type fixture struct {
	t     *testing.T
	c     *named
	store *state.Local
	nodes []*engine.Node
	adopt bool
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, c: newNamed(), store: state.NewLocal(filepath.Join(t.TempDir(), "state"))}
}

func (f *fixture) declare(id string, p map[string]any, retain bool) {
	vals := map[string]engine.Value{}
	for k, v := range p {
		vals[k] = lit{v}
	}
	f.nodes = slices.DeleteFunc(f.nodes, func(n *engine.Node) bool { return n.FQN == id })
	f.nodes = append(f.nodes, &engine.Node{FQN: id, LogicalID: id, Type: "Test.Named", Props: vals, Provider: f.c, Retain: retain})
}

func (f *fixture) spec() *engine.Spec {
	return &engine.Spec{Stack: "app", Stage: "dev", Nodes: f.nodes}
}

func (f *fixture) apply(destroy bool) (*engine.Plan, *engine.Result) {
	f.t.Helper()
	ctx := context.Background()
	p, err := engine.BuildPlan(ctx, f.spec(), f.store, destroy, engine.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	return p, engine.ApplyWith(ctx, f.spec(), p, f.store, nil, engine.ApplyOptions{Concurrency: 4, Adopt: f.adopt}, nil)
}

func (f *fixture) row(fqn string) *state.Row {
	f.t.Helper()
	row, err := f.store.Get(context.Background(), "app", "dev", fqn)
	if err != nil {
		f.t.Fatal(err)
	}
	return row
}

func (f *fixture) setRow(row *state.Row) {
	f.t.Helper()
	if err := f.store.Set(context.Background(), "app", "dev", row); err != nil {
		f.t.Fatal(err)
	}
}

func mustOK(t *testing.T, res *engine.Result) {
	t.Helper()
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
}

func mustFail(t *testing.T, res *engine.Result, want ...string) {
	t.Helper()
	err := res.Err()
	if err == nil {
		t.Fatal("apply succeeded, want a failure")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func wantCalls(t *testing.T, c *named, want ...string) {
	t.Helper()
	if got := c.takeCalls(); !slices.Equal(got, want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
}

func TestCreateClaimsBeforeCreating(t *testing.T) {
	f := newFixture(t)
	f.declare("DB", map[string]any{"name": "db1"}, false)
	f.c.beforeCreate = func(r *engine.Request) {
		row := f.row("DB")
		if row == nil || row.Status != state.Creating || !row.Claimed {
			t.Errorf("at Create the row is %+v, want a claimed creating row", row)
		}
	}
	_, res := f.apply(false)
	mustOK(t, res)
	wantCalls(t, f.c, "read DB", "create DB")
	if row := f.row("DB"); row.Status != state.Created || f.c.Identity(row.Attr) == "" {
		t.Fatalf("row = %+v", row)
	}
}

// The adoption decision table: what is found under the declared name, and
// what the row (if any) proves, decide between create, take over and refuse.
func TestAdoptionDecisionTable(t *testing.T) {
	mine := &engine.Stamp{Stack: "app", Stage: "dev", ID: "DB"}
	prod := &engine.Stamp{Stack: "app", Stage: "prod", ID: "DB"}
	for _, tc := range []struct {
		name        string
		stamp       *engine.Stamp // of the existing resource
		generated   bool          // it has the name this resource generates
		row         string        // "", "claimed", "unclaimed": a creating row left by an earlier run
		adopt       bool
		wantAdopted bool
		wantErr     []string
	}{
		{name: "our tags", stamp: mine, wantAdopted: true},
		{name: "no tags", wantErr: []string{"Cannot adopt resource 'DB' (Test.Named): thing db1 exists", "Re-run with `--adopt`"}},
		{name: "no tags with --adopt", adopt: true, wantAdopted: true},
		{name: "another stage's tags", stamp: prod, wantErr: []string{"its ownership tags name app/prod/DB", "--adopt"}},
		{name: "another stage's tags with --adopt", stamp: prod, adopt: true, wantAdopted: true},
		{name: "our interrupted create, before tagging", row: "claimed", wantAdopted: true},
		{name: "an unclaimed creating row proves nothing", row: "unclaimed", wantErr: []string{"--adopt"}},
		{name: "a claimed row does not beat another owner's tags", row: "claimed", stamp: prod, wantErr: []string{"app/prod/DB"}},
		{name: "the name this resource generated", generated: true, row: "unclaimed", wantAdopted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.adopt = tc.adopt
			instance := state.NewInstanceID()
			p := map[string]any{"name": "db1", "size": 2}
			if tc.generated {
				p = map[string]any{"size": 2}
			}
			f.declare("DB", p, false)
			name := "db1"
			if tc.generated {
				name = "gen-DB-" + instance[:8]
			}
			existing := f.c.put(name, tc.stamp)
			if tc.row != "" {
				raw, _ := json.Marshal(p)
				f.setRow(&state.Row{Kind: "resource", ResourceType: "Test.Named", FQN: "DB", LogicalID: "DB",
					InstanceID: instance, Status: state.Creating, Props: raw, Claimed: tc.row == "claimed"})
			}
			_, res := f.apply(false)
			calls := f.c.takeCalls()
			if tc.wantAdopted {
				mustOK(t, res)
				if !slices.Equal(calls, []string{"read DB", "update DB"}) {
					t.Fatalf("calls = %q, want a read and a takeover", calls)
				}
				row := f.row("DB")
				if row.Status != state.Created || f.c.Identity(row.Attr) != existing.id {
					t.Fatalf("row = %+v, want created pointing at %s", row, existing.id)
				}
				if existing.stamp == nil || *existing.stamp != *mine {
					t.Fatalf("taken over but not stamped: %+v", existing.stamp)
				}
				return
			}
			mustFail(t, res, tc.wantErr...)
			if !slices.Equal(calls, []string{"read DB"}) {
				t.Fatalf("calls = %q: a refused resource must only be read", calls)
			}
			row := f.row("DB")
			switch {
			case tc.row == "" && row != nil:
				t.Fatalf("a refused create left a row: %+v", row)
			case tc.row != "" && row != nil && row.Claimed != (tc.row == "claimed"):
				t.Fatalf("the refusal changed the row's claim: %+v", row)
			}
			// Destroy afterwards deletes nothing that is not ours.
			_, res = f.apply(true)
			mustOK(t, res)
			for _, c := range f.c.takeCalls() {
				if strings.HasPrefix(c, "delete") {
					t.Fatalf("destroy after a refused adoption called %q", c)
				}
			}
			if got := f.c.names(); !slices.Equal(got, []string{name}) {
				t.Fatalf("cloud after destroy = %q", got)
			}
		})
	}
}

func TestUnadoptableIsRefusedEvenWithAdopt(t *testing.T) {
	f := newFixture(t)
	f.adopt = true
	f.declare("DB", map[string]any{"name": "db1"}, false)
	f.c.put("db1", nil)
	wrapped := &unadoptable{f.c}
	f.nodes[0].Provider = wrapped
	_, res := f.apply(false)
	mustFail(t, res, "Cannot create DB (Test.Named): thing db1 already exists and it belongs to another account")
}

type unadoptable struct{ *named }

func (u *unadoptable) Read(ctx context.Context, r *engine.Request) (*engine.Found, error) {
	found, err := u.named.Read(ctx, r)
	if found != nil {
		found.Unadoptable = "it belongs to another account"
	}
	return found, err
}

// Someone creates the name between our look and our create: the claim is
// taken back, and nothing of theirs is ever deleted.
func TestCreateRaceIsRefusedAndUnclaimed(t *testing.T) {
	f := newFixture(t)
	f.declare("DB", map[string]any{"name": "db1"}, false)
	f.c.beforeCreate = func(*engine.Request) { f.c.put("db1", nil); f.c.beforeCreate = nil }
	_, res := f.apply(false)
	mustFail(t, res, "Cannot adopt resource 'DB'", "--adopt")
	wantCalls(t, f.c, "read DB", "create DB", "read DB")
	if row := f.row("DB"); row != nil {
		t.Fatalf("the refused create left a row: %+v", row)
	}
	_, res = f.apply(true)
	mustOK(t, res)
	if got := f.c.names(); !slices.Equal(got, []string{"db1"}) {
		t.Fatalf("cloud = %q", got)
	}
}

// A replacement whose new generation needs the old one's name deletes the
// old one first; one with a generated name creates first. Either way exactly
// the new resource is left, and state points at it.
func TestReplaceOrder(t *testing.T) {
	t.Run("same explicit name deletes first", func(t *testing.T) {
		f := newFixture(t)
		f.declare("DB", map[string]any{"name": "db1", "zone": "eu"}, false)
		_, res := f.apply(false)
		mustOK(t, res)
		f.c.takeCalls()
		f.declare("DB", map[string]any{"name": "db1", "zone": "us"}, false)
		p, res := f.apply(false)
		if !p.Steps[0].DeleteFirst {
			t.Fatal("plan does not say delete first")
		}
		mustOK(t, res)
		wantCalls(t, f.c, "delete DB", "read DB", "create DB")
		row := f.row("DB")
		if got := f.c.names(); !slices.Equal(got, []string{"db1"}) || row.Status != state.Created || row.Old != nil {
			t.Fatalf("cloud = %q, row = %+v", got, row)
		}
		if f.c.byID[f.c.Identity(row.Attr)] == nil {
			t.Fatal("state points at a resource that does not exist")
		}
		if p, _ := f.apply(false); p.HasChanges() {
			t.Fatalf("plan after replace = %s", actions(p))
		}
	})
	t.Run("generated name creates first", func(t *testing.T) {
		f := newFixture(t)
		f.declare("DB", map[string]any{"zone": "eu"}, false)
		_, res := f.apply(false)
		mustOK(t, res)
		old := f.c.names()
		f.c.takeCalls()
		f.declare("DB", map[string]any{"zone": "us"}, false)
		p, res := f.apply(false)
		if p.Steps[0].DeleteFirst {
			t.Fatal("a generated name was planned delete-first")
		}
		mustOK(t, res)
		wantCalls(t, f.c, "read DB", "create DB", "delete DB")
		if got := f.c.names(); len(got) != 1 || got[0] == old[0] {
			t.Fatalf("cloud = %q (old %q)", got, old)
		}
	})
	t.Run("delete first with retain refuses", func(t *testing.T) {
		f := newFixture(t)
		f.declare("DB", map[string]any{"name": "db1", "zone": "eu"}, true)
		_, res := f.apply(false)
		mustOK(t, res)
		f.c.takeCalls()
		f.declare("DB", map[string]any{"name": "db1", "zone": "us"}, true)
		_, res = f.apply(false)
		mustFail(t, res, "removal policy retain", "Remove alchemy.Retain()")
		wantCalls(t, f.c)
		if got := f.c.names(); !slices.Equal(got, []string{"db1"}) {
			t.Fatalf("cloud = %q", got)
		}
	})
}

// sameIdentity is a provider whose Create hands back the resource it
// already has (as a create keyed on something other than the name would):
// the old generation is the new one, and must not be deleted.
type sameIdentity struct{ *named }

func (s sameIdentity) Name(*engine.Request) string { return "" }

func (s sameIdentity) Create(_ context.Context, r *engine.Request) (json.RawMessage, error) {
	s.record("create", r)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.byID {
		return attrOf(t), nil
	}
	s.next++
	t := &thing{id: "id-only", name: "only"}
	s.byID[t.id] = t
	return attrOf(t), nil
}

func TestReplaceNeverDeletesTheNewGeneration(t *testing.T) {
	f := newFixture(t)
	p := sameIdentity{f.c}
	f.declare("DB", map[string]any{"zone": "eu"}, false)
	f.nodes[0].Provider = p
	_, res := f.apply(false)
	mustOK(t, res)
	f.declare("DB", map[string]any{"zone": "us"}, false)
	f.nodes[0].Provider = p
	_, res = f.apply(false)
	mustOK(t, res)
	for _, c := range f.c.takeCalls() {
		if strings.HasPrefix(c, "delete") {
			t.Fatalf("the old generation, which is the new one, was deleted (%q)", c)
		}
	}
	if got := f.c.names(); !slices.Equal(got, []string{"only"}) {
		t.Fatalf("cloud = %q", got)
	}
	if row := f.row("DB"); row.Status != state.Created || row.Old != nil {
		t.Fatalf("row = %+v", row)
	}
}

// Retain survives a failed update followed by a replace: the old generation
// keeps its removal policy and instance, and is never deleted (once or
// twice).
func TestRetainThroughFailedUpdateAndReplace(t *testing.T) {
	f := newFixture(t)
	f.declare("DB", map[string]any{"zone": "eu", "size": 1}, true)
	_, res := f.apply(false)
	mustOK(t, res)
	first := f.row("DB")
	f.c.failUpdate = errors.New("quota exceeded")
	f.declare("DB", map[string]any{"zone": "eu", "size": 2}, true)
	_, res = f.apply(false)
	mustFail(t, res, "quota exceeded")
	if row := f.row("DB"); row.Status != state.Updating || row.Old == nil || row.Old.InstanceID != first.InstanceID || row.Old.RemovalPolicy != "retain" {
		t.Fatalf("updating row's snapshot lost its identity: %+v / %+v", row, row.Old)
	}
	f.c.failUpdate = nil
	f.c.takeCalls()
	f.declare("DB", map[string]any{"zone": "us", "size": 2}, true)
	_, res = f.apply(false)
	mustOK(t, res)
	for _, c := range f.c.takeCalls() {
		if strings.HasPrefix(c, "delete") {
			t.Fatalf("a retained generation was deleted: %q", c)
		}
	}
	if got := f.c.names(); len(got) != 2 {
		t.Fatalf("cloud = %q, want the retained old and the new", got)
	}
	// Destroy keeps the retained new generation too.
	_, res = f.apply(true)
	mustOK(t, res)
	if got := f.c.names(); len(got) != 2 {
		t.Fatalf("cloud after destroy = %q", got)
	}
}

// A resource removed from the stack while its update had failed is deleted
// once: its snapshot is the same resource, not another generation.
func TestOrphanAfterFailedUpdateIsDeletedOnce(t *testing.T) {
	f := newFixture(t)
	f.declare("DB", map[string]any{"name": "db1", "size": 1}, false)
	_, res := f.apply(false)
	mustOK(t, res)
	f.c.failUpdate = errors.New("quota exceeded")
	f.declare("DB", map[string]any{"name": "db1", "size": 2}, false)
	_, res = f.apply(false)
	mustFail(t, res, "quota exceeded")
	f.c.failUpdate = nil
	f.c.takeCalls()
	f.nodes = nil
	f.declare("Other", map[string]any{"name": "x"}, false) // the stack needs the provider known
	_, res = f.apply(false)
	mustOK(t, res)
	wantCalls(t, f.c, "read Other", "create Other", "delete DB")
	if got := f.c.names(); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("cloud = %q", got)
	}
}

// Rows without attributes are deleted only when a look proves them ours.
func TestDestroyOfInterruptedCreates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		claimed bool
		stamp   *engine.Stamp
		deleted bool
	}{
		{name: "claimed, untagged: our create", claimed: true, deleted: true},
		{name: "claimed, ours by tags", claimed: true, stamp: &engine.Stamp{Stack: "app", Stage: "dev", ID: "DB"}, deleted: true},
		{name: "unclaimed, untagged: never ours", claimed: false},
		{name: "claimed, another owner's tags", claimed: true, stamp: &engine.Stamp{Stack: "other", Stage: "dev", ID: "DB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.c.put("db1", tc.stamp)
			f.setRow(&state.Row{Kind: "resource", ResourceType: "Test.Named", FQN: "DB", LogicalID: "DB",
				InstanceID: state.NewInstanceID(), Status: state.Creating, Props: json.RawMessage(`{"name":"db1"}`), Claimed: tc.claimed})
			f.declare("Other", map[string]any{"name": "x"}, false) // the stack needs the provider known
			_, res := f.apply(true)
			mustOK(t, res)
			gone := !slices.Contains(f.c.names(), "db1")
			if gone != tc.deleted {
				t.Fatalf("db1 deleted = %v, want %v (calls %q)", gone, tc.deleted, f.c.takeCalls())
			}
			if row := f.row("DB"); row != nil {
				t.Fatalf("row left: %+v", row)
			}
		})
	}
}

func TestPanickingProviderFailsOnlyItsResource(t *testing.T) {
	f := newFixture(t)
	f.c.panicOn = "B"
	for _, id := range []string{"A", "B", "C"} {
		f.declare(id, map[string]any{"name": strings.ToLower(id)}, false)
	}
	_, res := f.apply(false)
	mustFail(t, res, "✗ B (Test.Named): the Test.Named provider panicked: provider bug")
	if got := f.c.names(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("cloud = %q", got)
	}
	if row := f.row("A"); row.Status != state.Created {
		t.Fatalf("A = %+v", row)
	}
	// B is resumable: its row is claimed and the next run creates it.
	f.c.panicOn = ""
	_, res = f.apply(false)
	mustOK(t, res)
	if got := f.c.names(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("cloud = %q", got)
	}
}

func TestNewerProviderVersionIsRefused(t *testing.T) {
	f := newFixture(t)
	f.declare("DB", map[string]any{"name": "db1"}, false)
	f.setRow(&state.Row{Kind: "resource", ResourceType: "Test.Named", FQN: "DB", LogicalID: "DB",
		InstanceID: state.NewInstanceID(), ProviderVersion: 99, Status: state.Created, Props: json.RawMessage(`{"name":"db1"}`)})
	for _, destroy := range []bool{false, true} {
		_, err := engine.BuildPlan(context.Background(), f.spec(), f.store, destroy, engine.Options{})
		if err == nil || !strings.Contains(err.Error(), "written by version 99 of the Test.Named provider") || !strings.Contains(err.Error(), "upgrade alchemy") {
			t.Fatalf("destroy=%v: %v", destroy, err)
		}
	}
}

// blocking is a provider whose creates wait until their context ends.
type blocking struct {
	*named
	started chan string
}

func (b blocking) Create(ctx context.Context, r *engine.Request) (json.RawMessage, error) {
	b.started <- r.FQN
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestAbortCancelsCallsInFlight(t *testing.T) {
	f := newFixture(t)
	p := blocking{named: f.c, started: make(chan string, 4)}
	f.declare("A", map[string]any{"name": "a"}, false)
	f.nodes[0].Provider = p
	plan, err := engine.BuildPlan(context.Background(), f.spec(), f.store, false, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	abort, doAbort := context.WithCancel(context.Background())
	go func() { <-p.started; doAbort() }()
	res := engine.ApplyWith(context.Background(), f.spec(), plan, f.store, nil, engine.ApplyOptions{Concurrency: 2, Abort: abort}, nil)
	mustFail(t, res, "cancelled in flight by a second interrupt; the next run resumes it")
	if !res.Interrupted || res.Failed != 0 {
		t.Fatalf("an aborted call is an interruption, not a failure: %+v", res)
	}
	// The call's row was committed before it started: the next run resumes it.
	if row := f.row("A"); row == nil || row.Status != state.Creating || !row.Claimed {
		t.Fatalf("row = %+v", row)
	}
}

// lease is a Lease the test loses at will.
type lease struct {
	lost chan struct{}
	once sync.Once
}

func (l *lease) Lost() <-chan struct{} { return l.lost }
func (l *lease) Err() error            { return errors.New("the stage lease of app/dev was taken over") }
func (l *lease) Check() error {
	select {
	case <-l.lost:
		return l.Err()
	default:
		return nil
	}
}
func (l *lease) lose() { l.once.Do(func() { close(l.lost) }) }

func TestLostLeaseStopsCommitsAndCalls(t *testing.T) {
	f := newFixture(t)
	l := &lease{lost: make(chan struct{})}
	p := blocking{named: f.c, started: make(chan string, 4)}
	f.declare("A", map[string]any{"name": "a"}, false)
	f.nodes[0].Provider = p
	store := state.Fenced(f.store, l)
	plan, err := engine.BuildPlan(context.Background(), f.spec(), store, false, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { <-p.started; l.lose() }()
	res := engine.ApplyWith(context.Background(), f.spec(), plan, store, nil, engine.ApplyOptions{Concurrency: 2, Lease: l}, nil)
	if res.LeaseLost == nil || !strings.Contains(res.Err().Error(), "taken over") {
		t.Fatalf("result = %+v / %v", res, res.Err())
	}
	// What was committed before the loss stays; nothing after it was written.
	if row := f.row("A"); row == nil || row.Status != state.Creating {
		t.Fatalf("row = %+v", row)
	}
	if out, _ := f.store.GetOutput(context.Background(), "app", "dev"); out != nil {
		t.Fatalf("outputs written after the lease was lost: %s", out)
	}
}

func (f *fixture) plan(refresh bool) *engine.Plan {
	f.t.Helper()
	p, err := engine.BuildPlan(context.Background(), f.spec(), f.store, false, engine.Options{Refresh: refresh, Adopt: f.adopt})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) applyPlan(p *engine.Plan) *engine.Result {
	return engine.ApplyWith(context.Background(), f.spec(), p, f.store, nil, engine.ApplyOptions{Concurrency: 4, Adopt: f.adopt}, nil)
}

// Drift: only --refresh reads the cloud; it shows what changed outside
// alchemy and converges it, and re-creates what was deleted.
func TestRefresh(t *testing.T) {
	f := newFixture(t)
	f.declare("DB", map[string]any{"name": "db1", "size": 1.0}, false)
	f.declare("Gone", map[string]any{"name": "gone"}, false)
	f.declare("Old", map[string]any{"name": "old"}, false)
	_, res := f.apply(false)
	mustOK(t, res)
	f.c.takeCalls()

	// Out of band: DB resized, Gone deleted; Old removed from the stack and
	// deleted by hand too.
	f.c.mu.Lock()
	f.c.find("db1").props["size"] = 5.0
	delete(f.c.byID, f.c.find("gone").id)
	delete(f.c.byID, f.c.find("old").id)
	f.c.mu.Unlock()
	f.nodes = slices.DeleteFunc(f.nodes, func(n *engine.Node) bool { return n.FQN == "Old" })
	f.declare("New", map[string]any{"name": "taken"}, false)
	f.c.put("taken", nil)

	if p := f.plan(false); actions(p) != "DB:noop Gone:noop New:create Old:delete" {
		t.Fatalf("plan without refresh = %s", actions(p))
	}
	wantCalls(t, f.c) // a plan never reads the cloud unless asked

	p := f.plan(true)
	if got := actions(p); got != "DB:update Gone:create New:create Old:delete" {
		t.Fatalf("refreshed plan = %s", got)
	}
	byID := map[string]*engine.Step{}
	for _, s := range p.Steps {
		byID[s.FQN] = s
	}
	if d := byID["DB"].Drift; len(d) != 1 || d[0].Prop != "size" || d[0].Stored != 1.0 || d[0].Live != 5.0 {
		t.Fatalf("DB drift = %+v", d)
	}
	if !byID["Gone"].Gone || !byID["Old"].Gone {
		t.Fatalf("gone: Gone=%v Old=%v", byID["Gone"].Gone, byID["Old"].Gone)
	}
	if !strings.Contains(byID["New"].Exists, "the deploy will refuse it: Cannot adopt resource 'New' (Test.Named): thing taken exists") || !strings.Contains(byID["New"].Exists, "--adopt") {
		t.Fatalf("New.Exists = %q", byID["New"].Exists)
	}
	f.c.takeCalls()
	f.nodes = slices.DeleteFunc(f.nodes, func(n *engine.Node) bool { return n.FQN == "New" })
	p = f.plan(true)
	f.c.takeCalls()
	mustOK(t, f.applyPlan(p))
	calls := f.c.takeCalls()
	slices.Sort(calls)
	if !slices.Equal(calls, []string{"create Gone", "read Gone", "update DB"}) {
		t.Fatalf("calls = %q (an orphan already gone must not be deleted)", calls)
	}
	if size := f.c.find("db1").props["size"]; size != 1.0 {
		t.Fatalf("DB not converged: size %v", size)
	}
	if f.c.find("gone") == nil || f.row("Old") != nil {
		t.Fatal("Gone not re-created, or Old's row left")
	}
	if p := f.plan(true); p.HasChanges() {
		t.Fatalf("after converging: %s", actions(p))
	}
}

// A create whose answer was lost, retried and told "already exists", made
// the resource itself: it is taken over, not refused and orphaned.
func TestCreateWithALostAnswerIsTakenOver(t *testing.T) {
	f := newFixture(t)
	f.c.lostAnswer = true
	f.declare("DB", map[string]any{"name": "db1"}, false)
	_, res := f.apply(false)
	mustOK(t, res)
	wantCalls(t, f.c, "read DB", "create DB", "read DB", "update DB")
	row := f.row("DB")
	if got := f.c.names(); !slices.Equal(got, []string{"db1"}) || row.Status != state.Created || f.c.byID[f.c.Identity(row.Attr)] == nil {
		t.Fatalf("cloud = %q, row = %+v", got, row)
	}
}

// For a provider whose Create writes the stamp in the same call, an
// unstamped resource was never this resource's, whatever its row claims:
// it is neither taken over nor deleted.
func TestStampedOnCreateBeatsAClaim(t *testing.T) {
	f := newFixture(t)
	f.c.stampedOnCreate = true
	f.c.put("db1", nil)
	f.setRow(&state.Row{Kind: "resource", ResourceType: "Test.Named", FQN: "DB", LogicalID: "DB",
		InstanceID: state.NewInstanceID(), Status: state.Creating, Props: json.RawMessage(`{"name":"db1"}`), Claimed: true})
	f.declare("DB", map[string]any{"name": "db1"}, false)
	_, res := f.apply(false)
	mustFail(t, res, "Cannot adopt resource 'DB'", "--adopt")
	f.declare("Other", map[string]any{"name": "x"}, false)
	_, res = f.apply(true)
	mustOK(t, res)
	if !slices.Contains(f.c.names(), "db1") {
		t.Fatal("destroy deleted an unstamped resource of a provider that stamps on create")
	}
}
