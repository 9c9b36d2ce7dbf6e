package cloudflarefake_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
)

func TestD1Databases(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	base := "/accounts/" + accA + "/d1/database"

	type db struct {
		UUID string `json:"uuid"`
		Name string `json:"name"`
	}
	var a db
	if _, err := c.Do(ctx, "POST", base, nil, map[string]string{"name": "main", "primary_location_hint": "weur"}, &a); err != nil || len(a.UUID) != 36 || a.Name != "main" {
		t.Fatalf("create = %+v %v", a, err)
	}
	_, err := c.Do(ctx, "POST", base, nil, map[string]string{"name": "main"}, nil)
	apiErr(t, err, 400, 7502)
	f.AddD1Database(accA, "other", "")
	var list []db
	if _, err := c.Do(ctx, "GET", base, url.Values{"name": {"main"}}, nil, &list); err != nil || len(list) != 1 || list[0].UUID != a.UUID {
		t.Fatalf("list = %+v %v", list, err)
	}
	if _, err := c.Do(ctx, "GET", base+"/"+a.UUID, nil, nil, &a); err != nil || a.Name != "main" {
		t.Fatalf("get = %+v %v", a, err)
	}
	if _, err := c.Do(ctx, "DELETE", base+"/"+a.UUID, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, "DELETE", base+"/"+a.UUID, nil, nil, nil)
	apiErr(t, err, 404, 7404)
	if got := f.D1Databases(accA); len(got) != 1 || got[0].Name != "other" {
		t.Fatalf("databases = %+v", got)
	}
	_, err = c.Do(ctx, "GET", "/accounts/"+accB+"/d1/database", nil, nil, nil)
	apiErr(t, err, 403, 10000)
}

func TestDNSRecords(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const zid, hidden = "0000000000000000000000000000a001", "0000000000000000000000000000b002"
	f.AddZone(zid, "example.com", accA)
	f.AddZone(hidden, "beta.example", accB)
	c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	base := "/zones/" + zid + "/dns_records"

	type rec struct {
		ID      string  `json:"id"`
		Name    string  `json:"name"`
		Type    string  `json:"type"`
		Content string  `json:"content"`
		TTL     int     `json:"ttl"`
		Proxied bool    `json:"proxied"`
		Comment *string `json:"comment"`
	}
	var r rec
	body := map[string]any{"name": "WWW.example.com", "type": "A", "content": "192.0.2.1", "comment": "hi"}
	if _, err := c.Do(ctx, "POST", base, nil, body, &r); err != nil || r.Name != "www.example.com" || r.TTL != 1 || r.Comment == nil || *r.Comment != "hi" {
		t.Fatalf("create = %+v %v", r, err)
	}
	_, err := c.Do(ctx, "POST", base, nil, body, nil)
	apiErr(t, err, 400, 81058)
	_, err = c.Do(ctx, "POST", base, nil, map[string]any{"name": "www.other.com", "type": "A", "content": "192.0.2.1"}, nil)
	apiErr(t, err, 400, 9000)
	_, err = c.Do(ctx, "POST", base, nil, map[string]any{"name": "x.example.com", "type": "A", "content": "not-an-ip"}, nil)
	apiErr(t, err, 400, 1004)
	_, err = c.Do(ctx, "POST", base, nil, map[string]any{"name": "x.example.com", "type": "TXT", "content": "v", "ttl": 5}, nil)
	apiErr(t, err, 400, 1004)
	if _, err := c.Do(ctx, "POST", base, nil, map[string]any{"name": "www.example.com", "type": "A", "content": "192.0.2.2"}, nil); err != nil {
		t.Fatalf("same name, other content: %v", err)
	}

	var list []rec
	if _, err := c.Do(ctx, "GET", base, url.Values{"name": {"www.example.com"}, "type": {"A"}, "content": {"192.0.2.1"}}, nil, &list); err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("list = %+v %v", list, err)
	}
	one := base + "/" + r.ID
	if _, err := c.Do(ctx, "PATCH", one, nil, map[string]any{"ttl": 300}, &r); err != nil || r.TTL != 300 || r.Content != "192.0.2.1" || *r.Comment != "hi" {
		t.Fatalf("patch = %+v %v", r, err)
	}
	_, err = c.Do(ctx, "PUT", one, nil, map[string]any{"name": "www.example.com", "type": "A", "content": "192.0.2.2"}, nil)
	apiErr(t, err, 400, 81058)
	if _, err := c.Do(ctx, "PUT", one, nil, map[string]any{"name": "www.example.com", "type": "A", "content": "192.0.2.3"}, &r); err != nil || r.TTL != 1 || r.Comment != nil {
		t.Fatalf("put = %+v %v", r, err)
	}
	if _, err := c.Do(ctx, "DELETE", one, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, "DELETE", one, nil, nil, nil)
	apiErr(t, err, 404, 81044)
	_, err = c.Do(ctx, "GET", one, nil, nil, nil)
	apiErr(t, err, 404, 81044)
	if got := f.DNSRecords(zid); len(got) != 1 || got[0].Content != "192.0.2.2" {
		t.Fatalf("records = %+v", got)
	}

	// Zone endpoints: general auth style, and only zones of visible accounts.
	_, err = cfapi.New(f.URL(), cfapi.Auth{APIToken: "unknown"}, nil).Do(ctx, "GET", base, nil, nil, nil)
	apiErr(t, err, 403, 9109)
	_, err = c.Do(ctx, "GET", "/zones/"+hidden+"/dns_records", nil, nil, nil)
	apiErr(t, err, 403, 9109)
	_, err = c.Do(ctx, "GET", "/zones/not-a-zone/dns_records", nil, nil, nil)
	apiErr(t, err, 400, 7003)

	id := f.AddDNSRecord(zid, cloudflarefake.DNSRecord{Name: "t.example.com", Type: "TXT", Content: "x"})
	f.RemoveDNSRecord(zid, id)
	if strings.Contains(id, "-") || len(f.DNSRecords(zid)) != 1 {
		t.Fatal("Add/RemoveDNSRecord")
	}
}
