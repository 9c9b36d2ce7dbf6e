//go:build unix

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/fakes/awsiam"
	"github.com/alchemy-go/alchemy/internal/fakes/awslambda"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// The Cloudflare example, deployed and destroyed through the alchemy binary
// against the Cloudflare fake, with credentials from a profile.
func TestCloudflareWorkerExample(t *testing.T) {
	t.Parallel()
	const account, token = "0123456789abcdef0123456789abcdef", "cf-example-token-0001"
	cf := cloudflarefake.New()
	cf.AddAccount(account, "Example")
	cf.AddToken(token, cloudflarefake.TokenOptions{UserEmail: "dev@example.com"})
	cf.SetWorkersSubdomain(account, "example")
	cf.Start()
	t.Cleanup(cf.Close)

	w := newWorld(t)
	base := "CLOUDFLARE_BASE_URL=" + cf.URL()
	// The example as a user has it: alchemy.run.go and worker.js, which the
	// stack names relative to the stack file.
	stack := w.project(example("cloudflare-worker"))

	// The profile, as a person in CI images would set it up.
	if r := w.runEnv([]string{base, "CLOUDFLARE_API_TOKEN=" + token, "CLOUDFLARE_ACCOUNT_ID=" + account},
		"login", "--provider", "Cloudflare", "--method", "stored"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	r := w.runEnv([]string{base}, "deploy", stack, "--yes")
	if r.code != 0 {
		t.Fatalf("deploy: %s", r)
	}
	requireContains(t, "stdout", r.stdout, "Plan: 3 to create", ".example.workers.dev", "Done: 3 succeeded")
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Fatal("the API token was printed")
	}
	scripts := cf.WorkerScripts(account)
	if len(scripts) != 1 {
		t.Fatalf("scripts: %v", scripts)
	}
	module, bindings, _ := cf.WorkerScript(account, scripts[0])
	if !strings.Contains(module, "env.CACHE.get") {
		t.Fatalf("module: %q", module)
	}
	kinds := map[string]bool{}
	for _, b := range bindings {
		kinds[b["type"].(string)+":"+b["name"].(string)] = true
	}
	for _, want := range []string{"kv_namespace:CACHE", "r2_bucket:ASSETS", "plain_text:STAGE"} {
		if !kinds[want] {
			t.Errorf("binding %s missing: %v", want, bindings)
		}
	}
	if len(cf.KVNamespaces(account)) != 1 || len(cf.R2Buckets(account)) != 1 {
		t.Fatalf("kv %v r2 %v", cf.KVNamespaces(account), cf.R2Buckets(account))
	}
	if r := w.runEnv([]string{base}, "plan", stack); !strings.Contains(r.stdout, "Plan: no changes") {
		t.Fatalf("re-plan: %s", r)
	}
	if r := w.runEnv([]string{base}, "destroy", stack, "--yes"); r.code != 0 {
		t.Fatalf("destroy: %s", r)
	}
	if len(cf.WorkerScripts(account)) != 0 || len(cf.KVNamespaces(account)) != 0 || len(cf.R2Buckets(account)) != 0 {
		t.Fatal("destroy left resources behind")
	}
	if rows := listDir(t, filepath.Join(w.dir, ".alchemy", "state", "cf-worker")); len(rows) != 0 {
		t.Fatalf("state left: %v", rows)
	}
}

// The AWS example, deployed and destroyed through the alchemy binary with
// credentials from a profile (stored keys checked with STS), against
// s3rver, dynalite, emulate (+ the IAM policy fake) and the Lambda fake.
func TestAWSAPIExample(t *testing.T) {
	t.Parallel()
	s3 := testpeers.S3rver(t)
	ddb := testpeers.Dynalite(t)
	emulate := testpeers.Emulate(t)
	iam := awsiam.Start(t, emulate.IAMEndpoint())
	lambda := awslambda.Start(t)

	w := newWorld(t)
	// The example as a user has it: alchemy.run.go and the function's
	// source directory, which the stack names relative to the stack file.
	stack := w.project(example("aws-api"))
	env := []string{
		"AWS_ENDPOINT_URL_S3=" + s3.URL, "AWS_ENDPOINT_URL_DYNAMODB=" + ddb.URL,
		"AWS_ENDPOINT_URL_STS=" + emulate.STSEndpoint(), "AWS_ENDPOINT_URL_IAM=" + iam.URL,
		"AWS_ENDPOINT_URL_LAMBDA=" + lambda.URL,
		// s3rver answers 501 to the public access block.
		"ALCHEMY_S3_TOLERATE_NOT_IMPLEMENTED=1",
	}
	keys := []string{"AWS_ACCESS_KEY_ID=" + testpeers.S3rverAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + testpeers.S3rverSecretAccessKey, "AWS_REGION=us-east-1"}
	if r := w.runEnv(append(env, keys...), "login", "--provider", "AWS", "--method", "stored"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	r := w.runEnv(env, "deploy", stack, "--yes")
	if r.code != 0 {
		t.Fatalf("deploy: %s", r)
	}
	requireContains(t, "stdout", r.stdout, "Plan: 4 to create", ".lambda-url.us-east-1.on.aws/", "Done: 4 succeeded")
	if strings.Contains(r.stdout+r.stderr, testpeers.S3rverSecretAccessKey+"\n") {
		t.Fatal("a secret was printed")
	}
	names := lambda.FunctionNames()
	if len(names) != 1 {
		t.Fatalf("functions: %v", names)
	}
	fn, _ := lambda.Function(names[0])
	if fn.Environment["BUCKET"] == "" || fn.Environment["TABLE"] == "" || !strings.Contains(fn.Role, ":role/") || fn.URL == nil {
		t.Fatalf("function: %+v", fn)
	}
	if r := w.runEnv(env, "plan", stack); !strings.Contains(r.stdout, "Plan: no changes") {
		t.Fatalf("re-plan: %s", r)
	}
	if r := w.runEnv(env, "destroy", stack, "--yes"); r.code != 0 {
		t.Fatalf("destroy: %s", r)
	}
	if len(lambda.FunctionNames()) != 0 {
		t.Fatal("destroy left the function")
	}
	if rows := listDir(t, w.path(".alchemy", "state", "aws-api")); len(rows) != 0 {
		t.Fatalf("state left: %v", rows)
	}
}
