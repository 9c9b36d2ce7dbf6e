// Package stackrun builds a user's stack file (alchemy.run.go) with the
// user's own go.mod, caches the executable, and runs it.
//
// A stack is a Go program: alchemy.run.go calls alchemy.Run, which embeds the
// CLI's stack commands, so the compiled stack deploys itself in-process (built
// here with -tags=alchemy_child, it leaves this package, the dev loop and the
// terminal's prompter to the alchemy command, which draws its prompts: see
// Exec and buildFlags). The standalone
// alchemy binary therefore does not link the user's resources; for the stack
// commands (deploy, plan, destroy, dev, login [stack], state ...) it builds
// the stack file with `go build` in the stack's directory, so the user's
// go.mod, go.sum, replace directives, go.work and GOFLAGS decide every
// version, and then executes the result with the same arguments.
//
// # Why an own cache key
//
// `go build` has its own build cache, but even when every package is cached
// it still loads the module graph, hashes every input and re-runs the link
// step, which for a program that links the AWS SDK and a TUI costs hundreds
// of milliseconds (the link alone), far over the budget of an `alchemy plan`
// that has nothing to do. So Build keeps its own cache of linked
// executables, keyed by a cheap fingerprint of everything that can change
// the output, computed without starting any process:
//
//   - the alchemy binary itself (build info and the executable's size+mtime);
//   - the go command found on PATH (path, resolved path, size, mtime), which
//     stands in for `go env GOVERSION` and GOROOT without running go;
//   - the build-relevant environment (GOOS, GOARCH, CGO_ENABLED, GOFLAGS,
//     GOEXPERIMENT, GOTOOLCHAIN, GOWORK, ...) and the go env file;
//   - the stack file's content;
//   - for every file that matters under the module root (go.mod, go.sum,
//     vendor/modules.txt, *.go and the cgo/assembly sources) its relative
//     path, size and mtime, skipping hidden and _ directories, testdata,
//     node_modules and nested modules, exactly the directories the go
//     command itself ignores;
//   - the same walk over each local directory named by a replace directive
//     in go.mod, and over go.work, go.work.sum and the go.work use and
//     replace directories when a workspace applies.
//
// Only files' metadata is read, so the key costs a directory walk: a few
// milliseconds even for a large module (see the benchmarks in the tests).
//
// Files pulled in with //go:embed can have any name, so the walk does not
// see them. After each build a `go list -deps` (run alongside the build)
// names the embedded files of every package that is not an immutable module
// download; their size+mtime and the listings of the directories they sit in
// are recorded in a small manifest next to the executable and checked on
// every hit. Anything that changed while the build ran marks the manifest as
// untrusted, so the next run builds again rather than trust a stale binary.
//
// # Cache layout and concurrency
//
// <CacheDir>/<dir name>-<hash of the stack path>/ holds, per key K,
// K.manifest and the executable K-<hash of the manifest>. A hit reads the
// manifest, verifies it, and stats the executable (whose size is in the
// manifest, so a binary truncated by a crash is never run). Builds of one
// stack are serialised by an flock on .lock in that directory, so concurrent
// alchemy processes build once and the others find the result; the binary is
// written by go build to a temp name and renamed into place, so nobody ever
// sees a partial file even without the lock. Only the newest few
// executables per stack are kept. A build's go commands get a GOTMPDIR of
// their own in that directory (.gotmp-*), removed when the build ends, and
// run in process groups of their own so that cancelling a build stops
// them all (gocmd.go).
//
// # Running
//
// Exec runs the executable with the standard streams inherited. A Ctrl-C on
// a terminal reaches the whole foreground process group, so the stack
// already has it; Exec forwards SIGINT only when it did not come from the
// terminal (a second SIGINT would mean "force quit" to the stack), always
// forwards SIGTERM, and never exits before the stack does.
package stackrun

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"

	"github.com/alchemy-go/alchemy/internal/stackfile"
)

// declaresStack reports whether a stack file calls alchemy.Run (under
// whatever name it imports the SDK as). A mention in a comment or a string
// does not count. A file that does not parse is left to the compiler, whose
// errors say more.
func declaresStack(src []byte) bool {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return true
	}
	name := "alchemy"
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, `"`) == "github.com/alchemy-go/alchemy" && imp.Name != nil {
			name = imp.Name.Name
		}
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// NotStackError reports a Go file that does not call alchemy.Run.
type NotStackError struct {
	File string
}

func (e *NotStackError) Error() string {
	return e.File + ` does not declare a stack: call alchemy.Run("name", func(s *alchemy.Stack) { ... }) from main`
}

// NotGoFileError reports a stack path that is not a .go file (go build would
// take it for a package path).
type NotGoFileError struct {
	File string
}

func (e *NotGoFileError) Error() string {
	return e.File + " is not a Go file: a stack file is a Go program such as alchemy.run.go"
}

// NoModuleError reports a stack file outside any Go module.
type NoModuleError struct {
	File string
	Dir  string // the stack file's directory
}

func (e *NoModuleError) Error() string {
	return fmt.Sprintf("%s is not inside a Go module (no go.mod in %s or any parent directory).\n"+
		"A stack is built with its own go.mod. In %s run:\n"+
		"  go mod init <module name>\n"+
		"  go get github.com/alchemy-go/alchemy\n"+
		"and keep the SDK through `go mod tidy` (which never reads the //go:build ignore stack file) with an alchemy.go\n"+
		"holding //go:build tools, package main and import _ \"github.com/alchemy-go/alchemy\", as `alchemy init` writes it.", e.File, e.Dir, e.Dir)
}

// NoGoError reports that the go command is not on PATH.
type NoGoError struct{}

func (e *NoGoError) Error() string {
	return "go is not on PATH: alchemy builds your stack file with the Go toolchain. " +
		"Install Go (https://go.dev/dl/) or add its bin directory to PATH."
}

// BuildError reports a failed `go build` of the stack file. Output is the go
// command's own output, paths relative to Dir as go build prints them.
type BuildError struct {
	File    string // the stack file as given to Build
	Dir     string // the directory go build ran in
	ModRoot string // the directory of the go.mod it used
	Output  string
	Compile bool // the output holds compiler errors (rather than, say, a module download failure)
}

func (e *BuildError) Error() string {
	var b strings.Builder
	if e.Compile {
		b.WriteString(e.File + " does not compile:\n")
	} else {
		b.WriteString(e.File + " could not be built (go build failed):\n")
	}
	out := strings.TrimRight(e.Output, "\n")
	if out != "" {
		b.WriteString(out + "\n")
	}
	name := filepath.Base(e.File)
	if e.Compile {
		fmt.Fprintf(&b, "hint: fix the errors above (paths are relative to %s) and run the command again; `go vet %s` there shows the same errors", e.Dir, name)
	} else if sdkNotRequired().MatchString(e.Output) {
		get := stackfile.SDKModule
		if v := stackfile.SDKVersion(); v != "" {
			get += "@" + v
		}
		// Not `go mod tidy`: tidy never reads a //go:build ignore file, so
		// in a module where only the stack imports the SDK it is what
		// removed the requirement in the first place.
		fmt.Fprintf(&b, "hint: %s/go.mod does not require the alchemy SDK. In %s run:\n"+
			"  go get %s\n"+
			"and keep it there through `go mod tidy`, which never reads %s (it is //go:build ignore): "+
			"add a file such as the alchemy.go that `alchemy init` writes, with //go:build tools, package main and\n"+
			"  import _ \"%s\"", e.ModRoot, e.ModRoot, get, name, stackfile.SDKModule)
	} else {
		fmt.Fprintf(&b, "hint: the stack is built with `go build %s` in %s using its go.mod; run there the command go suggests above "+
			"(such as `go get <module>`) and run this command again", name, e.Dir)
	}
	return b.String()
}

// sdkNotRequired matches go's errors for a stack whose module does not
// require the SDK (typically after `go mod tidy` dropped it).
var sdkNotRequired = lazyRE(`provides package github\.com/alchemy-go/alchemy(/\S*)? and is replaced but not required|` +
	`no required module provides package github\.com/alchemy-go/alchemy(/\S*)?;`)
