//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateAtTheModuleRoot runs one stack from several working
// directories: outside its project, in it, in a subdirectory of it. Every
// run sees the same state, kept at the project's module root only, and
// relative paths in the stack resolve from the stack file.
func TestStateAtTheModuleRoot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	project := w.project(example("hello"))
	outside := filepath.Dir(w.dir) // holds the project and the home directory
	sub := w.path("docs", "notes")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	stateDir := w.path(".alchemy", "state", "hello", "dev_tester")
	onlyInProject := func(when string) {
		t.Helper()
		// (The home's .alchemy is ALCHEMY_HOME, whose lock directory
		// holds the auth lock, not a stage's.)
		for _, d := range []string{outside, w.home, w.path("docs"), sub} {
			for _, what := range []string{"state", "files", "lock"} {
				if what == "lock" && d == w.home {
					continue
				}
				if p := filepath.Join(d, ".alchemy", what); exists(t, p) {
					t.Errorf("%s: %s exists: the stack's state and files belong in its project only", when, p)
				}
			}
		}
	}

	// Deploy from outside the project, naming its directory relatively,
	// with a trailing slash.
	r := w.runIn(outside, nil, "deploy", filepath.Base(project)+"/", "--yes")
	if r.code != 0 {
		t.Fatalf("deploy from outside the project: %s", r)
	}
	requireContains(t, "deploy", r.stdout, "Plan: 2 to create", "Done: 2 succeeded, 0 failed, 0 skipped")
	greeting := outputs(t, r.stdout)["greetingFile"]
	if !helloFileRE.MatchString(greeting) {
		t.Fatalf("greetingFile output %q is not the default path", greeting)
	}
	// Relative to the stack file, not to where the deploy ran.
	if content, err := os.ReadFile(filepath.Join(project, greeting)); err != nil || !strings.HasPrefix(string(content), "Hello from stage dev_tester, ") {
		t.Errorf("the greeting file next to the stack: %q %v", content, err)
	}
	for _, f := range []string{"Name.json", "Greeting.json", "__stack_output__.json"} {
		if !exists(t, filepath.Join(stateDir, f)) {
			t.Errorf("state file %s missing from the module root's .alchemy", f)
		}
	}
	onlyInProject("after the deploy from outside")

	// The same state, whichever directory a run starts in.
	for _, run := range []struct {
		where string
		dir   string
		args  []string
	}{
		{"in the project, default stack file", project, []string{"plan"}},
		{"in a subdirectory, relative path", sub, []string{"plan", "../.."}},
		{"in the home directory, absolute path to the file", w.home, []string{"plan", filepath.Join(project, "alchemy.run.go")}},
		{"outside, relative path", outside, []string{"plan", filepath.Base(project)}},
	} {
		r := w.runIn(run.dir, nil, run.args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Plan: no changes") {
			t.Errorf("plan %s: want no changes; %s", run.where, r)
		}
	}
	// A deploy from the subdirectory finds nothing to do either.
	r = w.runIn(sub, nil, "deploy", "../..", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "Plan: no changes") || !strings.Contains(r.stdout, "greetingFile: "+greeting) {
		t.Errorf("deploy from a subdirectory: want no changes and the saved outputs; %s", r)
	}
	// `alchemy state` without a stack file finds the module root from the
	// working directory.
	r = w.runIn(sub, nil, "state", "list", "hello/dev_tester")
	if r.code != 0 || len(strings.Fields(r.stdout)) != 2 {
		t.Errorf("state list from a subdirectory: want the 2 rows; %s", r)
	}
	onlyInProject("after the plans")

	// Destroy from elsewhere.
	r = w.runIn(w.home, nil, "destroy", project, "--yes")
	if r.code != 0 {
		t.Fatalf("destroy from the home directory: %s", r)
	}
	requireContains(t, "destroy", r.stdout, "Done: 2 succeeded, 0 failed, 0 skipped")
	if exists(t, filepath.Join(project, greeting)) {
		t.Error("destroy left the greeting file")
	}
	if exists(t, stateDir) {
		t.Errorf("destroy left the state: %v", listDir(t, stateDir))
	}
	onlyInProject("after the destroy")
	requireContains(t, "plan after destroy", w.ok("plan").stdout, "Plan: 2 to create")
}
