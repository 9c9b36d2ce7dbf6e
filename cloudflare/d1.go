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

// D1 API (developers.cloudflare.com/api/resources/d1/subresources/database):
//
//	POST   /accounts/{account_id}/d1/database               {"name", "primary_location_hint"?}
//	GET    /accounts/{account_id}/d1/database?name=&page=&per_page= (page-based, per_page 10..10000)
//	GET    /accounts/{account_id}/d1/database/{database_id}
//	DELETE /accounts/{account_id}/d1/database/{database_id}
//
// A database is {"uuid", "name", "created_at", "version", "num_tables",
// "file_size", ...}: its primary location hint is not part of it (the
// Terraform resource lists it as an input only), so Read cannot see it. A
// name the account already has is code 7502 (wrangler's d1 create maps it
// to "A database with that name already exists"; workers-sdk#2143); a
// missing database is code 7404 "The database <uuid> could not be found"
// (wrangler output). Not confirmed: the HTTP statuses of both (any 404
// counts as missing too), and whether the list's name filter is exact, so
// matches are compared by name here.
//
// D1 databases carry no tags: only a generated name proves that a database
// found under it is this resource's; one with a name the author chose is
// taken over only with deploy --adopt (the engine decides, from Read).
const (
	codeD1Exists   = 7502
	codeD1NotFound = 7404
	d1ListPerPage  = 1000
	d1MaxPages     = 100
)

func init() {
	alchemy.Register[D1DatabaseArgs, D1DatabaseAttrs](d1Provider{})
}

var (
	_ alchemy.Reader[D1DatabaseArgs, D1DatabaseAttrs]     = d1Provider{}
	_ alchemy.Identified[D1DatabaseArgs, D1DatabaseAttrs] = d1Provider{}
)

// D1DatabaseProps declares a D1 database.
type D1DatabaseProps struct {
	// Name of the database. Default: the lower-cased physical name
	// <stack>-<id>-<stage>-<suffix>. Changing it replaces the database (D1
	// databases cannot be renamed).
	Name alchemy.Input[string] `json:"name"`
	// PrimaryLocationHint is where the primary is placed: wnam, enam, weur,
	// eeur, apac or oc. Changing it replaces the database: with a name the
	// author chose, the current database (and its data) is deleted before
	// the new one is created, as both cannot have the name at once.
	PrimaryLocationHint alchemy.Input[string] `json:"primaryLocationHint"`
}

// D1DatabaseArgs are a database's resolved props.
type D1DatabaseArgs struct {
	Name                string `json:"name,omitempty"`
	PrimaryLocationHint string `json:"primaryLocationHint,omitempty"`
}

// D1DatabaseAttrs are what a deployed database publishes.
type D1DatabaseAttrs struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// D1Database is a declared D1 database.
type D1Database struct {
	*alchemy.Resource
	// ID is the database UUID, what a Worker binding needs.
	ID   alchemy.Output[string]
	Name alchemy.Output[string]
}

// NewD1Database declares a D1 database.
func NewD1Database(s *alchemy.Stack, id string, props D1DatabaseProps, opts ...alchemy.Option) *D1Database {
	r := alchemy.Declare[D1DatabaseArgs, D1DatabaseAttrs](s, d1Provider{}, id, props, opts...)
	return &D1Database{Resource: r, ID: alchemy.Attr[string](r, "id"), Name: alchemy.Attr[string](r, "name")}
}

type d1Provider struct{}

type d1Request = alchemy.Request[D1DatabaseArgs, D1DatabaseAttrs]

func (d1Provider) Type() string        { return "Cloudflare.D1.Database" }
func (d1Provider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
func (d1Provider) Auth() string        { return authName }
func (d1Provider) ReplaceOn() []string { return []string{"name", "primaryLocationHint"} }

// d1Name is the database name. Not confirmed: D1's name rules; the default
// is lower-cased and at most 63 characters, as an R2 bucket name.
func d1Name(r *d1Request, args D1DatabaseArgs) string {
	if args.Name != "" {
		return args.Name
	}
	return strings.ToLower(r.PhysicalName(63, true))
}

type d1DatabaseJSON struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
}

func (d1Provider) Name(r *d1Request) string          { return d1Name(r, r.Props) }
func (d1Provider) Identity(a D1DatabaseAttrs) string { return a.ID }

// findD1ByName lists the account's databases filtered by name and returns
// the one named exactly name, if any.
func (c *client) findD1ByName(ctx context.Context, name string) (*d1DatabaseJSON, error) {
	seen := 0
	for page := 1; page <= d1MaxPages; page++ {
		q := url.Values{}
		q.Set("name", name)
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(d1ListPerPage))
		var res []d1DatabaseJSON
		info, err := c.do(ctx, http.MethodGet, c.accountPath("/d1/database"), q, nil, &res)
		if err != nil {
			return nil, fmt.Errorf("listing D1 databases: %w", err)
		}
		for i := range res {
			if res[i].Name == name {
				return &res[i], nil
			}
		}
		seen += len(res)
		// The documented result_info has no total_pages: stop on a short
		// page or once total_count is reached.
		if len(res) < d1ListPerPage || info == nil || (info.TotalCount > 0 && seen >= info.TotalCount) {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("listing D1 databases: more than %d pages", d1MaxPages)
}

// getD1 reads one database by UUID; nil when there is none.
func (c *client) getD1(ctx context.Context, id string) (*d1DatabaseJSON, error) {
	var res d1DatabaseJSON
	_, err := c.do(ctx, http.MethodGet, c.accountPath("/d1/database/"+url.PathEscape(id)), nil, nil, &res)
	if isGone(err, codeD1NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading D1 database %s: %w", id, err)
	}
	if res.UUID == "" {
		res.UUID = id
	}
	return &res, nil
}

// Read finds the database: by its UUID once it is known (a database
// deleted and re-created under the same name is another database), else by
// the name this resource gives it.
func (d1Provider) Read(ctx context.Context, r *d1Request) (*alchemy.Found[D1DatabaseArgs, D1DatabaseAttrs], error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return nil, err
	}
	var db *d1DatabaseJSON
	if r.OldAttrs.ID != "" {
		db, err = c.getD1(ctx, r.OldAttrs.ID)
	} else {
		db, err = c.findD1ByName(ctx, d1Name(r, r.Props))
	}
	if err != nil || db == nil {
		return nil, err
	}
	generated := r.Props.Name == "" && db.Name == d1Name(r, D1DatabaseArgs{})
	// The location hint cannot be read: it is the declared one.
	live := D1DatabaseArgs{Name: db.Name, PrimaryLocationHint: r.Props.PrimaryLocationHint}
	if generated {
		live.Name = ""
	}
	return &alchemy.Found[D1DatabaseArgs, D1DatabaseAttrs]{
		Attrs:     D1DatabaseAttrs{ID: db.UUID, Name: db.Name},
		Props:     &live,
		Name:      "D1 database " + db.Name,
		Generated: generated,
	}, nil
}

// Create creates the database. A name the account already has (code 7502)
// is reported as alchemy.ErrAlreadyExists: the engine reads the database
// there and decides whether it may be taken over.
func (d1Provider) Create(ctx context.Context, r *d1Request) (D1DatabaseAttrs, error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return D1DatabaseAttrs{}, err
	}
	name := d1Name(r, r.Props)
	body := map[string]string{"name": name}
	if r.Props.PrimaryLocationHint != "" {
		body["primary_location_hint"] = r.Props.PrimaryLocationHint
	}
	var res d1DatabaseJSON
	_, err = c.do(ctx, http.MethodPost, c.accountPath("/d1/database"), nil, body, &res)
	if hasCode(err, codeD1Exists) {
		return D1DatabaseAttrs{}, fmt.Errorf("creating D1 database %q: %w: %w", name, alchemy.ErrAlreadyExists, err)
	}
	if err != nil {
		return D1DatabaseAttrs{}, fmt.Errorf("creating D1 database %q: %w", name, err)
	}
	if res.UUID == "" {
		return D1DatabaseAttrs{}, fmt.Errorf("creating D1 database %q: the API returned no database ID", name)
	}
	return D1DatabaseAttrs{ID: res.UUID, Name: name}, nil
}

// Update has nothing to change: every prop replaces the database. Taking
// one over keeps it as it is (its location hint cannot be read, nor
// changed).
func (d1Provider) Update(_ context.Context, r *d1Request) (D1DatabaseAttrs, error) {
	return r.OldAttrs, nil
}

// Delete removes the database; one already gone is success. Without a UUID
// (a claimed create whose answer was lost) it is looked up by its name.
func (d1Provider) Delete(ctx context.Context, r *d1Request) error {
	c, err := newClient(r.Credentials)
	if err != nil {
		return err
	}
	id := r.OldAttrs.ID
	if id == "" {
		found, err := c.findD1ByName(ctx, d1Name(r, r.OldProps))
		if err != nil || found == nil {
			return err
		}
		id = found.UUID
	}
	_, err = c.do(ctx, http.MethodDelete, c.accountPath("/d1/database/"+url.PathEscape(id)), nil, nil, nil)
	if isGone(err, codeD1NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting D1 database %s: %w", id, err)
	}
	return nil
}
