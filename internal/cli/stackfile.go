//go:build !alchemy_child

package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/alchemy-go/alchemy/internal/auth/bundled" // the alchemy command has every built-in provider
	_ "github.com/alchemy-go/alchemy/internal/prompt/tui" // the alchemy command draws every prompt, its stack programs' too
	"github.com/alchemy-go/alchemy/internal/stackfile"
	"github.com/alchemy-go/alchemy/internal/stackrun"
)

// Main runs the alchemy binary with the process's streams and returns the
// exit code. Stack commands build and run the stack file.
func Main() int {
	f := systemFactory(bundled.Registry)
	f.RunStack = func(ctx context.Context, file string, args []string) (int, error) {
		return runStackFile(ctx, f, file, args)
	}
	return run(f)
}

// runStackFile builds the stack file (cached) and runs it with args.
func runStackFile(ctx context.Context, f *Factory, file string, args []string) (int, error) {
	path, err := stackfile.Locate(file)
	if err != nil {
		return 0, err
	}
	abs, _ := filepath.Abs(path)
	b := &stackrun.Builder{Stderr: os.Stderr}
	return buildAndRun(ctx, f, b, path, func() (string, error) { return b.Build(ctx, path) },
		args, []string{"ALCHEMY_STACK_FILE=" + abs})
}

// buildAndRun builds the stack file's program and runs it, and again each
// time the program says it was built without something its command needs
// (execStack): a state store, the auth providers. A stack may need more
// than one (state on S3 and a stage bound to a Cloudflare account: the
// program finds the store first), each found before anything was done; a
// program built with a feature that asks for it again is a bug, not a
// reason to loop.
func buildAndRun(ctx context.Context, f *Factory, b *stackrun.Builder, stackFile string, build func() (string, error), args, env []string) (int, error) {
	asked := map[string]bool{}
	for {
		exe, err := build()
		if err != nil {
			return 0, err
		}
		code, feature, err := execStack(ctx, f, b, stackFile, exe, args, env)
		if err != nil || feature == "" {
			return code, err
		}
		if asked[feature] {
			return 0, fmt.Errorf("the program of %s was built with %s and asks for it again (a bug in alchemy)", stackFile, featureName(feature))
		}
		asked[feature] = true
	}
}

// execStack runs a stack program, drawing its prompts with f's prompter
// (stackrun.Exec). When it says it was built without something its command
// needs (ExitNeedsStore: a state store, the auth providers), before doing
// anything, execStack records that the stack needs it (Builder.Require)
// and returns that feature: the caller builds the program again and runs
// the same command (buildAndRun).
func execStack(ctx context.Context, f *Factory, b *stackrun.Builder, stackFile, exe string, args, env []string) (code int, rebuild string, err error) {
	needs, err := newNeeds()
	if err != nil {
		return 0, "", err
	}
	defer needs.close()
	asker, _ := f.prompter()
	code, err = stackrun.Exec(ctx, exe, args, append(env[:len(env):len(env)], needs.env), asker, needs.files...)
	if err != nil || code != ExitNeedsStore {
		return code, "", err
	}
	feature := needs.feature()
	switch feature {
	case "":
		return code, "", nil // an exit code of the stack's own
	case featureLoginHere:
		return code, "", errLoginHere
	}
	if err := b.Require(stackFile, feature); err != nil {
		return 0, "", err
	}
	w := b.Stderr
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "%s: building its program with %s (once).\n", featureReason(filepath.Base(stackFile), feature), featureName(feature))
	return 0, feature, nil
}

// featureReason says why the stack file's program needs feature, and
// featureName what it then links.
func featureReason(file, feature string) string {
	switch feature {
	case "postgres":
		return "The state of " + file + " is on PostgreSQL"
	case "s3":
		return "The state of " + file + " is on S3"
	case "providers":
		return "The command needs an auth provider that the resources of " + file + " do not bring"
	}
	return "The program of " + file + " needs " + feature
}

func featureName(feature string) string {
	switch feature {
	case "postgres":
		return "the PostgreSQL store"
	case "s3":
		return "the S3 store"
	case "providers":
		return "every built-in auth provider"
	}
	return feature
}
