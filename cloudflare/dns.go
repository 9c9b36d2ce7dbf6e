package cloudflare

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/alchemy-go/alchemy"
)

// DNS records API (developers.cloudflare.com/api/resources/dns/subresources/records):
//
//	POST   /zones/{zone_id}/dns_records                  {"type","name","content","ttl","proxied","comment"}
//	GET    /zones/{zone_id}/dns_records?name=&type=&content=&page=&per_page= (page-based, default 100)
//	GET    /zones/{zone_id}/dns_records/{dns_record_id}
//	PUT    /zones/{zone_id}/dns_records/{dns_record_id}  (overwrite; PATCH edits the fields sent)
//	DELETE /zones/{zone_id}/dns_records/{dns_record_id}
//
// name is the complete record name including the zone; ttl 1 means
// "automatic", otherwise 60..86400; comment has no effect on DNS answers.
// A record identical to an existing one (same type, name and content) is
// HTTP 400, code 81058 "An identical record already exists."
// (jeessy2/ddns-go#1378); older answers use 81057 "The record already
// exists." (NewFuture/DDNS#21; certbot#10725 and lexicon tolerate both).
// A CNAME cannot share its name with an A, AAAA or CNAME record: creating
// one where such a record exists is code 81053 "An A, AAAA, or CNAME record
// with that host already exists." (HermanMartinus/bearblog#105), an A or
// AAAA where a CNAME exists is code 81054 "A CNAME record with that host
// already exists." (jeessy2/ddns-go#1557, HTTP 400; see
// developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name).
// A missing record is code 81044 "Record does not exist."
// (zanjie1999/cloudflare-api-v4-ddns#5); its HTTP status is not confirmed,
// so any 404 counts as missing too.
//
// Ownership: DNS records carry no tags, so the record's comment starts with
// the marker alchemy:<stack>/<stage>/<id> of the resource that manages it
// (followed by the author's comment). Read reports it as the record's stamp;
// the engine decides from it.
const (
	codeDNSExists     = 81057
	codeDNSIdentical  = 81058
	codeDNSHostTaken  = 81053
	codeDNSCNAMETaken = 81054
	codeDNSNotFound   = 81044
	dnsListPerPage    = 100
	dnsMaxPages       = 1000
	markerPrefix      = "alchemy:"
)

func init() {
	alchemy.Register[DNSRecordArgs, DNSRecordAttrs](dnsProvider{})
}

var (
	_ alchemy.Reader[DNSRecordArgs, DNSRecordAttrs]     = dnsProvider{}
	_ alchemy.Identified[DNSRecordArgs, DNSRecordAttrs] = dnsProvider{}
)

// DNSRecordProps declares a DNS record in a zone.
type DNSRecordProps struct {
	// ZoneID is the zone's identifier (required). Changing it replaces the
	// record.
	ZoneID alchemy.Input[string] `json:"zoneId"`
	// Name is the fully qualified record name, e.g. "www.example.com"
	// (required). Changing it replaces the record.
	Name alchemy.Input[string] `json:"name"`
	// Type is the record type: A, AAAA, CNAME, TXT, MX, ... (required).
	// Changing it replaces the record; as the name stays, the current
	// record is deleted before the new one is created (a CNAME cannot share
	// its name with an A or AAAA record), so the name has no record for a
	// moment.
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
	ID string `json:"id"`
	// ZoneID is the record's zone (absent from rows written before it was
	// published: the zone is then the props').
	ZoneID  string `json:"zoneId,omitempty"`
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
func (dnsProvider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
func (dnsProvider) Auth() string        { return authName }
func (dnsProvider) ReplaceOn() []string { return []string{"zoneId", "type", "name"} }

// ownerMarker is what a record's comment starts with when this resource
// manages it: alchemy:<stack>/<stage>/<id>.
func ownerMarker(r *dnsRequest) string {
	st := r.Stamp()
	return markerPrefix + st.Stack + "/" + st.Stage + "/" + st.ID
}

// parseMarker reads the ownership marker at the start of a record's
// comment: the stamp it names (nil when there is none) and the author's
// comment after it.
func parseMarker(comment string) (*alchemy.Stamp, string) {
	if !strings.HasPrefix(comment, markerPrefix) {
		return nil, comment
	}
	mark, rest, _ := strings.Cut(comment, " ")
	parts := strings.SplitN(strings.TrimPrefix(mark, markerPrefix), "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, comment
	}
	return &alchemy.Stamp{Stack: parts[0], Stage: parts[1], ID: parts[2]}, rest
}

type dnsRecordJSON struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Type    string  `json:"type"`
	Content string  `json:"content"`
	TTL     int     `json:"ttl"`
	Proxied bool    `json:"proxied"`
	Comment *string `json:"comment"`
}

func (j dnsRecordJSON) comment() string {
	if j.Comment == nil {
		return ""
	}
	return *j.Comment
}

func (j dnsRecordJSON) attrs(zoneID string) DNSRecordAttrs {
	return DNSRecordAttrs{ID: j.ID, ZoneID: zoneID, Name: j.Name, Type: j.Type, Content: j.Content}
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

func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// Name is the zone and the record name, without the type: a name holds one
// CNAME and nothing else of A, AAAA or CNAME, so a record whose type
// changes (A to CNAME) cannot be created while the current one exists, and
// the engine deletes that one first. For types that could coexist (A to
// AAAA) this costs the name its answer for a moment, which keeps one rule
// for every type change.
func (dnsProvider) Name(r *dnsRequest) string {
	if r.Props.ZoneID == "" || r.Props.Name == "" {
		return ""
	}
	return r.Props.ZoneID + "/" + strings.ToLower(strings.TrimSuffix(r.Props.Name, "."))
}

func (dnsProvider) Identity(a DNSRecordAttrs) string { return a.ID }

// listDNS lists the zone's records named name, of every type.
func (c *client) listDNS(ctx context.Context, zoneID, name string) ([]dnsRecordJSON, error) {
	var out []dnsRecordJSON
	for page := 1; page <= dnsMaxPages; page++ {
		q := url.Values{}
		q.Set("name", name)
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(dnsListPerPage))
		var res []dnsRecordJSON
		info, err := c.do(ctx, http.MethodGet, zonePath(zoneID, ""), q, nil, &res)
		if err != nil {
			return nil, fmt.Errorf("listing DNS records %s: %w", name, err)
		}
		for _, r := range res {
			if sameName(r.Name, name) {
				out = append(out, r)
			}
		}
		if info == nil || len(res) == 0 || info.TotalPages <= page {
			return out, nil
		}
	}
	return nil, fmt.Errorf("listing DNS records %s: more than %d pages", name, dnsMaxPages)
}

// addressOrAlias are the types a CNAME cannot share its name with.
func addressOrAlias(typ string) bool {
	t := strings.ToUpper(typ)
	return t == "A" || t == "AAAA" || t == "CNAME"
}

// locate finds, among the zone's records named a.Name, the one that a
// record declared with a is: a record carrying this resource's marker
// (an interrupted create, a record it manages), else one that creating a
// would collide with: an identical record, or a CNAME clash. A record of
// the same name that can coexist with a (another A of a round-robin) is
// not it. nil when there is none.
func (c *client) locate(ctx context.Context, r *dnsRequest, a DNSRecordArgs) (*dnsRecordJSON, error) {
	recs, err := c.listDNS(ctx, a.ZoneID, a.Name)
	if err != nil {
		return nil, err
	}
	mine := r.Stamp()
	rank := func(rec dnsRecordJSON) int {
		sameType := strings.EqualFold(rec.Type, a.Type)
		identical := sameType && sameContent(a.Type, rec.Content, a.Content)
		st, _ := parseMarker(rec.comment())
		switch {
		case st != nil && *st == mine && identical:
			return 1
		case st != nil && *st == mine && sameType:
			return 2
		case st != nil && *st == mine:
			return 3
		case identical:
			return 4
		case addressOrAlias(a.Type) && addressOrAlias(rec.Type) && (strings.EqualFold(a.Type, "CNAME") || strings.EqualFold(rec.Type, "CNAME")):
			return 5
		}
		return 0
	}
	var best *dnsRecordJSON
	for i := range recs {
		if k := rank(recs[i]); k > 0 && (best == nil || k < rank(*best)) {
			best = &recs[i]
		}
	}
	return best, nil
}

// shorten cuts s to at most n bytes for a message.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// getDNS reads one record by ID; nil when there is none.
func (c *client) getDNS(ctx context.Context, zoneID, id string) (*dnsRecordJSON, error) {
	var res dnsRecordJSON
	_, err := c.do(ctx, http.MethodGet, zonePath(zoneID, "/"+url.PathEscape(id)), nil, nil, &res)
	if isGone(err, codeDNSNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading DNS record %s: %w", id, err)
	}
	if res.ID == "" {
		res.ID = id
	}
	return &res, nil
}

// zoneOf is the zone of a deployed record: its attributes', else its props'.
func zoneOf(r *dnsRequest) string {
	if r.OldAttrs.ZoneID != "" {
		return r.OldAttrs.ZoneID
	}
	if r.OldProps.ZoneID != "" {
		return r.OldProps.ZoneID
	}
	return r.Props.ZoneID
}

// Read finds the record: by its ID once it is known, else by name among
// the zone's records (see locate). Its stamp is the marker its comment
// starts with: this resource's, another stack's, stage's or resource's, or
// none (a record made by hand).
func (dnsProvider) Read(ctx context.Context, r *dnsRequest) (*alchemy.Found[DNSRecordArgs, DNSRecordAttrs], error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return nil, err
	}
	zone := r.Props.ZoneID
	var rec *dnsRecordJSON
	if r.OldAttrs.ID != "" {
		zone = zoneOf(r)
		rec, err = c.getDNS(ctx, zone, r.OldAttrs.ID)
	} else {
		if err := validateDNS(r.Props); err != nil {
			return nil, err
		}
		rec, err = c.locate(ctx, r, r.Props)
	}
	if err != nil || rec == nil {
		return nil, err
	}
	stamp, comment := parseMarker(rec.comment())
	return &alchemy.Found[DNSRecordArgs, DNSRecordAttrs]{
		Attrs: rec.attrs(zone),
		Props: liveDNS(r.Props, zone, rec, comment),
		Name:  fmt.Sprintf("DNS record %s %s (%s)", rec.Type, rec.Name, shorten(rec.Content, 60)),
		Stamp: stamp,
		// Create writes the marker with the record itself: an unmarked
		// record was never made by this resource.
		StampedOnCreate: true,
	}, nil
}

// liveDNS is a record's live configuration in the declared props' terms:
// where the API only spells a value differently (the name's case, TTL 1
// for an unset TTL, an address written another way) it is the declared
// value, so that a record nobody changed shows no drift.
func liveDNS(want DNSRecordArgs, zone string, rec *dnsRecordJSON, comment string) *DNSRecordArgs {
	live := &DNSRecordArgs{ZoneID: zone, Name: rec.Name, Type: rec.Type, Content: rec.Content,
		TTL: rec.TTL, Proxied: rec.Proxied, Comment: comment}
	if sameName(want.Name, rec.Name) {
		live.Name = want.Name
	}
	if strings.EqualFold(want.Type, rec.Type) {
		live.Type = want.Type
	}
	if sameContent(rec.Type, want.Content, rec.Content) {
		live.Content = want.Content
	}
	if want.TTL == 0 && rec.TTL == 1 {
		live.TTL = 0
	}
	return live
}

// sameContent reports whether two contents of a record of type typ say the
// same: addresses compared as addresses, host names without case and
// trailing dot.
func sameContent(typ, a, b string) bool {
	if a == b {
		return true
	}
	switch strings.ToUpper(typ) {
	case "A", "AAAA":
		x, err1 := netip.ParseAddr(a)
		y, err2 := netip.ParseAddr(b)
		return err1 == nil && err2 == nil && x == y
	case "CNAME", "NS", "PTR":
		return sameName(a, b)
	}
	return false
}

// Create creates the record with the ownership marker in its comment. A
// record in the way (an identical one, or a CNAME clash) is reported as
// alchemy.ErrAlreadyExists: the engine reads it and decides whether it may
// be taken over.
func (dnsProvider) Create(ctx context.Context, r *dnsRequest) (DNSRecordAttrs, error) {
	if err := validateDNS(r.Props); err != nil {
		return DNSRecordAttrs{}, err
	}
	c, err := newClient(r.Credentials)
	if err != nil {
		return DNSRecordAttrs{}, err
	}
	a := r.Props
	var res dnsRecordJSON
	_, err = c.do(ctx, http.MethodPost, zonePath(a.ZoneID, ""), nil, dnsBody(r, a), &res)
	if hasCode(err, codeDNSExists, codeDNSIdentical, codeDNSHostTaken, codeDNSCNAMETaken) {
		return DNSRecordAttrs{}, fmt.Errorf("creating DNS record %s %s: %w: %w", a.Type, a.Name, alchemy.ErrAlreadyExists, err)
	}
	if err != nil {
		return DNSRecordAttrs{}, fmt.Errorf("creating DNS record %s %s: %w", a.Type, a.Name, err)
	}
	if res.ID == "" {
		return DNSRecordAttrs{}, fmt.Errorf("creating DNS record %s %s: the API returned no record ID", a.Type, a.Name)
	}
	return res.attrs(a.ZoneID), nil
}

// Update overwrites the record (content, TTL, proxied, comment with this
// resource's marker): after a change of those props, or to take over a
// record Read found, whatever it held.
func (dnsProvider) Update(ctx context.Context, r *dnsRequest) (DNSRecordAttrs, error) {
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
		if isGone(err, codeDNSNotFound) {
			return DNSRecordAttrs{}, fmt.Errorf("updating DNS record %s (%s %s): it no longer exists (deleted outside alchemy?); remove it from state with `alchemy state delete` to create it again: %w", r.OldAttrs.ID, a.Type, a.Name, err)
		}
		return DNSRecordAttrs{}, fmt.Errorf("updating DNS record %s (%s %s): %w", r.OldAttrs.ID, a.Type, a.Name, err)
	}
	if res.ID == "" {
		return DNSRecordAttrs{ID: r.OldAttrs.ID, ZoneID: a.ZoneID, Name: a.Name, Type: a.Type, Content: a.Content}, nil
	}
	return res.attrs(a.ZoneID), nil
}

// Delete removes the record; one already gone is success. The engine has
// proven it is this resource's; without an ID (a claimed create whose
// answer was lost) it is the one Read would find from the props it was
// being created with.
func (dnsProvider) Delete(ctx context.Context, r *dnsRequest) error {
	c, err := newClient(r.Credentials)
	if err != nil {
		return err
	}
	zone := zoneOf(r)
	id := r.OldAttrs.ID
	if id == "" {
		if validateDNS(r.OldProps) != nil {
			return nil
		}
		found, err := c.locate(ctx, r, r.OldProps)
		if err != nil || found == nil {
			return err
		}
		id = found.ID
	}
	_, err = c.do(ctx, http.MethodDelete, zonePath(zone, "/"+url.PathEscape(id)), nil, nil, nil)
	if isGone(err, codeDNSNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting DNS record %s: %w", id, err)
	}
	return nil
}
