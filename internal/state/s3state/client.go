package s3state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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

// fail turns an SDK error into what the store returns: a sentinel for the
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
	creds := b.client.Options().Credentials
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
	in := &s3.GetObjectInput{Bucket: &b.loc.Bucket, Key: aws.String(key)}
	if ifNoneMatch != "" {
		in.IfNoneMatch = aws.String(ifNoneMatch)
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, b.fail(ctx, "GetObject", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, b.fail(ctx, "GetObject", key, err)
	}
	o := &object{body: body, etag: aws.ToString(out.ETag), lastModified: aws.ToTime(out.LastModified)}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		if d, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			o.date = d
		}
	}
	return o, nil
}

// put writes an object and returns its new ETag.
func (b *Backend) put(ctx context.Context, key string, body []byte, c cond) (string, error) {
	in := &s3.PutObjectInput{Bucket: &b.loc.Bucket, Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"), ContentLength: aws.Int64(int64(len(body)))}
	if c.ifMatch != "" {
		in.IfMatch = aws.String(c.ifMatch)
	}
	if c.ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := b.client.PutObject(ctx, in)
	if err != nil {
		return "", b.fail(ctx, "PutObject", key, err)
	}
	if b.afterPut != nil {
		b.afterPut(key)
	}
	return aws.ToString(out.ETag), nil
}

// del deletes an object, only while it has ETag ifMatch when that is set
// (services that ignore If-Match on DELETE delete it anyway: callers only
// rely on it as a second guard).
func (b *Backend) del(ctx context.Context, key, ifMatch string) error {
	in := &s3.DeleteObjectInput{Bucket: &b.loc.Bucket, Key: aws.String(key)}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	_, err := b.client.DeleteObject(ctx, in)
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
		ids := make([]s3types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = s3types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := b.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b.loc.Bucket,
			Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			errs = append(errs, b.fail(ctx, "DeleteObjects", keys[0], err))
		} else {
			for _, e := range out.Errors {
				if aws.ToString(e.Code) != "NoSuchKey" {
					errs = append(errs, fmt.Errorf("S3 state: deleting s3://%s/%s: %s", b.loc.Bucket, aws.ToString(e.Key), aws.ToString(e.Message)))
				}
			}
		}
		keys = keys[n:]
	}
	return errors.Join(errs...)
}

// listDirs returns the names of the "directories" right under prefix (which
// ends in "/").
func (b *Backend) listDirs(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.loc.Bucket, Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.fail(ctx, "ListObjectsV2", prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if name != "" {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

// listKeys returns every key under prefix.
func (b *Backend) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.loc.Bucket, Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.fail(ctx, "ListObjectsV2", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}
