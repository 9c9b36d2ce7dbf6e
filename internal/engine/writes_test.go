package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/state"
)

// scribe is a provider that reports writing the file its "path" prop names
// (relative to the stack's directory) on every call, when reports says it
// reports its writes at all.
type scribe struct {
	typ     string
	reports bool
}

func (s scribe) Type() string        { return s.typ }
func (scribe) Auth() string          { return "" }
func (scribe) Version() int          { return 0 }
func (s scribe) ReportsWrites() bool { return s.reports }
func (scribe) Diff(_, _ json.RawMessage, changed []string) (engine.Change, error) {
	if len(changed) > 0 {
		return engine.ChangeUpdate, nil
	}
	return engine.ChangeNone, nil
}
func (s scribe) write(r *engine.Request, props json.RawMessage) (json.RawMessage, error) {
	var p struct{ Path string }
	_ = json.Unmarshal(props, &p)
	if r.Wrote != nil {
		r.Wrote(p.Path)
	}
	return json.RawMessage(`{}`), nil
}
func (s scribe) Create(_ context.Context, r *engine.Request) (json.RawMessage, error) {
	return s.write(r, r.Props)
}
func (s scribe) Update(_ context.Context, r *engine.Request) (json.RawMessage, error) {
	return s.write(r, r.Props)
}
func (s scribe) Delete(_ context.Context, r *engine.Request) error {
	_, err := s.write(r, r.OldProps)
	return err
}

// An apply with ApplyOptions.Writes collects the files the calls of
// providers that report their writes reported (relative paths resolved
// from the stack's directory), and the types of those called that do not
// report; resources left as they were are not called and count for
// nothing. Without Writes, Request.Wrote is nil.
func TestApplyCollectsLocalWrites(t *testing.T) {
	dir := realTempDir(t)
	store := state.NewLocal(filepath.Join(dir, "state"))
	reporting, silent := scribe{"Test.Reporting", true}, scribe{"Test.Silent", false}
	elsewhere := filepath.Join(realTempDir(t), "b.txt") // absolute
	spec := &engine.Spec{Stack: "app", Stage: "dev", Dir: dir, Nodes: []*engine.Node{
		node("A", reporting, "out/a.txt"),
		node("B", reporting, elsewhere),
		node("C", silent, "c.txt"),
	}}
	w := applyCollecting(t, spec, store, false)
	want := []string{elsewhere, filepath.Join(dir, "out", "a.txt")}
	slices.Sort(want)
	if got := w.Paths(); !slices.Equal(got, want) {
		t.Errorf("paths after create: %q, want %q", got, want)
	}
	if got := w.Unreported(); !slices.Equal(got, []string{"Test.Silent"}) {
		t.Errorf("unreported after create: %q", got)
	}

	// Only A changes: only its call is made.
	spec.Nodes[0] = node("A", reporting, "out/a2.txt")
	w = applyCollecting(t, spec, store, false)
	if got := w.Paths(); !slices.Equal(got, []string{filepath.Join(dir, "out", "a2.txt")}) {
		t.Errorf("paths after updating A: %q", got)
	}
	if got := w.Unreported(); len(got) != 0 {
		t.Errorf("unreported after updating A (C was not called): %q", got)
	}

	// Deletes report too.
	w = applyCollecting(t, spec, store, true)
	want = []string{elsewhere, filepath.Join(dir, "out", "a2.txt")}
	slices.Sort(want)
	if got := w.Paths(); !slices.Equal(got, want) {
		t.Errorf("paths after destroy: %q, want %q", got, want)
	}
	if got := w.Unreported(); !slices.Equal(got, []string{"Test.Silent"}) {
		t.Errorf("unreported after destroy: %q", got)
	}
}

// Without ApplyOptions.Writes a provider is given no Wrote to call.
func TestApplyWithoutLocalWrites(t *testing.T) {
	dir := t.TempDir()
	store := state.NewLocal(filepath.Join(dir, "state"))
	var gotWrote bool
	p := probe{scribe: scribe{"Test.Reporting", true}, saw: &gotWrote}
	spec := &engine.Spec{Stack: "app", Stage: "dev", Dir: dir, Nodes: []*engine.Node{
		node("A", p, "a.txt"),
	}}
	deploy(t, spec, store, false)
	if gotWrote {
		t.Error("a request had Wrote set though the apply collects nothing")
	}
}

type probe struct {
	scribe
	saw *bool
}

func (p probe) Create(ctx context.Context, r *engine.Request) (json.RawMessage, error) {
	*p.saw = r.Wrote != nil
	return p.scribe.Create(ctx, r)
}

// A file reported through a directory that is a link is recorded where the
// link leads too: a watcher does not walk links to directories.
func TestLocalWritesThroughALinkedDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "out")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	real, _ := filepath.EvalSymlinks(filepath.Join(dir, "real"))
	store := state.NewLocal(filepath.Join(dir, "state"))
	p := scribe{"Test.Reporting", true}
	spec := &engine.Spec{Stack: "app", Stage: "dev", Dir: dir, Nodes: []*engine.Node{
		node("A", p, "out/a.txt"),
	}}
	got := applyCollecting(t, spec, store, false).Paths()
	for _, want := range []string{filepath.Join(dir, "out", "a.txt"), filepath.Join(real, "a.txt")} {
		if !slices.Contains(got, want) {
			t.Errorf("paths %q lack %q", got, want)
		}
	}
}

// seer reads its resources (a refresh calls it while planning) and does
// not promise to report its writes.
type seer struct{ scribe }

func (seer) Read(context.Context, *engine.Request) (*engine.Found, error) {
	return &engine.Found{Attr: json.RawMessage(`{}`)}, nil
}

// The reads of a refresh are provider calls too: a provider without the
// promise that is only read while planning still counts.
func TestRefreshReadsCountAsCalls(t *testing.T) {
	dir := t.TempDir()
	store := state.NewLocal(filepath.Join(dir, "state"))
	p := seer{scribe{"Test.Seer", false}}
	spec := &engine.Spec{Stack: "app", Stage: "dev", Dir: dir, Nodes: []*engine.Node{
		node("A", p, "a.txt"),
	}}
	deploy(t, spec, store, false)
	w := engine.NewLocalWrites()
	plan, err := engine.BuildPlan(context.Background(), spec, store, false, engine.Options{Refresh: true, Writes: w})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Unreported(); !slices.Equal(got, []string{"Test.Seer"}) {
		t.Errorf("unreported after a refresh: %q (plan: %s)", got, actions(plan))
	}
}

// realTempDir is a temporary directory named without links (macOS's /var
// is one), so that the paths a test expects are the only ones recorded.
func realTempDir(t *testing.T) string {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// node declares a resource of p whose "path" prop is path.
func node(id string, p engine.Provider, path string) *engine.Node {
	return &engine.Node{FQN: id, LogicalID: id, Type: p.Type(), Provider: p, Props: map[string]engine.Value{"path": lit{path}}}
}

// applyCollecting plans spec and applies it with ApplyOptions.Writes,
// returning what the calls reported.
func applyCollecting(t *testing.T, spec *engine.Spec, store state.Store, destroy bool) *engine.LocalWrites {
	t.Helper()
	ctx := context.Background()
	p, err := engine.BuildPlan(ctx, spec, store, destroy, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := engine.NewLocalWrites()
	if err := engine.ApplyWith(ctx, spec, p, store, nil, engine.ApplyOptions{Concurrency: 4, Writes: w}, nil).Err(); err != nil {
		t.Fatal(err)
	}
	return w
}
