//go:build unix

package e2e

import (
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/testpty"
)

func TestApprovalAndExitCodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))
	stateDir := w.path(".alchemy", "state", "hello", "dev_tester")

	// No terminal and no --yes: the plan is shown, nothing changes.
	r := w.run("deploy", hello)
	const noTTY = "Cannot prompt for approval in a non-interactive terminal. Nothing was changed — re-run with --yes to deploy."
	if r.code != 1 || !strings.Contains(r.stderr, noTTY) {
		t.Fatalf("deploy without --yes and without a terminal: want exit 1 and %q; %s", noTTY, r)
	}
	requireContains(t, "stdout", r.stdout, "Plan: 2 to create")
	// Only the stage lock's directory may exist (it is taken before the plan).
	if exists(t, w.path(".alchemy", "state")) {
		t.Fatalf("a declined deploy wrote %v", listDir(t, w.path(".alchemy")))
	}
	// CI set on a terminal is no terminal either.
	p := w.startPTY([]string{"CI=true"}, "deploy", hello)
	p.Expect(noTTY)
	p.RequireExit(1)
	if exists(t, w.path(".alchemy", "state")) {
		t.Fatal("a declined deploy in CI wrote state")
	}

	// Usage errors exit 2 and change nothing.
	for _, args := range [][]string{
		{"deploy", hello, "--yes", "--stage", "Prod"},
		{"deploy", hello, "--no-such-flag"},
		{"plan", hello, "extra-arg"},
	} {
		if r := w.run(args...); r.code != 2 {
			t.Errorf("want exit 2; %s", r)
		}
	}

	t.Run("Cancel", func(t *testing.T) {
		p := w.startPTY(nil, "deploy", hello)
		// One line says where, before the plan; the prompt says it again.
		p.Expect("hello → dev_tester · profile default\n")
		p.Expect("Plan: 2 to create")
		p.Expect("Deploy 2 changes to hello/dev_tester?")
		// On a terminal the plan's glyphs are coloured: create is green.
		if raw := p.Raw(); !strings.Contains(raw, "\x1b[32m+\x1b[0m Greeting (") {
			t.Errorf("the plan on a terminal has no green + before Greeting:\n%q", raw)
		}
		p.Expect("> Deploy")
		p.Send(testpty.KeyDown)
		p.Expect("> Cancel")
		p.Send(testpty.KeyEnter)
		p.Expect("Deploy aborted: plan declined.")
		p.RequireExit(1)
		if exists(t, w.path(".alchemy", "state")) {
			t.Fatalf("a cancelled deploy wrote %v", listDir(t, w.path(".alchemy")))
		}
	})

	t.Run("CtrlCAtPrompt", func(t *testing.T) {
		p := w.startPTY(nil, "deploy", hello)
		p.Expect("Deploy 2 changes to hello/dev_tester?")
		p.Expect("> Deploy")
		p.Send(testpty.KeyCtrlC)
		p.Expect("Cancelled.")
		p.RequireExit(130)
		if exists(t, w.path(".alchemy", "state")) {
			t.Fatal("a deploy cancelled at its prompt wrote state")
		}
	})

	t.Run("Deploy", func(t *testing.T) {
		p := w.startPTY(nil, "deploy", hello)
		p.Expect("Plan: 2 to create")
		p.Expect("Deploy 2 changes to hello/dev_tester?")
		p.Expect("> Deploy")
		p.Send(testpty.KeyEnter)
		p.Expect("Done: 2 succeeded, 0 failed, 0 skipped")
		p.Expect("greetingFile: .alchemy/files/hello-Greeting-dev-tester-")
		p.RequireExit(0)
		rows, journal := stateRows(t, stateDir)
		if len(rows) != 2 || rows["Name"].Status != "created" || rows["Greeting"].Status != "created" {
			t.Fatalf("state after an approved deploy: %+v", rows)
		}
		if journal {
			t.Errorf("a finished deploy left its state journal: the rows are not all in their files")
		}
		if files := listDir(t, w.path(".alchemy", "files")); len(files) != 1 {
			t.Fatalf(".alchemy/files holds %v, want the one greeting", files)
		}
	})

	t.Run("DestroyDefaultsToCancel", func(t *testing.T) {
		before := listDir(t, w.path(".alchemy", "files"))
		p := w.startPTY(nil, "destroy", hello)
		p.Expect("hello → dev_tester · profile default\n")
		p.Expect("Plan: 2 to delete")
		p.Expect("Destroy 2 resources of hello/dev_tester?")
		p.Expect("> Cancel")
		p.Send(testpty.KeyEnter)
		p.Expect("Destroy aborted: plan declined.")
		p.RequireExit(1)
		if after := listDir(t, w.path(".alchemy", "files")); len(after) != len(before) || len(after) != 1 {
			t.Errorf("files before %v, after a declined destroy %v", before, after)
		}
		if rows, _ := stateRows(t, stateDir); len(rows) != 2 {
			t.Errorf("a declined destroy changed the state: %+v", rows)
		}
		// And without a terminal a destroy needs --yes too.
		r := w.run("destroy", hello)
		if r.code != 1 || !strings.Contains(r.stderr, "Cannot prompt for approval in a non-interactive terminal. Nothing was changed — re-run with --yes to destroy.") {
			t.Errorf("destroy without --yes and without a terminal: %s", r)
		}
		if rows, _ := stateRows(t, stateDir); len(rows) != 2 {
			t.Errorf("a destroy without --yes changed the state: %+v", rows)
		}
	})
}
