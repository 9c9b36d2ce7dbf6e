package cloudflare

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	"github.com/alchemy-go/alchemy/internal/stacktest"
)

// These tests hold the providers to the ownership rule: nothing that cannot
// be proven this stack's is deleted or overwritten, and a replacement that
// needs its predecessor's name deletes the predecessor first, never the
// resource it has just created.

// stateAttr reads a resource's attributes from local state; nil when it
// has no row.
func stateAttr(t *testing.T, id string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(".alchemy", "state", "app", stage, id+".json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var row struct {
		Attr map[string]any `json:"attr"`
	}
	if err := json.Unmarshal(data, &row); err != nil {
		t.Fatalf("state row %s: %v %s", id, err, data)
	}
	if row.Attr == nil {
		row.Attr = map[string]any{}
	}
	return row.Attr
}

func noChanges(t *testing.T, prog *cli.StackProgram) {
	t.Helper()
	r := run(t, prog, "plan")
	if r.code != 0 || !strings.Contains(r.out, "Plan: no changes") {
		t.Fatalf("plan after the deploy: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
}

func refused(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != 1 || !strings.Contains(r.errOut, "Re-run with `--adopt`") {
		t.Fatalf("deploy was not refused: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	for _, w := range want {
		if !strings.Contains(r.errOut, w) {
			t.Fatalf("refusal lacks %q:\n%s", w, r.errOut)
		}
	}
}

// The bug this guards against: a hint change "replaced" a named database by
// taking over the database of the same name, then cleanup deleted it by its
// old id. Now the current one is deleted first, a new one created, and
// state points at it.
func TestD1HintChangeOfNamedDatabaseDeletesFirst(t *testing.T) {
	f := setup(t)
	deploy(t, d1Stack("orders", "weur"))
	before := f.D1Databases(account)
	if len(before) != 1 || before[0].PrimaryLocationHint != "weur" {
		t.Fatalf("databases = %+v", before)
	}

	f.ResetRequests()
	r := deploy(t, d1Stack("orders", "enam"))
	after := f.D1Databases(account)
	if len(after) != 1 || after[0].Name != "orders" || after[0].PrimaryLocationHint != "enam" || after[0].ID == before[0].ID {
		t.Fatalf("after the replace: %+v (before %+v)", after, before)
	}
	if w := writes(f, "/d1/database"); len(w) != 2 || w[0] != "DELETE /accounts/"+account+"/d1/database/"+before[0].ID || w[1] != "POST /accounts/"+account+"/d1/database" {
		t.Fatalf("replace writes = %v, want the delete first", w)
	}
	if a := stateAttr(t, "DB"); a["id"] != after[0].ID || a["name"] != "orders" {
		t.Fatalf("state attr = %v, want id %s", a, after[0].ID)
	}
	if !strings.Contains(r.out, "dbid: "+after[0].ID) {
		t.Fatalf("outputs: %s", r.out)
	}
	noChanges(t, d1Stack("orders", "enam"))

	f.ResetRequests()
	if r := run(t, d1Stack("orders", "enam"), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s %s", r.code, r.out, r.errOut)
	}
	if d := f.D1Databases(account); len(d) != 0 || count(f, "DELETE", "/d1/database/"+after[0].ID) != 1 {
		t.Fatalf("destroy left %+v: %v", d, f.Requests())
	}
}

func TestD1GeneratedNameReplaceCreatesFirst(t *testing.T) {
	f := setup(t)
	deploy(t, d1Stack("", "weur"))
	before := f.D1Databases(account)

	f.ResetRequests()
	deploy(t, d1Stack("", "enam"))
	after := f.D1Databases(account)
	if len(after) != 1 || after[0].ID == before[0].ID || after[0].Name == before[0].Name || after[0].PrimaryLocationHint != "enam" {
		t.Fatalf("after the replace: %+v (before %+v)", after, before)
	}
	if w := writes(f, "/d1/database"); len(w) != 2 || w[0] != "POST /accounts/"+account+"/d1/database" || w[1] != "DELETE /accounts/"+account+"/d1/database/"+before[0].ID {
		t.Fatalf("replace writes = %v, want the create first", w)
	}
	if a := stateAttr(t, "DB"); a["id"] != after[0].ID {
		t.Fatalf("state attr = %v", a)
	}
	noChanges(t, d1Stack("", "enam"))
}

func TestD1DatabaseOfSomeoneElseNeedsAdopt(t *testing.T) {
	f := setup(t)
	id := f.AddD1Database(account, "shared-db", "weur")

	refused(t, run(t, d1Stack("shared-db", ""), "deploy", "--yes"), "Cannot adopt resource 'DB' (Cloudflare.D1.Database): D1 database shared-db exists in the cloud but is not owned by this stack/stage/logical-id")
	if w := writes(f, "/d1/database"); len(w) != 0 {
		t.Fatalf("a refused deploy wrote: %v", w)
	}
	if a := stateAttr(t, "DB"); a != nil {
		t.Fatalf("a refused deploy left a row: %v", a)
	}
	// Nothing of it is this stack's: a destroy deletes nothing.
	if r := run(t, d1Stack("shared-db", ""), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s %s", r.code, r.out, r.errOut)
	}
	if d := f.D1Databases(account); len(d) != 1 || d[0].ID != id || len(writes(f, "/d1/database")) != 0 {
		t.Fatalf("destroy touched it: %+v %v", d, writes(f, "/d1/database"))
	}

	f.ResetRequests()
	r := run(t, d1Stack("shared-db", ""), "deploy", "--yes", "--adopt")
	if r.code != 0 || !strings.Contains(r.out, "dbid: "+id) {
		t.Fatalf("deploy --adopt: %d %s %s", r.code, r.out, r.errOut)
	}
	if d := f.D1Databases(account); len(d) != 1 || d[0].ID != id || len(writes(f, "/d1/database")) != 0 {
		t.Fatalf("taking it over wrote %v: %+v", writes(f, "/d1/database"), d)
	}
	if a := stateAttr(t, "DB"); a["id"] != id {
		t.Fatalf("state attr = %v", a)
	}
	// Now it is this stack's.
	if r := run(t, d1Stack("shared-db", ""), "destroy", "--yes"); r.code != 0 || len(f.D1Databases(account)) != 0 {
		t.Fatalf("destroy: %d %s %+v", r.code, r.errOut, f.D1Databases(account))
	}
}

func TestR2AdoptedBucketHintChangeDeletesFirst(t *testing.T) {
	f := setup(t)
	f.AddR2Bucket(account, "media", "weur")
	if r := run(t, r2Stack("media", "weur"), "deploy", "--yes", "--adopt"); r.code != 0 {
		t.Fatalf("deploy --adopt: %d %s %s", r.code, r.out, r.errOut)
	}
	if w := writes(f, "/r2/buckets"); len(w) != 0 {
		t.Fatalf("taking it over wrote %v", w)
	}

	f.ResetRequests()
	deploy(t, r2Stack("media", "enam"))
	if w := writes(f, "/r2/buckets"); len(w) != 2 || w[0] != "DELETE /accounts/"+account+"/r2/buckets/media" || w[1] != "POST /accounts/"+account+"/r2/buckets" {
		t.Fatalf("replace writes = %v, want the delete first", w)
	}
	if bs := f.R2Buckets(account); len(bs) != 1 || bs[0].Name != "media" || bs[0].Location != "ENAM" {
		t.Fatalf("buckets = %+v", bs)
	}
	noChanges(t, r2Stack("media", "enam"))

	// A bucket that holds objects: R2 refuses the delete, so the replace
	// fails with the bucket and its data intact.
	f.AddR2Object(account, "media", "cat.jpg", []byte("meow"))
	if r := run(t, r2Stack("media", "wnam"), "deploy", "--yes"); r.code == 0 || !strings.Contains(r.errOut, "is not empty") {
		t.Fatalf("replace of a non-empty bucket: %d %s %s", r.code, r.out, r.errOut)
	}
	if bs := f.R2Buckets(account); len(bs) != 1 || bs[0].Location != "ENAM" || !reflect.DeepEqual(f.R2Objects(account, "media"), []string{"cat.jpg"}) {
		t.Fatalf("buckets = %+v, objects %v", bs, f.R2Objects(account, "media"))
	}
}

func TestR2RefusedBucketSurvivesDestroy(t *testing.T) {
	f := setup(t)
	f.AddR2Bucket(account, "photos", "")
	f.AddR2Object(account, "photos", "cat.jpg", []byte("meow"))
	refused(t, run(t, r2Stack("photos", ""), "deploy", "--yes"), "R2 bucket photos exists in the cloud but is not owned")

	if r := run(t, r2Stack("photos", ""), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s %s", r.code, r.out, r.errOut)
	}
	if count(f, "DELETE", "/r2/buckets") != 0 {
		t.Fatalf("destroy tried to delete it: %v", f.Requests())
	}
	if bs := f.R2Buckets(account); len(bs) != 1 || bs[0].Name != "photos" || !reflect.DeepEqual(f.R2Objects(account, "photos"), []string{"cat.jpg"}) {
		t.Fatalf("buckets = %+v, objects %v", bs, f.R2Objects(account, "photos"))
	}
}

// recordsNamed returns the zone's records named name.
func recordsNamed(f *cloudflarefake.Server, name string) []cloudflarefake.DNSRecord {
	var out []cloudflarefake.DNSRecord
	for _, r := range f.DNSRecords(zoneID) {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

func TestDNSTypeChangeOnTheSameNameDeletesFirst(t *testing.T) {
	f := dnsSetup(t)
	spec := dnsSpec{name: "www.example.com", typ: "A", content: "192.0.2.1"}
	deploy(t, dnsStack(spec))
	old := f.DNSRecords(zoneID)[0].ID

	// A CNAME cannot be created while the A exists (the fake answers 81053,
	// as the API does): the A must go first.
	f.ResetRequests()
	spec.typ, spec.content = "CNAME", "origin.example.net"
	r := deploy(t, dnsStack(spec))
	recs := recordsNamed(f, "www.example.com")
	if len(recs) != 1 || recs[0].Type != "CNAME" || recs[0].Content != "origin.example.net" || recs[0].ID == old || recs[0].Comment != marker {
		t.Fatalf("records = %+v", recs)
	}
	if w := writes(f, "/dns_records"); len(w) != 2 || w[0] != "DELETE /zones/"+zoneID+"/dns_records/"+old || w[1] != "POST /zones/"+zoneID+"/dns_records" {
		t.Fatalf("replace writes = %v, want the delete first", w)
	}
	if a := stateAttr(t, "Www"); a["id"] != recs[0].ID || !strings.Contains(r.out, "recid: "+recs[0].ID) {
		t.Fatalf("state attr = %v, outputs %s", a, r.out)
	}
	noChanges(t, dnsStack(spec))
}

func TestDNSRecordMadeByHandIsRefusedAndKept(t *testing.T) {
	f := dnsSetup(t)
	theirs := f.AddDNSRecord(zoneID, cloudflarefake.DNSRecord{Name: "www.example.com", Type: "A", Content: "192.0.2.9"})
	spec := dnsSpec{name: "www.example.com", typ: "CNAME", content: "origin.example.net"}

	refused(t, run(t, dnsStack(spec), "deploy", "--yes"), "DNS record A www.example.com (192.0.2.9) exists in the cloud but is not owned by this stack/stage/logical-id. Re-run")
	if r := run(t, dnsStack(spec), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s %s", r.code, r.out, r.errOut)
	}
	if w := writes(f, "/dns_records"); len(w) != 0 {
		t.Fatalf("writes to a record made by hand: %v", w)
	}
	if recs := f.DNSRecords(zoneID); len(recs) != 1 || recs[0].ID != theirs || recs[0].Type != "A" || recs[0].Comment != "" {
		t.Fatalf("records = %+v", recs)
	}

	// --adopt takes it over: the same record, now the declared CNAME with
	// this resource's marker.
	if r := run(t, dnsStack(spec), "deploy", "--yes", "--adopt"); r.code != 0 {
		t.Fatalf("deploy --adopt: %d %s %s", r.code, r.out, r.errOut)
	}
	if recs := f.DNSRecords(zoneID); len(recs) != 1 || recs[0].ID != theirs || recs[0].Type != "CNAME" || recs[0].Comment != marker {
		t.Fatalf("records = %+v", recs)
	}
	noChanges(t, dnsStack(spec))
}

func TestDNSRecordOfAnotherStageIsRefused(t *testing.T) {
	f := dnsSetup(t)
	prod := f.AddDNSRecord(zoneID, cloudflarefake.DNSRecord{Name: "www.example.com", Type: "CNAME", Content: "origin.example.net", Comment: "alchemy:app/prod/Www front"})
	refused(t, run(t, dnsStack(dnsSpec{name: "www.example.com", typ: "CNAME", content: "origin.example.net"}), "deploy", "--yes"),
		"(its ownership tags name app/prod/Www)")
	if recs := f.DNSRecords(zoneID); len(recs) != 1 || recs[0].ID != prod || recs[0].Comment != "alchemy:app/prod/Www front" || len(writes(f, "/dns_records")) != 0 {
		t.Fatalf("records = %+v, writes %v", recs, writes(f, "/dns_records"))
	}
}

// Records of one name that may coexist (a round-robin A) are not in each
// other's way: neither is taken for the other.
func TestDNSRoundRobinSiblingIsLeftAlone(t *testing.T) {
	f := dnsSetup(t)
	theirs := f.AddDNSRecord(zoneID, cloudflarefake.DNSRecord{Name: "www.example.com", Type: "A", Content: "192.0.2.9", Comment: "hand"})
	spec := dnsSpec{name: "www.example.com", typ: "A", content: "192.0.2.1"}
	deploy(t, dnsStack(spec))
	recs := recordsNamed(f, "www.example.com")
	if len(recs) != 2 || recs[0].ID == theirs || recs[0].Comment != marker || recs[1].ID != theirs || recs[1].Comment != "hand" {
		t.Fatalf("records = %+v", recs)
	}
	if r := run(t, dnsStack(spec), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s %s", r.code, r.out, r.errOut)
	}
	if recs := f.DNSRecords(zoneID); len(recs) != 1 || recs[0].ID != theirs {
		t.Fatalf("records = %+v", recs)
	}
}

// A record this resource created (its marker) but whose row was lost is
// found and taken over, not duplicated.
func TestDNSRecordWithItsOwnMarkerIsTakenOver(t *testing.T) {
	f := dnsSetup(t)
	spec := dnsSpec{name: "www.example.com", typ: "A", content: "192.0.2.1", comment: "front"}
	deploy(t, dnsStack(spec))
	id := f.DNSRecords(zoneID)[0].ID
	if err := os.RemoveAll(".alchemy"); err != nil {
		t.Fatal(err)
	}
	f.ResetRequests()
	spec.ttl = 300
	deploy(t, dnsStack(spec))
	if recs := f.DNSRecords(zoneID); len(recs) != 1 || recs[0].ID != id || recs[0].TTL != 300 || recs[0].Comment != marker+" front" {
		t.Fatalf("records = %+v", recs)
	}
	if count(f, "POST", "/dns_records") != 0 {
		t.Fatalf("created again: %v", f.Requests())
	}
}

func TestKVNamespaceOfSomeoneElseNeedsAdopt(t *testing.T) {
	f := setup(t)
	id := f.AddKVNamespace(account, "shared-title")
	refused(t, run(t, kvStack("shared-title"), "deploy", "--yes"), "KV namespace shared-title exists in the cloud but is not owned")
	if r := run(t, kvStack("shared-title"), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s %s", r.code, r.out, r.errOut)
	}
	if ns := f.KVNamespaces(account); len(ns) != 1 || ns[0].ID != id || len(writes(f, "/storage/kv")) != 0 {
		t.Fatalf("namespaces = %+v, writes %v", ns, writes(f, "/storage/kv"))
	}

	r := run(t, kvStack("shared-title"), "deploy", "--yes", "--adopt")
	if r.code != 0 || !strings.Contains(r.out, "id: "+id) {
		t.Fatalf("deploy --adopt: %d %s %s", r.code, r.out, r.errOut)
	}
	if ns := f.KVNamespaces(account); len(ns) != 1 || ns[0].ID != id || len(writes(f, "/storage/kv")) != 0 {
		t.Fatalf("namespaces = %+v, writes %v", ns, writes(f, "/storage/kv"))
	}
	// Taken over, it is renamed in place like any namespace of the stack.
	deploy(t, kvStack("mine-now"))
	if ns := f.KVNamespaces(account); len(ns) != 1 || ns[0].ID != id || ns[0].Title != "mine-now" {
		t.Fatalf("namespaces = %+v", ns)
	}
}

// A create whose answer is lost after it landed: the retry finds the name
// taken (ErrAlreadyExists), the engine reads what is there and, as the
// name was generated (or the record carries this resource's marker), takes
// it over in the same deploy.
func TestLostCreateAnswerIsTakenOver(t *testing.T) {
	t.Run("KV", func(t *testing.T) {
		f := setup(t)
		f.LoseNextAnswers("POST", "/storage/kv/namespaces", 1)
		r := deploy(t, kvStack(""))
		ns := f.KVNamespaces(account)
		if len(ns) != 1 || count(f, "POST", "/storage/kv/namespaces") != 2 || !strings.Contains(r.out, "id: "+ns[0].ID) {
			t.Fatalf("namespaces = %+v, requests %v\n%s", ns, f.Requests(), r.out)
		}
	})
	t.Run("D1", func(t *testing.T) {
		f := setup(t)
		f.LoseNextAnswers("POST", "/d1/database", 1)
		r := deploy(t, d1Stack("", ""))
		dbs := f.D1Databases(account)
		if len(dbs) != 1 || count(f, "POST", "/d1/database") != 2 || !strings.Contains(r.out, "dbid: "+dbs[0].ID) {
			t.Fatalf("databases = %+v, requests %v\n%s", dbs, f.Requests(), r.out)
		}
	})
	// A name the author chose carries no stamp (D1 has no tags): what
	// proves it ours is that this very create's earlier attempt got no
	// answer (ErrMaybeCreated), not refused and left orphaned.
	t.Run("D1 named", func(t *testing.T) {
		f := setup(t)
		f.LoseNextAnswers("POST", "/d1/database", 1)
		r := deploy(t, d1Stack("orders", ""))
		dbs := f.D1Databases(account)
		if len(dbs) != 1 || dbs[0].Name != "orders" || count(f, "POST", "/d1/database") != 2 || !strings.Contains(r.out, "dbid: "+dbs[0].ID) {
			t.Fatalf("databases = %+v, requests %v\n%s", dbs, f.Requests(), r.out)
		}
	})
	t.Run("DNS", func(t *testing.T) {
		f := dnsSetup(t)
		f.LoseNextAnswers("POST", "/dns_records", 1)
		r := deploy(t, dnsStack(dnsSpec{name: "www.example.com", typ: "A", content: "192.0.2.1"}))
		recs := f.DNSRecords(zoneID)
		if len(recs) != 1 || recs[0].Comment != marker || !strings.Contains(r.out, "recid: "+recs[0].ID) {
			t.Fatalf("records = %+v, requests %v\n%s", recs, f.Requests(), r.out)
		}
	})
}

func workerAt(name, path string) *cli.StackProgram {
	return stacktest.Program("app", func(s *alchemy.Stack) {
		w := NewWorker(s, "Site", WorkerProps{Name: alchemy.String(name), ScriptPath: alchemy.String(path)})
		s.Output("name", w.Name)
	})
}

func TestWorkerCarriesOwnershipTags(t *testing.T) {
	f := setup(t)
	prog := stacktest.Program("app", func(s *alchemy.Stack) {
		NewWorker(s, "Site", WorkerProps{Name: alchemy.String("site"), Script: alchemy.String("export default {}")})
	})
	deploy(t, prog)
	want := []string{"alchemy::stack=app", "alchemy::stage=" + stage, "alchemy::id=Site"}
	if got := f.WorkerScriptTags(account, "site"); !reflect.DeepEqual(got, want) {
		t.Fatalf("tags = %v, want %v", got, want)
	}

	// Its row lost, the script is found by its tags and taken over.
	if err := os.RemoveAll(".alchemy"); err != nil {
		t.Fatal(err)
	}
	if r := deploy(t, prog); !strings.Contains(r.out, "ownership tags") {
		t.Fatalf("deploy over its own script:\n%s", r.out)
	}

	// One tagged by another stage of the stack is refused, naming it.
	f.AddWorkerScript(account, "prod-site", "export default { prod: 1 }", "alchemy::stack=app", "alchemy::stage=prod", "alchemy::id=Site")
	other := stacktest.Program("app", func(s *alchemy.Stack) {
		NewWorker(s, "Site", WorkerProps{Name: alchemy.String("prod-site"), Script: alchemy.String("export default {}")})
	})
	f.ResetRequests()
	refused(t, run(t, other, "deploy", "--yes"), "Worker prod-site exists in the cloud", "(its ownership tags name app/prod/Site)")
	if module, _, _ := f.WorkerScript(account, "prod-site"); module != "export default { prod: 1 }" || count(f, "PUT", "/workers/scripts/") != 0 {
		t.Fatalf("module = %q, requests %v", module, f.Requests())
	}
}

// ScriptPath is relative to the stack file's directory, not to where
// alchemy runs; the props keep the path as written.
func TestWorkerScriptPathIsRelativeToTheStackFile(t *testing.T) {
	f := setup(t)
	stackDir, err := filepath.Abs("stack")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(stackDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stackDir, "worker.js"), []byte("export default { here: 1 }"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("worker.js", []byte("export default { wrong: 1 }"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := workerAt("site", "worker.js")
	prog.File = filepath.Join(stackDir, "alchemy.run.go")
	deploy(t, prog)
	if module, _, _ := f.WorkerScript(account, "site"); module != "export default { here: 1 }" {
		t.Fatalf("module = %q", module)
	}
	data, err := os.ReadFile(filepath.Join(stackDir, ".alchemy", "state", "app", stage, "Site.json"))
	hash, _ := hashScriptFile(filepath.Join(stackDir, "worker.js"))
	var row struct {
		Props WorkerArgs `json:"props"`
	}
	if err != nil || json.Unmarshal(data, &row) != nil || row.Props.ScriptPath != "worker.js" || row.Props.ScriptHash != hash {
		t.Fatalf("state row (want the path as written, the hash of %s): %v\n%s", hash, err, data)
	}
}

// An unreadable script fails the plan, naming the file, before any call.
func TestWorkerUnreadableScriptFailsThePlan(t *testing.T) {
	f := setup(t)
	for _, cmd := range [][]string{{"plan"}, {"deploy", "--yes"}} {
		r := run(t, workerAt("site", "missing.js"), cmd...)
		if r.code == 0 || !strings.Contains(r.errOut, "Site: reading the Worker script missing.js") {
			t.Fatalf("%v with a missing script: %d\n%s\n%s", cmd, r.code, r.out, r.errOut)
		}
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d API calls: %v", n, f.Requests())
	}
}

// What Read reports as a resource's live configuration matches what the
// stack declared when nobody changed it (plan --refresh shows no drift), and
// a change made outside alchemy is converged back.
func TestRefreshSeesNoDriftUntilSomeoneChangesIt(t *testing.T) {
	f := dnsSetup(t)
	f.SetWorkersSubdomain(account, "acme")
	// Secrets are then kept encrypted, so a refresh can compare them.
	t.Setenv("ALCHEMY_PASSWORD", "correct horse battery staple")
	prog := stacktest.Program("app", func(s *alchemy.Stack) {
		ns := NewKVNamespace(s, "Cache", KVNamespaceProps{})
		NewKVNamespace(s, "Named", KVNamespaceProps{Title: alchemy.String("named")})
		b := NewR2Bucket(s, "Files", R2BucketProps{LocationHint: alchemy.String("weur")})
		db := NewD1Database(s, "DB", D1DatabaseProps{Name: alchemy.String("orders"), PrimaryLocationHint: alchemy.String("enam")})
		NewDNSRecord(s, "Www", DNSRecordProps{ZoneID: alchemy.String(zoneID), Name: alchemy.String("WWW.example.com"),
			Type: alchemy.String("aaaa"), Content: alchemy.String("2001:DB8::1"), Comment: alchemy.String("front")})
		NewWorker(s, "Api", WorkerProps{Script: alchemy.String("export default {}"),
			KV: Bindings(map[string]alchemy.Output[string]{"CACHE": ns.ID}), R2: Bindings(map[string]alchemy.Output[string]{"FILES": b.Name}),
			D1: Bindings(map[string]alchemy.Output[string]{"DB": db.ID}), Secrets: alchemy.V(map[string]string{"K": workerSecret})})
	})
	deploy(t, prog)
	r := run(t, prog, "plan", "--refresh")
	if r.code != 0 || !strings.Contains(r.out, "Plan: no changes") {
		t.Fatalf("plan --refresh right after the deploy: %d\n%s\n%s", r.code, r.out, r.errOut)
	}

	// Changed by hand: the record's content and TTL.
	rec := f.DNSRecords(zoneID)[0]
	api := cfapi.New(f.URL(), cfapi.Auth{APIToken: token}, nil)
	if _, err := api.Do(context.Background(), "PATCH", "/zones/"+zoneID+"/dns_records/"+rec.ID, nil, map[string]any{"content": "2001:db8::2", "ttl": 300}, nil); err != nil {
		t.Fatal(err)
	}
	r = run(t, prog, "plan", "--refresh")
	if r.code != 0 || !strings.Contains(r.out, "Plan: 1 to update") || !strings.Contains(r.out, "content") || !strings.Contains(r.out, "ttl") {
		t.Fatalf("plan --refresh after a change by hand: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if r := run(t, prog, "deploy", "--yes", "--refresh"); r.code != 0 {
		t.Fatalf("deploy --refresh: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if recs := f.DNSRecords(zoneID); len(recs) != 1 || recs[0].ID != rec.ID || recs[0].Content != "2001:DB8::1" || recs[0].TTL != 1 || recs[0].Comment != marker+" front" {
		t.Fatalf("records after converging = %+v", recs)
	}
}
