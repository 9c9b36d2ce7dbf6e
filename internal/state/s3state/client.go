package s3state

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/alchemy-go/alchemy/internal/aws/awsapi"
)

// The S3 operations the store uses, with S3's answers turned into the
// few outcomes it acts on.
var (
	errNotFound     = errors.New("not found")
	errPrecondition = errors.New("precondition failed")
	errNotModified  = errors.New("not modified")
)

// cond is a PutObject precondition.
type cond struct {
	ifMatch  string // the ETag the object must still have
	ifAbsent bool   // If-None-Match: *
}

// object is what a GET returned.
type object struct {
	body         []byte
	etag         string
	lastModified time.Time
	// date is the server's clock when it answered (the Date header),
	// zero when it sent none.
	date time.Time
}

// opError is a failed S3 request: the operation, the s3:// key and S3's
// message, with the credentials scrubbed from it.
type opError struct {
	op, key, msg string
	hint         string
	err          error
}

func (e *opError) Error() string {
	s := fmt.Sprintf("S3 state: %s %s: %s", e.op, e.key, e.msg)
	if e.hint != "" {
		s += ". " + e.hint
	}
	return s
}

func (e *opError) Unwrap() error { return e.err }

// credentialCodes are S3's answers to credentials it does not take.
var credentialCodes = map[string]bool{"InvalidAccessKeyId": true, "XAdminUserNotFound": true, "SignatureDoesNotMatch": true, "InvalidToken": true,
	"ExpiredToken": true, "TokenRefreshRequired": true, "AccessDenied": true, "InvalidSecurity": true}

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// fail turns an awsapi error (in the SDK's shape) into what the store returns: a sentinel for the
// answers it acts on, else an opError saying what to do.
func (b *Backend) fail(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	code := apiCode(err)
	switch st := status(err); {
	case st == http.StatusNotFound && (code == "NoSuchKey" || code == "NotFound" || code == ""):
		// Only a missing key: versitygw answers an unknown access key
		// with 404 XAdminUserNotFound, which must not read as "absent".
		return errNotFound
	case st == http.StatusPreconditionFailed:
		return errPrecondition
	case st == http.StatusConflict && code == "ConditionalRequestConflict":
		// AWS: a conditional write raced another on the same key.
		return errPrecondition
	case st == http.StatusNotModified:
		return errNotModified
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return ctx.Err()
	}
	e := &opError{op: op, key: "s3://" + b.loc.Bucket + "/" + key, msg: b.scrub(ctx, err.Error()), err: err}
	switch st := status(err); {
	case code == "NoSuchBucket":
		e.hint = fmt.Sprintf("The bucket %s does not exist: create it (alchemy does not create state buckets), or fix the state URL", b.loc.Bucket)
	case st == http.StatusForbidden || st == http.StatusUnauthorized || credentialCodes[code]:
		e.hint = "Check the credentials of the AWS provider of the profile in use, and that they allow s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on " + b.loc.Describe()
	case code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect":
		e.hint = "The bucket is in another region: add ?region=<its region> to the state URL"
	case st == http.StatusNotImplemented:
		e.hint = "This S3 service lacks an operation alchemy needs (conditional PutObject with If-Match and If-None-Match)"
	}
	return e
}

// scrub removes the credentials in use from a message (a server may echo
// the access key id back).
func (b *Backend) scrub(ctx context.Context, msg string) string {
	if b.client == nil {
		return msg
	}
	creds := b.client.Credentials()
	if creds == nil {
		return msg
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	c, err := creds.Retrieve(ctx) // cached by the client: no request
	if err != nil {
		return msg
	}
	for _, s := range []string{c.SecretAccessKey, c.SessionToken, c.AccessKeyID} {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

func (b *Backend) get(ctx context.Context, key, ifNoneMatch string) (*object, error) {
	out, err := b.client.GetObject(ctx, b.loc.Bucket, key, ifNoneMatch)
	if err != nil {
		return nil, b.fail(ctx, "GetObject", key, err)
	}
	return &object{body: out.Body, etag: out.ETag, lastModified: out.LastModified, date: out.Date}, nil
}

// put writes an object and returns its new ETag.
func (b *Backend) put(ctx context.Context, key string, body []byte, c cond) (string, error) {
	in := awsapi.PutObjectInput{Bucket: b.loc.Bucket, Key: key, Body: body, ContentType: "application/json", IfMatch: c.ifMatch}
	if c.ifAbsent {
		in.IfNoneMatch = "*"
	}
	etag, err := b.client.PutObject(ctx, in)
	if err != nil {
		return "", b.fail(ctx, "PutObject", key, err)
	}
	if b.afterPut != nil {
		b.afterPut(key)
	}
	return etag, nil
}

// del deletes an object, only while it has ETag ifMatch when that is set
// (services that ignore If-Match on DELETE delete it anyway: callers only
// rely on it as a second guard).
func (b *Backend) del(ctx context.Context, key, ifMatch string) error {
	err := b.client.DeleteObject(ctx, b.loc.Bucket, key, ifMatch)
	if err = b.fail(ctx, "DeleteObject", key, err); errors.Is(err, errNotFound) {
		return nil
	}
	return err
}

// delMany deletes keys, 1000 per request.
func (b *Backend) delMany(ctx context.Context, keys []string) error {
	var errs []error
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		failed, err := b.client.DeleteObjects(ctx, b.loc.Bucket, keys[:n])
		if err != nil {
			errs = append(errs, b.fail(ctx, "DeleteObjects", keys[0], err))
		}
		for _, e := range failed {
			if e.Code != "NoSuchKey" {
				errs = append(errs, fmt.Errorf("S3 state: deleting s3://%s/%s: %s", b.loc.Bucket, e.Key, b.scrub(ctx, e.Message)))
			}
		}
		keys = keys[n:]
	}
	return errors.Join(errs...)
}

// list calls page for every page of the listing of prefix (grouped at "/"
// when dirs is set).
func (b *Backend) list(ctx context.Context, prefix string, dirs bool, page func(*awsapi.ListPage)) error {
	delimiter := ""
	if dirs {
		delimiter = "/"
	}
	next := ""
	for {
		p, err := b.client.ListObjectsV2(ctx, b.loc.Bucket, prefix, delimiter, next)
		if err != nil {
			return b.fail(ctx, "ListObjectsV2", prefix, err)
		}
		page(p)
		if next = p.Next; next == "" {
			return nil
		}
	}
}

// listDirs returns the names of the "directories" right under prefix (which
// ends in "/").
func (b *Backend) listDirs(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := b.list(ctx, prefix, true, func(p *awsapi.ListPage) {
		for _, cp := range p.CommonPrefixes {
			if name := strings.TrimSuffix(strings.TrimPrefix(cp, prefix), "/"); name != "" {
				names = append(names, name)
			}
		}
	})
	return names, err
}

// listKeys returns every key under prefix.
func (b *Backend) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := b.list(ctx, prefix, false, func(p *awsapi.ListPage) { keys = append(keys, p.Keys...) })
	return keys, err
}
