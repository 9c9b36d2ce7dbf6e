//go:build unix

package stackrun

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

const testGoMod = "module example.com/s\n\ngo 1.22\n"

// newModule writes a module with a stack file printing version and returns
// the stack file's path.
func newModule(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":         testGoMod,
		"alchemy.run.go": stackSource("", `"version 1", os.Args[1:]`),
	}
	for k, v := range extra {
		files[k] = v
	}
	writeFiles(t, dir, files)
	return filepath.Join(dir, "alchemy.run.go")
}

// mustBuild builds and reports whether go build ran.
func mustBuild(t *testing.T, g *goEnv, stack string) (exe string, built bool) {
	t.Helper()
	before := g.builds(t)
	var progress bytes.Buffer
	exe, err := g.builder(&progress).Build(context.Background(), stack)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	built = g.builds(t) > before
	wantProgress := ""
	if built {
		wantProgress = "Building " + filepath.Clean(stack) + " ...\n"
	}
	if progress.String() != wantProgress {
		t.Fatalf("progress output %q, want %q", progress.String(), wantProgress)
	}
	return exe, built
}

func TestBuildCachesAndRebuildsOnChange(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{"lib/lib.go": "package lib\n\nconst V = 1\n"})
	dir := filepath.Dir(stack)

	start := time.Now()
	exe, built := mustBuild(t, g, stack)
	t.Logf("first build: %v", time.Since(start))
	if !built {
		t.Fatal("first Build did not run go build")
	}
	if got := run(t, exe, "deploy", "--stage", "x"); got != "version 1 [deploy --stage x]" {
		t.Fatalf("stack printed %q", got)
	}

	// Nothing changed: no go process at all.
	calls := len(g.calls(t))
	start = time.Now()
	exe2, built := mustBuild(t, g, stack)
	t.Logf("cache hit: %v", time.Since(start))
	if built || exe2 != exe {
		t.Fatalf("second Build: built=%v exe=%s, want the cached %s", built, exe2, exe)
	}
	if n := len(g.calls(t)); n != calls {
		t.Fatalf("cache hit ran go: %v", g.calls(t)[calls:])
	}

	// Files the go command ignores do not count.
	writeFiles(t, dir, map[string]string{
		"testdata/x.go":             "package x\n",
		"node_modules/y/y.go":       "package y\n",
		".alchemy/z.go":             "package z\n",
		"_scratch/w.go":             "package w\n",
		"nested/go.mod":             "module example.com/nested\n",
		"nested/n.go":               "package nested\n",
		"README.md":                 "# hi\n",
		"lib/notes.txt":             "not Go\n",
		"lib/.lib.go.swp":           "editor\n",
		"lib/testdata/fixture.json": "{}\n",
	})
	if _, built := mustBuild(t, g, stack); built {
		t.Fatal("a file the go command ignores triggered a rebuild")
	}
	// A file inside a nested module does not count either.
	writeFiles(t, dir, map[string]string{"nested/m.go": "package nested\n"})
	if _, built := mustBuild(t, g, stack); built {
		t.Fatal("a file in a nested module triggered a rebuild")
	}

	steps := []struct {
		name   string
		change func()
		want   string
	}{
		{"edit the stack file", func() {
			writeFiles(t, dir, map[string]string{"alchemy.run.go": stackSource("", `"version 2", os.Args[1:]`)})
		}, "version 2 []"},
		{"edit another .go file", func() {
			writeFiles(t, dir, map[string]string{"lib/lib.go": "package lib\n\nconst V = 2\n"})
		}, "version 2 []"},
		{"add a .go file", func() {
			writeFiles(t, dir, map[string]string{"lib/more.go": "package lib\n"})
		}, "version 2 []"},
		{"edit go.mod", func() {
			writeFiles(t, dir, map[string]string{"go.mod": testGoMod + "\n// a comment\n"})
		}, "version 2 []"},
		{"add go.sum", func() {
			writeFiles(t, dir, map[string]string{"go.sum": ""})
		}, "version 2 []"},
	}
	prev := exe
	for _, s := range steps {
		s.change()
		exe, built := mustBuild(t, g, stack)
		if !built {
			t.Fatalf("%s: no rebuild", s.name)
		}
		if exe == prev {
			t.Fatalf("%s: same executable path %s", s.name, exe)
		}
		if got := run(t, exe); got != s.want {
			t.Fatalf("%s: stack printed %q, want %q", s.name, got, s.want)
		}
		if _, built := mustBuild(t, g, stack); built {
			t.Fatalf("%s: the build after it was not a cache hit", s.name)
		}
		prev = exe
	}

	// A cached executable that is not whole (a crash after the rename) is
	// never run: it is built again.
	if err := os.Truncate(prev, 100); err != nil {
		t.Fatal(err)
	}
	exe, built = mustBuild(t, g, stack)
	if !built {
		t.Fatal("a truncated cached executable was used")
	}
	if got := run(t, exe); got != "version 2 []" {
		t.Fatalf("rebuilt stack printed %q", got)
	}

	// The environment that changes the output is part of the key.
	g.env = append(g.env, "GOFLAGS=-trimpath")
	if _, built := mustBuild(t, g, stack); !built {
		t.Fatal("changing GOFLAGS did not rebuild")
	}

	// Old executables are pruned.
	sdirs, _ := filepath.Glob(filepath.Join(g.cache, "*"))
	if len(sdirs) != 1 {
		t.Fatalf("cache holds %v, want one stack directory", sdirs)
	}
	bins, _ := filepath.Glob(filepath.Join(sdirs[0], "*-*"))
	manifests, _ := filepath.Glob(filepath.Join(sdirs[0], "*.manifest"))
	if len(bins) != keepBinaries || len(manifests) != keepBinaries {
		t.Fatalf("cache keeps %d executables and %d manifests, want %d each", len(bins), len(manifests), keepBinaries)
	}
}

func TestBuildFollowsLocalReplaceAndImports(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"dep/go.mod": "module example.com/dep\n\ngo 1.22\n",
		"dep/dep.go": "package dep\n\nconst Name = \"dep v1\"\n",
		"app/go.mod": testGoMod + "\nrequire example.com/dep v0.0.0\n\nreplace (\n\texample.com/dep => ../dep // local\n)\n",
		"app/alchemy.run.go": stackSource(`	"example.com/dep"
	"example.com/s/internal/names"`, `dep.Name, names.Name`),
		"app/internal/names/names.go": "package names\n\nconst Name = \"names v1\"\n",
	})
	stack := filepath.Join(root, "app", "alchemy.run.go")
	exe, _ := mustBuild(t, g, stack)
	if got := run(t, exe); got != "dep v1 names v1" {
		t.Fatalf("stack printed %q", got)
	}
	writeFiles(t, root, map[string]string{"dep/dep.go": "package dep\n\nconst Name = \"dep v2\"\n"})
	exe, built := mustBuild(t, g, stack)
	if !built {
		t.Fatal("editing the replaced module did not rebuild")
	}
	if got := run(t, exe); got != "dep v2 names v1" {
		t.Fatalf("stack printed %q", got)
	}
	if _, built := mustBuild(t, g, stack); built {
		t.Fatal("no cache hit after the rebuild")
	}
}

func TestBuildTracksEmbeddedFiles(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	src := `//go:build ignore

// Stand-in for a stack calling alchemy.Run("embed", ...).
package main

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed msg.txt
var msg string

var alchemy = struct{ Run func(string) }{Run: func(string) {}}

//go:embed static
var static embed.FS

func main() {
	alchemy.Run("embed")
	n := 0
	fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if !d.IsDir() {
			n++
		}
		return nil
	})
	fmt.Printf("%s %d\n", msg, n)
}
`
	stack := newModule(t, map[string]string{
		"alchemy.run.go": src,
		"msg.txt":        "hi",
		"static/a.txt":   "a",
	})
	dir := filepath.Dir(stack)
	old := func(paths ...string) { // as if edited a while ago
		for i := range paths {
			paths[i] = filepath.Join(dir, paths[i])
		}
		backdate(t, time.Hour, paths...)
	}
	old(".", "msg.txt", "static", "static/a.txt")

	exe, _ := mustBuild(t, g, stack)
	if got := run(t, exe); got != "hi 1" {
		t.Fatalf("stack printed %q", got)
	}
	if _, built := mustBuild(t, g, stack); built {
		t.Fatal("no cache hit with embedded files unchanged")
	}

	// An embedded file changes: rebuild.
	writeFiles(t, dir, map[string]string{"msg.txt": "hello"})
	old("msg.txt")
	exe, built := mustBuild(t, g, stack)
	if !built {
		t.Fatal("editing an embedded file did not rebuild")
	}
	if got := run(t, exe); got != "hello 1" {
		t.Fatalf("stack printed %q", got)
	}

	// A file appears in an embedded directory: rebuild.
	writeFiles(t, dir, map[string]string{"static/b.txt": "b"})
	old("static", "static/b.txt")
	exe, built = mustBuild(t, g, stack)
	if !built {
		t.Fatal("adding a file to an embedded directory did not rebuild")
	}
	if got := run(t, exe); got != "hello 2" {
		t.Fatalf("stack printed %q", got)
	}
	if _, built := mustBuild(t, g, stack); built {
		t.Fatal("no cache hit after the rebuild")
	}

	// An embedded file edited just now may have changed under the build:
	// that build is used once, and the next run builds again.
	writeFiles(t, dir, map[string]string{"msg.txt": "howdy"})
	if _, built := mustBuild(t, g, stack); !built {
		t.Fatal("editing an embedded file did not rebuild")
	}
	exe, built = mustBuild(t, g, stack)
	if !built {
		t.Fatal("a build whose embedded file was fresh was trusted")
	}
	if got := run(t, exe); got != "howdy 2" {
		t.Fatalf("stack printed %q", got)
	}
}

func TestBuildCompileError(t *testing.T) {
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{
		"alchemy.run.go": stackSource("", `undefinedThing`),
	})
	t.Chdir(filepath.Dir(stack))
	_, err := g.builder(&bytes.Buffer{}).Build(context.Background(), "alchemy.run.go")
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build: %v, want *BuildError", err)
	}
	msg := err.Error()
	t.Logf("message:\n%s", msg)
	if !strings.HasPrefix(msg, "alchemy.run.go does not compile:\n") {
		t.Fatalf("message does not start with the header:\n%s", msg)
	}
	if !strings.Contains(msg, "\n./alchemy.run.go:18:14: undefined: undefinedThing\n") {
		t.Fatalf("message lacks the compiler's line:\n%s", msg)
	}
	lines := strings.Split(msg, "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "hint: ") {
		t.Fatalf("message does not end with a hint line: %q", last)
	}
	if strings.Contains(msg, "# command-line-arguments") {
		t.Fatalf("message keeps go's package header:\n%s", msg)
	}
	// Fixing it builds.
	writeFiles(t, filepath.Dir(stack), map[string]string{"alchemy.run.go": stackSource("", `"fixed"`)})
	exe, err := g.builder(&bytes.Buffer{}).Build(context.Background(), "alchemy.run.go")
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, exe); got != "fixed" {
		t.Fatalf("stack printed %q", got)
	}
}

func TestBuildMissingModuleEntryIsNotACompileError(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{
		"alchemy.run.go": stackSource(`	"example.com/nowhere"`, `nowhere.X`),
	})
	g.env = append(g.env, "GOFLAGS=-mod=mod", "GOPROXY=off")
	_, err := g.builder(&bytes.Buffer{}).Build(context.Background(), stack)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build: %v, want *BuildError", err)
	}
	if be.Compile || !strings.Contains(err.Error(), "could not be built (go build failed):") ||
		!strings.Contains(err.Error(), "example.com/nowhere") ||
		strings.Contains(err.Error(), "go mod tidy") { // the hint names no command that may break the build
		t.Fatalf("message:\n%s", err)
	}
}

func TestBuildNotInModule(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	dir := t.TempDir()
	if _, ok := findUp(dir, "go.mod"); ok {
		t.Skip("the temp directory is inside a Go module")
	}
	writeFiles(t, dir, map[string]string{"alchemy.run.go": stackSource("", `"x"`)})
	stack := filepath.Join(dir, "alchemy.run.go")
	_, err := g.builder(&bytes.Buffer{}).Build(context.Background(), stack)
	var ne *NoModuleError
	if !errors.As(err, &ne) {
		t.Fatalf("Build: %v, want *NoModuleError", err)
	}
	for _, want := range []string{"is not inside a Go module", "go mod init", "go get github.com/alchemy-go/alchemy", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("message lacks %q:\n%s", want, err)
		}
	}
	if len(g.calls(t)) != 0 {
		t.Fatalf("go ran: %v", g.calls(t))
	}
}

func TestBuildNotAStack(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{
		"alchemy.run.go": "//go:build ignore\n\npackage main\n\nfunc main() {}\n",
	})
	_, err := g.builder(&bytes.Buffer{}).Build(context.Background(), stack)
	want := stack + ` does not declare a stack: call alchemy.Run("name", func(s *alchemy.Stack) { ... }) from main`
	if err == nil || err.Error() != want {
		t.Fatalf("Build: %v\nwant: %s", err, want)
	}
}

func TestBuildNotAGoFile(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{"stack.txt": "alchemy.Run("})
	_, err := g.builder(&bytes.Buffer{}).Build(context.Background(), filepath.Join(filepath.Dir(stack), "stack.txt"))
	var ne *NotGoFileError
	if !errors.As(err, &ne) {
		t.Fatalf("Build: %v, want *NotGoFileError", err)
	}
}

func TestBuildMissingFile(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	_, err := g.builder(&bytes.Buffer{}).Build(context.Background(), "no/such/alchemy.run.go")
	want := "No stack file at no/such/alchemy.run.go. Create one with `alchemy init`, or pass its path: alchemy deploy path/to/alchemy.run.go"
	if err == nil || err.Error() != want {
		t.Fatalf("Build: %v\nwant: %s", err, want)
	}
}

func TestBuildWithoutGo(t *testing.T) {
	t.Parallel()
	stack := newModule(t, nil)
	b := &Builder{CacheDir: t.TempDir(), Env: []string{"PATH=" + t.TempDir(), "HOME=" + t.TempDir()}, Stderr: &bytes.Buffer{}}
	_, err := b.Build(context.Background(), stack)
	var ng *NoGoError
	if !errors.As(err, &ng) || !strings.HasPrefix(err.Error(), "go is not on PATH") {
		t.Fatalf("Build: %v, want *NoGoError", err)
	}
}

func TestBuildConcurrent(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, nil)
	const n = 5
	exes := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			exes[i], errs[i] = g.builder(&bytes.Buffer{}).Build(context.Background(), stack)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Build %d: %v", i, errs[i])
		}
		if exes[i] != exes[0] {
			t.Fatalf("Build %d returned %s, Build 0 %s", i, exes[i], exes[0])
		}
	}
	if got := run(t, exes[0], "a"); got != "version 1 [a]" {
		t.Fatalf("stack printed %q", got)
	}
	if b := g.builds(t); b != 1 {
		t.Fatalf("go build ran %d times, want once (the others wait for the lock and hit the cache)", b)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(exes[0]), ".*tmp*"))
	if len(left) != 0 {
		t.Fatalf("temp files left behind: %v", left)
	}
}

func TestBuildCacheDirFromEnv(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, nil)
	root := t.TempDir()
	b := &Builder{Env: append(g.env, "ALCHEMY_CACHE_DIR="+root), Stderr: &bytes.Buffer{}}
	exe, err := b.Build(context.Background(), stack)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(exe, filepath.Join(root, "stacks")+string(filepath.Separator)) {
		t.Fatalf("executable %s is not under $ALCHEMY_CACHE_DIR/stacks", exe)
	}
}

// `go mod tidy` in a module where only the stack file (//go:build ignore)
// imports the SDK drops the requirement, and the build then fails. The hint
// must not send the user back to tidy; what it says to do must fix the build
// and keep it fixed through the next tidy.
func TestBuildHintWhenTidyDroppedTheSDK(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	g.env = append(g.env, "GOPROXY=off") // builds are -mod=readonly, as by default
	sdk := t.TempDir()
	writeFiles(t, sdk, map[string]string{
		"go.mod": "module github.com/alchemy-go/alchemy\n\ngo 1.22\n",
		"sdk.go": "package alchemy\n\nfunc Run(name string, body func()) { println(name) }\n",
	})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod": "module example.com/s\n\ngo 1.22\n\nreplace github.com/alchemy-go/alchemy => " + sdk + "\n",
		"alchemy.run.go": "//go:build ignore\n\npackage main\n\nimport \"github.com/alchemy-go/alchemy\"\n\n" +
			"func main() { alchemy.Run(\"s\", func() {}) }\n",
	})
	stack := filepath.Join(dir, "alchemy.run.go")
	gocmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command(realGo, args...)
		cmd.Dir, cmd.Env = dir, append(g.env, "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	hint := func() string {
		t.Helper()
		_, err := g.builder(&bytes.Buffer{}).Build(context.Background(), stack)
		var be *BuildError
		if !errors.As(err, &be) || be.Compile {
			t.Fatalf("Build: %v, want a module *BuildError", err)
		}
		msg := err.Error()
		for _, want := range []string{"replaced but not required", dir + "/go.mod does not require the alchemy SDK",
			"\n  go get github.com/alchemy-go/alchemy\n", "//go:build tools", "\n  import _ \"github.com/alchemy-go/alchemy\""} {
			if !strings.Contains(msg, want) {
				t.Fatalf("message lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "often `go mod tidy`") || strings.Contains(msg, "\n  go mod tidy") {
			t.Fatalf("the hint suggests go mod tidy, which is what broke the build:\n%s", msg)
		}
		return msg
	}
	hint()

	// Following only the `go get` fixes the build, but the next tidy undoes it.
	gocmd("get", "github.com/alchemy-go/alchemy")
	if _, err := g.builder(&bytes.Buffer{}).Build(context.Background(), stack); err != nil {
		t.Fatalf("after the hint's go get: %v", err)
	}
	gocmd("mod", "tidy")
	hint()

	// With the tools file too, it survives tidy.
	gocmd("get", "github.com/alchemy-go/alchemy")
	writeFiles(t, dir, map[string]string{"alchemy.go": "//go:build tools\n\npackage main\n\nimport _ \"github.com/alchemy-go/alchemy\"\n"})
	gocmd("mod", "tidy")
	exe, err := g.builder(&bytes.Buffer{}).Build(context.Background(), stack)
	if err != nil {
		t.Fatalf("after go get, the tools file and go mod tidy: %v", err)
	}
	if out, err := exec.Command(exe).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "s" {
		t.Fatalf("the stack ran: %v %q", err, out)
	}
}

// A build's GOTMPDIR that a killed alchemy left behind is removed by a later
// build once it is old; a recent one may belong to a build still running.
func TestBuildPrunesStaleGoTmpDirs(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, nil)
	exe, _ := mustBuild(t, g, stack)
	sdir := filepath.Dir(exe)
	stale := filepath.Join(sdir, goTmpPrefix+"1-stale")
	fresh := filepath.Join(sdir, goTmpPrefix+"2-fresh")
	writeFiles(t, sdir, map[string]string{
		filepath.Join(filepath.Base(stale), "go-build1", "b001", "exe", "a.out"): "half a binary",
		filepath.Join(filepath.Base(fresh), "go-build2", "x"):                    "x",
	})
	backdate(t, 2*staleTemp, stale)
	writeFiles(t, filepath.Dir(stack), map[string]string{"alchemy.run.go": stackSource("", `"version 2"`)})
	if _, built := mustBuild(t, g, stack); !built {
		t.Fatal("the edit did not rebuild")
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale GOTMPDIR is still there (%v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a recent GOTMPDIR was removed: %v", err)
	}
}

// Current tells, without building, whether Build would return the program
// BuildStack just built: alchemy dev asks after every deploy.
func TestCurrentMatchesWhatWasBuilt(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{"lib/lib.go": "package lib\n\nconst V = 1\n"})
	b := g.builder(&bytes.Buffer{})
	built, err := b.BuildStack(context.Background(), stack)
	if err != nil {
		t.Fatal(err)
	}
	if !built.Cached || built.Exe == "" || built.Key == "" {
		t.Fatalf("BuildStack: %+v, want a cached executable and its key", built)
	}
	key, exe, err := b.Current(stack)
	if err != nil || key != built.Key || exe != built.Exe {
		t.Fatalf("Current: %s %s %v, want %s %s", key, exe, err, built.Key, built.Exe)
	}
	builds := g.builds(t)
	writeFiles(t, filepath.Dir(stack), map[string]string{"lib/lib.go": "package lib\n\nconst V = 2\n"})
	key, exe, err = b.Current(stack)
	if err != nil || key == built.Key || exe != "" {
		t.Fatalf("Current after an edit: %s %q %v, want another key and no executable", key, exe, err)
	}
	if g.builds(t) != builds {
		t.Fatal("Current ran go build")
	}
}

// The executable is linked without symbol table and DWARF, and compiled
// without DWARF, unless the user's GOFLAGS (in the environment or the go
// env file) has an -ldflags or -gcflags of its own, which alchemy's would
// replace.
func TestBuildLdflags(t *testing.T) {
	t.Parallel()
	const src = `//go:build ignore

// A stand-in for a stack: it calls alchemy.Run and prints version.
package main

import "fmt"

var alchemy = struct{ Run func(string) }{Run: func(string) {}}

var version = "unset"

func main() {
	alchemy.Run("stand-in")
	fmt.Println(version)
}
`
	goEnvFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(goEnvFile, []byte("GOFLAGS=-ldflags=-X=main.version=from-go-env-file\n"), 0o644)
	for _, tc := range []struct {
		name     string
		env      []string
		stripped bool
		prints   string
		gcflags  bool // alchemy's -gcflags=all=-dwarf=false is on go build's command line
	}{
		{"by default", []string{"GOENV=off"}, true, "unset", true},
		{"GOFLAGS with -ldflags", []string{"GOENV=off", "GOFLAGS=-ldflags=-X=main.version=from-goflags"}, false, "from-goflags", true},
		{"GOFLAGS with -gcflags", []string{"GOENV=off", "GOFLAGS=-gcflags=-N"}, true, "unset", false},
		{"the go env file's GOFLAGS", []string{"GOENV=" + goEnvFile}, false, "from-go-env-file", true},
		{"GOFLAGS overriding the go env file's", []string{"GOENV=" + goEnvFile, "GOFLAGS=-trimpath"}, true, "unset", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGoEnv(t)
			g.env = slices.DeleteFunc(g.env, func(kv string) bool {
				return strings.HasPrefix(kv, "GOFLAGS=") || strings.HasPrefix(kv, "GOENV=")
			})
			g.env = append(g.env, tc.env...)
			stack := newModule(t, map[string]string{"alchemy.run.go": src})
			exe, _ := mustBuild(t, g, stack)
			if got := run(t, exe); got != tc.prints {
				t.Errorf("the stack printed %q, want %q", got, tc.prints)
			}
			var build string
			for _, c := range g.calls(t) {
				if strings.HasPrefix(c, "build ") {
					build = c
				}
			}
			if got := strings.Contains(build, "-gcflags=all=-dwarf=false"); got != tc.gcflags {
				t.Errorf("go %s: alchemy's -gcflags there %v, want %v", build, got, tc.gcflags)
			}
			f, err := elf.Open(exe)
			if err != nil {
				t.Skipf("not an ELF executable: %v", err)
			}
			defer f.Close()
			_, symErr := f.Symbols()
			stripped := errors.Is(symErr, elf.ErrNoSymbols) && f.Section(".debug_info") == nil
			if stripped != tc.stripped {
				t.Errorf("stripped %v (symbols: %v), want %v", stripped, symErr, tc.stripped)
			}
		})
	}
}

// Stacks build with -tags=alchemy_nopg,alchemy_nos3,alchemy_noproviders
// (the user's GOFLAGS tags kept) until Require records that the stack
// needs the PostgreSQL store, the S3 store or every built-in auth
// provider: then the key changes and the next build leaves that tag out.
// alchemy_child is always there (on Unix): the stack runs under the
// alchemy command.
func TestBuildFeatures(t *testing.T) {
	t.Parallel()
	lastBuild := func(g *goEnv) string {
		var build string
		for _, c := range g.calls(t) {
			if strings.HasPrefix(c, "build ") {
				build = c
			}
		}
		return build
	}
	g := newGoEnv(t)
	g.env = append(g.env, "GOFLAGS=-tags=mine")
	stack := newModule(t, nil)
	mustBuild(t, g, stack)
	if b := lastBuild(g); !strings.Contains(b, "-tags=mine,alchemy_nopg,alchemy_nos3,alchemy_noproviders,alchemy_child ") {
		t.Fatalf("go %s: want -tags=mine,alchemy_nopg,alchemy_nos3,alchemy_noproviders,alchemy_child", b)
	}
	b := g.builder(&bytes.Buffer{})
	if err := b.Require(context.Background(), stack, "nonsense"); err == nil {
		t.Fatal("Require took a feature alchemy does not know")
	}
	for _, step := range []struct{ feature, tags string }{
		{"postgres", "-tags=mine,alchemy_nos3,alchemy_noproviders,alchemy_child "},
		{"providers", "-tags=mine,alchemy_nos3,alchemy_child "},
		{"s3", "-tags=mine,alchemy_child "},
	} {
		if err := b.Require(context.Background(), stack, step.feature); err != nil {
			t.Fatal(err)
		}
		if _, built := mustBuild(t, g, stack); !built {
			t.Fatalf("the stack did not build again once it needed %s", step.feature)
		}
		if b := lastBuild(g); !strings.Contains(b, step.tags) {
			t.Fatalf("go %s: want %s", b, step.tags)
		}
		if _, built := mustBuild(t, g, stack); built {
			t.Fatal("built again with nothing changed")
		}
	}
}

// Commands of one stack that each learn of a feature at the same moment
// (two terminals: one finds its state on S3, the other a binding's
// provider) both land in the stack's features: neither write loses the
// other's.
func TestRequireConcurrently(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, nil)
	mustBuild(t, g, stack)
	in, err := g.builder(&bytes.Buffer{}).inputs(stack)
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"cgo", "postgres", "providers", "s3"}
	for round := 0; round < 20; round++ {
		os.Remove(filepath.Join(in.sdir, "features"))
		var wg sync.WaitGroup
		errs := make(chan error, len(all))
		for _, f := range all {
			wg.Go(func() { errs <- g.builder(&bytes.Buffer{}).Require(context.Background(), stack, f) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := readFeatures(in.sdir); !slices.Equal(got, all) {
			t.Fatalf("round %d: features %q, want %q", round, got, all)
		}
	}
}

// A command that holds the features' lock and is stopped (Ctrl-Z) makes
// another wait only as long as its context: Require gives up with it.
func TestRequireWaitsNoLongerThanItsContext(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, nil)
	mustBuild(t, g, stack)
	in, err := g.builder(&bytes.Buffer{}).inputs(stack)
	if err != nil {
		t.Fatal(err)
	}
	held := flock.New(filepath.Join(in.sdir, ".features.lock"))
	if err := held.Lock(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = g.builder(&bytes.Buffer{}).Require(ctx, stack, "s3")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Require behind a held lock: %v after %v", err, time.Since(start))
	}
	held.Unlock()
	if err := g.builder(&bytes.Buffer{}).Require(context.Background(), stack, "s3"); err != nil || !slices.Contains(readFeatures(in.sdir), "s3") {
		t.Fatalf("Require once the lock is free: %v, features %q", err, readFeatures(in.sdir))
	}
}

// cgoSetting is the CGO_ENABLED build setting recorded in exe.
func cgoSetting(t *testing.T, exe string) string {
	t.Helper()
	info, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" {
			return s.Value
		}
	}
	return ""
}

// A stack is built with cgo off, so its program is static and starts
// sooner, unless the user chose (CGO_ENABLED) or it needs cgo.
func TestBuildCgo(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	plain := newModule(t, nil)
	exe, _ := mustBuild(t, g, plain)
	if got := cgoSetting(t, exe); got != "0" {
		t.Errorf("a stack without cgo packages: CGO_ENABLED=%q, want 0", got)
	}
	if out := run(t, exe); out != "version 1 []" {
		t.Errorf("it printed %q", out)
	}

	chosen := &goEnv{env: append(slices.Clip(g.env), "CGO_ENABLED=1"), log: g.log, cache: g.cache}
	exe, built := mustBuild(t, chosen, plain)
	if got := cgoSetting(t, exe); !built || got != "1" {
		t.Errorf("with the user's CGO_ENABLED=1: built %v, CGO_ENABLED=%q", built, got)
	}

	// The go env file's choice counts as the user's too.
	goenv := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(goenv, []byte("CGO_ENABLED=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile := &goEnv{env: append(slices.Clip(g.env), "GOENV="+goenv), log: g.log, cache: g.cache}
	if exe, _ := mustBuild(t, fromFile, plain); cgoSetting(t, exe) != "1" {
		t.Errorf("with CGO_ENABLED=1 in the go env file: CGO_ENABLED=%q", cgoSetting(t, exe))
	}

	// A package whose files differ with cgo (a stub without it, as
	// go-sqlite3 has), and one that is cgo only.
	stack := newModule(t, map[string]string{
		"cgolib/cgo.go":   "//go:build cgo\n\npackage cgolib\n\n/*\nstatic int three(void) { return 3; }\n*/\nimport \"C\"\n\nfunc Mode() string { return \"cgo\" + string(rune('0'+C.three())) }\n",
		"cgolib/stub.go":  "//go:build !cgo\n\npackage cgolib\n\nfunc Mode() string { return \"stub\" }\n",
		"onlycgo/only.go": "package onlycgo\n\n// #define FOUR 4\nimport \"C\"\n\nconst Four = C.FOUR\n",
	})
	src := stackSource("\t\"example.com/s/cgolib\"\n\t\"example.com/s/onlycgo\"", `cgolib.Mode(), onlycgo.Four`)
	if err := os.WriteFile(stack, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	exe, err := g.builder(&progress).Build(context.Background(), stack)
	if err != nil {
		t.Fatalf("Build of a stack that uses cgo: %v\n%s", err, progress.String())
	}
	if out := run(t, exe); out != "cgo3 4" {
		t.Errorf("the stack that uses cgo printed %q, want cgo3 4 (built without it)", out)
	}
	if got := cgoSetting(t, exe); got != "1" {
		t.Errorf("a stack that uses cgo: CGO_ENABLED=%q", got)
	}
	if p := progress.String(); !strings.Contains(p, "uses cgo (example.com/s/cgolib, example.com/s/onlycgo): building it with cgo (once).") {
		t.Errorf("progress: %q", p)
	}
	if _, built := mustBuild(t, g, stack); built {
		t.Error("built again with nothing changed")
	}
}

// The build's go list (which tells whether a stack needs cgo) sees the
// files the build does: a file that only alchemy's own tags leave out, or
// only they take, is no file cgo would take. Listed without the tags, a
// package with an alchemy_child variant looked like one that builds
// differently with cgo.
func TestBuildCgoSeesTheBuildTags(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	stack := newModule(t, map[string]string{
		"variant/command.go": "//go:build !alchemy_child\n\npackage variant\n\nconst Is = \"command\"\n",
		"variant/child.go":   "//go:build alchemy_child\n\npackage variant\n\nconst Is = \"child\"\n",
	})
	if err := os.WriteFile(stack, []byte(stackSource("\t\"example.com/s/variant\"", "variant.Is")), 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	exe, err := g.builder(&progress).Build(context.Background(), stack)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, progress.String())
	}
	if out := run(t, exe); out != "child" {
		t.Errorf("the stack printed %q, want child (built with -tags=alchemy_child)", out)
	}
	if p := progress.String(); strings.Contains(p, "cgo") {
		t.Errorf("a stack without cgo was built with it: %q", p)
	}
	if got := cgoSetting(t, exe); got != "0" {
		t.Errorf("CGO_ENABLED=%q, want 0", got)
	}
}
