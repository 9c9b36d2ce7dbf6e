package alchemy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/lock"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/internal/testprovider"
	"github.com/alchemy-go/alchemy/local"
)

type result struct {
	code        int
	out, errOut string
}

// run runs the stack program's CLI in-process, as `go run alchemy.run.go args...` would.
func run(t *testing.T, prog *cli.StackProgram, pr prompt.Prompter, args ...string) result {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f := &cli.Factory{IO: io, Registry: bundled.Registry, Now: time.Now, Stack: prog, Prompter: pr}
	root := cli.NewRoot(f)
	root.SetArgs(args)
	code := cli.ExitCode(io, root.ExecuteContext(context.Background()))
	return result{code, out.String(), errOut.String()}
}

// workdir isolates a test: a project dir (state lives in ./.alchemy) and an
// alchemy home.
func workdir(t *testing.T) string {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("ALCHEMY_HOME", filepath.Join(dir, "home"))
	t.Setenv("HOME", filepath.Join(dir, "userhome"))
	t.Setenv("ALCHEMY_PROFILE", "")
	t.Setenv("ALCHEMY_STATE", "")
	t.Setenv("ALCHEMY_STAGE", "")
	t.Setenv("STAGE", "")
	t.Setenv("CI", "")
	t.Setenv("USER", "tester")
	return dir
}

func hello(content string) *cli.StackProgram {
	return stacktest.Program("hello", func(s *alchemy.Stack) {
		name := local.NewRandomString(s, "Name", local.RandomStringProps{Length: alchemy.Int(8)})
		file := local.NewFile(s, "Greeting", local.FileProps{
			Path:    alchemy.Sprintf("out/%s.txt", s.Stage()),
			Content: alchemy.Sprintf(content, name.Value),
		})
		s.Output("path", file.Path)
		s.Output("name", name.Value)
	})
}

func TestDeployPlanDestroy(t *testing.T) {
	dir := workdir(t)
	prog := hello("hello %s\n")

	r := run(t, prog, nil, "plan", "--detailed")
	if r.code != 0 {
		t.Fatalf("plan: %d %s", r.code, r.errOut)
	}
	for _, want := range []string{"Plan: 2 to create", "[Greeting] create", "[Name] create", `+ content: (known after apply)`, `+ length: 8`} {
		if !strings.Contains(r.out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.out)
		}
	}
	if _, err := os.Stat(".alchemy"); err == nil {
		t.Fatal("plan wrote state")
	}

	// No terminal, no --yes: print the plan, change nothing, exit 1.
	r = run(t, prog, nil, "deploy")
	if r.code != 1 || !strings.Contains(r.errOut, "Cannot prompt for approval in a non-interactive terminal. Nothing was changed — re-run with --yes to deploy.") {
		t.Fatalf("deploy without --yes: %d %q", r.code, r.errOut)
	}
	if _, err := os.Stat(filepath.Join(".alchemy", "state")); err == nil {
		t.Fatal("declined deploy wrote state")
	}

	r = run(t, prog, nil, "deploy", "--yes")
	if r.code != 0 {
		t.Fatalf("deploy: %d %s %s", r.code, r.out, r.errOut)
	}
	content, err := os.ReadFile(filepath.Join(dir, "out", "dev_tester.txt"))
	if err != nil || !strings.HasPrefix(string(content), "hello ") || len(content) != len("hello 12345678\n") {
		t.Fatalf("file: %q %v", content, err)
	}
	for _, want := range []string{"[Name] created", "[Greeting] created", "Done: 2 succeeded, 0 failed, 0 skipped", "Outputs:", "path: out/dev_tester.txt"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, r.out)
		}
	}
	for _, f := range []string{"Name.json", "Greeting.json", "__stack_output__.json"} {
		if _, err := os.Stat(filepath.Join(".alchemy", "state", "hello", "dev_tester", f)); err != nil {
			t.Errorf("state file %s: %v", f, err)
		}
	}

	r = run(t, prog, nil, "plan")
	if !strings.Contains(r.out, "Plan: no changes") {
		t.Fatalf("re-plan: %s", r.out)
	}

	// The random string is stable; a content change updates the file only.
	prog = hello("hi %s\n")
	r = run(t, prog, nil, "plan", "--detailed")
	if !strings.Contains(r.out, "Plan: 1 to update") || !strings.Contains(r.out, `~ content: "hello `) {
		t.Fatalf("update plan: %s", r.out)
	}
	r = run(t, prog, nil, "deploy", "--yes")
	updated, _ := os.ReadFile(filepath.Join(dir, "out", "dev_tester.txt"))
	if r.code != 0 || string(updated) != "hi "+strings.TrimPrefix(string(content), "hello ") {
		t.Fatalf("after update: %q (%d %s)", updated, r.code, r.errOut)
	}

	// A second stage side by side.
	r = run(t, prog, nil, "deploy", "--yes", "--stage", "prod")
	if r.code != 0 {
		t.Fatal(r.errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "prod.txt")); err != nil {
		t.Fatal(err)
	}

	r = run(t, prog, nil, "destroy", "--yes")
	if r.code != 0 {
		t.Fatalf("destroy: %d %s", r.code, r.errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "dev_tester.txt")); !os.IsNotExist(err) {
		t.Fatal("destroy left the file")
	}
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "hello", "dev_tester")); !os.IsNotExist(err) {
		t.Fatal("destroy left the stage's state")
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "prod.txt")); err != nil {
		t.Fatal("destroying dev touched prod")
	}
}

func TestStageValidation(t *testing.T) {
	workdir(t)
	r := run(t, hello("x%s"), nil, "plan", "--stage", "Prod")
	if r.code != 2 || !strings.Contains(r.errOut, "Invalid stage 'Prod' (from --stage)") {
		t.Fatalf("%d %s", r.code, r.errOut)
	}
	t.Setenv("ALCHEMY_STAGE", "pr-42")
	t.Setenv("STAGE", "ignored")
	r = run(t, hello("x%s"), nil, "plan", "--json")
	if !strings.Contains(r.out, `"stage": "pr-42"`) {
		t.Fatalf("ALCHEMY_STAGE not used: %s", r.out)
	}
}

func widgetStack() *cli.StackProgram {
	return stacktest.Program("w", func(s *alchemy.Stack) {
		th := testprovider.NewThing(s, "Thing", testprovider.ThingProps{Label: alchemy.String("one")})
		s.Output("tokenHash", th.TokenHash)
	}, alchemy.WithAuth(testprovider.Auth{}))
}

func TestFirstDeployNonInteractiveNamesTheFix(t *testing.T) {
	dir := workdir(t)
	r := run(t, widgetStack(), nil, "deploy", "--yes")
	want := "Failed to resolve Widget credentials for profile 'default': No credentials configured for 'Widget' in profile 'default', and this process is non-interactive so it can't be configured interactively. Run `alchemy login --profile default` to configure it, or set CI=1 to use environment-variable credentials."
	if r.code != 1 || !strings.Contains(r.errOut, want) {
		t.Fatalf("%d %s", r.code, r.errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "home")); !os.IsNotExist(err) {
		t.Fatal("something was written to the alchemy home")
	}
}

func TestFirstDeployInCIUsesEnvAndWritesNothing(t *testing.T) {
	dir := workdir(t)
	t.Setenv("CI", "true")
	t.Setenv("WIDGET_TOKEN", "tok-from-env")
	r := run(t, widgetStack(), nil, "deploy", "--yes")
	if r.code != 0 || !strings.Contains(r.out, "tokenHash: "+testprovider.TokenHash("tok-from-env")) {
		t.Fatalf("%d %s %s", r.code, r.out, r.errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "home")); !os.IsNotExist(err) {
		t.Fatal("CI deploy wrote to the alchemy home")
	}
}

// scripted answers prompts in order.
type scripted struct{ answers []string }

func (s *scripted) next() string { a := s.answers[0]; s.answers = s.answers[1:]; return a }
func (s *scripted) Select(context.Context, string, []prompt.Option, string) (string, error) {
	return s.next(), nil
}
func (s *scripted) MultiSelect(context.Context, string, []prompt.Option, []string) ([]string, error) {
	return []string{s.next()}, nil
}
func (s *scripted) Input(context.Context, prompt.Input) (string, error) { return s.next(), nil }
func (s *scripted) Confirm(context.Context, string, bool) (bool, error) { return true, nil }

func TestFirstDeployConfiguresTheProfile(t *testing.T) {
	dir := workdir(t)
	pr := &scripted{answers: []string{"stored", "tok-typed", "Deploy"}}
	r := run(t, widgetStack(), pr, "deploy")
	if r.code != 0 || !strings.Contains(r.out, "tokenHash: "+testprovider.TokenHash("tok-typed")) {
		t.Fatalf("%d %s %s", r.code, r.out, r.errOut)
	}
	data, err := os.ReadFile(filepath.Join(dir, "home", "profiles.json"))
	if err != nil || !strings.Contains(string(data), `"Widget": {`) {
		t.Fatalf("profile not created: %s %v", data, err)
	}
	// The next deploy uses the saved profile without asking.
	r = run(t, widgetStack(), nil, "deploy", "--yes")
	if r.code != 0 || strings.Contains(r.errOut, "Widget: credentials saved.") {
		t.Fatalf("%d %s", r.code, r.errOut)
	}
	if strings.Contains(r.out+r.errOut, "tok-typed") {
		t.Fatal("a secret was printed")
	}
	// login walks only the stack's providers.
	r = run(t, widgetStack(), nil, "login")
	if r.code != 0 || !strings.Contains(r.out, "── Widget ──") || strings.Contains(r.out, "Cloudflare") {
		t.Fatalf("login: %d %s %s", r.code, r.out, r.errOut)
	}
}

// A stack whose resources need no credentials (the README's) still lets
// login configure the providers built into alchemy.
func TestLoginWithNoProviders(t *testing.T) {
	workdir(t)
	t.Setenv("GITHUB_TOKEN", "ghp_fromenv0001")
	// Non-interactive: the error names the built-ins and how to configure one.
	r := run(t, hello("%s"), nil, "login")
	if r.code != 1 || !strings.Contains(r.errOut, "Stack hello declares no resource that needs credentials: using the providers built into alchemy.") ||
		!strings.Contains(r.errOut, "--provider <Cloudflare|AWS|GitHub> --method <method>") {
		t.Fatalf("%d %s %s", r.code, r.out, r.errOut)
	}
	// Interactive: the built-ins are offered, and the one picked configured.
	pr := &scripted{answers: []string{"GitHub", "env"}}
	r = run(t, hello("%s"), pr, "login")
	if r.code != 0 || !strings.Contains(r.out, "── GitHub ──") || !strings.Contains(r.out, "source: env - GITHUB_TOKEN") {
		t.Fatalf("%d %s %s", r.code, r.out, r.errOut)
	}
}

func TestConcurrentDeployOfOneStageIsRefused(t *testing.T) {
	dir := workdir(t)
	l, err := lock.Acquire(context.Background(), filepath.Join(dir, ".alchemy", "lock"), "stage-hello-dev_tester", lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	r := run(t, hello("%s"), nil, "deploy", "--yes")
	if r.code != 1 || !strings.Contains(r.errOut, "Another alchemy run holds hello/dev_tester: ") ||
		!strings.Contains(r.errOut, fmt.Sprintf("(pid %d)", os.Getpid())) || !strings.Contains(r.errOut, "alchemy state unlock hello/dev_tester") ||
		!strings.Contains(r.errOut, "Nothing was changed.") {
		t.Fatalf("%d %s", r.code, r.errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".alchemy", "state")); !os.IsNotExist(err) {
		t.Fatal("state was written while another run held the stage")
	}
}

func TestStateCommands(t *testing.T) {
	workdir(t)
	prog := hello("%s")
	if r := run(t, prog, nil, "deploy", "--yes"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	if r := run(t, prog, nil, "state", "list"); r.out != "hello\n" {
		t.Fatalf("list: %q", r.out)
	}
	if r := run(t, prog, nil, "state", "list", "hello/dev_tester"); r.out != "Greeting\nName\n" {
		t.Fatalf("list stage: %q", r.out)
	}
	r := run(t, prog, nil, "state", "get", "hello/dev_tester/Name")
	if r.code != 0 || !strings.Contains(r.out, `"resourceType": "Local.RandomString"`) {
		t.Fatalf("get: %d %s %s", r.code, r.out, r.errOut)
	}
	if r := run(t, prog, nil, "state", "get", "../etc/passwd"); r.code != 2 || !strings.Contains(r.errOut, "invalid state path") {
		t.Fatalf("hostile path: %d %s", r.code, r.errOut)
	}
	if r := run(t, prog, nil, "state", "delete", "hello/dev_tester/Name"); r.code != 1 || !strings.Contains(r.errOut, "Re-run with --yes") {
		t.Fatalf("delete without --yes: %d %s", r.code, r.errOut)
	}
	if r := run(t, prog, nil, "state", "delete", "hello/dev_tester/Name", "--yes"); r.code != 0 || r.out != "Deleted state at hello/dev_tester/Name\n" {
		t.Fatalf("delete: %d %s %s", r.code, r.out, r.errOut)
	}
	// Forgotten, so the next plan creates it again.
	if r := run(t, prog, nil, "plan"); !strings.Contains(r.out, "Plan: 1 to create") {
		t.Fatalf("plan after forget: %s", r.out)
	}
}

// Under CI an explicit profile is honoured (the seed's `alchemy deploy
// --stage prod --profile prod`); without one, each provider reads its env
// method.
func TestCIKeepsAnExplicitProfile(t *testing.T) {
	workdir(t)
	// Store a token in profile "prod" (from the environment, as a script does).
	t.Setenv("WIDGET_TOKEN", "tok-stored-prod")
	if r := run(t, widgetStack(), nil, "login", "--profile", "prod", "--provider", "Widget", "--method", "stored"); r.code != 0 {
		t.Fatalf("login: %d %s", r.code, r.errOut)
	}
	t.Setenv("CI", "true")
	t.Setenv("WIDGET_TOKEN", "tok-from-ci-env")
	r := run(t, widgetStack(), nil, "deploy", "--yes", "--stage", "prod", "--profile", "prod")
	if r.code != 0 || !strings.Contains(r.out, "tokenHash: "+testprovider.TokenHash("tok-stored-prod")) {
		t.Fatalf("CI deploy --profile prod did not use the profile: %d %s %s", r.code, r.out, r.errOut)
	}
	t.Setenv("ALCHEMY_PROFILE", "prod")
	r = run(t, widgetStack(), nil, "deploy", "--yes", "--stage", "prod2")
	if r.code != 0 || !strings.Contains(r.out, "tokenHash: "+testprovider.TokenHash("tok-stored-prod")) {
		t.Fatalf("CI deploy with ALCHEMY_PROFILE did not use the profile: %d %s %s", r.code, r.out, r.errOut)
	}
	t.Setenv("ALCHEMY_PROFILE", "")
	r = run(t, widgetStack(), nil, "deploy", "--yes", "--stage", "ci")
	if r.code != 0 || !strings.Contains(r.out, "tokenHash: "+testprovider.TokenHash("tok-from-ci-env")) {
		t.Fatalf("CI deploy without a profile did not read the environment: %d %s %s", r.code, r.out, r.errOut)
	}
	// An explicit profile that does not exist: refused, never created.
	r = run(t, widgetStack(), nil, "deploy", "--yes", "--stage", "x", "--profile", "prdo")
	if r.code != 1 || !strings.Contains(r.errOut, "Profile 'prdo' does not exist (selected by --profile). Did you mean 'prod'?") {
		t.Fatalf("CI deploy with a misspelled profile: %d %s", r.code, r.errOut)
	}
	// An explicit profile without that provider: an error naming the fix,
	// never a prompt.
	if err := os.WriteFile(filepath.Join(os.Getenv("ALCHEMY_HOME"), "profiles.json"), []byte(`{"version":0,"profiles":{"empty":{}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, widgetStack(), nil, "deploy", "--yes", "--stage", "x", "--profile", "empty")
	if r.code != 1 || !strings.Contains(r.errOut, "alchemy login --profile empty --provider Widget --method <stored|env>") {
		t.Fatalf("CI deploy with an unconfigured profile: %d %s", r.code, r.errOut)
	}
}
