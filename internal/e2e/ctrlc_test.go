//go:build unix

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/testpty"
)

// sleepyResources is how many 300 ms pauses testdata/sleepy declares.
const sleepyResources = 40

func TestCtrlCDuringDeploy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	sleepy := w.project(fixture("sleepy"))
	stateDir := w.path(".alchemy", "state", "sleepy", "dev_tester")
	w.ok("plan", sleepy) // build the stack file outside the timing

	p := w.startPTY(nil, "deploy", sleepy, "--yes", "--concurrency", "4")
	p.Expect("Plan: 40 to create")
	// Interrupt once the deploy is under way: the first pause done (about
	// 300 ms in), then a little more.
	p.Expect("created")
	time.Sleep(200 * time.Millisecond)
	p.Send(testpty.KeyCtrlC)
	p.Expect("Interrupted")
	p.RequireExit(130)
	screen := p.Screen()
	if !strings.Contains(screen, "Run `alchemy deploy` again to continue.") {
		t.Errorf("the interrupt does not say how to continue:\n%s", screen)
	}

	rows, _ := stateRows(t, stateDir)
	statuses := map[string]int{}
	for fqn, r := range rows {
		statuses[r.Status]++
		if r.Status != "created" && r.Status != "creating" {
			t.Errorf("row %s has status %q after an interrupt", fqn, r.Status)
		}
	}
	t.Logf("after Ctrl-C: %d rows %v", len(rows), statuses)
	if statuses["created"] == 0 || statuses["created"] == sleepyResources {
		t.Errorf("the interrupt did not land mid-deploy: %v", statuses)
	}
	// Rows in creating are resources whose provider call never started: the
	// engine commits the row before it waits for a concurrency slot.
	if statuses["creating"] > 0 {
		t.Logf("%d rows left in creating: committed before their provider call, which the interrupt stopped from starting", statuses["creating"])
	}
	// Calls in flight finished and were saved: every pause the screen shows
	// as created is created in the state.
	if n := strings.Count(screen, "✓ Nap"); n != statuses["created"] {
		t.Errorf("the screen shows %d created pauses, the state %d", n, statuses["created"])
	}

	// The next deploy finishes the rest.
	r := w.ok("deploy", sleepy, "--yes", "--concurrency", "8")
	requireContains(t, "resumed deploy", r.stdout, "Done: ")
	rows, journal := stateRows(t, stateDir)
	if len(rows) != sleepyResources || journal {
		t.Errorf("after the resumed deploy: %d rows (journal left: %v)", len(rows), journal)
	}
	for fqn, r := range rows {
		if r.Status != "created" {
			t.Errorf("row %s has status %q after the resumed deploy", fqn, r.Status)
		}
	}
	requireContains(t, "plan", w.ok("plan", sleepy).stdout, "Plan: no changes")

	// No lock is left, neither in the alchemy home nor in the project.
	for _, dir := range []string{w.alchemyHome + "/lock", w.path(".alchemy", "lock")} {
		for _, name := range listDir(t, dir) {
			if name != ".guard" {
				t.Errorf("lock left: %s/%s", dir, name)
			}
		}
	}
}

// A second Ctrl-C does not wait for the calls in flight: it cancels them,
// and the deploy ends at once with what they were doing left resumable.
func TestSecondCtrlCAbortsCallsInFlight(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	stack := w.project(fixture("stoppable")) // a 3 s pause between two files
	stateDir := w.path(".alchemy", "state", "stoppable", "dev_tester")
	w.ok("plan", stack)

	p := w.startPTY(nil, "deploy", stack, "--yes")
	p.Expect("First")
	deadline := time.Now().Add(runTimeout)
	for {
		rows, _ := stateRows(t, stateDir)
		if rows["Nap"].Status == "creating" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pause never started:\n%s", p.Screen())
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	p.Send(testpty.KeyCtrlC)
	time.Sleep(100 * time.Millisecond)
	p.Send(testpty.KeyCtrlC)
	p.Expect("Interrupted")
	p.RequireExit(130)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("two Ctrl-Cs took %v to end the deploy; the 3 s pause in flight should have been cancelled", took)
	}
	rows, _ := stateRows(t, stateDir)
	if rows["Nap"].Status != "creating" || rows["After"].Status == "created" {
		t.Errorf("after the abort: Nap %q, After %q; want Nap still creating (resumable), After not created", rows["Nap"].Status, rows["After"].Status)
	}
	r := w.ok("deploy", stack, "--yes")
	requireContains(t, "resumed deploy", r.stdout, "Done: ")
	rows, _ = stateRows(t, stateDir)
	for _, fqn := range []string{"First", "Nap", "After"} {
		if rows[fqn].Status != "created" {
			t.Errorf("after the resumed deploy, %s is %q", fqn, rows[fqn].Status)
		}
	}
	requireContains(t, "plan", w.ok("plan", stack).stdout, "Plan: no changes")
}
