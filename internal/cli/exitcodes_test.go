package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// cliRun is one in-process run of the command tree, as Main runs it.
type cliRun struct {
	code        int
	out, errOut string
}

// newTestHome points the process at a fresh home, alchemy home and working
// directory, with profile "default" holding GitHub through its env method
// (resolved from GITHUB_TOKEN without any request), and returns the
// working directory.
func newTestHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("ALCHEMY_HOME", filepath.Join(home, ".alchemy"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials"))
	t.Setenv("ALCHEMY_PROFILE", "")
	t.Setenv("ALCHEMY_STATE", "")
	t.Setenv("ALCHEMY_STAGE", "")
	t.Setenv("GITHUB_TOKEN", "ghp_exitcodes0000000001")
	t.Setenv("CLOUDFLARE_BASE_URL", "http://127.0.0.1:1")
	t.Setenv("GITHUB_API_URL", "http://127.0.0.1:1")
	if err := os.MkdirAll(filepath.Join(home, ".alchemy"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := `{"version":0,"profiles":{"default":{"GitHub":{"method":"env"}},"prod":{"GitHub":{"method":"env"}}}}`
	if err := os.WriteFile(filepath.Join(home, ".alchemy", "profiles.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func runCLI(t *testing.T, args ...string) cliRun {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f := &cli.Factory{IO: io, Registry: bundled.Registry, Now: time.Now}
	root := cli.NewRoot(f)
	root.SetArgs(args)
	code := cli.ExitCode(io, root.ExecuteContext(context.Background()))
	return cliRun{code: code, out: out.String(), errOut: errOut.String()}
}

// walk calls fn with every command of the tree, root first.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// commandPaths are the argument lists naming every command of the tree
// (nil for the root), with the hidden __complete commands cobra adds.
func commandPaths() [][]string {
	io, _, _, _ := iostreams.Test()
	var paths [][]string
	walk(cli.NewRoot(&cli.Factory{IO: io, Registry: bundled.Registry}), func(c *cobra.Command) {
		paths = append(paths, strings.Fields(strings.TrimPrefix(c.CommandPath(), "alchemy")))
	})
	return paths
}

// TestExitCodeUnknownFlagEveryCommand: an unknown flag is a usage error
// (exit 2, pointing at the command's --help) on every command of the tree,
// including the grouping ones and the ones cobra adds.
func TestExitCodeUnknownFlagEveryCommand(t *testing.T) {
	newTestHome(t)
	paths := commandPaths()
	if len(paths) < 20 {
		t.Fatalf("walked only %d commands: %v", len(paths), paths)
	}
	for _, path := range paths {
		args := append(append([]string{}, path...), "--no-such-flag")
		r := runCLI(t, args...)
		help := strings.Join(append([]string{"alchemy"}, path...), " ") + " --help"
		if r.code != 2 || !strings.Contains(r.errOut, "unknown flag: --no-such-flag") || !strings.Contains(r.errOut, help) {
			t.Errorf("alchemy %s: exit %d, stderr %q; want exit 2 naming the flag and `%s`", strings.Join(args, " "), r.code, r.errOut, help)
		}
		if r.out != "" {
			t.Errorf("alchemy %s: printed %q on stdout; a usage error goes to stderr only", strings.Join(args, " "), r.out)
		}
	}
}

// exitCases are bad (and some good) inputs per command path, with the
// code and a piece of stderr (or stdout, for exit 0) expected. A row for a
// command this build does not have (init and outputs are being added in
// parallel) does not run; TestExitCodeTableCoversEveryCommand requires a
// row for every command that exists.
var exitCases = []struct {
	args []string
	code int
	want string
	// needs is a command of another change this row runs only with.
	needs string
}{
	{nil, 0, "Usage:", ""},
	{[]string{"--version"}, 0, "alchemy ", ""},
	{[]string{"profil", "show"}, 2, `unknown command "profil" for "alchemy": did you mean 'profile'?`, ""},
	{[]string{"sate", "list"}, 2, "did you mean 'state'?", ""},
	{[]string{"deploy", "a", "b"}, 2, "accepts at most 1 arg(s), received 2", ""},
	{[]string{"deploy", "--concurrency", "0"}, 2, "--concurrency must be at least 1", ""},
	{[]string{"plan", "a", "b"}, 2, "Run `alchemy plan --help` for usage.", ""},
	{[]string{"plan", "--detailed=maybe"}, 2, "invalid argument", ""},
	{[]string{"destroy", "--concurrency", "0"}, 2, "--concurrency must be at least 1", ""},
	{[]string{"dev", "a", "b"}, 2, "Run `alchemy dev --help` for usage.", ""},
	{[]string{"init", "a", "b"}, 2, "Run `alchemy init --help` for usage.", "init"},
	{[]string{"outputs", "a", "b"}, 2, "Run `alchemy outputs --help` for usage.", "outputs"},
	{[]string{"state"}, 0, "Usage:", ""},
	{[]string{"state", "lst"}, 2, `unknown command "lst" for "alchemy state": did you mean`, ""},
	{[]string{"state", "list", "a", "b"}, 2, "accepts at most 1 arg(s)", ""},
	{[]string{"state", "get"}, 2, "accepts 1 arg(s), received 0", ""},
	{[]string{"state", "get", "hello/prod"}, 2, "invalid state path: hello/prod (expected <stack>/<stage>/<resource>)", ""},
	{[]string{"state", "get", "../x/y"}, 2, "invalid state path", ""},
	{[]string{"state", "get", "hello/prod/Nothing"}, 1, "no state at hello/prod/Nothing", ""},
	{[]string{"state", "delete"}, 2, "accepts 1 arg(s), received 0", ""},
	{[]string{"state", "delete", "hello/prod", "--lock-timeout", "soon"}, 2, `invalid argument "soon" for "--lock-timeout"`, ""},
	{[]string{"state", "list", "--state", "gs://bucket"}, 2, `unknown scheme "gs"`, ""},
	{[]string{"state", "list", "--state", "s3://bucket/prefix?region=us-east-1"}, 1, "credentials for the S3 state store: Failed to resolve AWS credentials", ""},
	{[]string{"state", "lease", "extra"}, 2, "Run `alchemy state lease --help` for usage.", ""},
	{[]string{"state", "unlock"}, 2, "accepts 1 arg(s), received 0", ""},
	{[]string{"state", "unlock", "hello"}, 2, "invalid state path: hello (expected <stack>/<stage>)", ""},
	{[]string{"state", "unlock", "hello/prod"}, 0, "hello/prod is not leased", ""},
	{[]string{"state", "migrate", "hello"}, 2, "state migrate needs --to URL", ""},
	{[]string{"state", "migrate", "--to", "./copy"}, 1, "has no state: nothing was copied", ""},
	{[]string{"deploy", "--lock-timeout", "x"}, 2, `invalid argument "x" for "--lock-timeout"`, ""},
	{[]string{"login", "--provider", "Nope"}, 2, "unknown provider 'Nope': choose one of AWS, Cloudflare, GitHub", ""},
	{[]string{"login", "--provider", "Cloudflare", "--method", "nope"}, 2, "unknown Cloudflare method 'nope': choose one of oauth, env, stored", ""},
	{[]string{"login", "--method", "stored"}, 2, "--method needs --provider", ""},
	{[]string{"logout", "--provider", "Nope"}, 2, "unknown provider 'Nope'", ""},
	{[]string{"logout", "extra"}, 2, `unknown command "extra" for "alchemy logout"`, ""},
	{[]string{"profile"}, 0, "Usage:", ""},
	{[]string{"profile", "shwo"}, 2, `unknown command "shwo" for "alchemy profile": did you mean 'show'?`, ""},
	{[]string{"profile", "show", "extra"}, 2, "Run `alchemy profile show --help` for usage.", ""},
	{[]string{"profile", "list", "extra"}, 2, "Run `alchemy profile list --help` for usage.", ""},
	{[]string{"profile", "clear", "extra"}, 2, "Run `alchemy profile clear --help` for usage.", ""},
	{[]string{"profile", "env", "--provider", "Nope"}, 2, "unknown provider 'Nope'", ""},
	{[]string{"profile", "env", "--format", "yaml"}, 2, "unknown --format", ""},
	{[]string{"profile", "exec"}, 2, "requires at least 1 arg(s)", ""},
	{[]string{"profile", "exec", "--", "sh", "-c", "exit 3"}, 3, "", ""},
	// A child that Ctrl-C reached ends alchemy as interrupted, not 255.
	{[]string{"profile", "exec", "--", "sh", "-c", "kill -INT $$"}, 130, "", ""},
	{[]string{"profile", "exec", "--", "alchemy-no-such-program"}, 1, "could not run alchemy-no-such-program", ""},
	{[]string{"version", "extra"}, 2, `unknown command "extra" for "alchemy version"`, ""},
	{[]string{"completion"}, 0, "Usage:", ""},
	{[]string{"completion", "bahs"}, 2, `unknown command "bahs" for "alchemy completion": did you mean 'bash'?`, ""},
	{[]string{"completion", "bash", "extra"}, 2, "Run `alchemy completion bash --help` for usage.", ""},
	{[]string{"completion", "zsh", "extra"}, 2, "Run `alchemy completion zsh --help` for usage.", ""},
	{[]string{"completion", "fish", "extra"}, 2, "Run `alchemy completion fish --help` for usage.", ""},
	{[]string{"completion", "powershell", "extra"}, 2, "Run `alchemy completion powershell --help` for usage.", ""},
	{[]string{"help", "profil"}, 2, "did you mean 'profile'?", ""},
	{[]string{"help", "profile", "shwo"}, 2, "did you mean 'show'?", ""},
	{[]string{"help", "profile", "show"}, 0, "alchemy profile show [flags]", ""},
}

// TestExitCodes runs the table: 0 ok, 1 failure, 2 usage, 130 interrupted.
func TestExitCodes(t *testing.T) {
	newTestHome(t)
	for _, tc := range exitCases {
		if tc.needs != "" && !isCommand(tc.needs) {
			continue // a command of another change, checked once merged
		}
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCLI(t, tc.args...)
			where := r.errOut
			if tc.code == 0 {
				where = r.out
			}
			if r.code != tc.code || !strings.Contains(where, tc.want) {
				t.Errorf("alchemy %s: exit %d\nstdout: %s\nstderr: %s\nwant exit %d with %q", strings.Join(tc.args, " "), r.code, r.out, r.errOut, tc.code, tc.want)
			}
		})
	}
}

// commandOf is the command path an argument list names: its longest
// leading run of words that is a command of the tree.
func commandOf(args []string) string {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	for i := len(words); i > 0; i-- {
		if p := strings.Join(words[:i], " "); isCommand(p) {
			return p
		}
	}
	return ""
}

func isCommand(path string) bool {
	for _, p := range commandPaths() {
		if strings.Join(p, " ") == path {
			return true
		}
	}
	return false
}

// TestExitCodeTableCoversEveryCommand: a command added to the tree needs a
// row of bad input in exitCases.
func TestExitCodeTableCoversEveryCommand(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range exitCases {
		if tc.code != 0 {
			covered[commandOf(tc.args)] = true
		}
	}
	for _, p := range commandPaths() {
		path := strings.Join(p, " ")
		if !covered[path] && path != "" {
			t.Errorf("no bad-input row in exitCases for `alchemy %s`", path)
		}
	}
}
