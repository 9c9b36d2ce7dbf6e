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
	exe, err := b.Build(ctx, path)
	if err != nil {
		return 0, err
	}
	return buildAndRun(ctx, f, b, path, exe, func() (string, error) { return b.Build(ctx, path) },
		args, []string{"ALCHEMY_STACK_FILE=" + abs})
}

// buildAndRun runs exe, the stack file's program, and builds it again
// (rebuild) and runs that each time the program says it was built without
// something its command needs (execStack): a state store, the auth
// providers. A stack may need more
// than one (state on S3 and a stage bound to a Cloudflare account: the
// program finds the store first), each found before anything was done; a
// program built with a feature that asks for it again is a bug, not a
// reason to loop.
func buildAndRun(ctx context.Context, f *Factory, b *stackrun.Builder, stackFile, exe string, rebuild func() (string, error), args, env []string, shared ...*os.File) (int, error) {
	asked := map[string]bool{}
	for {
		code, feature, err := execStack(ctx, f, b, stackFile, exe, args, env, shared...)
		if err != nil || feature == "" {
			return code, err
		}
		if asked[feature] {
			return 0, fmt.Errorf("the program of %s was built with what it asked for (%s) and asks for it again (a bug in alchemy)", stackFile, feature)
		}
		asked[feature] = true
		if exe, err = rebuild(); err != nil {
			return 0, err
		}
	}
}

// execStack runs a stack program, drawing its prompts with f's prompter
// (stackrun.Exec). When it says it was built without something its command
// needs (ExitNeedsStore: a state store, the auth providers), before doing
// anything, execStack records that the stack needs it (Builder.Require)
// and returns that feature: the caller builds the program again and runs
// the same command (buildAndRun).
func execStack(ctx context.Context, f *Factory, b *stackrun.Builder, stackFile, exe string, args, env []string, shared ...*os.File) (code int, rebuild string, err error) {
	needs, err := newNeeds()
	if err != nil {
		return 0, "", err
	}
	defer needs.close()
	asker, _ := f.prompter()
	// The needs file is the program's descriptor 3, shared files follow.
	code, err = stackrun.Exec(ctx, exe, args, append(env[:len(env):len(env)], needs.env), asker, append(needs.files, shared...)...)
	if err != nil || code != ExitNeedsStore {
		return code, "", err
	}
	feature := needs.feature()
	switch {
	case feature == "":
		return code, "", nil // an exit code of the stack's own
	case feature == featureLoginHere && len(args) > 0 && args[0] == "login":
		return code, "", errLoginHere
	}
	if err := b.Require(ctx, stackFile, feature); err != nil {
		return 0, "", err
	}
	w := b.Stderr
	if w == nil {
		w = os.Stderr
	}
	fe, ok := features[feature]
	if !ok { // one the builder records itself (cgo): not asked for this way
		fe.why, fe.what = "The program of %s needs "+feature, feature
	}
	fmt.Fprintf(w, fe.why+": building its program with %s (once).\n", filepath.Base(stackFile), fe.what)
	return 0, feature, nil
}

// features say, for each feature a stack program may ask for, why it
// needs it (a format of the stack file's name) and what it then links.
var features = map[string]struct{ why, what string }{
	"postgres":  {"The state of %s is on PostgreSQL", "the PostgreSQL store"},
	"s3":        {"The state of %s is on S3", "the S3 store"},
	"providers": {"The command needs an auth provider that the resources of %s do not bring", "every built-in auth provider"},
}
