package cloudflarefake_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
)

// A CNAME cannot share its name with an A, AAAA or CNAME, on create as on
// overwrite; other types may.
func TestDNSCNAMEConflicts(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const zid = "0000000000000000000000000000a001"
	f.AddZone(zid, "example.com", accA)
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	base := "/zones/" + zid + "/dns_records"

	var a struct {
		ID string `json:"id"`
	}
	if _, err := c.Do(ctx, "POST", base, nil, map[string]any{"name": "www.example.com", "type": "A", "content": "192.0.2.1"}, &a); err != nil {
		t.Fatal(err)
	}
	_, err := c.Do(ctx, "POST", base, nil, map[string]any{"name": "www.example.com", "type": "CNAME", "content": "origin.example.net"}, nil)
	apiErr(t, err, 400, 81053)
	if _, err := c.Do(ctx, "POST", base, nil, map[string]any{"name": "www.example.com", "type": "TXT", "content": "v=1"}, nil); err != nil {
		t.Fatalf("TXT next to an A: %v", err)
	}
	if _, err := c.Do(ctx, "POST", base, nil, map[string]any{"name": "api.example.com", "type": "CNAME", "content": "origin.example.net"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, "POST", base, nil, map[string]any{"name": "api.example.com", "type": "AAAA", "content": "2001:db8::1"}, nil)
	apiErr(t, err, 400, 81054)
	_, err = c.Do(ctx, "POST", base, nil, map[string]any{"name": "api.example.com", "type": "CNAME", "content": "other.example.net"}, nil)
	apiErr(t, err, 400, 81053)
	// Turning the A into a CNAME is no way around it, nor is it blocked by
	// the record itself.
	_, err = c.Do(ctx, "PUT", base+"/"+a.ID, nil, map[string]any{"name": "api.example.com", "type": "A", "content": "192.0.2.1"}, nil)
	apiErr(t, err, 400, 81054)
	if _, err := c.Do(ctx, "PUT", base+"/"+a.ID, nil, map[string]any{"name": "www.example.com", "type": "CNAME", "content": "origin.example.net"}, nil); err != nil {
		t.Fatalf("A turned into a CNAME with nothing else of its kind: %v", err)
	}
	if got := len(f.DNSRecords(zid)); got != 3 {
		t.Fatalf("%d records", got)
	}
}

func TestR2NonEmptyBucketIsNotDeleted(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	f.AddR2Bucket(accA, "photos", "")
	f.AddR2Object(accA, "photos", "b.jpg", []byte("b"))
	f.AddR2Object(accA, "photos", "a.jpg", []byte("a"))
	_, err := c.Do(ctx, "DELETE", "/accounts/"+accA+"/r2/buckets/photos", nil, nil, nil)
	apiErr(t, err, 409, 10008)
	if got := f.R2Objects(accA, "photos"); !reflect.DeepEqual(got, []string{"a.jpg", "b.jpg"}) {
		t.Fatalf("objects = %v", got)
	}
	if f.R2Objects(accA, "missing") != nil {
		t.Fatal("objects of a missing bucket")
	}
}

func TestWorkerScriptTags(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	base := "/accounts/" + accA + "/workers/scripts/w1"
	mod := map[string]string{"worker.js": "export default {}"}

	type settings struct {
		Tags    []string `json:"tags"`
		Logpush *bool    `json:"logpush"`
	}
	var st settings
	_, err := c.Do(ctx, "GET", base+"/script-settings", nil, nil, &st)
	wantCode(t, err, 404, 10007)

	if _, err := c.Do(ctx, "PUT", base, nil, upload(t, `{"main_module":"worker.js","tags":["a=1","b"]}`, mod), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, "GET", base+"/script-settings", nil, nil, &st); err != nil || !reflect.DeepEqual(st.Tags, []string{"a=1", "b"}) || st.Logpush == nil {
		t.Fatalf("settings = %+v %v", st, err)
	}
	// An upload without tags keeps them (not confirmed for the real API).
	if _, err := c.Do(ctx, "PUT", base, nil, upload(t, `{"main_module":"worker.js"}`, mod), nil); err != nil {
		t.Fatal(err)
	}
	if got := f.WorkerScriptTags(accA, "w1"); !reflect.DeepEqual(got, []string{"a=1", "b"}) {
		t.Fatalf("tags = %v", got)
	}
	if _, err := c.Do(ctx, "PATCH", base+"/script-settings", nil, map[string]any{"tags": []string{"c"}}, &st); err != nil || !reflect.DeepEqual(st.Tags, []string{"c"}) {
		t.Fatalf("patch = %+v %v", st, err)
	}
	_, err = c.Do(ctx, "PUT", base, nil, upload(t, `{"main_module":"worker.js","tags":"nope"}`, mod), nil)
	wantCode(t, err, 400, 10021)

	f.AddWorkerScript(accA, "w2", "export default { x: 1 }", "t")
	if module, _, ok := f.WorkerScript(accA, "w2"); !ok || module != "export default { x: 1 }" || !reflect.DeepEqual(f.WorkerScriptTags(accA, "w2"), []string{"t"}) {
		t.Fatalf("AddWorkerScript: %q %v", module, f.WorkerScriptTags(accA, "w2"))
	}
}

func TestFailNextOnAndLoseNextAnswers(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	base := "/accounts/" + accA + "/storage/kv/namespaces"

	f.FailNextOn("POST", "/storage/kv/namespaces", 1, 503)
	if _, err := c.Do(ctx, "GET", base, nil, nil, nil); err != nil {
		t.Fatalf("a GET was failed: %v", err)
	}
	_, err := c.Do(ctx, "POST", base, nil, map[string]string{"title": "t"}, nil)
	if !cfapi.IsUnreachable(err) || len(f.KVNamespaces(accA)) != 0 {
		t.Fatalf("failed POST: %v %+v", err, f.KVNamespaces(accA))
	}

	f.LoseNextAnswers("POST", "/storage/kv/namespaces", 1)
	_, err = c.Do(ctx, "POST", base, nil, map[string]string{"title": "t"}, nil)
	if !cfapi.IsUnreachable(err) || len(f.KVNamespaces(accA)) != 1 {
		t.Fatalf("lost answer: %v %+v", err, f.KVNamespaces(accA))
	}
	_, err = c.Do(ctx, "POST", base, nil, map[string]string{"title": "t"}, nil)
	apiErr(t, err, 400, 10014)
	if got := f.KVNamespaces(accA); !reflect.DeepEqual(got, []cloudflarefake.KVNamespace{{ID: got[0].ID, Title: "t"}}) {
		t.Fatalf("namespaces = %+v", got)
	}
}
