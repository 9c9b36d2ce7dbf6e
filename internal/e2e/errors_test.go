//go:build unix

package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestStackFileErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	notFound := func(path string) string {
		// stackrun.NotFoundError
		return "No stack file at " + path + ". Create one with `alchemy init`, or pass its path: alchemy deploy path/to/alchemy.run.go\n"
	}

	t.Run("Missing", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			path string
		}{
			{[]string{"deploy", "--yes"}, "./alchemy.run.go"},
			{[]string{"plan"}, "./alchemy.run.go"},
			{[]string{"destroy", "--yes"}, "./alchemy.run.go"},
			{[]string{"plan", "nope/alchemy.run.go"}, "nope/alchemy.run.go"},
			// A directory without a stack file in it.
			{[]string{"plan", fixture("")}, filepath.Join(fixture(""), "alchemy.run.go")},
		} {
			r := w.run(tc.args...)
			if r.code != 1 || r.stderr != notFound(tc.path) || r.stdout != "" {
				t.Errorf("want exit 1 and exactly %q on stderr; %s", notFound(tc.path), r)
			}
		}
		if exists(t, w.path(".alchemy")) {
			t.Error("a missing stack file left a .alchemy directory")
		}
	})

	t.Run("DoesNotCompile", func(t *testing.T) {
		dir := w.project(fixture("broken"), "broken")
		stack := filepath.Join(dir, "alchemy.run.go")
		for _, args := range [][]string{{"deploy", stack, "--yes"}, {"plan", dir}} {
			r := w.run(args...)
			if r.code == 0 {
				t.Fatalf("a stack file that does not compile: %s", r)
			}
			requireContains(t, "stderr", r.stderr,
				stack+" does not compile:",
				// The compiler's own line, position included.
				`./alchemy.run.go:11:15: cannot use "not a number" (untyped string constant) as int value in variable declaration`,
				"hint: fix the errors above (paths are relative to "+dir+")")
			if strings.Contains(r.stderr, "# command-line-arguments") {
				t.Errorf("go's package header reached the user:\n%s", r.stderr)
			}
		}
		if exists(t, w.path(".alchemy")) || exists(t, filepath.Join(dir, ".alchemy")) {
			t.Error("a failed build left a .alchemy directory")
		}
	})

	t.Run("NoStack", func(t *testing.T) {
		dir := w.project(fixture("nostack"), "nostack")
		stack := filepath.Join(dir, "alchemy.run.go")
		r := w.run("deploy", dir, "--yes")
		want := stack + ` does not declare a stack: call alchemy.Run("name", func(s *alchemy.Stack) { ... }) from main` + "\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("want exit 1 and exactly %q; %s", want, r)
		}
		if strings.Contains(r.stdout+r.stderr, "hello, not a stack") || strings.Contains(r.stderr, "Building") {
			t.Errorf("a file without a stack was built or run: %s", r)
		}
		if exists(t, w.path(".alchemy")) || exists(t, filepath.Join(dir, ".alchemy")) {
			t.Error("a file without a stack left a .alchemy directory")
		}
	})

	t.Run("NotGo", func(t *testing.T) {
		r := w.run("plan", filepath.Join(repoRoot, "go.mod"))
		if r.code == 0 || !regexp.MustCompile(`is not a Go file`).MatchString(r.stderr) {
			t.Errorf("a non-Go stack path: %s", r)
		}
	})
}
