package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/state"
)

// gate is a provider whose creates wait until the gate opens.
type gate struct {
	*cloud
	open    chan struct{}
	arrived chan struct{}
}

func (g *gate) Create(ctx context.Context, r *engine.Request) (json.RawMessage, error) {
	g.arrived <- struct{}{}
	<-g.open
	return g.cloud.Create(ctx, r)
}

// A large stack does not cost a goroutine per resource: resources are
// started as they can go straight to work, a bounded number at a time.
func TestApplyWorksOnABoundedNumberOfResources(t *testing.T) {
	const n, concurrency = 3000, 4
	g := &gate{cloud: newCloud(), open: make(chan struct{}), arrived: make(chan struct{}, n)}
	var nodes []*engine.Node
	for i := range n {
		id := fmt.Sprintf("R%04d", i)
		nodes = append(nodes, &engine.Node{FQN: id, LogicalID: id, Type: "Test.Thing", Provider: g,
			Props: map[string]engine.Value{"value": lit{id}}})
	}
	spec := &engine.Spec{Stack: "app", Stage: "dev", Nodes: nodes}
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	ctx := context.Background()
	p, err := engine.BuildPlan(ctx, spec, store, false, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	done := make(chan *engine.Result)
	go func() { done <- engine.Apply(ctx, spec, p, store, nil, concurrency, nil) }()
	for range concurrency {
		<-g.arrived // every slot is taken: the rest wait
	}
	time.Sleep(50 * time.Millisecond) // let whatever would start, start
	during := runtime.NumGoroutine() - before
	close(g.open)
	res := <-done
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	if res.Succeeded != n {
		t.Fatalf("%d of %d created", res.Succeeded, n)
	}
	if during > n/4 {
		t.Errorf("%d goroutines while %d resources were waiting for %d slots: one per resource", during, n, concurrency)
	}
	t.Logf("%d goroutines for %d resources at concurrency %d", during, n, concurrency)
}

// Dependents wait for what they read, however long the chains, and deleting
// goes the other way.
func TestApplyOrdersLongChains(t *testing.T) {
	c := newCloud()
	s := &stack{c: c}
	const chains, length = 20, 30
	for k := range chains {
		for i := range length {
			id := fmt.Sprintf("C%02d_%02d", k, i)
			v := engine.Value(lit{id})
			if i > 0 {
				v = ref{fmt.Sprintf("C%02d_%02d", k, i-1), "id"}
			}
			s.add(id, map[string]engine.Value{"value": v})
		}
	}
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	_, res := deploy(t, s.spec("dev"), store, false)
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	checkOrder := func(calls []string, verb string, before func(i int) (int, int)) {
		t.Helper()
		at := map[string]int{}
		for i, call := range calls {
			at[call] = i
		}
		for k := range chains {
			for i := 1; i < length; i++ {
				a, b := before(i)
				first, then := fmt.Sprintf("%s C%02d_%02d", verb, k, a), fmt.Sprintf("%s C%02d_%02d", verb, k, b)
				if at[first] > at[then] {
					t.Fatalf("%s came after %s", first, then)
				}
			}
		}
	}
	c.mu.Lock()
	calls := c.calls
	c.calls = nil
	c.mu.Unlock()
	checkOrder(calls, "create", func(i int) (int, int) { return i - 1, i })
	_, res = deploy(t, s.spec("dev"), store, true)
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	c.mu.Lock()
	calls = c.calls
	c.mu.Unlock()
	checkOrder(calls, "delete", func(i int) (int, int) { return i, i - 1 })
}

// Rows that name each other as dependents (written by a version that had
// a bug, or by hand) are still deleted: destroy does not wait forever.
func TestDestroyOfADependencyCycleInState(t *testing.T) {
	store := state.NewLocal(filepath.Join(t.TempDir(), "state"))
	ctx := context.Background()
	for _, r := range [][2]string{{"A", "B"}, {"B", "C"}, {"C", "A"}} {
		row := &state.Row{Kind: "resource", ResourceType: "Test.Thing", FQN: r[0], LogicalID: r[0], InstanceID: state.NewInstanceID(),
			Status: state.Created, Downstream: []string{r[1]}, Props: json.RawMessage(`{}`), Attr: json.RawMessage(`{"id":"x"}`)}
		if err := store.Set(ctx, "app", "dev", row); err != nil {
			t.Fatal(err)
		}
	}
	s := &stack{c: newCloud()}
	s.add("Declared", map[string]engine.Value{"value": lit{"x"}}) // the provider of Test.Thing
	spec := s.spec("dev")
	p, err := engine.BuildPlan(ctx, spec, store, true, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result)
	go func() { done <- engine.Apply(ctx, spec, p, store, nil, 4, nil) }()
	select {
	case res := <-done:
		if res.Err() != nil {
			t.Fatal(res.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("destroy of rows that depend on each other did not finish")
	}
	if left, _ := store.List(ctx, "app", "dev"); len(left) != 0 {
		t.Fatalf("rows left: %s", strings.Join(left, ", "))
	}
}
