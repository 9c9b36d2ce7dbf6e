package cloudflare

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/alchemy-go/alchemy"
)

// DNS records API (developers.cloudflare.com/api/resources/dns/subresources/records):
//
//	POST   /zones/{zone_id}/dns_records                  {"type","name","content","ttl","proxied","comment"}
//	GET    /zones/{zone_id}/dns_records?name=&type=&content=&page=&per_page= (page-based, default 100)
//	PUT    /zones/{zone_id}/dns_records/{dns_record_id}  (overwrite; PATCH edits the fields sent)
//	DELETE /zones/{zone_id}/dns_records/{dns_record_id}
//
// name is the complete record name including the zone; ttl 1 means
// "automatic", otherwise 60..86400; comment has no effect on DNS answers.
// A record identical to an existing one (same type, name and content) is
// HTTP 400, code 81058 "An identical record already exists."
// (jeessy2/ddns-go#1378); older answers use 81057 "The record already
// exists." (NewFuture/DDNS#21; certbot#10725 and lexicon tolerate both).
// A missing record is code 81044 "Record does not exist."
// (zanjie1999/cloudflare-api-v4-ddns#5); its HTTP status is not confirmed,
// so any 404 counts as missing too.
const (
	codeDNSExists    = 81057
	codeDNSIdentical = 81058
	codeDNSNotFound  = 81044
	dnsListPerPage   = 100
	dnsMaxPages      = 1000
)

func init() {
	alchemy.Register[DNSRecordArgs, DNSRecordAttrs](dnsProvider{})
}

// DNSRecordProps declares a DNS record in a zone.
type DNSRecordProps struct {
	// ZoneID is the zone's identifier (required). Changing it replaces the
	// record.
	ZoneID alchemy.Input[string] `json:"zoneId"`
	// Name is the fully qualified record name, e.g. "www.example.com"
	// (required). Changing it replaces the record.
	Name alchemy.Input[string] `json:"name"`
	// Type is the record type: A, AAAA, CNAME, TXT, MX, ... (required).
	// Changing it replaces the record.
	Type alchemy.Input[string] `json:"type"`
	// Content is the record's value (an address, a target host, a text).
	Content alchemy.Input[string] `json:"content"`
	// TTL in seconds, 60..86400; 1 (the default) means automatic.
	TTL alchemy.Input[int] `json:"ttl"`
	// Proxied routes the traffic through Cloudflare (A, AAAA, CNAME only).
	Proxied alchemy.Input[bool] `json:"proxied"`
	// Comment is a note on the record. The stored comment starts with the
	// ownership marker alchemy:<stack>/<stage>/<id>, followed by this text.
	Comment alchemy.Input[string] `json:"comment"`
}

// DNSRecordArgs are a record's resolved props.
type DNSRecordArgs struct {
	ZoneID  string `json:"zoneId"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Content string `json:"content,omitempty"`
	TTL     int    `json:"ttl,omitempty"`
	Proxied bool   `json:"proxied,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// DNSRecordAttrs are what a deployed record publishes.
type DNSRecordAttrs struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Content string `json:"content"`
}

// DNSRecord is a declared DNS record.
type DNSRecord struct {
	*alchemy.Resource
	ID      alchemy.Output[string]
	Name    alchemy.Output[string]
	Type    alchemy.Output[string]
	Content alchemy.Output[string]
}

// NewDNSRecord declares a DNS record.
func NewDNSRecord(s *alchemy.Stack, id string, props DNSRecordProps, opts ...alchemy.Option) *DNSRecord {
	r := alchemy.Declare[DNSRecordArgs, DNSRecordAttrs](s, dnsProvider{}, id, props, opts...)
	return &DNSRecord{Resource: r, ID: alchemy.Attr[string](r, "id"), Name: alchemy.Attr[string](r, "name"),
		Type: alchemy.Attr[string](r, "type"), Content: alchemy.Attr[string](r, "content")}
}

type dnsProvider struct{}

type dnsRequest = alchemy.Request[DNSRecordArgs, DNSRecordAttrs]

func (dnsProvider) Type() string        { return "Cloudflare.DNS.Record" }
func (dnsProvider) Auth() string        { return authName }
func (dnsProvider) ReplaceOn() []string { return []string{"zoneId", "type", "name"} }

// ownerMarker is what a record's comment starts with when this resource
// manages it.
func ownerMarker(r *dnsRequest) string {
	return "alchemy:" + r.Stack + "/" + r.Stage + "/" + r.LogicalID
}

func ownedBy(comment, marker string) bool {
	return comment == marker || strings.HasPrefix(comment, marker+" ")
}

type dnsRecordJSON struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Type    string  `json:"type"`
	Content string  `json:"content"`
	Comment *string `json:"comment"`
}

func (j dnsRecordJSON) comment() string {
	if j.Comment == nil {
		return ""
	}
	return *j.Comment
}

func (j dnsRecordJSON) attrs() DNSRecordAttrs {
	return DNSRecordAttrs{ID: j.ID, Name: j.Name, Type: j.Type, Content: j.Content}
}

func zonePath(zoneID, rest string) string {
	return "/zones/" + url.PathEscape(zoneID) + "/dns_records" + rest
}

// dnsBody is the full record as PUT and POST take it.
func dnsBody(r *dnsRequest, a DNSRecordArgs) map[string]any {
	ttl := a.TTL
	if ttl == 0 {
		ttl = 1
	}
	comment := ownerMarker(r)
	if a.Comment != "" {
		comment += " " + a.Comment
	}
	return map[string]any{"type": a.Type, "name": a.Name, "content": a.Content, "ttl": ttl, "proxied": a.Proxied, "comment": comment}
}

func validateDNS(a DNSRecordArgs) error {
	switch {
	case a.ZoneID == "":
		return fmt.Errorf("DNS record %q: zoneId is required", a.Name)
	case a.Name == "":
		return fmt.Errorf("DNS record: name is required")
	case a.Type == "":
		return fmt.Errorf("DNS record %q: type is required", a.Name)
	}
	return nil
}

// findDNS lists the zone's records named name of type typ (and content,
// when set).
func (c *client) findDNS(ctx context.Context, zoneID, name, typ, content string) ([]dnsRecordJSON, error) {
	var out []dnsRecordJSON
	for page := 1; page <= dnsMaxPages; page++ {
		q := url.Values{}
		q.Set("name", name)
		q.Set("type", typ)
		if content != "" {
			q.Set("content", content)
		}
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(dnsListPerPage))
		var res []dnsRecordJSON
		info, err := c.do(ctx, http.MethodGet, zonePath(zoneID, ""), q, nil, &res)
		if err != nil {
			return nil, fmt.Errorf("listing DNS records %s %s: %w", typ, name, err)
		}
		for _, r := range res {
			if strings.EqualFold(strings.TrimSuffix(r.Name, "."), strings.TrimSuffix(name, ".")) && strings.EqualFold(r.Type, typ) &&
				(content == "" || r.Content == content) {
				out = append(out, r)
			}
		}
		if info == nil || len(res) == 0 || info.TotalPages <= page {
			return out, nil
		}
	}
	return nil, fmt.Errorf("listing DNS records %s %s: more than %d pages", typ, name, dnsMaxPages)
}

// Create creates the record with the ownership marker in its comment. When
// the API answers that such a record exists (81057/81058), it is adopted
// only if its comment carries this resource's marker (a create whose answer
// was lost, or a retried POST); a record someone else made is refused.
func (p dnsProvider) Create(ctx context.Context, r *dnsRequest) (DNSRecordAttrs, error) {
	if err := validateDNS(r.Props); err != nil {
		return DNSRecordAttrs{}, err
	}
	c, err := newClient(r.Credentials)
	if err != nil {
		return DNSRecordAttrs{}, err
	}
	a := r.Props
	body := dnsBody(r, a)
	var res dnsRecordJSON
	_, err = c.do(ctx, http.MethodPost, zonePath(a.ZoneID, ""), nil, body, &res)
	if hasCode(err, codeDNSExists, codeDNSIdentical) {
		return p.adopt(ctx, c, r, body, err)
	}
	if err != nil {
		return DNSRecordAttrs{}, fmt.Errorf("creating DNS record %s %s: %w", a.Type, a.Name, err)
	}
	if res.ID == "" {
		return DNSRecordAttrs{}, fmt.Errorf("creating DNS record %s %s: the API returned no record ID", a.Type, a.Name)
	}
	return res.attrs(), nil
}

func (dnsProvider) adopt(ctx context.Context, c *client, r *dnsRequest, body map[string]any, exists error) (DNSRecordAttrs, error) {
	a := r.Props
	found, err := c.findDNS(ctx, a.ZoneID, a.Name, a.Type, "")
	if err != nil {
		return DNSRecordAttrs{}, err
	}
	marker := ownerMarker(r)
	var mine, same *dnsRecordJSON
	for i := range found {
		if !ownedBy(found[i].comment(), marker) {
			if found[i].Content == a.Content && same == nil {
				same = &found[i]
			}
			continue
		}
		if mine == nil || found[i].Content == a.Content {
			mine = &found[i]
		}
	}
	if mine == nil {
		if same != nil {
			return DNSRecordAttrs{}, fmt.Errorf("creating DNS record %s %s: an identical record (%s) already exists and was not created by this stack: its comment %q does not start with %q. Delete it, or put %q at the start of its comment to let alchemy manage it", a.Type, a.Name, same.ID, same.comment(), marker, marker)
		}
		return DNSRecordAttrs{}, fmt.Errorf("creating DNS record %s %s: the API says the record exists, but none carries the ownership marker %q: %w", a.Type, a.Name, marker, exists)
	}
	r.Note("Adopting existing DNS record " + a.Type + " " + a.Name)
	var res dnsRecordJSON
	if _, err := c.do(ctx, http.MethodPut, zonePath(a.ZoneID, "/"+url.PathEscape(mine.ID)), nil, body, &res); err != nil {
		return DNSRecordAttrs{}, fmt.Errorf("updating adopted DNS record %s: %w", mine.ID, err)
	}
	if res.ID == "" {
		res = *mine
	}
	return res.attrs(), nil
}

// Update overwrites the record (content, TTL, proxied, comment).
func (p dnsProvider) Update(ctx context.Context, r *dnsRequest) (DNSRecordAttrs, error) {
	if r.OldAttrs.ID == "" {
		return p.Create(ctx, r)
	}
	if err := validateDNS(r.Props); err != nil {
		return DNSRecordAttrs{}, err
	}
	c, err := newClient(r.Credentials)
	if err != nil {
		return DNSRecordAttrs{}, err
	}
	a := r.Props
	var res dnsRecordJSON
	_, err = c.do(ctx, http.MethodPut, zonePath(a.ZoneID, "/"+url.PathEscape(r.OldAttrs.ID)), nil, dnsBody(r, a), &res)
	if err != nil {
		if hasCode(err, codeDNSNotFound) || isStatus(err, http.StatusNotFound) {
			return DNSRecordAttrs{}, fmt.Errorf("updating DNS record %s (%s %s): it no longer exists (deleted outside alchemy?); remove it from state with `alchemy state delete` to create it again: %w", r.OldAttrs.ID, a.Type, a.Name, err)
		}
		return DNSRecordAttrs{}, fmt.Errorf("updating DNS record %s (%s %s): %w", r.OldAttrs.ID, a.Type, a.Name, err)
	}
	if res.ID == "" {
		return DNSRecordAttrs{ID: r.OldAttrs.ID, Name: a.Name, Type: a.Type, Content: a.Content}, nil
	}
	return res.attrs(), nil
}

// Delete removes the record; one already gone is success. A row without
// attributes (interrupted create) is looked up by name, type and content,
// and only a record carrying the ownership marker is deleted.
func (dnsProvider) Delete(ctx context.Context, r *dnsRequest) error {
	c, err := newClient(r.Credentials)
	if err != nil {
		return err
	}
	a := r.OldProps
	id := r.OldAttrs.ID
	if id == "" {
		if a.ZoneID == "" || a.Name == "" || a.Type == "" {
			return nil
		}
		found, err := c.findDNS(ctx, a.ZoneID, a.Name, a.Type, a.Content)
		if err != nil {
			return err
		}
		for _, f := range found {
			if ownedBy(f.comment(), ownerMarker(r)) {
				id = f.ID
				break
			}
		}
		if id == "" {
			return nil
		}
	}
	_, err = c.do(ctx, http.MethodDelete, zonePath(a.ZoneID, "/"+url.PathEscape(id)), nil, nil, nil)
	if err != nil && (hasCode(err, codeDNSNotFound) || isStatus(err, http.StatusNotFound)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting DNS record %s: %w", id, err)
	}
	return nil
}
