package aws

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/alchemy-go/alchemy"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3BucketProps declares an S3 bucket.
type S3BucketProps struct {
	// BucketName is the bucket's name. Default: a physical name unique to
	// the stack, id, stage and generation (lowercase, at most 63
	// characters). Changing it replaces the bucket.
	BucketName alchemy.Input[string] `json:"bucketName"`
	// Tags are added to the ownership tags (alchemy::stack, alchemy::stage,
	// alchemy::id). Keys starting with alchemy:: are refused.
	Tags alchemy.Input[map[string]string] `json:"tags"`
	// Versioning enables object versioning; turning it off again suspends
	// it (S3 cannot disable versioning once enabled). Unset never touches it.
	Versioning alchemy.Input[bool] `json:"versioning"`
	// BlockPublicAccess sets all four public access block settings to this
	// value. Unset leaves the bucket's (AWS blocks public access of new
	// buckets by default).
	BlockPublicAccess alchemy.Input[bool] `json:"blockPublicAccess"`
}

// S3BucketArgs are a bucket's resolved props.
type S3BucketArgs struct {
	BucketName        string            `json:"bucketName,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	Versioning        *bool             `json:"versioning,omitempty"`
	BlockPublicAccess *bool             `json:"blockPublicAccess,omitempty"`
}

// S3BucketAttrs are what a deployed bucket publishes.
type S3BucketAttrs struct {
	BucketName string `json:"bucketName"`
	ARN        string `json:"arn"`
	Region     string `json:"region"`
}

// S3Bucket is a declared bucket.
type S3Bucket struct {
	*alchemy.Resource
	BucketName alchemy.Output[string]
	ARN        alchemy.Output[string]
	Region     alchemy.Output[string]
}

// NewS3Bucket declares an S3 bucket (type AWS.S3.Bucket). Removing it from
// the stack deletes the bucket and every object version in it.
func NewS3Bucket(s *alchemy.Stack, id string, props S3BucketProps, opts ...alchemy.Option) *S3Bucket {
	r := alchemy.Declare[S3BucketArgs, S3BucketAttrs](s, bucketProvider{}, id, props, opts...)
	return &S3Bucket{Resource: r,
		BucketName: alchemy.Attr[string](r, "bucketName"),
		ARN:        alchemy.Attr[string](r, "arn"),
		Region:     alchemy.Attr[string](r, "region")}
}

type bucketRequest = alchemy.Request[S3BucketArgs, S3BucketAttrs]

type bucketProvider struct{}

func (bucketProvider) Type() string        { return "AWS.S3.Bucket" }
func (bucketProvider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
func (bucketProvider) Auth() string        { return authName }
func (bucketProvider) ReplaceOn() []string { return []string{"bucketName"} }

func bucketName(r *bucketRequest, props S3BucketArgs) string {
	if props.BucketName != "" {
		return props.BucketName
	}
	return r.PhysicalName(63, true)
}

func (bucketProvider) client(ctx context.Context, r *bucketRequest) (*s3.Client, string, error) {
	cfg, err := sdkConfig(ctx, r.Credentials, r.Refresh)
	if err != nil {
		return nil, "", err
	}
	return s3.NewFromConfig(cfg), cfg.Region, nil
}

func (bucketProvider) Name(r *bucketRequest) string { return bucketName(r, r.Props) }

// Identity is the bucket's ARN: bucket names are global.
func (bucketProvider) Identity(a S3BucketAttrs) string {
	if a.BucketName == "" {
		return ""
	}
	return bucketARN(a.BucketName)
}

func bucketARN(name string) string { return "arn:aws:s3:::" + name }

// bucketMissing reports whether err says the bucket does not exist.
func bucketMissing(err error) bool {
	return hasCode(err, "NotFound", "NoSuchBucket") || httpStatus(err) == http.StatusNotFound
}

// credentialsRefused reports whether err is S3 refusing the credentials
// themselves rather than access to one bucket.
func credentialsRefused(err error) bool {
	return hasCode(err, "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
		"TokenRefreshRequired", "AccountProblem", "InvalidSecurity")
}

// Read finds the bucket by name (HeadBucket). One that answers 403 exists
// but belongs to another AWS account (or these credentials may not touch
// it), and one in another region cannot be managed from this one: neither
// can ever be taken over. Its tags, versioning and public access block are
// read as far as the endpoint implements them (see
// EnvTolerateNotImplemented); what cannot be read is copied from r.Props.
func (p bucketProvider) Read(ctx context.Context, r *bucketRequest) (*alchemy.Found[S3BucketArgs, S3BucketAttrs], error) {
	c, region, err := p.client(ctx, r)
	if err != nil {
		return nil, err
	}
	name := r.OldAttrs.BucketName
	if name == "" {
		name = bucketName(r, r.Props)
	}
	f := &alchemy.Found[S3BucketArgs, S3BucketAttrs]{
		Attrs:     S3BucketAttrs{BucketName: name, ARN: bucketARN(name), Region: region},
		Name:      "bucket " + name,
		Generated: r.Props.BucketName == "" && name == r.PhysicalName(63, true),
	}
	head, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &name})
	switch {
	case err == nil:
		if reg := sdkaws.ToString(head.BucketRegion); reg != "" {
			f.Attrs.Region = reg
		}
	case bucketMissing(err):
		return nil, nil
	case httpStatus(err) == http.StatusForbidden:
		// A HEAD answer has no body: ask again with a GET, whose error
		// code tells a refused key from a bucket that is not ours.
		_, lerr := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &name})
		switch {
		case lerr == nil, credentialsRefused(lerr):
			if lerr == nil {
				lerr = err
			}
			return nil, fmt.Errorf("looking up bucket %s: %w", name, lerr)
		case bucketMissing(lerr):
			return nil, nil
		case httpStatus(lerr) != http.StatusForbidden:
			return nil, fmt.Errorf("looking up bucket %s: %w", name, lerr)
		}
		// AccessDenied: the bucket exists, and this account may not use it.
		f.Unadoptable = "it belongs to another AWS account (or these credentials are denied access to it)"
		return f, nil
	case httpStatus(err) == http.StatusMovedPermanently:
		other := responseHeader(err, "X-Amz-Bucket-Region")
		if other == "" {
			other = "another region"
		}
		f.Attrs.Region = other
		f.Unadoptable = fmt.Sprintf("it is in %s, not in this stack's region %s", other, region)
		return f, nil
	default:
		return nil, fmt.Errorf("looking up bucket %s: %w", name, err)
	}

	live := r.Props
	tags, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &name})
	switch {
	case err == nil:
		got := map[string]string{}
		for _, t := range tags.TagSet {
			got[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
		}
		f.Stamp, live.Tags = alchemy.StampFromTags(got), userTags(got)
	case hasCode(err, "NoSuchTagSet"):
		live.Tags = nil
	case notImplemented(err):
		// No tags on this endpoint: no stamp either.
	default:
		return nil, fmt.Errorf("reading tags of bucket %s: %w", name, err)
	}
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &name})
	switch {
	case err == nil:
		switch v.Status {
		case types.BucketVersioningStatusEnabled:
			live.Versioning = sdkaws.Bool(true)
		case types.BucketVersioningStatusSuspended:
			live.Versioning = sdkaws.Bool(false)
		default: // never enabled
			live.Versioning = nil
		}
	case notImplemented(err):
	default:
		return nil, fmt.Errorf("reading versioning of bucket %s: %w", name, err)
	}
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &name})
	switch {
	case err == nil:
		live.BlockPublicAccess = nil
		if b := pab.PublicAccessBlockConfiguration; b != nil {
			all := sdkaws.ToBool(b.BlockPublicAcls)
			if sdkaws.ToBool(b.BlockPublicPolicy) == all && sdkaws.ToBool(b.IgnorePublicAcls) == all && sdkaws.ToBool(b.RestrictPublicBuckets) == all {
				live.BlockPublicAccess = &all
			}
		}
	case hasCode(err, "NoSuchPublicAccessBlockConfiguration"):
		live.BlockPublicAccess = nil
	case notImplemented(err):
	default:
		return nil, fmt.Errorf("reading the public access block of bucket %s: %w", name, err)
	}
	f.Props = &live
	return f, nil
}

// Create makes the bucket; it never takes over an existing one. In
// us-east-1, S3 answers 200 to a CreateBucket of a bucket this account
// already owns: the engine's Read before Create is what finds such a
// bucket, so only a name taken between that Read and this call goes
// unnoticed there.
func (p bucketProvider) Create(ctx context.Context, r *bucketRequest) (S3BucketAttrs, error) {
	if err := checkUserTags(r.Props.Tags); err != nil {
		return S3BucketAttrs{}, err
	}
	c, region, err := p.client(ctx, r)
	if err != nil {
		return S3BucketAttrs{}, err
	}
	name := bucketName(r, r.Props)
	in := &s3.CreateBucketInput{Bucket: &name}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	r.Note("Creating bucket " + name + "...")
	_, err = createCall(ctx, func() (*s3.CreateBucketOutput, error) {
		return c.CreateBucket(ctx, in, func(o *s3.Options) { o.Retryer = noRetry })
	}, func(err error) bool { return hasCode(err, "BucketAlreadyOwnedByYou", "BucketAlreadyExists") })
	if err != nil {
		switch {
		case hasCode(err, "BucketAlreadyOwnedByYou"):
			return S3BucketAttrs{}, fmt.Errorf("bucket %s already exists in this AWS account: %w: %w", name, alchemy.ErrAlreadyExists, err)
		case hasCode(err, "BucketAlreadyExists"):
			return S3BucketAttrs{}, fmt.Errorf("bucket name %s is taken (bucket names are global; another AWS account may own it): choose another bucketName: %w", name, alchemy.ErrAlreadyExists)
		}
		return S3BucketAttrs{}, fmt.Errorf("creating bucket %s: %w", name, err)
	}
	if err := p.configure(ctx, c, r, name, S3BucketArgs{}); err != nil {
		return S3BucketAttrs{}, err
	}
	return S3BucketAttrs{BucketName: name, ARN: bucketARN(name), Region: region}, nil
}

// Update brings the bucket from r.OldProps (the props last applied, or its
// live configuration when it is being taken over) to r.Props, ownership
// tags included.
func (p bucketProvider) Update(ctx context.Context, r *bucketRequest) (S3BucketAttrs, error) {
	if err := checkUserTags(r.Props.Tags); err != nil {
		return S3BucketAttrs{}, err
	}
	c, region, err := p.client(ctx, r)
	if err != nil {
		return S3BucketAttrs{}, err
	}
	name := r.OldAttrs.BucketName
	if name == "" {
		name = bucketName(r, r.Props)
	}
	if err := p.configure(ctx, c, r, name, r.OldProps); err != nil {
		return S3BucketAttrs{}, err
	}
	if r.OldAttrs.Region != "" {
		region = r.OldAttrs.Region
	}
	return S3BucketAttrs{BucketName: name, ARN: bucketARN(name), Region: region}, nil
}

// configure applies tags (the whole tag set: user tags and ownership
// tags), versioning and the public access block.
func (bucketProvider) configure(ctx context.Context, c *s3.Client, r *bucketRequest, name string, old S3BucketArgs) error {
	skip := func(what string, err error) error {
		if notImplemented(err) {
			r.Note(fmt.Sprintf("The S3 endpoint does not implement %s (%s=1): skipped", what, EnvTolerateNotImplemented))
			return nil
		}
		return fmt.Errorf("setting %s of bucket %s: %w", what, name, err)
	}

	tags := ownershipTags(r.Props.Tags, r.Stamp())
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tagSet := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		tagSet = append(tagSet, types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(tags[k])})
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &name, Tagging: &types.Tagging{TagSet: tagSet}}); err != nil {
		if err := skip("tagging", err); err != nil {
			return err
		}
	}

	// Versioning: only touched when asked for, or when it was on before.
	if v := r.Props.Versioning; (v != nil && *v) || (old.Versioning != nil && *old.Versioning) {
		status := types.BucketVersioningStatusSuspended
		if v != nil && *v {
			status = types.BucketVersioningStatusEnabled
		}
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: status}}); err != nil {
			if err := skip("versioning", err); err != nil {
				return err
			}
		}
	}

	if b := r.Props.BlockPublicAccess; b != nil {
		if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &name,
			PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
				BlockPublicAcls: b, BlockPublicPolicy: b, IgnorePublicAcls: b, RestrictPublicBuckets: b,
			}}); err != nil {
			if err := skip("the public access block", err); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete empties and deletes the bucket. Ownership is the engine's to
// prove before it calls Delete; a bucket already gone is success.
func (p bucketProvider) Delete(ctx context.Context, r *bucketRequest) error {
	c, _, err := p.client(ctx, r)
	if err != nil {
		return err
	}
	name := r.OldAttrs.BucketName
	if name == "" {
		// The engine passes the attributes Read found for a row that has
		// none (after proving the bucket ours); derive the name otherwise.
		name = bucketName(r, r.OldProps)
	}
	for attempt := 1; ; attempt++ {
		if err := emptyBucket(ctx, c, name, r.Note); err != nil {
			if hasCode(err, "NoSuchBucket") {
				return nil
			}
			return fmt.Errorf("emptying bucket %s: %w", name, err)
		}
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name})
		switch {
		case err == nil, hasCode(err, "NoSuchBucket"):
			return nil
		case hasCode(err, "BucketNotEmpty") && attempt < 5:
			// Objects written while we emptied it, or a listing that lagged.
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			return fmt.Errorf("deleting bucket %s: %w", name, err)
		}
	}
}

// emptyBucket deletes every object version and delete marker in the bucket,
// then every object a plain listing still shows (endpoints without
// versioning support).
func emptyBucket(ctx context.Context, c *s3.Client, name string, note func(string)) error {
	deleted := 0
	del := func(ids []types.ObjectIdentifier) error {
		if len(ids) == 0 {
			return nil
		}
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &name,
			Delete: &types.Delete{Objects: ids, Quiet: sdkaws.Bool(true)}})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("%d objects could not be deleted, e.g. %s: %s %s", len(out.Errors),
				sdkaws.ToString(e.Key), sdkaws.ToString(e.Code), sdkaws.ToString(e.Message))
		}
		deleted += len(ids)
		note(fmt.Sprintf("Emptying bucket %s (%d objects deleted)...", name, deleted))
		return nil
	}

	versions := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: &name, MaxKeys: sdkaws.Int32(1000)})
	for versions.HasMorePages() {
		page, err := versions.NextPage(ctx)
		if err != nil {
			if hasCode(err, "NoSuchBucket") {
				return err
			}
			break // no versioning support: the plain listing below does it
		}
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if err := del(ids); err != nil {
			return err
		}
	}

	var lastFirst string
	for {
		// Always from the start: what was listed has been deleted.
		page, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &name, MaxKeys: sdkaws.Int32(1000)})
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			return nil
		}
		first := sdkaws.ToString(page.Contents[0].Key)
		if first == lastFirst {
			return fmt.Errorf("object %s is still listed after it was deleted", first)
		}
		lastFirst = first
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if err := del(ids); err != nil {
			return err
		}
	}
}
