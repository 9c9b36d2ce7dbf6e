package cloudflare

import (
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/cli"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	"github.com/alchemy-go/alchemy/internal/stacktest"
)

const (
	zoneID   = "0000000000000000000000000000a001"
	zoneName = "example.com"
)

func d1Stack(name, hint string) *cli.StackProgram {
	return stacktest.Program("app", func(s *alchemy.Stack) {
		props := D1DatabaseProps{}
		if name != "" {
			props.Name = alchemy.String(name)
		}
		if hint != "" {
			props.PrimaryLocationHint = alchemy.String(hint)
		}
		db := NewD1Database(s, "DB", props)
		s.Output("dbid", db.ID)
		s.Output("dbname", db.Name)
	})
}

func TestD1DatabaseLifecycle(t *testing.T) {
	f := setup(t)

	r := deploy(t, d1Stack("", ""))
	dbs := f.D1Databases(account)
	want := strings.ToLower(alchemy.PhysicalName("app", "DB", stage, instanceID(t, "DB"), 63, true))
	if len(dbs) != 1 || dbs[0].Name != want || !strings.HasPrefix(want, "app-db-dev-tester-") {
		t.Fatalf("databases = %+v, want %q", dbs, want)
	}
	if !strings.Contains(r.out, "dbid: "+dbs[0].ID) || !strings.Contains(r.out, "dbname: "+want) {
		t.Fatalf("outputs: %s", r.out)
	}

	f.ResetRequests()
	deploy(t, d1Stack("", ""))
	if w := writes(f, "/d1/database"); len(w) != 0 {
		t.Fatalf("no-op re-deploy wrote: %v", w)
	}

	// D1 has no rename: a name change replaces (create new, delete old).
	f.ResetRequests()
	deploy(t, d1Stack("app-db-v2", "weur"))
	after := f.D1Databases(account)
	if len(after) != 1 || after[0].Name != "app-db-v2" || after[0].PrimaryLocationHint != "weur" || after[0].ID == dbs[0].ID {
		t.Fatalf("after replace: %+v", after)
	}
	if w := writes(f, "/d1/database"); len(w) != 2 || w[0] != "POST /accounts/"+account+"/d1/database" || w[1] != "DELETE /accounts/"+account+"/d1/database/"+dbs[0].ID {
		t.Fatalf("replace writes = %v", w)
	}

	deploy(t, emptyStack())
	if d := f.D1Databases(account); len(d) != 0 {
		t.Fatalf("removed database still exists: %+v", d)
	}

	deploy(t, d1Stack("app-db-v3", ""))
	id := f.D1Databases(account)[0].ID
	f.RemoveD1Database(account, id)
	f.ResetRequests()
	if r := run(t, d1Stack("app-db-v3", ""), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy of a deleted database: %d %s %s", r.code, r.out, r.errOut)
	}
	if count(f, "DELETE", "/d1/database/"+id) != 1 {
		t.Fatalf("destroy did not try the delete: %v", f.Requests())
	}
}

func TestD1DatabaseInterruptedCreateIsAdopted(t *testing.T) {
	f := setup(t)
	f.AddD1Database(account, "app-db-unrelated", "")
	f.FailNextOn("POST", "/d1/database", maxTries, 503)
	if r := run(t, d1Stack("", ""), "deploy", "--yes"); r.code == 0 {
		t.Fatal("deploy succeeded with every create failing")
	}
	name := strings.ToLower(alchemy.PhysicalName("app", "DB", stage, instanceID(t, "DB"), 63, true))
	id := f.AddD1Database(account, name, "")

	f.ResetRequests()
	r := deploy(t, d1Stack("", ""))
	if dbs := f.D1Databases(account); len(dbs) != 2 {
		t.Fatalf("databases = %+v", dbs)
	}
	if count(f, "POST", "/d1/database") != 0 || count(f, "GET", "/d1/database") != 1 {
		t.Fatalf("want one lookup and no create: %v", f.Requests())
	}
	if !strings.Contains(r.out, "dbid: "+id) {
		t.Fatalf("outputs: %s", r.out)
	}
}

func TestD1DatabaseRetriesTransientFailures(t *testing.T) {
	f := setup(t)
	f.FailNext(1, 503)
	f.FailNext(1, 429)
	deploy(t, d1Stack("retried-db", ""))
	if dbs := f.D1Databases(account); len(dbs) != 1 || dbs[0].Name != "retried-db" {
		t.Fatalf("databases = %+v", dbs)
	}
}

type dnsSpec struct {
	name, typ, content, comment string
	ttl                         int
	proxied                     bool
}

func dnsStack(spec dnsSpec) *cli.StackProgram {
	return stacktest.Program("app", func(s *alchemy.Stack) {
		props := DNSRecordProps{
			ZoneID:  alchemy.String(zoneID),
			Name:    alchemy.String(spec.name),
			Type:    alchemy.String(spec.typ),
			Content: alchemy.String(spec.content),
		}
		if spec.ttl != 0 {
			props.TTL = alchemy.Int(spec.ttl)
		}
		if spec.proxied {
			props.Proxied = alchemy.Bool(true)
		}
		if spec.comment != "" {
			props.Comment = alchemy.String(spec.comment)
		}
		rec := NewDNSRecord(s, "Www", props)
		s.Output("recid", rec.ID)
		s.Output("recname", rec.Name)
	})
}

func dnsSetup(t *testing.T) *cloudflarefake.Server {
	f := setup(t)
	f.AddZone(zoneID, zoneName, account)
	return f
}

const marker = "alchemy:app/" + stage + "/Www"

func TestDNSRecordLifecycle(t *testing.T) {
	f := dnsSetup(t)
	spec := dnsSpec{name: "www.example.com", typ: "A", content: "192.0.2.1", comment: "web front"}

	r := deploy(t, dnsStack(spec))
	recs := f.DNSRecords(zoneID)
	if len(recs) != 1 || recs[0].Name != "www.example.com" || recs[0].Type != "A" || recs[0].Content != "192.0.2.1" ||
		recs[0].TTL != 1 || recs[0].Comment != marker+" web front" {
		t.Fatalf("records = %+v", recs)
	}
	if !strings.Contains(r.out, "recid: "+recs[0].ID) || !strings.Contains(r.out, "recname: www.example.com") {
		t.Fatalf("outputs: %s", r.out)
	}
	id := recs[0].ID

	f.ResetRequests()
	deploy(t, dnsStack(spec))
	if w := writes(f, "/dns_records"); len(w) != 0 {
		t.Fatalf("no-op re-deploy wrote: %v", w)
	}

	// Content, TTL and proxied change in place.
	f.ResetRequests()
	spec.content, spec.ttl, spec.proxied = "192.0.2.2", 300, true
	deploy(t, dnsStack(spec))
	recs = f.DNSRecords(zoneID)
	if len(recs) != 1 || recs[0].ID != id || recs[0].Content != "192.0.2.2" || recs[0].TTL != 300 || !recs[0].Proxied {
		t.Fatalf("after update: %+v", recs)
	}
	if w := writes(f, "/dns_records"); len(w) != 1 || w[0] != "PUT /zones/"+zoneID+"/dns_records/"+id {
		t.Fatalf("update writes = %v", w)
	}

	// A name change replaces: new record created, old one deleted.
	f.ResetRequests()
	spec.name = "app.example.com"
	deploy(t, dnsStack(spec))
	recs = f.DNSRecords(zoneID)
	if len(recs) != 1 || recs[0].Name != "app.example.com" || recs[0].ID == id || recs[0].Comment != marker+" web front" {
		t.Fatalf("after replace: %+v", recs)
	}
	if w := writes(f, "/dns_records"); len(w) != 2 || w[0] != "POST /zones/"+zoneID+"/dns_records" || w[1] != "DELETE /zones/"+zoneID+"/dns_records/"+id {
		t.Fatalf("replace writes = %v", w)
	}

	deploy(t, emptyStack())
	if recs := f.DNSRecords(zoneID); len(recs) != 0 {
		t.Fatalf("removed record still exists: %+v", recs)
	}

	// Deleted outside alchemy, then destroyed: success.
	deploy(t, dnsStack(spec))
	id = f.DNSRecords(zoneID)[0].ID
	f.RemoveDNSRecord(zoneID, id)
	f.ResetRequests()
	if r := run(t, dnsStack(spec), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy of a deleted record: %d %s %s", r.code, r.out, r.errOut)
	}
	if count(f, "DELETE", "/dns_records/"+id) != 1 {
		t.Fatalf("destroy did not try the delete: %v", f.Requests())
	}
}

func TestDNSRecordAdoptsOnlyItsOwnRecord(t *testing.T) {
	f := dnsSetup(t)
	spec := dnsSpec{name: "www.example.com", typ: "CNAME", content: "origin.example.net"}

	// Someone else's identical record: refused, left alone.
	theirs := f.AddDNSRecord(zoneID, cloudflarefake.DNSRecord{Name: spec.name, Type: spec.typ, Content: spec.content, Comment: "managed by hand"})
	r := run(t, dnsStack(spec), "deploy", "--yes")
	want := "Cannot adopt resource 'Www' (Cloudflare.DNS.Record): DNS record CNAME www.example.com (origin.example.net) exists in the cloud but is not owned by this stack/stage/logical-id. Re-run with `--adopt`"
	if r.code != 1 || !strings.Contains(r.errOut, want) {
		t.Fatalf("deploy over a foreign record: %d %s %s", r.code, r.out, r.errOut)
	}
	if recs := f.DNSRecords(zoneID); len(recs) != 1 || recs[0].ID != theirs || recs[0].Comment != "managed by hand" {
		t.Fatalf("the foreign record was touched: %+v", recs)
	}
	if n := count(f, "PUT", "/dns_records") + count(f, "DELETE", "/dns_records"); n != 0 {
		t.Fatalf("%d writes to a foreign record", n)
	}

	// Ours (an interrupted create left it, marker in the comment): adopted.
	f.RemoveDNSRecord(zoneID, theirs)
	mine := f.AddDNSRecord(zoneID, cloudflarefake.DNSRecord{Name: spec.name, Type: spec.typ, Content: spec.content, Comment: marker})
	f.ResetRequests()
	r = deploy(t, dnsStack(spec))
	recs := f.DNSRecords(zoneID)
	if len(recs) != 1 || recs[0].ID != mine || !strings.Contains(r.out, "recid: "+mine) {
		t.Fatalf("records = %+v, outputs %s", recs, r.out)
	}
	if count(f, "POST", "/dns_records") != 0 || count(f, "PUT", "/dns_records/"+mine) != 1 {
		t.Fatalf("adoption requests: %v", f.Requests())
	}
	if recs[0].Comment != marker {
		t.Fatalf("comment = %q", recs[0].Comment)
	}
}

func TestDNSRecordUpdateOfDeletedRecordFailsClearly(t *testing.T) {
	f := dnsSetup(t)
	spec := dnsSpec{name: "txt.example.com", typ: "TXT", content: "v=1"}
	deploy(t, dnsStack(spec))
	f.RemoveDNSRecord(zoneID, f.DNSRecords(zoneID)[0].ID)
	spec.content = "v=2"
	r := run(t, dnsStack(spec), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "no longer exists") || !strings.Contains(r.errOut, "81044") {
		t.Fatalf("deploy: %d %s %s", r.code, r.out, r.errOut)
	}
}

func TestDNSRecordBadTokenIsRefused(t *testing.T) {
	f := dnsSetup(t)
	t.Setenv("CLOUDFLARE_API_TOKEN", "cfTestToken_unknown_0123456789abcdefgh")
	r := run(t, dnsStack(dnsSpec{name: "www.example.com", typ: "A", content: "192.0.2.1"}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "9109") {
		t.Fatalf("deploy with an unknown token: %d %s %s", r.code, r.out, r.errOut)
	}
	if n := len(f.Requests()); n != 1 || count(f, "GET", "/dns_records") != 1 {
		t.Fatalf("a 403 was tried %d times: %v", n, f.Requests())
	}
}
