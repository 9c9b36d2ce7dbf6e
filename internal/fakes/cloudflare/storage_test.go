package cloudflarefake_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
)

func apiErr(t *testing.T, err error, status, code int) {
	t.Helper()
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != status || !ae.HasCode(code) {
		t.Fatalf("err = %v, want HTTP %d code %d", err, status, code)
	}
}

type ns struct {
	ID                  string `json:"id"`
	Title               string `json:"title"`
	SupportsURLEncoding *bool  `json:"supports_url_encoding"`
}

func TestKVNamespaces(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	base := "/accounts/" + accA + "/storage/kv/namespaces"

	var a ns
	if _, err := c.Do(ctx, "POST", base, nil, map[string]string{"title": "first"}, &a); err != nil || len(a.ID) != 32 || a.Title != "first" || a.SupportsURLEncoding == nil {
		t.Fatalf("create = %+v, %v", a, err)
	}
	_, err := c.Do(ctx, "POST", base, nil, map[string]string{"title": "first"}, nil)
	apiErr(t, err, 400, 10014)
	_, err = c.Do(ctx, "POST", base, nil, map[string]string{}, nil)
	apiErr(t, err, 400, 10019)

	for i := 0; i < 11; i++ {
		if _, err := c.Do(ctx, "POST", base, nil, map[string]string{"title": fmt.Sprintf("t%02d", i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// 12 namespaces; per_page below the minimum is raised to 5.
	var page []ns
	info, err := c.Do(ctx, "GET", base, url.Values{"per_page": {"1"}, "page": {"3"}, "order": {"title"}}, nil, &page)
	if err != nil || info.PerPage != 5 || info.TotalCount != 12 || info.TotalPages != 3 || info.Count != 2 || len(page) != 2 || page[1].Title != "t10" {
		t.Fatalf("list page 3 = %+v %+v %v", page, info, err)
	}
	info, err = c.Do(ctx, "GET", base, url.Values{"order": {"title"}, "direction": {"desc"}}, nil, &page)
	if err != nil || info.PerPage != 20 || len(page) != 12 || page[0].Title != "t10" {
		t.Fatalf("list desc = %+v %+v %v", page, info, err)
	}

	one := base + "/" + a.ID
	var got ns
	if _, err := c.Do(ctx, "GET", one, nil, nil, &got); err != nil || got.Title != "first" {
		t.Fatalf("get = %+v %v", got, err)
	}
	if _, err := c.Do(ctx, "PUT", one, nil, map[string]string{"title": "renamed"}, &got); err != nil || got.Title != "renamed" {
		t.Fatalf("rename = %+v %v", got, err)
	}
	_, err = c.Do(ctx, "PUT", one, nil, map[string]string{"title": "t01"}, nil)
	apiErr(t, err, 400, 10014)
	if _, err := c.Do(ctx, "PUT", one, nil, map[string]string{"title": "renamed"}, nil); err != nil {
		t.Fatalf("rename to its own title: %v", err)
	}
	if _, err := c.Do(ctx, "DELETE", one, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, "DELETE", one, nil, nil, nil)
	apiErr(t, err, 404, 10013)
	_, err = c.Do(ctx, "GET", one, nil, nil, nil)
	apiErr(t, err, 404, 10013)
	if n := len(f.KVNamespaces(accA)); n != 11 {
		t.Fatalf("%d namespaces left", n)
	}

	// Per account, and only accounts the credential can see.
	if n := len(f.KVNamespaces(accC)); n != 0 {
		t.Fatal("namespaces leaked across accounts")
	}
	_, err = c.Do(ctx, "GET", "/accounts/"+accB+"/storage/kv/namespaces", nil, nil, nil)
	apiErr(t, err, 403, 10000)
	_, err = cfapi.New(f.URL(), cfapi.Auth{APIToken: "unknown"}, nil).Do(ctx, "GET", base, nil, nil, nil)
	apiErr(t, err, 401, 10000)
	acct := cfapi.New(f.URL(), cfapi.Auth{APIToken: acctTok}, nil)
	if _, err := acct.Do(ctx, "POST", "/accounts/"+accB+"/storage/kv/namespaces", nil, map[string]string{"title": "first"}, nil); err != nil {
		t.Fatalf("same title in another account: %v", err)
	}

	id := f.AddKVNamespace(accA, "added")
	f.RemoveKVNamespace(accA, id)
	if len(f.KVNamespaces(accA)) != 11 {
		t.Fatal("Add/RemoveKVNamespace")
	}
}

func TestR2Buckets(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	base := "/accounts/" + accA + "/r2/buckets"

	type bucketJSON struct {
		Name         string `json:"name"`
		Location     string `json:"location"`
		CreationDate string `json:"creation_date"`
		StorageClass string `json:"storage_class"`
	}
	var bj bucketJSON
	if _, err := c.Do(ctx, "POST", base, nil, map[string]string{"name": "photos", "locationHint": "weur"}, &bj); err != nil || bj.Name != "photos" || bj.Location != "WEUR" || bj.StorageClass != "Standard" || bj.CreationDate == "" {
		t.Fatalf("create = %+v %v", bj, err)
	}
	_, err := c.Do(ctx, "POST", base, nil, map[string]string{"name": "photos"}, nil)
	apiErr(t, err, 409, 10004)
	for _, bad := range []string{"Photos", "ab", "-abc", "a_b_c"} {
		_, err = c.Do(ctx, "POST", base, nil, map[string]string{"name": bad}, nil)
		apiErr(t, err, 400, 10005)
	}
	_, err = c.Do(ctx, "POST", base, nil, map[string]string{"name": "good", "locationHint": "mars"}, nil)
	apiErr(t, err, 400, 10040)
	for _, n := range []string{"b-1", "b-2", "b-3"} {
		f.AddR2Bucket(accA, n, "")
	}

	var list struct {
		Buckets []bucketJSON `json:"buckets"`
	}
	info, err := c.Do(ctx, "GET", base, url.Values{"per_page": {"2"}}, nil, &list)
	if err != nil || len(list.Buckets) != 2 || list.Buckets[0].Name != "b-1" || info.Cursor != "b-2" || info.PerPage != 2 {
		t.Fatalf("list = %+v %+v %v", list, info, err)
	}
	info, err = c.Do(ctx, "GET", base, url.Values{"per_page": {"2"}, "cursor": {info.Cursor}}, nil, &list)
	if err != nil || len(list.Buckets) != 2 || list.Buckets[1].Name != "photos" || info.Cursor != "" {
		t.Fatalf("list page 2 = %+v %+v %v", list, info, err)
	}
	if _, err := c.Do(ctx, "GET", base, url.Values{"name_contains": {"hot"}}, nil, &list); err != nil || len(list.Buckets) != 1 {
		t.Fatalf("name_contains = %+v %v", list, err)
	}

	if _, err := c.Do(ctx, "GET", base+"/photos", nil, nil, &bj); err != nil || bj.Location != "WEUR" {
		t.Fatalf("get = %+v %v", bj, err)
	}
	if _, err := c.Do(ctx, "DELETE", base+"/photos", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, "DELETE", base+"/photos", nil, nil, nil)
	apiErr(t, err, 404, 10006)
	_, err = c.Do(ctx, "GET", base+"/photos", nil, nil, nil)
	apiErr(t, err, 404, 10006)
	if got := f.R2Buckets(accA); len(got) != 3 || got[0] != (cloudflarefake.R2Bucket{Name: "b-1", Location: "ENAM"}) {
		t.Fatalf("buckets = %+v", got)
	}
	f.RemoveR2Bucket(accA, "b-1")

	_, err = c.Do(ctx, "GET", "/accounts/"+accB+"/r2/buckets", nil, nil, nil)
	apiErr(t, err, 403, 10000)
	key := cfapi.New(f.URL(), cfapi.Auth{APIKey: globalKey, Email: email}, nil)
	if _, err := key.Do(ctx, "POST", "/accounts/"+accB+"/r2/buckets", nil, map[string]string{"name": "photos"}, nil); err != nil {
		t.Fatalf("same name in another account: %v", err)
	}
	if len(f.R2Buckets(accB)) != 1 || len(f.R2Buckets(accA)) != 2 {
		t.Fatal("buckets leaked across accounts")
	}
}

func TestFailNext(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	f.FailNext(1, 503)
	f.FailNext(1, 429)
	_, err := c.VerifyToken(ctx)
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || !cfapi.IsUnreachable(err) {
		t.Fatalf("503: %v", err)
	}
	_, err = c.VerifyToken(ctx)
	if !errors.As(err, &ae) || ae.StatusCode != 429 || !ae.HasCode(971) || !cfapi.IsUnreachable(err) {
		t.Fatalf("429: %v", err)
	}
	if _, err := c.VerifyToken(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("FailNext(1, 404) did not panic")
		}
	}()
	f.FailNext(1, 404)
}
