package cloudflare

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/stacktest"
)

const workerSecret = "s3cr3t-value-never-in-state-0123456789"

func workerStack(script string) *cli.StackProgram {
	return stacktest.Program("app", func(s *alchemy.Stack) {
		ns := NewKVNamespace(s, "Cache", KVNamespaceProps{})
		bucket := NewR2Bucket(s, "Files", R2BucketProps{})
		w := NewWorker(s, "Api", WorkerProps{
			Script:  alchemy.String(script),
			KV:      Bindings(map[string]alchemy.Output[string]{"CACHE": ns.ID}),
			R2:      Bindings(map[string]alchemy.Output[string]{"FILES": bucket.Name}),
			Vars:    alchemy.V(map[string]string{"GREETING": "hello"}),
			Secrets: alchemy.V(map[string]string{"API_KEY": workerSecret}),
		})
		s.Output("url", w.URL)
		s.Output("name", w.Name)
	})
}

// grepState fails when any state file holds s.
func grepState(t *testing.T, s string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(".alchemy", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if strings.Contains(string(data), s) {
			t.Errorf("%s holds the secret in clear:\n%s", p, data)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("reading state: %v (%d files)", err, n)
	}
}

func TestWorkerLifecycle(t *testing.T) {
	f := setup(t)
	f.SetWorkersSubdomain(account, "acme")

	r := deploy(t, workerStack("export default { fetch() { return new Response('v1') } }"))
	name := alchemy.PhysicalName("app", "Api", stage, instanceID(t, "Api"), 63, true)
	if got := f.WorkerScripts(account); len(got) != 1 || got[0] != name {
		t.Fatalf("scripts = %v, want [%s]", got, name)
	}
	if want := "url: https://" + name + ".acme.workers.dev"; !strings.Contains(r.out, want) {
		t.Fatalf("outputs lack %q:\n%s", want, r.out)
	}
	if !f.WorkerSubdomainEnabled(account, name) {
		t.Fatal("workers.dev route not enabled")
	}
	module, bindings, ok := f.WorkerScript(account, name)
	if !ok || !strings.Contains(module, "'v1'") {
		t.Fatalf("module = %q, %v", module, ok)
	}
	ns := f.KVNamespaces(account)
	buckets := f.R2Buckets(account)
	if len(ns) != 1 || len(buckets) != 1 {
		t.Fatalf("namespaces %v buckets %v", ns, buckets)
	}
	byName := map[string]map[string]any{}
	for _, b := range bindings {
		byName[b["name"].(string)] = b
	}
	if b := byName["CACHE"]; b["type"] != "kv_namespace" || b["namespace_id"] != ns[0].ID {
		t.Errorf("CACHE binding = %v, want namespace %s", b, ns[0].ID)
	}
	if b := byName["FILES"]; b["type"] != "r2_bucket" || b["bucket_name"] != buckets[0].Name {
		t.Errorf("FILES binding = %v, want bucket %s", b, buckets[0].Name)
	}
	if b := byName["GREETING"]; b["type"] != "plain_text" || b["text"] != "hello" {
		t.Errorf("GREETING binding = %v", b)
	}
	if b := byName["API_KEY"]; b["type"] != "secret_text" || b["text"] != workerSecret {
		t.Errorf("API_KEY binding = %v", b)
	}
	if len(bindings) != 4 {
		t.Errorf("bindings = %v", bindings)
	}
	grepState(t, workerSecret)
	if strings.Contains(r.out+r.errOut, workerSecret) {
		t.Fatal("the secret was printed")
	}

	// Re-deploy: no upload.
	f.ResetRequests()
	deploy(t, workerStack("export default { fetch() { return new Response('v1') } }"))
	if n := count(f, "PUT", "/workers/scripts/"); n != 0 {
		t.Fatalf("no-op re-deploy uploaded %d times", n)
	}

	// Script change: one upload, same name.
	f.ResetRequests()
	deploy(t, workerStack("export default { fetch() { return new Response('v2') } }"))
	if n := count(f, "PUT", "/workers/scripts/"+name); n != 1 {
		t.Fatalf("script change uploaded %d times: %v", n, f.Requests())
	}
	if module, _, _ := f.WorkerScript(account, name); !strings.Contains(module, "'v2'") {
		t.Fatalf("module after change = %q", module)
	}
	grepState(t, workerSecret)

	// Removed from the stack: deleted (and the namespace and bucket too).
	deploy(t, emptyStack())
	if got := f.WorkerScripts(account); len(got) != 0 {
		t.Fatalf("removed worker still exists: %v", got)
	}

	// Deleted outside alchemy, then destroyed: success.
	deploy(t, workerStack("export default {}"))
	name = alchemy.PhysicalName("app", "Api", stage, instanceID(t, "Api"), 63, true)
	f.RemoveWorkerScript(account, name)
	f.ResetRequests()
	if r := run(t, workerStack("export default {}"), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy of a deleted worker: %d %s %s", r.code, r.out, r.errOut)
	}
	if count(f, "DELETE", "/workers/scripts/"+name) != 1 {
		t.Fatalf("destroy did not try the delete: %v", f.Requests())
	}
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "app", stage)); !os.IsNotExist(err) {
		t.Fatal("destroy left state")
	}
}

func TestWorkerScriptPathEditRedeploys(t *testing.T) {
	f := setup(t)
	f.SetWorkersSubdomain(account, "acme")
	if err := os.WriteFile("worker.js", []byte("export default { v: 1 }"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := func() *cli.StackProgram {
		return stacktest.Program("app", func(s *alchemy.Stack) {
			w := NewWorker(s, "Site", WorkerProps{Name: alchemy.String("my-site"), ScriptPath: alchemy.String("worker.js")})
			s.Output("url", w.URL)
		})
	}
	r := deploy(t, prog())
	if !strings.Contains(r.out, "https://my-site.acme.workers.dev") {
		t.Fatalf("outputs:\n%s", r.out)
	}
	data, err := os.ReadFile(filepath.Join(".alchemy", "state", "app", stage, "Site.json"))
	if err != nil || !strings.Contains(string(data), `"scriptHash"`) || strings.Contains(string(data), "v: 1") {
		t.Fatalf("state should hold the file's hash, not its content: %v\n%s", err, data)
	}

	f.ResetRequests()
	deploy(t, prog())
	if n := count(f, "PUT", "/workers/scripts/"); n != 0 {
		t.Fatalf("unchanged file re-uploaded %d times", n)
	}

	if err := os.WriteFile("worker.js", []byte("export default { v: 2 }"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.ResetRequests()
	deploy(t, prog())
	if n := count(f, "PUT", "/workers/scripts/my-site"); n != 1 {
		t.Fatalf("edited file uploaded %d times", n)
	}
	if module, _, _ := f.WorkerScript(account, "my-site"); module != "export default { v: 2 }" {
		t.Fatalf("module = %q", module)
	}
}

func TestWorkerNamedScriptOfSomeoneElseIsNotAdopted(t *testing.T) {
	f := setup(t)
	prog := stacktest.Program("app", func(s *alchemy.Stack) {
		NewWorker(s, "Site", WorkerProps{Name: alchemy.String("taken"), Script: alchemy.String("export default {}")})
	})
	other := stacktest.Program("other", func(s *alchemy.Stack) {
		NewWorker(s, "Site", WorkerProps{Name: alchemy.String("taken"), Script: alchemy.String("export default { other: 1 }")})
	})
	deploy(t, other)
	r := run(t, prog, "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.out+r.errOut, "--adopt") {
		t.Fatalf("deploy over a foreign script: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if module, _, _ := f.WorkerScript(account, "taken"); module != "export default { other: 1 }" {
		t.Fatalf("foreign script overwritten: %q", module)
	}
	if r := run(t, prog, "deploy", "--yes", "--adopt"); r.code != 0 {
		t.Fatalf("deploy --adopt: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	// No workers.dev subdomain on the account: deployed without a URL.
	if module, _, _ := f.WorkerScript(account, "taken"); module != "export default {}" {
		t.Fatalf("adopted script not updated: %q", module)
	}
}

func TestWorkerBindingToMissingNamespaceFails(t *testing.T) {
	f := setup(t)
	prog := stacktest.Program("app", func(s *alchemy.Stack) {
		NewWorker(s, "Api", WorkerProps{
			Script:  alchemy.String("export default {}"),
			KV:      alchemy.V(map[string]string{"CACHE": "0000000000000000000000000000dead"}),
			Secrets: alchemy.V(map[string]string{"K": workerSecret}),
		})
	})
	r := run(t, prog, "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.out+r.errOut, "10042") {
		t.Fatalf("deploy with a missing namespace: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if strings.Contains(r.out+r.errOut, workerSecret) {
		t.Fatal("the secret was printed")
	}
	if len(f.WorkerScripts(account)) != 0 {
		t.Fatal("a failed upload left a script")
	}
}
