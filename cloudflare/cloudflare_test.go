package cloudflare

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/stacktest"
)

const (
	account = "0123456789abcdef0123456789abcdef"
	other   = "fedcba9876543210fedcba9876543210"
	token   = "cfTestToken_0123456789abcdefghijklmnop"
	stage   = "dev_tester"
)

func TestMain(m *testing.M) {
	retryBase, retryCap, retryFloor = time.Millisecond, 4*time.Millisecond, time.Millisecond
	os.Exit(m.Run())
}

type result struct {
	code        int
	out, errOut string
}

// run runs the stack program's CLI in-process, as `go run alchemy.run.go args...` would.
func run(t *testing.T, prog *cli.StackProgram, args ...string) result {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f := &cli.Factory{IO: io, Registry: bundled.Registry, Now: time.Now, Stack: prog}
	root := cli.NewRoot(f)
	root.SetArgs(args)
	code := cli.ExitCode(io, root.ExecuteContext(context.Background()))
	r := result{code, out.String(), errOut.String()}
	if strings.Contains(r.out+r.errOut, token) {
		t.Fatalf("the API token was printed:\n%s\n%s", r.out, r.errOut)
	}
	return r
}

func deploy(t *testing.T, prog *cli.StackProgram) result {
	t.Helper()
	r := run(t, prog, "deploy", "--yes")
	if r.code != 0 {
		t.Fatalf("deploy: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	return r
}

// setup isolates a test in a project dir and points the env-method
// Cloudflare credentials (CI=true) at a fresh fake.
func setup(t *testing.T) *cloudflarefake.Server {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("ALCHEMY_HOME", filepath.Join(dir, "home"))
	t.Setenv("HOME", filepath.Join(dir, "userhome"))
	t.Setenv("ALCHEMY_PROFILE", "")
	t.Setenv("ALCHEMY_STAGE", "")
	t.Setenv("STAGE", "")
	t.Setenv("USER", "tester")
	t.Setenv("CI", "true")
	f := cloudflarefake.New()
	f.Start()
	t.Cleanup(f.Close)
	f.AddAccount(account, "Main")
	f.AddAccount(other, "Other")
	f.AddToken(token, cloudflarefake.TokenOptions{ID: "tok", UserEmail: "dev@example.com", Accounts: []string{account}})
	t.Setenv("CLOUDFLARE_BASE_URL", f.URL())
	t.Setenv("CLOUDFLARE_API_TOKEN", token)
	t.Setenv("CLOUDFLARE_ACCOUNT_ID", account)
	t.Setenv("CLOUDFLARE_API_KEY", "")
	t.Setenv("CLOUDFLARE_EMAIL", "")
	return f
}

// writes returns the API write calls the fake received under path.
func writes(f *cloudflarefake.Server, path string) []string {
	var out []string
	for _, r := range f.Requests() {
		if r.Method != "GET" && strings.Contains(r.Path, path) {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func count(f *cloudflarefake.Server, method, path string) int {
	n := 0
	for _, r := range f.Requests() {
		if r.Method == method && strings.Contains(r.Path, path) {
			n++
		}
	}
	return n
}

func kvStack(title string) *cli.StackProgram {
	return stacktest.Program("app", func(s *alchemy.Stack) {
		props := KVNamespaceProps{}
		if title != "" {
			props.Title = alchemy.String(title)
		}
		ns := NewKVNamespace(s, "Cache", props)
		s.Output("id", ns.ID)
		s.Output("title", ns.Title)
	})
}

func emptyStack() *cli.StackProgram {
	return stacktest.Program("app", func(*alchemy.Stack) {})
}

// instanceID reads a resource's instance id from local state.
func instanceID(t *testing.T, id string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(".alchemy", "state", "app", stage, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var row struct {
		InstanceID string `json:"instanceId"`
	}
	if err := json.Unmarshal(data, &row); err != nil || row.InstanceID == "" {
		t.Fatalf("state row %s: %v %s", id, err, data)
	}
	return row.InstanceID
}

func TestKVNamespaceLifecycle(t *testing.T) {
	f := setup(t)

	r := deploy(t, kvStack(""))
	ns := f.KVNamespaces(account)
	want := alchemy.PhysicalName("app", "Cache", stage, instanceID(t, "Cache"), 64, false)
	if len(ns) != 1 || ns[0].Title != want || !strings.HasPrefix(want, "app-Cache-dev-tester-") {
		t.Fatalf("namespaces = %+v, want title %q", ns, want)
	}
	if !strings.Contains(r.out, "id: "+ns[0].ID) {
		t.Fatalf("outputs lack the namespace id:\n%s", r.out)
	}

	// Re-deploy: nothing to do, no API writes.
	f.ResetRequests()
	deploy(t, kvStack(""))
	if w := writes(f, "/storage/kv"); len(w) != 0 {
		t.Fatalf("no-op re-deploy wrote: %v", w)
	}

	// Title change: renamed in place, same ID.
	f.ResetRequests()
	deploy(t, kvStack("renamed-cache"))
	after := f.KVNamespaces(account)
	if len(after) != 1 || after[0].ID != ns[0].ID || after[0].Title != "renamed-cache" {
		t.Fatalf("after rename: %+v", after)
	}
	if w := writes(f, "/storage/kv"); len(w) != 1 || !strings.HasPrefix(w[0], "PUT ") {
		t.Fatalf("rename writes = %v", w)
	}

	// Removed from the stack: deleted.
	deploy(t, emptyStack())
	if n := f.KVNamespaces(account); len(n) != 0 {
		t.Fatalf("removed namespace still exists: %+v", n)
	}

	// Deleted outside alchemy, then destroyed: success.
	deploy(t, kvStack(""))
	ns = f.KVNamespaces(account)
	f.RemoveKVNamespace(account, ns[0].ID)
	f.ResetRequests()
	if r := run(t, kvStack(""), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy of a deleted namespace: %d %s %s", r.code, r.out, r.errOut)
	}
	if count(f, "DELETE", "/storage/kv/namespaces/"+ns[0].ID) != 1 {
		t.Fatalf("destroy did not try the delete: %v", f.Requests())
	}
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "app", stage)); !os.IsNotExist(err) {
		t.Fatal("destroy left state")
	}
}

func TestKVNamespaceInterruptedCreateIsAdopted(t *testing.T) {
	f := setup(t)
	// Enough unrelated namespaces that the lookup has to page.
	for i := 0; i < 130; i++ {
		f.AddKVNamespace(account, "unrelated-"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
	}
	// The first deploy fails: every try of the create fails, after the
	// engine looked for the namespace and claimed the create (and its
	// instance id).
	f.FailNextOn("POST", "/storage/kv/namespaces", maxTries, 503)
	if r := run(t, kvStack(""), "deploy", "--yes"); r.code == 0 {
		t.Fatal("deploy succeeded with every create failing")
	}
	// ... as if the POST had landed before the answer was lost.
	title := alchemy.PhysicalName("app", "Cache", stage, instanceID(t, "Cache"), 64, false)
	id := f.AddKVNamespace(account, title)

	f.ResetRequests()
	r := deploy(t, kvStack(""))
	var mine []cloudflarefake.KVNamespace
	for _, n := range f.KVNamespaces(account) {
		if !strings.HasPrefix(n.Title, "unrelated-") {
			mine = append(mine, n)
		}
	}
	if len(mine) != 1 || mine[0].ID != id {
		t.Fatalf("namespaces = %+v, want only the adopted %s", mine, id)
	}
	if n := count(f, "POST", "/storage/kv/namespaces"); n != 0 {
		t.Fatalf("%d creates after adoption", n)
	}
	if count(f, "GET", "/storage/kv/namespaces") < 2 {
		t.Fatal("the lookup did not page through the list")
	}
	if !strings.Contains(r.out, "id: "+id) {
		t.Fatalf("outputs: %s", r.out)
	}
}

func TestKVNamespaceRetriesTransientFailures(t *testing.T) {
	f := setup(t)
	f.FailNext(2, 503)
	f.FailNext(1, 429)
	deploy(t, kvStack("retried"))
	if ns := f.KVNamespaces(account); len(ns) != 1 || ns[0].Title != "retried" {
		t.Fatalf("namespaces = %+v", ns)
	}
}

func TestKVNamespaceDoesNotRetryClientErrors(t *testing.T) {
	f := setup(t)
	// The token cannot see this account: 403, never retried.
	t.Setenv("CLOUDFLARE_ACCOUNT_ID", other)
	r := run(t, kvStack("x"), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "code 10000") {
		t.Fatalf("deploy: %d %s %s", r.code, r.out, r.errOut)
	}
	if n := count(f, "GET", "/storage/kv/namespaces"); n != 1 {
		t.Fatalf("a 403 was tried %d times", n)
	}
}

func r2Stack(name, hint string) *cli.StackProgram {
	return stacktest.Program("app", func(s *alchemy.Stack) {
		props := R2BucketProps{}
		if name != "" {
			props.Name = alchemy.String(name)
		}
		if hint != "" {
			props.LocationHint = alchemy.String(hint)
		}
		b := NewR2Bucket(s, "Assets", props)
		s.Output("bucket", b.Name)
	})
}

func TestR2BucketLifecycle(t *testing.T) {
	f := setup(t)

	r := deploy(t, r2Stack("", ""))
	bs := f.R2Buckets(account)
	want := strings.ToLower(alchemy.PhysicalName("app", "Assets", stage, instanceID(t, "Assets"), 63, true))
	if len(bs) != 1 || bs[0].Name != want || len(want) > 63 || !strings.HasPrefix(want, "app-assets-dev-tester-") {
		t.Fatalf("buckets = %+v, want %q", bs, want)
	}
	if !strings.Contains(r.out, "bucket: "+want) {
		t.Fatalf("outputs: %s", r.out)
	}

	f.ResetRequests()
	deploy(t, r2Stack("", ""))
	if w := writes(f, "/r2/buckets"); len(w) != 0 {
		t.Fatalf("no-op re-deploy wrote: %v", w)
	}

	// A name change replaces: the new bucket is created, the old deleted.
	f.ResetRequests()
	deploy(t, r2Stack("assets-v2", "weur"))
	bs = f.R2Buckets(account)
	if len(bs) != 1 || bs[0].Name != "assets-v2" || bs[0].Location != "WEUR" {
		t.Fatalf("after replace: %+v", bs)
	}
	if w := writes(f, "/r2/buckets"); len(w) != 2 || w[0] != "POST /accounts/"+account+"/r2/buckets" || w[1] != "DELETE /accounts/"+account+"/r2/buckets/"+want {
		t.Fatalf("replace writes = %v", w)
	}

	deploy(t, emptyStack())
	if bs := f.R2Buckets(account); len(bs) != 0 {
		t.Fatalf("removed bucket still exists: %+v", bs)
	}

	deploy(t, r2Stack("assets-v3", ""))
	f.RemoveR2Bucket(account, "assets-v3")
	f.ResetRequests()
	if r := run(t, r2Stack("assets-v3", ""), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy of a deleted bucket: %d %s %s", r.code, r.out, r.errOut)
	}
	if count(f, "DELETE", "/r2/buckets/assets-v3") != 1 {
		t.Fatalf("destroy did not try the delete: %v", f.Requests())
	}
}

func TestR2BucketInterruptedCreateIsAdopted(t *testing.T) {
	f := setup(t)
	f.FailNextOn("POST", "/r2/buckets", maxTries, 502)
	if r := run(t, r2Stack("", "apac"), "deploy", "--yes"); r.code == 0 {
		t.Fatal("deploy succeeded with every create failing")
	}
	name := strings.ToLower(alchemy.PhysicalName("app", "Assets", stage, instanceID(t, "Assets"), 63, true))
	f.AddR2Bucket(account, name, "apac")

	f.ResetRequests()
	deploy(t, r2Stack("", "apac"))
	if bs := f.R2Buckets(account); len(bs) != 1 || bs[0].Name != name {
		t.Fatalf("buckets = %+v", bs)
	}
	if count(f, "GET", "/r2/buckets/"+name) != 1 || count(f, "POST", "/r2/buckets") != 0 {
		t.Fatalf("the existing bucket was not read, or was created again: %v", f.Requests())
	}
}

func TestR2BucketRetriesTransientFailures(t *testing.T) {
	f := setup(t)
	f.FailNextOn("POST", "/r2/buckets", 1, 503)
	deploy(t, r2Stack("retried-bucket", ""))
	if bs := f.R2Buckets(account); len(bs) != 1 || bs[0].Name != "retried-bucket" {
		t.Fatalf("buckets = %+v", bs)
	}
	if n := count(f, "POST", "/r2/buckets"); n != 2 {
		t.Fatalf("POST tried %d times, want 2", n)
	}
}

func TestR2BucketInvalidNameFailsWithoutRetry(t *testing.T) {
	f := setup(t)
	r := run(t, r2Stack("Not_Valid", ""), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "10005") {
		t.Fatalf("deploy: %d %s %s", r.code, r.out, r.errOut)
	}
	if n := count(f, "POST", "/r2/buckets"); n != 1 {
		t.Fatalf("a 400 was tried %d times", n)
	}
}

func TestMissingCredentialsFailClearly(t *testing.T) {
	_, err := newClient(nil)
	if err == nil || !strings.Contains(err.Error(), "no Cloudflare credentials") {
		t.Fatalf("err = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	old := [3]time.Duration{retryBase, retryCap, retryFloor}
	retryBase, retryCap, retryFloor = 250*time.Millisecond, 5*time.Second, 500*time.Millisecond
	defer func() { retryBase, retryCap, retryFloor = old[0], old[1], old[2] }()
	for try, max := range map[int]time.Duration{1: 250 * time.Millisecond, 2: 500 * time.Millisecond, 3: time.Second, 6: 5 * time.Second, 8: 5 * time.Second} {
		for i := 0; i < 20; i++ {
			if d := backoff(try, nil); d < max/2 || d > max {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", try, d, max/2, max)
			}
		}
	}
}
