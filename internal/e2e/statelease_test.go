//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startMidApply starts `alchemy deploy` of the stoppable fixture with extra
// environment and returns once it is mid-apply: First created, Nap (3 s)
// under way, After not started. done receives its end.
func startMidApply(t *testing.T, w *world, stack string, extra []string) (cmd *exec.Cmd, out *lockedBuffer, done chan error) {
	t.Helper()
	stateDir := w.path(".alchemy", "state", "stoppable", "dev_tester")
	return startDeployUntil(t, w, stack, extra, func() bool {
		rows, _ := stateRows(t, stateDir)
		return rows["First"].Status == "created" && rows["Nap"].Status == "creating"
	})
}

// startDeployUntil starts `alchemy deploy STACK --yes` with extra
// environment and returns once ready reports true (polled), failing the
// test if the deploy ends or runTimeout passes first. The deploy's process
// group is killed at the end of the test.
func startDeployUntil(t *testing.T, w *world, stack string, extra []string, ready func() bool) (cmd *exec.Cmd, out *lockedBuffer, done chan error) {
	t.Helper()
	cmd = w.command(extra, "deploy", stack, "--yes")
	out = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { killGroup(cmd) })
	for deadline := time.Now().Add(runTimeout); !ready(); {
		select {
		case err := <-done:
			t.Fatalf("the deploy ended before it was ready (%v):\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deploy never got ready:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cmd, out, done
}

// kill -9 of a deploy mid-apply leaves its lease, whose holder (a process
// on this host) is gone: `state lease` says it is stale, and the next
// deploy takes it at once and resumes, creating nothing twice.
func TestKilledHolderLeaseIsTakenAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	stack := w.project(fixture("stoppable"))
	w.ok("plan", stack)

	a, _, doneA := startMidApply(t, w, stack, nil)
	killGroup(a)
	if code, killed := exitCode(t, <-doneA); !killed {
		t.Fatalf("the deploy was not killed (exit %d)", code)
	}
	if !exists(t, w.path(".alchemy", "lock", "stage-stoppable-dev_tester.lock")) {
		t.Fatal("the killed deploy left no lease behind: nothing to take over")
	}
	l := w.run("state", "lease", "--state", ".")
	requireContains(t, "state lease", l.stdout, "stoppable/dev_tester: ", "running `alchemy deploy --stage dev_tester`", "stale: its holder is gone")

	r := w.run("deploy", stack, "--yes")
	if r.code != 0 {
		t.Fatalf("the deploy after the kill: %s", r)
	}
	if strings.Contains(r.stderr, "Another alchemy run") || strings.Contains(r.stderr, "Waiting for the lease") {
		t.Errorf("the deploy after the kill waited for the dead holder:\n%s", r.stderr)
	}
	if r.took > 20*time.Second {
		t.Errorf("the deploy after the kill took %v", r.took)
	}
	rows, journal := stateRows(t, w.path(".alchemy", "state", "stoppable", "dev_tester"))
	if len(rows) != 3 || journal {
		t.Errorf("after the resumed deploy: %d rows (journal left: %v), want 3", len(rows), journal)
	}
	for fqn, row := range rows {
		if row.Status != "created" {
			t.Errorf("row %s has status %q", fqn, row.Status)
		}
	}
	if files := listDir(t, w.path(".alchemy", "files")); len(files) != 2 {
		t.Errorf(".alchemy/files holds %v, want First's and After's", files)
	}
	requireContains(t, "plan", w.ok("plan", stack).stdout, "Plan: no changes")
	for _, name := range listDir(t, w.path(".alchemy", "lock")) {
		if name != ".guard" {
			t.Errorf("lock left: .alchemy/lock/%s", name)
		}
	}
	w.ok("destroy", stack, "--yes")
}

// A stack's alchemy.WithState is honoured by every command run from the
// alchemy binary, `alchemy state` included (it runs the stack program to
// learn it); --state and ALCHEMY_STATE override it. A stack file that does
// not build leaves `alchemy state` usable with --state.
func TestWithStateFromTheBinary(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.project(fixture("withstate"))
	d := w.ok("deploy", "--yes")
	requireContains(t, "deploy", d.stdout, "withstate → dev_tester · profile default · state shared/.alchemy/state\n")
	if !exists(t, w.path("shared", ".alchemy", "state", "withstate", "dev_tester", "Greeting.json")) {
		t.Fatal("the deploy did not write to the WithState store")
	}
	if exists(t, w.path(".alchemy", "state")) {
		t.Error("the deploy wrote to the default store too")
	}
	l := w.ok("state", "list", "withstate/dev_tester")
	if l.stdout != "Greeting\n" || !strings.Contains(l.stderr, "(state shared/.alchemy/state, from alchemy.WithState)") {
		t.Errorf("state list did not use the WithState store: %s", l)
	}
	if l := w.ok("state", "list", "--state", "."); l.stdout != "" {
		t.Errorf("state list --state . lists %q", l.stdout)
	}
	p := w.runEnv([]string{"ALCHEMY_STATE=file://elsewhere"}, "plan")
	requireContains(t, "plan with ALCHEMY_STATE", p.stdout, "· state elsewhere/.alchemy/state\n", "Plan: 1 to create")
	o := w.ok("outputs", "greeting")
	if !strings.Contains(o.stdout, ".alchemy/files/withstate-Greeting-dev") {
		t.Errorf("outputs from the WithState store: %s", o)
	}

	// A stack file that does not build: `alchemy state` says how to do
	// without it.
	if err := os.WriteFile(w.path("alchemy.run.go"), []byte("//go:build ignore\n\npackage main\n\nfunc main() { alchemy.Run( }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := w.run("state", "list")
	if b.code == 0 || !strings.Contains(b.stderr, "--state URL (or ALCHEMY_STATE), or --state . for .alchemy/state") {
		t.Errorf("state list with a broken stack file: %s", b)
	}
	if l := w.ok("state", "list", "withstate/dev_tester", "--state", "file://shared"); l.stdout != "Greeting\n" {
		t.Errorf("state list --state with a broken stack file: %s", l)
	}
}
