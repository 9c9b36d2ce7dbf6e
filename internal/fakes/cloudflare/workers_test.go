package cloudflarefake_test

import (
	"bytes"
	"context"
	"errors"
	"mime/multipart"
	"net/textproto"
	"testing"

	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
)

// upload builds a Worker upload; metadata "" leaves the part out.
func upload(t *testing.T, metadata string, modules map[string]string) cfapi.RawBody {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if metadata != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="metadata"`)
		h.Set("Content-Type", "application/json")
		p, _ := w.CreatePart(h)
		p.Write([]byte(metadata))
	}
	for name, src := range modules {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+name+`"; filename="`+name+`"`)
		h.Set("Content-Type", "application/javascript+module")
		p, _ := w.CreatePart(h)
		p.Write([]byte(src))
	}
	w.Close()
	return cfapi.RawBody{ContentType: w.FormDataContentType(), Reader: &buf}
}

func wantCode(t *testing.T, err error, status, code int) {
	t.Helper()
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != status || !ae.HasCode(code) {
		t.Fatalf("err = %v, want HTTP %d code %d", err, status, code)
	}
}

func TestWorkerScripts(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	base := "/accounts/" + accA + "/workers"
	mod := map[string]string{"worker.js": "export default {}"}

	// Missing metadata, missing main module.
	_, err := c.Do(ctx, "PUT", base+"/scripts/w1", nil, upload(t, "", mod), nil)
	wantCode(t, err, 400, 10021)
	_, err = c.Do(ctx, "PUT", base+"/scripts/w1", nil, upload(t, `{"main_module":"index.js"}`, mod), nil)
	wantCode(t, err, 400, 10021)

	// Bindings to missing resources.
	_, err = c.Do(ctx, "PUT", base+"/scripts/w1", nil, upload(t, `{"main_module":"worker.js","bindings":[{"type":"kv_namespace","name":"K","namespace_id":"nope"}]}`, mod), nil)
	wantCode(t, err, 400, 10042)
	_, err = c.Do(ctx, "PUT", base+"/scripts/w1", nil, upload(t, `{"main_module":"worker.js","bindings":[{"type":"r2_bucket","name":"B","bucket_name":"nope"}]}`, mod), nil)
	wantCode(t, err, 400, 10085)
	_, err = c.Do(ctx, "PUT", base+"/scripts/w1", nil, upload(t, `{"main_module":"worker.js","bindings":[{"type":"d1","name":"D","id":"nope"}]}`, mod), nil)
	wantCode(t, err, 400, 10021)
	if _, _, ok := f.WorkerScript(accA, "w1"); ok {
		t.Fatal("a failed upload stored a script")
	}

	// A good upload.
	ns := f.AddKVNamespace(accA, "ns")
	f.AddR2Bucket(accA, "bucket", "")
	db := f.AddD1Database(accA, "db", "")
	meta := `{"main_module":"worker.js","compatibility_date":"2026-01-01","bindings":[` +
		`{"type":"kv_namespace","name":"K","namespace_id":"` + ns + `"},` +
		`{"type":"r2_bucket","name":"B","bucket_name":"bucket"},` +
		`{"type":"d1","name":"D","id":"` + db + `"},` +
		`{"type":"plain_text","name":"V","text":"v"},` +
		`{"type":"secret_text","name":"S","text":"s"}]}`
	var res struct {
		ID   string `json:"id"`
		Etag string `json:"etag"`
	}
	if _, err := c.Do(ctx, "PUT", base+"/scripts/w1", nil, upload(t, meta, mod), &res); err != nil {
		t.Fatal(err)
	}
	if res.ID != "w1" || res.Etag == "" {
		t.Fatalf("upload result = %+v", res)
	}
	module, bindings, ok := f.WorkerScript(accA, "w1")
	if !ok || module != "export default {}" || len(bindings) != 5 || bindings[0]["namespace_id"] != ns || bindings[4]["text"] != "s" {
		t.Fatalf("script = %q %v %v", module, bindings, ok)
	}

	// Account subdomain: none, then set.
	_, err = c.Do(ctx, "GET", base+"/subdomain", nil, nil, nil)
	wantCode(t, err, 404, 10007)
	f.SetWorkersSubdomain(accA, "acme")
	var sub struct {
		Subdomain string `json:"subdomain"`
	}
	if _, err := c.Do(ctx, "GET", base+"/subdomain", nil, nil, &sub); err != nil || sub.Subdomain != "acme" {
		t.Fatalf("subdomain = %q, %v", sub.Subdomain, err)
	}

	// Script subdomain.
	if _, err := c.Do(ctx, "POST", base+"/scripts/w1/subdomain", nil, map[string]bool{"enabled": true}, nil); err != nil {
		t.Fatal(err)
	}
	if !f.WorkerSubdomainEnabled(accA, "w1") {
		t.Fatal("subdomain not enabled")
	}
	_, err = c.Do(ctx, "POST", base+"/scripts/missing/subdomain", nil, map[string]bool{"enabled": true}, nil)
	wantCode(t, err, 404, 10007)

	// Delete, then delete again.
	if _, err := c.Do(ctx, "DELETE", base+"/scripts/w1", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := f.WorkerScript(accA, "w1"); ok {
		t.Fatal("deleted script still there")
	}
	_, err = c.Do(ctx, "DELETE", base+"/scripts/w1", nil, nil, nil)
	wantCode(t, err, 404, 10007)

	// Another account's credential cannot upload.
	other := cfapi.New(f.URL(), cfapi.Auth{APIToken: acctTok}, nil)
	_, err = other.Do(ctx, "PUT", base+"/scripts/w2", nil, upload(t, `{"main_module":"worker.js"}`, mod), nil)
	wantCode(t, err, 403, 10000)
}
