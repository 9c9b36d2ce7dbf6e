// Package alchemy is the SDK for writing a stack in Go. A stack file,
// alchemy.run.go, declares resources inside alchemy.Run; the same program is
// the alchemy CLI for that stack:
//
//	//go:build ignore
//
//	package main
//
//	import (
//		"github.com/alchemy-go/alchemy"
//		"github.com/alchemy-go/alchemy/local"
//	)
//
//	func main() {
//		alchemy.Run("hello", func(s *alchemy.Stack) {
//			name := local.NewRandomString(s, "Name", local.RandomStringProps{Length: alchemy.Int(8)})
//			file := local.NewFile(s, "Greeting", local.FileProps{
//				Content: alchemy.Sprintf("hello %s\n", name.Value),
//			})
//			s.Output("path", file.Path)
//		})
//	}
//
// `alchemy deploy` builds and runs it; `go run alchemy.run.go deploy`, run
// inside the module (go run finds go.mod from the working directory), does
// the same.
package alchemy

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/alchemy-go/alchemy/auth"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/engine"
)

// Stack is the stack being declared, for one stage.
type Stack struct {
	name, stage string
	dir         string
	nodes       []*engine.Node
	outputs     []engine.NamedValue
	errs        []error
}

// Dir is the directory of the stack file. Relative paths a resource reads
// or writes resolve from it, whatever directory alchemy runs in.
func (s *Stack) Dir() string { return s.dir }

// Path resolves a path relative to the stack file's directory.
func (s *Stack) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || s.dir == "" {
		return p
	}
	return filepath.Join(s.dir, p)
}

// Fail records a declaration error (an unreadable file a resource needs,
// say): the plan fails with it, naming the resource, before anything is
// changed. Resource constructors use it, as they cannot return errors.
func (s *Stack) Fail(id string, err error) {
	s.errs = append(s.errs, fmt.Errorf("%s: %w", id, err))
}

// Name is the stack name.
func (s *Stack) Name() string { return s.name }

// Stage is the stage being deployed (or planned, or destroyed).
func (s *Stack) Stage() string { return s.stage }

// Output declares a stack output, printed after a deploy and kept in state.
// v is an Output, an Input, or a plain value.
func (s *Stack) Output(name string, v any) {
	var val engine.Value = literal{v: v}
	if in, ok := v.(interface{ value() engine.Value }); ok {
		val = in.value()
	}
	s.outputs = append(s.outputs, engine.NamedValue{Name: name, Value: val})
}

// StackOption configures a stack (WithAuth, WithState, Stage).
type StackOption struct{ apply func(*cli.StackProgram) }

// WithAuth adds auth providers to the ones the stack's resources name, for
// providers that are not built into alchemy (see package auth).
func WithAuth(ps ...auth.Provider) StackOption {
	return StackOption{func(p *cli.StackProgram) {
		for _, a := range ps {
			p.Auth = append(p.Auth, a)
		}
	}}
}

// WithState keeps the stack's state in the store url names, instead of
// .alchemy/state beside the stack's go.mod:
//
//	alchemy.Run("app", body, alchemy.WithState("postgres://alchemy@db.internal:5432/state"))
//
// url is file://PATH or a plain path (a project directory: its
// .alchemy/state, relative to the module root), postgres://… or
// postgresql://… (a password is better left to PGPASSWORD than written
// here), or s3://bucket/prefix?region=…&endpoint=… (credentials from the
// profile's AWS provider). --state URL and ALCHEMY_STATE override it, in
// that order, so CI can point at the shared store without editing code.
// Every run names the store it uses.
func WithState(url string) StackOption {
	return StackOption{func(p *cli.StackProgram) { p.State = url }}
}

// StageOption declares something about one stage: the profile it runs
// with, an account its credentials must act in.
type StageOption struct{ apply func(*cli.StageBinding) }

// Stage binds a stage to a profile and to accounts:
//
//	alchemy.Run("app", body,
//		alchemy.Stage("prod", alchemy.Profile("prod"),
//			alchemy.Account("Cloudflare", "0123456789abcdef0123456789abcdef"),
//			alchemy.Account("AWS", "111122223333")))
//
// Running the stage without --profile or ALCHEMY_PROFILE uses the bound
// profile, under CI too; a different one chosen on the command line is
// refused. deploy, destroy, dev and plan resolve the credentials of every
// bound provider and check the account they act in (Cloudflare: the
// account id deploys use; AWS: STS GetCallerIdentity) before anything is
// read or changed, and refuse on a mismatch.
func Stage(name string, opts ...StageOption) StackOption {
	return StackOption{func(p *cli.StackProgram) {
		b := &cli.StageBinding{Stage: name}
		for _, o := range opts {
			if o.apply != nil {
				o.apply(b)
			}
		}
		p.Stages = append(p.Stages, b)
	}}
}

// Profile is the profile a stage runs with (see Stage).
func Profile(name string) StageOption {
	return StageOption{func(b *cli.StageBinding) { b.SetProfile(name) }}
}

// Account is the account a provider's credentials must act in for a stage
// (see Stage): provider is an auth provider's name ("Cloudflare", "AWS"),
// id the Cloudflare account id or the 12-digit AWS account id.
func Account(provider, id string) StageOption {
	return StageOption{func(b *cli.StageBinding) { b.AddAccount(provider, id) }}
}

// Run declares the stack and runs the alchemy CLI on it with the process's
// arguments (deploy, plan, destroy, dev, login, ...). It does not return.
func Run(name string, body func(*Stack), opts ...StackOption) {
	p := program(name, body, opts...)
	if p.File == "" {
		p.File = stackFile()
	}
	os.Exit(cli.MainStack(p))
}

// stackFile is the stack file's absolute path: the alchemy binary names it
// in ALCHEMY_STACK_FILE when it runs the stack; under `go run` it is the
// file that called Run, as compiled. "" when neither is known (a build
// with -trimpath): then the current directory stands in for its directory.
func stackFile() string {
	if f := os.Getenv("ALCHEMY_STACK_FILE"); filepath.IsAbs(f) {
		return f
	}
	if _, f, _, ok := runtime.Caller(2); ok && filepath.IsAbs(f) {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return ""
}

func init() {
	cli.SDKProgram = func(name string, body, opts any) *cli.StackProgram {
		return program(name, body.(func(*Stack)), opts.([]StackOption)...)
	}
}

// program is Run without running: the stack as the CLI sees it. Tests in
// other packages reach it through internal/stacktest.
func program(name string, body func(*Stack), opts ...StackOption) *cli.StackProgram {
	p := &cli.StackProgram{Name: name}
	p.Build = func(stage string) (spec *engine.Spec, err error) {
		s := &Stack{name: name, stage: stage, dir: p.Dir()}
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("declaring stack %s: panic: %v%s", name, r, panicSite(p.File))
			}
		}()
		body(s)
		spec = &engine.Spec{Stack: name, Stage: stage, Dir: s.dir, Nodes: s.nodes, Outputs: s.outputs}
		if len(s.errs) > 0 {
			return spec, &engine.DeclarationError{Stack: name, Errs: s.errs}
		}
		return spec, nil
	}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(p)
		}
	}
	return p
}

// panicSite is where the stack program panicked, as " (at file:line)": the
// deepest frame in the stack file (its own code, not the runtime's or a
// resource constructor's), else the deepest outside the runtime and this
// SDK. Called from the deferred recover, while the panicking frames are
// still on the stack. "" when none is found.
func panicSite(stackFile string) string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	var outside string
	for {
		f, more := frames.Next()
		switch {
		case stackFile != "" && (f.File == stackFile ||
			// built with -trimpath: the frame names the file, not its directory
			strings.HasPrefix(f.Function, "main.") && filepath.Base(f.File) == filepath.Base(stackFile)):
			return fmt.Sprintf(" (at %s:%d)", stackFile, f.Line)
		case outside == "" && f.File != "" && !strings.HasPrefix(f.Function, "runtime.") &&
			!strings.HasPrefix(f.Function, "github.com/alchemy-go/alchemy.") &&
			!strings.HasPrefix(f.Function, "github.com/alchemy-go/alchemy/"):
			outside = fmt.Sprintf(" (at %s:%d)", f.File, f.Line)
		}
		if !more {
			return outside
		}
	}
}
