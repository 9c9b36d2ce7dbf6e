package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// complete runs cobra's __complete for args (the last one is the word
// being completed) and returns the candidates and the directive line.
func complete(t *testing.T, args ...string) (candidates []string, directive string) {
	t.Helper()
	r := runCLI(t, append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %s: exit %d: %s", strings.Join(args, " "), r.code, r.errOut)
	}
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

func requireCompletions(t *testing.T, args []string, want ...string) {
	t.Helper()
	got, directive := complete(t, args...)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || directive != ":4" {
		t.Errorf("alchemy __complete %s:\n%s\n%s\nwant:\n%s\n:4 (no file names)", strings.Join(args, " "), strings.Join(got, "\n"), directive, strings.Join(want, "\n"))
	}
}

// TestCompleteProfile: --profile offers the profiles of the alchemy home,
// on every command that has the flag, and takes no lock doing so.
func TestCompleteProfile(t *testing.T) {
	newTestHome(t)
	for _, cmd := range [][]string{{"deploy"}, {"plan"}, {"destroy"}, {"dev"}, {"login"}, {"logout"}, {"profile", "show"}, {"profile", "clear"}, {"profile", "env"}, {"profile", "exec"}} {
		requireCompletions(t, append(cmd, "--profile", ""), "default", "prod")
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("ALCHEMY_HOME"), "lock")); !os.IsNotExist(err) {
		t.Errorf("completion created the lock directory (%v)", err)
	}
}

// TestCompleteProfileV1Home: in the TypeScript tool's layout the profiles
// are directories whose files hold secrets; completion lists the
// directories (that it reads none of the files is TestNamesReadsNoSecret
// in internal/profile).
func TestCompleteProfileV1Home(t *testing.T) {
	newTestHome(t)
	home := os.Getenv("ALCHEMY_HOME")
	writeFile(t, filepath.Join(home, "profiles", "work", "cloudflare.json"), `{"format":"alchemy.profile/v1","provider":"Cloudflare","values":{"method":"stored","apiToken":"cf-secret-v1-token"}}`)
	writeFile(t, filepath.Join(home, "profiles", "staging", "aws.json"), `{not json`)
	writeFile(t, filepath.Join(home, "profiles", ".hidden", "aws.json"), `{}`)
	r := runCLI(t, "__complete", "deploy", "--profile", "")
	if r.code != 0 || r.out != "staging\nwork\n:4\n" || r.errOut != "Completion ended with directive: ShellCompDirectiveNoFileComp\n" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant staging and work, nothing on stderr", r.code, r.out, r.errOut)
	}
}

// TestCompleteStage: --stage offers the stages with state in this project
// (found from a subdirectory too), each described by its stacks.
func TestCompleteStage(t *testing.T) {
	project := newTestHome(t)
	writeFile(t, filepath.Join(project, "go.mod"), "module example.com/hello\n")
	for _, dir := range []string{"hello/prod", "hello/dev_bob", "other/prod"} {
		if err := os.MkdirAll(filepath.Join(project, ".alchemy", "state", dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(project, "infra")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	for _, cmd := range []string{"deploy", "plan", "destroy", "dev"} {
		requireCompletions(t, []string{cmd, "--stage", ""}, "dev_bob\thello", "prod\thello, other")
	}
}

// TestCompleteStageNoState: a project never deployed offers no stage and
// no file names.
func TestCompleteStageNoState(t *testing.T) {
	newTestHome(t)
	requireCompletions(t, []string{"deploy", "--stage", ""})
}

// TestCompleteProviderAndMethod: --provider offers the providers, --method
// the methods of --provider (with their labels), or of every provider.
func TestCompleteProviderAndMethod(t *testing.T) {
	newTestHome(t)
	for _, cmd := range [][]string{{"login"}, {"logout"}, {"profile", "env"}, {"profile", "exec"}} {
		requireCompletions(t, append(cmd, "--provider", ""), "Cloudflare", "AWS", "GitHub")
	}
	requireCompletions(t, []string{"login", "--provider", "aws", "--method", ""}, "env\tEnvironment Variables", "sso\tSSO", "stored\tStored")
	requireCompletions(t, []string{"login", "--method", ""},
		"env\tCloudflare, AWS, GitHub", "gh-cli\tGitHub", "oauth\tCloudflare", "sso\tAWS", "stored\tCloudflare, AWS, GitHub")
	requireCompletions(t, []string{"login", "--provider", "Nope", "--method", ""})
}

// TestCompletionScripts: `alchemy completion bash|zsh|fish` print scripts
// that call back into alchemy's __complete.
func TestCompletionScripts(t *testing.T) {
	newTestHome(t)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := runCLI(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.out, "__complete") || !strings.Contains(r.out, "alchemy") {
			t.Errorf("completion %s: exit %d, %d bytes without a __complete call; stderr %s", shell, r.code, len(r.out), r.errOut)
		}
	}
}
