//go:build unix

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outputs parses the "Outputs:" block a deploy prints.
func outputs(t *testing.T, stdout string) map[string]string {
	t.Helper()
	_, block, ok := strings.Cut(stdout, "\nOutputs:\n")
	if !ok {
		t.Fatalf("no Outputs: block in\n%s", stdout)
	}
	out := map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if ok {
			out[k] = v
		}
	}
	return out
}

var helloFileRE = regexp.MustCompile(`^\.alchemy/files/hello-Greeting-([a-z0-9-]+)-[a-z2-7]{16}\.txt$`)

func TestExampleLifecycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))

	// First deploy of the default stage, dev_$USER.
	r := w.ok("deploy", hello, "--yes")
	requireContains(t, "deploy output", r.stdout, "Plan: 2 to create", "[Name] created", "[Greeting] created",
		"Done: 2 succeeded, 0 failed, 0 skipped", "Outputs:")
	out := outputs(t, r.stdout)
	devFile := out["greetingFile"]
	if m := helloFileRE.FindStringSubmatch(devFile); m == nil || m[1] != "dev-tester" {
		t.Fatalf("greetingFile output %q is not the default path of stage dev_tester", devFile)
	}
	if !regexp.MustCompile(`^[a-z]{8}$`).MatchString(out["name"]) {
		t.Errorf("name output %q is not 8 lower-case letters", out["name"])
	}
	content, err := os.ReadFile(w.path(devFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hello from stage dev_tester, " + out["name"] + "!\n"; string(content) != want {
		t.Errorf("greeting file holds %q, want %q", content, want)
	}
	devState := w.path(".alchemy", "state", "hello", "dev_tester")
	for _, f := range []string{"Name.json", "Greeting.json", "__stack_output__.json"} {
		if !exists(t, filepath.Join(devState, f)) {
			t.Errorf("state file %s missing", f)
		}
	}

	// Nothing changed: nothing to do, and the stack file is not rebuilt.
	r = w.ok("plan", hello)
	requireContains(t, "plan output", r.stdout, "Plan: no changes")
	if strings.Contains(r.stderr, "Building") {
		// Someone may have edited the module in between (the key covers
		// its files); twice in a row is no coincidence.
		if r = w.ok("plan", hello); strings.Contains(r.stderr, "Building") {
			t.Errorf("every run rebuilds the stack file:\n%s", r.stderr)
		}
	}
	// A deploy with nothing to change says so and prints the saved outputs.
	r = w.ok("deploy", hello, "--yes")
	requireContains(t, "no-op deploy output", r.stdout, "Plan: no changes", "greetingFile: "+devFile)

	// A second stage, side by side.
	r = w.ok("deploy", hello, "--stage", "prod", "--yes")
	prodOut := outputs(t, r.stdout)
	prodFile := prodOut["greetingFile"]
	if m := helloFileRE.FindStringSubmatch(prodFile); m == nil || m[1] != "prod" || prodFile == devFile {
		t.Fatalf("prod greetingFile %q (dev's is %q)", prodFile, devFile)
	}
	prodContent, err := os.ReadFile(w.path(prodFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(prodContent), "Hello from stage prod, ") {
		t.Errorf("prod greeting %q", prodContent)
	}
	prodState := w.path(".alchemy", "state", "hello", "prod")
	if !exists(t, prodState) {
		t.Fatal("no state directory for stage prod")
	}

	// Destroying dev leaves prod alone.
	r = w.ok("destroy", hello, "--yes")
	requireContains(t, "destroy output", r.stdout, "[Greeting] deleted", "[Name] deleted", "Done: 2 succeeded, 0 failed, 0 skipped")
	if exists(t, w.path(devFile)) {
		t.Error("destroy left dev's greeting file")
	}
	if exists(t, devState) {
		t.Errorf("destroy left dev's state: %v", listDir(t, devState))
	}
	if got, err := os.ReadFile(w.path(prodFile)); err != nil || string(got) != string(prodContent) {
		t.Errorf("destroying dev touched prod's file: %q %v", got, err)
	}
	if !exists(t, filepath.Join(prodState, "Greeting.json")) {
		t.Error("destroying dev removed prod's state")
	}
	// Destroying a stage that has nothing left is a no-op, not an error.
	w.ok("destroy", hello, "--yes")

	// `go run alchemy.run.go <command>` in the project is the same CLI as
	// `alchemy <command>`, on the same state (the module root's).
	goRun := func(args ...string) result {
		t.Helper()
		cmd := exec.Command("go", append([]string{"run", "./alchemy.run.go"}, args...)...)
		cmd.Dir = w.dir
		cmd.Env = w.env
		return runCmd(t, cmd, append([]string{"(go run)"}, args...))
	}
	// go run finds the module from its working directory, not from the
	// file: from outside the project it fails.
	plain := exec.Command("go", "run", filepath.Join(hello, "alchemy.run.go"), "plan")
	plain.Dir, plain.Env = w.home, w.env
	if pr := runCmd(t, plain, []string{"(go run from outside the module) plan"}); pr.code == 0 {
		t.Logf("note: go run <abs path> from outside the module works now:\n%s", pr)
	} else {
		t.Logf("as expected, go run of the stack file from a directory outside its module fails: %s", firstLine(pr.stderr))
	}
	for _, args := range [][]string{{"plan"}, {"plan", "--stage", "prod"}, {"plan", "--detailed"}} {
		viaAlchemy := w.ok(append(args[:1:1], append([]string{hello}, args[1:]...)...)...)
		viaGoRun := goRun(args...)
		if viaGoRun.code != 0 || viaGoRun.stdout != viaAlchemy.stdout {
			t.Errorf("go run alchemy.run.go %s differs from alchemy %s:\n%s\nalchemy printed:\n%s", strings.Join(args, " "), strings.Join(args, " "), viaGoRun, viaAlchemy.stdout)
		}
	}
	requireContains(t, "plan of the destroyed dev stage", w.ok("plan", hello).stdout, "Plan: 2 to create")
	requireContains(t, "plan of prod", w.ok("plan", hello, "--stage", "prod").stdout, "Plan: no changes")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
