package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/testpeers"
	"github.com/alchemy-go/alchemy/internal/testprovider"
)

// boundLocalStack deploys one local file to stage dev_tester, which it
// binds to a Cloudflare account: no resource of it needs the Cloudflare
// provider, the binding does.
const boundLocalStack = `//go:build ignore

package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("boundlocal", func(s *alchemy.Stack) {
		local.NewFile(s, "Greeting", local.FileProps{Path: alchemy.String("out/greeting.txt"), Content: alchemy.String("hello")})
	}, alchemy.Stage("dev_tester", alchemy.Account("Cloudflare", "0123456789abcdef0123456789abcdef")))
}
`

// A stack program links the built-in auth providers its resources' packages
// bring, and the S3 store only when its state is there. A stack of local
// resources links neither the providers nor a cloud client; when it turns
// out to need one (state on S3, a stage bound to an account, a login with
// no resource that needs credentials) it says so before it does anything,
// and alchemy builds it in and runs the command again, once. A binding is
// never skipped for want of its provider.
func TestStackProgramLinksProvidersOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.project(fixture("withstate"))
	cache := t.TempDir() // this test's own: the builds counted are its own
	base := []string{"ALCHEMY_CACHE_DIR=" + cache}

	d := w.runEnv(base, "deploy", "--yes")
	if d.code != 0 {
		t.Fatalf("deploy: %s", d)
	}
	lean := newestExe(t, cache)
	cloudModules := []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", "golang.org/x/oauth2", "gopkg.in/ini.v1"}
	if deps := goVersionM(t, lean); !strings.Contains(deps, "alchemy_nos3,alchemy_noproviders") || containsAny(deps, cloudModules) {
		t.Fatalf("the program of a stack of local resources was built without alchemy_nos3,alchemy_noproviders, or links a cloud module:\n%s", deps)
	}

	// State on S3: the program is built again with the S3 store (and the
	// AWS provider whose keys sign its requests), once.
	g := testpeers.Versitygw(t)
	s3env := append(base[:1:1], "ALCHEMY_STATE=s3://"+g.NewBucket(t)+"/team?region="+testpeers.VersitygwRegion+"&endpoint="+g.URL,
		"CI=true", "AWS_ACCESS_KEY_ID="+testpeers.VersitygwAccessKeyID, "AWS_SECRET_ACCESS_KEY="+testpeers.VersitygwSecretAccessKey, "AWS_REGION="+testpeers.VersitygwRegion)
	s := w.runEnv(s3env, "deploy", "--yes")
	const s3Why = "The state of alchemy.run.go is on S3: building its program with the S3 store (once).\n"
	if s.code != 0 || strings.Count(s.stderr, "Building ") != 1 || strings.Count(s.stderr, s3Why) != 1 ||
		strings.Count(s.stdout, "withstate → dev_tester") != 1 || strings.Contains(s.stdout+s.stderr, testpeers.VersitygwSecretAccessKey) {
		t.Fatalf("deploy with state on S3 (one build, said why once, run once): %s", s)
	}
	requireContains(t, "deploy with state on S3", s.stdout, "· state s3://", "Plan: 1 to create")
	if deps := goVersionM(t, newestExe(t, cache)); !strings.Contains(deps, "github.com/aws/aws-sdk-go-v2") || strings.Contains(deps, "alchemy_nos3") {
		t.Fatalf("the program for state on S3 does not link the AWS SDK, or was built without the S3 store:\n%s", deps)
	}
	if again := w.runEnv(s3env, "plan"); again.code != 0 || strings.Contains(again.stderr, "Building ") || !strings.Contains(again.stdout, "Plan: no changes") {
		t.Errorf("plan after the stack needed S3: %s", again)
	}

	// A login in a project whose stack uses no provider walks every
	// built-in one: its program hands the login back to the alchemy
	// command, which has them all; nothing is built, and the stack's
	// program stays without them.
	login := w.runEnv(append(base[:1:1], "GITHUB_TOKEN=ghp_e2eproviderlink0000000000000000000000"),
		"login", "--provider", "GitHub", "--method", "stored")
	const providersWhy = "The command needs an auth provider that the resources of alchemy.run.go do not bring: building its program with every built-in auth provider (once).\n"
	if login.code != 0 || strings.Contains(login.stderr, "Building ") || strings.Contains(login.stderr, "building its program") ||
		strings.Count(login.stderr, "declares no resource that needs credentials") != 1 || strings.Contains(login.stderr, "No stack file") ||
		strings.Contains(login.stdout+login.stderr, "ghp_e2eproviderlink") {
		t.Fatalf("login with a stack of local resources (handed back, nothing built): %s", login)
	}
	if feats, _ := filepath.Glob(filepath.Join(cache, "stacks", "*", "features")); len(feats) != 1 {
		t.Fatalf("features files: %q", feats)
	} else if b, _ := os.ReadFile(feats[0]); strings.TrimSpace(string(b)) != "s3" {
		t.Fatalf("the stack's features after the login: %q, want s3 alone", b)
	}
	if show := w.run("profile", "show"); show.code != 0 || !strings.Contains(show.stdout, "GitHub") || !strings.Contains(show.stdout, "stored") {
		t.Fatalf("the login stored no GitHub token: %s", show)
	}

	// A stage bound to a Cloudflare account: the binding is checked with
	// the provider built in, and refuses credentials of another account.
	other := filepath.Join(w.dir, "bound")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "alchemy.run.go"), []byte(boundLocalStack), 0o644); err != nil {
		t.Fatal(err)
	}
	wrong := append(base[:1:1], "CI=true", "CLOUDFLARE_API_TOKEN=cf-e2e-token-0001", "CLOUDFLARE_ACCOUNT_ID=fedcba9876543210fedcba9876543210")
	b := w.runIn(other, wrong, "deploy", "--yes")
	if b.code == 0 || strings.Count(b.stderr, "Building ") != 2 || strings.Count(b.stderr, providersWhy) != 1 ||
		!strings.Contains(b.stderr, "Stage dev_tester is bound to Cloudflare account 0123456789abcdef0123456789abcdef") ||
		strings.Contains(b.stdout+b.stderr, "cf-e2e-token-0001") {
		t.Fatalf("deploy of a stage bound to another Cloudflare account (built twice: without, then with the providers; refused): %s", b)
	}
	if _, err := os.Stat(filepath.Join(other, "out", "greeting.txt")); err == nil {
		t.Fatal("a refused deploy created its file")
	}

	// Both at once, from a cache of its own: state on S3 and the bound
	// stage. The program finds the store first, then the provider: built
	// three times, each reason said once, and deployed (the credentials
	// act in the bound account this time).
	both := append([]string{"ALCHEMY_CACHE_DIR=" + t.TempDir(), "CLOUDFLARE_API_TOKEN=cf-e2e-token-0001",
		"CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef"}, s3env[1:]...)
	bb := w.runIn(other, both, "deploy", "--yes")
	if bb.code != 0 || strings.Count(bb.stderr, "Building ") != 3 || strings.Count(bb.stderr, s3Why) != 1 || strings.Count(bb.stderr, providersWhy) != 1 ||
		strings.Count(bb.stdout, "boundlocal → dev_tester") != 1 {
		t.Fatalf("deploy of a bound stage with state on S3 (built three times, each reason once, run once): %s", bb)
	}
	if got, err := os.ReadFile(filepath.Join(other, "out", "greeting.txt")); err != nil || string(got) != "hello" {
		t.Fatalf("the deploy wrote %q, %v", got, err)
	}

	// The lean program, run by hand for a command that may list every
	// provider, says what to do.
	cmd := exec.Command(lean, "profile", "show")
	cmd.Dir, cmd.Env = w.dir, append(append([]string(nil), w.env...), "ALCHEMY_STACK_FILE="+w.path("alchemy.run.go"))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "this program was built without the Cloudflare, AWS and GitHub auth providers") ||
		!strings.Contains(string(out), "run the stack with the alchemy command") {
		t.Errorf("the lean program run by hand: %v\n%s", err, out)
	}
}

// A resource of a third-party kind that names a built-in provider without
// importing it (and reads its credentials with the public auth.GitHub):
// the stack's program, built without that provider, asks for it once it
// has declared the resource and before it does anything; built with it,
// the deploy reads the token through the reader.
func TestThirdPartyResourceNamesABuiltInProvider(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.internalProject(fixture("githubprobe"))
	const token = "ghp_e2ethirdpartyprobe00000000000000000000"
	env := []string{"ALCHEMY_CACHE_DIR=" + t.TempDir(), "CI=true", "GITHUB_TOKEN=" + token}
	d := w.runEnv(env, "deploy", "--yes")
	const providersWhy = "The command needs an auth provider that the resources of alchemy.run.go do not bring: building its program with every built-in auth provider (once).\n"
	if d.code != 0 || strings.Count(d.stderr, "Building ") != 2 || strings.Count(d.stderr, providersWhy) != 1 ||
		strings.Count(d.stdout, "githubprobe → dev_tester") != 1 || strings.Contains(d.stdout+d.stderr, token) {
		t.Fatalf("deploy of a stack whose resource names GitHub (built twice, said why once, run once): %s", d)
	}
	o := w.runEnv(env, "outputs", "tokenHash")
	if o.code != 0 || strings.TrimSpace(o.stdout) != testprovider.TokenHash(token) || strings.Contains(o.stderr, "Building ") {
		t.Fatalf("outputs: want the hash of the token the resource read, %s: %s", testprovider.TokenHash(token), o)
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
