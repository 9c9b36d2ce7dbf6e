//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExistingFileNeedsAdopt: a file that is already at a path the stack
// declares (testdata/localpath's greeting.txt) is not the stack's. A deploy
// refuses it, naming --adopt, and leaves it as it was; destroy leaves it
// too; deploy --adopt takes it over.
func TestExistingFileNeedsAdopt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	stack := w.project(fixture("localpath"))
	greeting := w.path("greeting.txt")
	const theirs = "written by hand, before any deploy\n"
	if err := os.WriteFile(greeting, []byte(theirs), 0o600); err != nil {
		t.Fatal(err)
	}
	untouched := func(when string) {
		t.Helper()
		got, err := os.ReadFile(greeting)
		if err != nil || string(got) != theirs {
			t.Fatalf("%s: greeting.txt holds %q (%v), want the user's %q", when, got, err, theirs)
		}
		if fi, err := os.Stat(greeting); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: greeting.txt's mode changed: %v %v", when, fi.Mode(), err)
		}
	}

	r := w.run("deploy", stack, "--yes")
	if r.code != 1 {
		t.Fatalf("deploy onto an existing file: want exit 1; %s", r)
	}
	requireContains(t, "refused deploy", r.stdout+r.stderr,
		"Cannot adopt resource 'Readme' (Local.File): file greeting.txt exists", "Re-run with `--adopt` to take it over")
	untouched("after the refused deploy")
	rows, _ := stateRows(t, w.path(".alchemy", "state", "localpath", "dev_tester"))
	if _, ok := rows["Readme"]; ok {
		t.Errorf("the refused resource has a state row: %+v", rows["Readme"])
	}
	// A plan that reads what exists says what the deploy will do.
	r = w.ok("plan", stack, "--refresh")
	requireContains(t, "plan --refresh", r.stdout, "the deploy will refuse it: Cannot adopt resource 'Readme' (Local.File): file greeting.txt exists", "--adopt")
	untouched("after plan --refresh")

	// Destroy deletes what the stack made (public/index.html) and leaves
	// the file it never owned.
	w.ok("destroy", stack, "--yes")
	untouched("after destroy")
	if exists(t, w.path("public", "index.html")) {
		t.Error("destroy left public/index.html, which the refused deploy created")
	}

	r = w.ok("deploy", stack, "--yes", "--adopt")
	requireContains(t, "deploy --adopt", r.stdout, "file greeting.txt already exists: taking it over (--adopt)", "Done: 2 succeeded, 0 failed, 0 skipped")
	if got, err := os.ReadFile(greeting); err != nil || string(got) != "hello\n" {
		t.Errorf("after deploy --adopt greeting.txt holds %q (%v), want the declared content", got, err)
	}
	requireContains(t, "plan after --adopt", w.ok("plan", stack).stdout, "Plan: no changes")
	// Now it is the stack's: destroy deletes it.
	w.ok("destroy", stack, "--yes")
	if exists(t, greeting) {
		t.Error("destroy left the adopted file")
	}
}

// TestUnusableStateRow: a state row alchemy cannot read (empty, a
// directory, an unknown status) stops plan, deploy and destroy with a
// message naming the file and how to fix it, and nothing is created: not a
// duplicate of the resource the row stands for, nor anything else.
func TestUnusableStateRow(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	stack := w.project(example("hello"))
	w.ok("deploy", stack, "--yes")
	stateDir := w.path(".alchemy", "state", "hello", "dev_tester")
	row := filepath.Join(stateDir, "Greeting.json")
	good, err := os.ReadFile(row)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(good), `"status": "created"`) {
		t.Fatalf("Greeting.json has no created status:\n%s", good)
	}
	write := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const fix = "or forget the resource with `alchemy state delete hello/dev_tester/Greeting --yes`"

	for _, tc := range []struct {
		name    string
		corrupt func()
		problem string
	}{
		{"Empty", func() { write(row, "") }, "is empty: 0 bytes"},
		{"Directory", func() {
			os.Remove(row)
			if err := os.Mkdir(row, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "is a directory, not a file"},
		{"UnknownStatus", func() {
			write(row, strings.Replace(string(good), `"status": "created"`, `"status": "frobnicated"`, 1))
		}, `is not a valid state row: its status "frobnicated" is not one this alchemy knows`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.corrupt()
			before := snapshot(t, w.path(".alchemy", "state"), w.path(".alchemy", "files"))
			for _, args := range [][]string{{"plan", stack}, {"deploy", stack, "--yes"}, {"destroy", stack, "--yes"}, {"deploy", stack, "--yes", "--refresh"}} {
				r := w.with(t).run(args...)
				if r.code != 1 {
					t.Errorf("want exit 1; %s", r)
				}
				requireContains(t, strings.Join(args[:1], " ")+" stderr", r.stderr, "state row "+row+" "+tc.problem, "Nothing was changed.", fix)
				if strings.Contains(r.stdout, "creat") || strings.Contains(r.stdout, "delet") {
					t.Errorf("%s with an unusable row went on to change things:\n%s", args[0], r.stdout)
				}
			}
			if !sameSnapshot(t, before, snapshot(t, w.path(".alchemy", "state"), w.path(".alchemy", "files"))) {
				t.Error("a run with an unusable state row wrote state or files")
			}
			// Restored, as the message says, all is well again.
			if err := os.RemoveAll(row); err != nil {
				t.Fatal(err)
			}
			write(row, string(good))
			requireContains(t, "plan after the row was restored", w.with(t).ok("plan", stack).stdout, "Plan: no changes")
		})
	}

	// A stage never deployed whose only row is empty: the deploy creates
	// nothing at all, not the resource the row stands for, nor the other.
	t.Run("FreshStage", func(t *testing.T) {
		fresh := w.path(".alchemy", "state", "hello", "fresh")
		if err := os.MkdirAll(fresh, 0o755); err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(fresh, "Greeting.json"), "")
		files := listDir(t, w.path(".alchemy", "files"))
		r := w.with(t).run("deploy", stack, "--stage", "fresh", "--yes")
		if r.code != 1 {
			t.Errorf("want exit 1; %s", r)
		}
		requireContains(t, "stderr", r.stderr, "state row "+filepath.Join(fresh, "Greeting.json")+" is empty", "alchemy state delete hello/fresh/Greeting --yes")
		if got := listDir(t, fresh); len(got) != 1 {
			t.Errorf("the stage's state holds %v, want the empty row only", got)
		}
		if got := listDir(t, w.path(".alchemy", "files")); len(got) != len(files) {
			t.Errorf("files before %v, after %v", files, got)
		}
		// The fix the message names works: state delete forgets the row
		// (it cannot read it, which is why it must go).
		r = w.with(t).run("state", "delete", "hello/fresh/Greeting", "--yes")
		if r.code != 0 || exists(t, filepath.Join(fresh, "Greeting.json")) {
			t.Fatalf("the fix the message names does not work: %s", r)
		}
		r = w.with(t).ok("deploy", stack, "--stage", "fresh", "--yes")
		requireContains(t, "deploy after state delete", r.stdout, "Done: 2 succeeded, 0 failed, 0 skipped")
		w.with(t).ok("destroy", stack, "--stage", "fresh", "--yes")
	})
	w.ok("destroy", stack, "--yes")
	if got := listDir(t, w.path(".alchemy", "files")); len(got) != 0 {
		t.Errorf("left after destroy: %v", got)
	}
}
