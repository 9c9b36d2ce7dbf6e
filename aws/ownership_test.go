package aws_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/state"
)

// testStage is the stage every test deploys (USER=tester, see awsTestEnv).
const testStage = "dev_tester"

func stateStore() *state.Local { return state.NewLocal(filepath.Join(".alchemy", "state")) }

// putRow writes a state row as an earlier run would have left it.
func putRow(t *testing.T, stack string, row *state.Row) {
	t.Helper()
	ctx := context.Background()
	s := stateStore()
	if err := s.Set(ctx, stack, testStage, row); err != nil {
		t.Fatal(err)
	}
	if err := state.Flush(ctx, s); err != nil {
		t.Fatal(err)
	}
}

// getRow reads a state row, nil when there is none.
func getRow(t *testing.T, stack, fqn string) *state.Row {
	t.Helper()
	row, err := stateStore().Get(context.Background(), stack, testStage, fqn)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// attrOf is one attribute of a row.
func attrOf(t *testing.T, row *state.Row, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(row.Attr, &m); err != nil {
		t.Fatalf("attributes of %s: %v (%s)", row.FQN, err, row.Attr)
	}
	s, _ := m[name].(string)
	return s
}

// interruptedRow is the row a create killed after its cloud call leaves:
// status creating, no attributes, claimed when this tool issued the create
// after checking that the name was free.
func interruptedRow(typ, fqn string, props map[string]any, claimed bool) *state.Row {
	raw, _ := json.Marshal(props)
	return &state.Row{Kind: "resource", ResourceType: typ, FQN: fqn, LogicalID: fqn, InstanceID: state.NewInstanceID(),
		Status: state.Creating, Downstream: []string{}, Props: raw, RemovalPolicy: "destroy", Claimed: claimed}
}

// wantRefused checks that a deploy refused to take over what it found
// under the name, naming --adopt (and the owner its tags name, if any).
func wantRefused(t *testing.T, r result, fqn, typ, what, owner string) {
	t.Helper()
	all := r.out + r.errOut
	want := "Cannot adopt resource '" + fqn + "' (" + typ + "): " + what + " exists in the cloud but is not owned by this stack/stage/logical-id"
	if r.code != 1 || !strings.Contains(all, want) || !strings.Contains(all, "--adopt") {
		t.Fatalf("want exit 1 with %q and --adopt, got exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s", want, r.code, r.out, r.errOut)
	}
	if owner != "" && !strings.Contains(all, "(its ownership tags name "+owner+")") {
		t.Errorf("the refusal does not name the owner %s:\n%s", owner, all)
	}
}

// wantContains checks that a command's output mentions s.
func wantContains(t *testing.T, r result, s string) {
	t.Helper()
	if !strings.Contains(r.out+r.errOut, s) {
		t.Errorf("output lacks %q:\n--- stdout ---\n%s\n--- stderr ---\n%s", s, r.out, r.errOut)
	}
}
