package cloudflare

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/alchemy-go/alchemy"
)

// R2 API (developers.cloudflare.com/api/resources/r2/subresources/buckets):
//
//	POST   /accounts/{account_id}/r2/buckets        {"name", "locationHint"?}
//	GET    /accounts/{account_id}/r2/buckets/{name}
//	DELETE /accounts/{account_id}/r2/buckets/{name}
//
// A bucket the account already has is HTTP 409, code 10004 "The bucket you
// tried to create already exists, and you own it." (10073 BucketConflict on
// the R2 error-codes page); a missing bucket is HTTP 404, code 10006 "The
// specified bucket does not exist." (developers.cloudflare.com/r2/api/error-codes).
// A bucket is {"name", "creation_date", "location", "storage_class"}; the
// API refuses to delete one that holds objects (HTTP 409).
//
// R2 buckets carry no tags: only a generated name proves that a bucket found
// under it is this resource's; one with a name the author chose is taken
// over only with deploy --adopt (the engine decides, from Read).
const (
	codeR2Exists       = 10004
	codeR2Conflict     = 10073
	codeR2NoSuchBucket = 10006
)

func init() {
	alchemy.Register[R2BucketArgs, R2BucketAttrs](r2Provider{})
}

var (
	_ alchemy.Reader[R2BucketArgs, R2BucketAttrs]     = r2Provider{}
	_ alchemy.Identified[R2BucketArgs, R2BucketAttrs] = r2Provider{}
)

// R2BucketProps declares an R2 bucket.
type R2BucketProps struct {
	// Name of the bucket: 3 to 63 lowercase letters, digits and hyphens.
	// Default: the lower-cased physical name. Changing it replaces the
	// bucket.
	Name alchemy.Input[string] `json:"name"`
	// LocationHint is where the bucket is created: apac, eeur, enam, weur,
	// wnam or oc. Changing it replaces the bucket: with a name the author
	// chose, the current bucket is deleted before the new one is created, as
	// both cannot have the name at once (R2 refuses to delete a bucket that
	// holds objects, so the deploy then fails and changes nothing).
	LocationHint alchemy.Input[string] `json:"locationHint"`
}

// R2BucketArgs are a bucket's resolved props.
type R2BucketArgs struct {
	Name         string `json:"name,omitempty"`
	LocationHint string `json:"locationHint,omitempty"`
}

// R2BucketAttrs are what a deployed bucket publishes.
type R2BucketAttrs struct {
	Name     string `json:"name"`
	Location string `json:"location"`
}

// R2Bucket is a declared R2 bucket.
type R2Bucket struct {
	*alchemy.Resource
	Name alchemy.Output[string]
}

// NewR2Bucket declares an R2 bucket.
func NewR2Bucket(s *alchemy.Stack, id string, props R2BucketProps, opts ...alchemy.Option) *R2Bucket {
	r := alchemy.Declare[R2BucketArgs, R2BucketAttrs](s, r2Provider{}, id, props, opts...)
	return &R2Bucket{Resource: r, Name: alchemy.Attr[string](r, "name")}
}

type r2Provider struct{}

type r2Request = alchemy.Request[R2BucketArgs, R2BucketAttrs]

func (r2Provider) Type() string        { return "Cloudflare.R2.Bucket" }
func (r2Provider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
func (r2Provider) Auth() string        { return authName }
func (r2Provider) ReplaceOn() []string { return []string{"name", "locationHint"} }

func bucketName(r *r2Request, args R2BucketArgs) string {
	if args.Name != "" {
		return args.Name
	}
	return strings.ToLower(r.PhysicalName(63, true))
}

type r2BucketJSON struct {
	Name     string `json:"name"`
	Location string `json:"location"`
}

func (r2Provider) Name(r *r2Request) string        { return bucketName(r, r.Props) }
func (r2Provider) Identity(a R2BucketAttrs) string { return a.Name }

// Read finds the bucket by its name (buckets cannot be renamed, so the
// name is the bucket).
func (r2Provider) Read(ctx context.Context, r *r2Request) (*alchemy.Found[R2BucketArgs, R2BucketAttrs], error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return nil, err
	}
	name := r.OldAttrs.Name
	if name == "" {
		name = bucketName(r, r.Props)
	}
	var res r2BucketJSON
	_, err = c.do(ctx, http.MethodGet, c.accountPath("/r2/buckets/"+url.PathEscape(name)), nil, nil, &res)
	if isGone(err, codeR2NoSuchBucket) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading R2 bucket %q: %w", name, err)
	}
	generated := r.Props.Name == "" && name == bucketName(r, R2BucketArgs{})
	// The hint a bucket was created with cannot be read, only where it is
	// (an attribute): R2 honours a hint as it can, so a location that
	// differs is not drift.
	live := R2BucketArgs{Name: name, LocationHint: r.Props.LocationHint}
	if generated {
		live.Name = ""
	}
	return &alchemy.Found[R2BucketArgs, R2BucketAttrs]{
		Attrs:     R2BucketAttrs{Name: name, Location: res.Location},
		Props:     &live,
		Name:      "R2 bucket " + name,
		Generated: generated,
	}, nil
}

// Create creates the bucket. A name the account already has (HTTP 409) is
// reported as alchemy.ErrAlreadyExists: the engine reads the bucket there
// and decides whether it may be taken over.
func (r2Provider) Create(ctx context.Context, r *r2Request) (R2BucketAttrs, error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return R2BucketAttrs{}, err
	}
	name := bucketName(r, r.Props)
	body := map[string]string{"name": name}
	if r.Props.LocationHint != "" {
		body["locationHint"] = r.Props.LocationHint
	}
	var res r2BucketJSON
	_, err = c.do(ctx, http.MethodPost, c.accountPath("/r2/buckets"), nil, body, &res)
	if hasCode(err, codeR2Exists, codeR2Conflict) || isStatus(err, http.StatusConflict) {
		return R2BucketAttrs{}, fmt.Errorf("creating R2 bucket %q: %w: %w", name, alchemy.ErrAlreadyExists, err)
	}
	if err != nil {
		return R2BucketAttrs{}, fmt.Errorf("creating R2 bucket %q: %w", name, err)
	}
	return R2BucketAttrs{Name: name, Location: res.Location}, nil
}

// Update has nothing to change: every prop replaces the bucket. Taking one
// over keeps it where it is: a location cannot change, and a hint is only a
// hint.
func (r2Provider) Update(_ context.Context, r *r2Request) (R2BucketAttrs, error) {
	if want := r.Props.LocationHint; want != "" && r.OldAttrs.Location != "" && !strings.EqualFold(want, r.OldAttrs.Location) {
		r.Note(fmt.Sprintf("R2 bucket %s is in %s, not %s: a bucket's location cannot change", r.OldAttrs.Name, r.OldAttrs.Location, strings.ToUpper(want)))
	}
	return r.OldAttrs, nil
}

// Delete removes the bucket; one already gone is success.
func (r2Provider) Delete(ctx context.Context, r *r2Request) error {
	c, err := newClient(r.Credentials)
	if err != nil {
		return err
	}
	name := r.OldAttrs.Name
	if name == "" {
		name = bucketName(r, r.OldProps)
	}
	_, err = c.do(ctx, http.MethodDelete, c.accountPath("/r2/buckets/"+url.PathEscape(name)), nil, nil, nil)
	if isGone(err, codeR2NoSuchBucket) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting R2 bucket %q: %w", name, err)
	}
	return nil
}
