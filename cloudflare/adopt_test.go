package cloudflare

import (
	"strings"
	"testing"
)

// A resource the stack did not create is never taken over silently: an
// existing bucket with the name the author chose needs --adopt.
func TestAdoptingAnUnownedResourceNeedsTheFlag(t *testing.T) {
	f := setup(t)
	f.AddR2Bucket(account, "someone-elses", "")
	r := run(t, r2Stack("someone-elses", ""), "deploy", "--yes")
	want := "Cannot adopt resource 'Assets' (Cloudflare.R2.Bucket): R2 bucket someone-elses exists in the cloud but is not owned by this stack/stage/logical-id. Re-run with `--adopt` to take it over"
	if r.code != 1 || !strings.Contains(r.errOut, want) {
		t.Fatalf("deploy over an unowned bucket: %d\n%s", r.code, r.errOut)
	}
	r = run(t, r2Stack("someone-elses", ""), "deploy", "--yes", "--adopt")
	if r.code != 0 || len(f.R2Buckets(account)) != 1 {
		t.Fatalf("deploy --adopt: %d %s %+v", r.code, r.errOut, f.R2Buckets(account))
	}
	// Now it is this stack's: destroy deletes it.
	if r := run(t, r2Stack("someone-elses", ""), "destroy", "--yes"); r.code != 0 || len(f.R2Buckets(account)) != 0 {
		t.Fatalf("destroy: %d %s", r.code, r.errOut)
	}

	f.AddKVNamespace(account, "shared-title")
	if r := run(t, kvStack("shared-title"), "deploy", "--yes"); r.code != 1 || !strings.Contains(r.errOut, "KV namespace shared-title exists in the cloud but is not owned") {
		t.Fatalf("KV: %d %s", r.code, r.errOut)
	}
}
