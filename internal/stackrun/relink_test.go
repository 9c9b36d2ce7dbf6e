//go:build unix

package stackrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// relinkBuild builds stack with a fresh Builder and reports what it did:
// whether it relinked, and how many go build runs it took.
func relinkBuild(t *testing.T, g *goEnv, stack string) (Built, int) {
	t.Helper()
	before := g.builds(t)
	r, err := g.builder(&bytes.Buffer{}).BuildStack(context.Background(), stack)
	if err != nil {
		t.Fatalf("BuildStack: %v", err)
	}
	return r, g.builds(t) - before
}

// After Prepare, an edit of the stack file that keeps its imports is built
// without the go command, into the same program go build makes; an edit
// that changes what it depends on is built by go build again.
func TestRelinkAfterPrepare(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{
		"lib/lib.go":     "package lib\n\nconst Greeting = \"hello\"\n",
		"alchemy.run.go": stackSource(`	"example.com/s/lib"`, `lib.Greeting, "version 1"`),
	})
	dir := filepath.Dir(stack)
	if r, n := relinkBuild(t, g, stack); r.Relinked || n != 1 {
		t.Fatalf("first build: relinked %v, %d go builds", r.Relinked, n)
	}
	if err := g.builder(&bytes.Buffer{}).Prepare(context.Background(), stack); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	recipes, _ := filepath.Glob(filepath.Join(g.cache, "*", "*.relink"))
	if len(recipes) != 1 {
		t.Fatalf("recipes after Prepare: %v", recipes)
	}
	if fi, _ := os.Stat(recipes[0]); fi.Mode().Perm() != 0o600 {
		t.Fatalf("recipe mode %v", fi.Mode())
	}

	edit := func(imports, body string) {
		t.Helper()
		writeFiles(t, dir, map[string]string{"alchemy.run.go": stackSource(imports, body)})
	}
	edit(`	"example.com/s/lib"`, `lib.Greeting, "version 2"`)
	r, n := relinkBuild(t, g, stack)
	if !r.Relinked || n != 0 {
		t.Fatalf("edit keeping the imports: relinked %v, %d go builds", r.Relinked, n)
	}
	if got := run(t, r.Exe); got != "hello version 2" {
		t.Fatalf("relinked stack printed %q", got)
	}
	// The same program as go build's: same module information, same output.
	viaGo := filepath.Join(t.TempDir(), "viago")
	cmd := exec.Command("go", append(append([]string{"build"}, buildFlags(goSettings(envMap(g.env), "GOFLAGS", "CGO_ENABLED"), nil)...), "-o", viaGo, "alchemy.run.go")...)
	cmd.Dir, cmd.Env = dir, g.env
	if noCgo(goSettings(envMap(g.env), "GOFLAGS", "CGO_ENABLED"), nil) {
		cmd.Env = append(slices.Clip(g.env), "CGO_ENABLED=0") // as alchemy builds it
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if a, b := goVersionM(t, g, r.Exe), goVersionM(t, g, viaGo); a != b {
		t.Fatalf("module information differs:\nrelinked:\n%s\ngo build:\n%s", a, b)
	}
	if got := run(t, viaGo); got != "hello version 2" {
		t.Fatalf("go build's stack printed %q", got)
	}

	// A package of the module it imports changed: go build, and the new
	// constant is in the program.
	writeFiles(t, dir, map[string]string{"lib/lib.go": "package lib\n\nconst Greeting = \"howdy\"\n"})
	r, n = relinkBuild(t, g, stack)
	if r.Relinked || n != 1 {
		t.Fatalf("after a dependency changed: relinked %v, %d go builds", r.Relinked, n)
	}
	if got := run(t, r.Exe); got != "howdy version 2" {
		t.Fatalf("stack printed %q", got)
	}
	if err := g.builder(&bytes.Buffer{}).Prepare(context.Background(), stack); err != nil {
		t.Fatalf("Prepare: %v", err)
	}

	// An import added: go build.
	edit(`	"example.com/s/lib"
	"strings"`, `lib.Greeting, strings.ToUpper("version 3")`)
	if r, n = relinkBuild(t, g, stack); r.Relinked || n != 1 {
		t.Fatalf("after an import was added: relinked %v, %d go builds", r.Relinked, n)
	}
	if got := run(t, r.Exe); got != "howdy VERSION 3" {
		t.Fatalf("stack printed %q", got)
	}

	// Back to the prepared imports: relinked again.
	edit(`	"example.com/s/lib"`, `lib.Greeting, "version 4"`)
	if r, n = relinkBuild(t, g, stack); !r.Relinked || n != 0 {
		t.Fatalf("back to the prepared imports: relinked %v, %d go builds", r.Relinked, n)
	}
	if got := run(t, r.Exe); got != "howdy version 4" {
		t.Fatalf("stack printed %q", got)
	}
}

func goVersionM(t *testing.T, g *goEnv, exe string) string {
	t.Helper()
	cmd := exec.Command("go", "version", "-m", exe)
	cmd.Env = g.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	_, rest, _ := strings.Cut(string(out), "\n") // the first line names the file
	return rest
}

// A compile error found by a relink reads exactly as go build's.
func TestRelinkCompileErrorReadsAsGoBuilds(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, nil)
	dir := filepath.Dir(stack)
	relinkBuild(t, g, stack)
	if err := g.builder(&bytes.Buffer{}).Prepare(context.Background(), stack); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	broken := stackSource("", `undefinedThing, "x" +`)
	writeFiles(t, dir, map[string]string{"alchemy.run.go": stackSource("", `undefinedThing, otherThing`)})
	for _, src := range []string{stackSource("", `undefinedThing, otherThing`), broken} {
		writeFiles(t, dir, map[string]string{"alchemy.run.go": src})
		before := g.builds(t)
		_, errRelinked := g.builder(&bytes.Buffer{}).BuildStack(context.Background(), stack)
		if g.builds(t) != before {
			t.Fatalf("a compile error ran go build")
		}
		var be *BuildError
		if !errors.As(errRelinked, &be) || !be.Compile {
			t.Fatalf("relink error %v, want a compile *BuildError", errRelinked)
		}
		// go build on the same file, with no recipe to use.
		os.RemoveAll(g.cache)
		_, errGo := g.builder(&bytes.Buffer{}).BuildStack(context.Background(), stack)
		if g.builds(t) != before+1 {
			t.Fatalf("without a recipe go build did not run")
		}
		if errRelinked.Error() != errGo.Error() {
			t.Fatalf("relink says:\n%s\ngo build says:\n%s", errRelinked, errGo)
		}
		// Set up again for the next case.
		writeFiles(t, dir, map[string]string{"alchemy.run.go": stackSource("", `"ok"`)})
		relinkBuild(t, g, stack)
		if err := g.builder(&bytes.Buffer{}).Prepare(context.Background(), stack); err != nil {
			t.Fatalf("Prepare: %v", err)
		}
	}
}

// A recipe that no longer holds is never used: unreadable, naming a
// compiled package go has since trimmed from its cache, or for a stack
// file with //go:embed (whose build go does differently). go build
// builds, and the program is right.
func TestRelinkOnlyWhatHolds(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, nil)
	dir := filepath.Dir(stack)
	prepare := func() string {
		t.Helper()
		if err := g.builder(&bytes.Buffer{}).Prepare(context.Background(), stack); err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		recipes, _ := filepath.Glob(filepath.Join(g.cache, "*", "*.relink"))
		if len(recipes) != 1 {
			t.Fatalf("recipes: %v", recipes)
		}
		return recipes[0]
	}
	version := 1
	edit := func() {
		version++
		writeFiles(t, dir, map[string]string{"alchemy.run.go": stackSource("", `"version", `+strconv.Itoa(version))})
	}
	expect := func(what string, relinked bool) {
		t.Helper()
		r, n := relinkBuild(t, g, stack)
		if r.Relinked != relinked || n != map[bool]int{true: 0, false: 1}[relinked] {
			t.Fatalf("%s: relinked %v after %d go builds, want relinked %v", what, r.Relinked, n, relinked)
		}
		if got, want := run(t, r.Exe), "version "+strconv.Itoa(version); got != want {
			t.Fatalf("%s: stack printed %q, want %q", what, got, want)
		}
	}
	relinkBuild(t, g, stack)
	recipe := prepare()
	edit()
	expect("prepared", true)

	os.WriteFile(recipe, []byte("{not json"), 0o600)
	edit()
	expect("an unreadable recipe", false)

	os.Remove(recipe)
	recipe = prepare()
	data, _ := os.ReadFile(recipe)
	var rc map[string]any
	json.Unmarshal(data, &rc)
	rc["Archives"] = append(rc["Archives"].([]any), filepath.Join(t.TempDir(), "trimmed-d"))
	data, _ = json.Marshal(rc)
	os.WriteFile(recipe, data, 0o600)
	edit()
	expect("a compiled package trimmed from go's cache", false)

	// A link that fails (here: a recipe naming a configuration go's
	// linker cannot read) builds with go and drops the recipe.
	os.Remove(recipe)
	recipe = prepare()
	data, _ = os.ReadFile(recipe)
	json.Unmarshal(data, &rc)
	rc["LinkCfg"] = "packagefile runtime=" + filepath.Join(t.TempDir(), "missing.a") + "\n"
	data, _ = json.Marshal(rc)
	os.WriteFile(recipe, data, 0o600)
	edit()
	expect("a link that fails", false)
	if _, err := os.Stat(recipe); !os.IsNotExist(err) {
		t.Fatalf("the recipe whose link failed is still there: %v", err)
	}

	writeFiles(t, dir, map[string]string{
		"message.txt":    "embedded",
		"alchemy.run.go": strings.Replace(stackSource(`	_ "embed"`, `message`), "func main()", "//go:embed message.txt\nvar message string\n\nfunc main()", 1),
	})
	relinkBuild(t, g, stack)
	if err := g.builder(&bytes.Buffer{}).Prepare(context.Background(), stack); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if recipes, _ := filepath.Glob(filepath.Join(g.cache, "*", "*.relink")); len(recipes) != 0 {
		t.Fatalf("a recipe for a stack file with //go:embed: %v", recipes)
	}
}

// A package of the module the stack imports embeds a file: the compiled
// package holds its content, so once the file changes the stack is built
// by go build again, never relinked with the old content.
func TestRelinkNotAfterAnEmbeddedFileChanged(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{
		"lib/lib.go":       "package lib\n\nimport _ \"embed\"\n\n//go:embed greeting.txt\nvar Greeting string\n",
		"lib/greeting.txt": "hello",
		"alchemy.run.go":   stackSource(`	"example.com/s/lib"`, `lib.Greeting, "version 1"`),
	})
	dir := filepath.Dir(stack)
	greeting := filepath.Join(dir, "lib", "greeting.txt")
	backdate(t, time.Minute, greeting, filepath.Dir(greeting)) // not "just modified": Prepare trusts them
	relinkBuild(t, g, stack)
	if err := g.builder(&bytes.Buffer{}).Prepare(context.Background(), stack); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	writeFiles(t, dir, map[string]string{"alchemy.run.go": stackSource(`	"example.com/s/lib"`, `lib.Greeting, "version 2"`)})
	r, n := relinkBuild(t, g, stack)
	if !r.Relinked || n != 0 {
		t.Fatalf("edit of the stack file: relinked %v, %d go builds", r.Relinked, n)
	}
	if got := run(t, r.Exe); got != "hello version 2" {
		t.Fatalf("stack printed %q", got)
	}

	// The embedded file changes, and then the stack file.
	writeFiles(t, dir, map[string]string{"lib/greeting.txt": "howdy"})
	writeFiles(t, dir, map[string]string{"alchemy.run.go": stackSource(`	"example.com/s/lib"`, `lib.Greeting, "version 3"`)})
	r, n = relinkBuild(t, g, stack)
	if r.Relinked || n != 1 {
		t.Fatalf("after an embedded file changed: relinked %v, %d go builds", r.Relinked, n)
	}
	if got := run(t, r.Exe); got != "howdy version 3" {
		t.Fatalf("stack printed %q, want the new embedded content", got)
	}
}
