package awsapi

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// maxObjectBytes caps an object GetObject reads: state segments and
// snapshots, a few MiB for thousands of resources.
const maxObjectBytes = 1 << 30

var s3Service = service{id: "S3", host: "s3"}

// S3 is a client of the few S3 operations the state store uses (REST-XML,
// signed with v4 for "s3"), for AWS S3 and S3-compatible services.
type S3 struct {
	cfg       Config
	creds     aws.CredentialsProvider
	pathStyle bool
	signer    *v4.Signer
}

// s3HTTP is the HTTP client of S3 clients given none: the state store runs
// up to 16 requests at once on one host, and http.DefaultTransport keeps
// only 2 idle connections per host, so most requests would open a new one.
var s3HTTP = sync.OnceValue(func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
})

// NewS3 returns an S3 client signing with creds in cfg.Region. pathStyle
// addresses endpoint/bucket/key rather than bucket.endpoint/key.
func NewS3(cfg Config, creds aws.CredentialsProvider, pathStyle bool) *S3 {
	if cfg.HTTP == nil {
		cfg.HTTP = s3HTTP()
	}
	return &S3{cfg: cfg, creds: creds, pathStyle: pathStyle,
		// S3 signs the path as sent, not escaped a second time.
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })}
}

// Credentials is the provider the client signs with.
func (c *S3) Credentials() aws.CredentialsProvider { return c.creds }

// Object is GetObject's answer.
type Object struct {
	Body         []byte
	ETag         string
	LastModified time.Time
	// Date is the server's clock when it answered (its Date header), zero
	// when it sent none.
	Date time.Time
}

// GetObject reads an object. ifNoneMatch, when set, makes an object that
// still has that ETag answer 304 Not Modified (an error with that status).
func (c *S3) GetObject(ctx context.Context, bucket, key, ifNoneMatch string) (*Object, error) {
	h := http.Header{}
	if ifNoneMatch != "" {
		h.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := c.call(ctx, "GetObject", http.MethodGet, bucket, key, nil, h, nil, maxObjectBytes)
	if err != nil {
		return nil, err
	}
	o := &Object{Body: resp.body, ETag: resp.header.Get("ETag")}
	o.LastModified, _ = http.ParseTime(resp.header.Get("Last-Modified"))
	o.Date, _ = http.ParseTime(resp.header.Get("Date"))
	return o, nil
}

// PutObjectInput is what PutObject sends; empty fields are left out.
type PutObjectInput struct {
	Bucket, Key string
	Body        []byte
	ContentType string
	// IfMatch writes only over an object that still has this ETag.
	IfMatch string
	// IfNoneMatch "*" writes only when no object has the key.
	IfNoneMatch string
}

// PutObject writes an object and returns its ETag.
func (c *S3) PutObject(ctx context.Context, in PutObjectInput) (string, error) {
	h := http.Header{}
	for k, v := range map[string]string{"Content-Type": in.ContentType, "If-Match": in.IfMatch, "If-None-Match": in.IfNoneMatch} {
		if v != "" {
			h.Set(k, v)
		}
	}
	resp, err := c.call(ctx, "PutObject", http.MethodPut, in.Bucket, in.Key, nil, h, in.Body, maxBodyBytes)
	if err != nil {
		return "", err
	}
	return resp.header.Get("ETag"), nil
}

// DeleteObject deletes an object; ifMatch, when set, only while it has
// that ETag (services that ignore If-Match on DELETE delete it anyway).
// Deleting a missing key succeeds, as on S3.
func (c *S3) DeleteObject(ctx context.Context, bucket, key, ifMatch string) error {
	h := http.Header{}
	if ifMatch != "" {
		h.Set("If-Match", ifMatch)
	}
	_, err := c.call(ctx, "DeleteObject", http.MethodDelete, bucket, key, nil, h, nil, maxBodyBytes)
	return err
}

// DeleteError is one key DeleteObjects could not delete.
type DeleteError struct {
	Key, Code, Message string
}

// DeleteObjects deletes up to 1,000 keys in one request (quiet: only the
// failures are answered).
func (c *S3) DeleteObjects(ctx context.Context, bucket string, keys []string) ([]DeleteError, error) {
	type object struct {
		Key string `xml:"Key"`
	}
	doc := struct {
		XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Delete"`
		Objects []object `xml:"Object"`
		Quiet   bool     `xml:"Quiet"`
	}{Quiet: true}
	for _, k := range keys {
		doc.Objects = append(doc.Objects, object{Key: k})
	}
	body, err := xml.Marshal(doc)
	if err != nil {
		return nil, &smithy.OperationError{ServiceID: s3Service.id, OperationName: "DeleteObjects", Err: &smithy.SerializationError{Err: err}}
	}
	sum := md5.Sum(body) // S3 requires a checksum of a multi-object delete
	h := http.Header{"Content-Type": {"application/xml"}, "Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}}
	resp, err := c.call(ctx, "DeleteObjects", http.MethodPost, bucket, "", url.Values{"delete": {""}}, h, body, maxBodyBytes)
	if err != nil {
		return nil, err
	}
	var out struct {
		Errors []struct {
			Key     string `xml:"Key"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
	}
	if err := xml.Unmarshal(resp.body, &out); err != nil {
		return nil, deserializationError(s3Service, "DeleteObjects", err)
	}
	var failed []DeleteError
	for _, e := range out.Errors {
		failed = append(failed, DeleteError{Key: e.Key, Code: e.Code, Message: e.Message})
	}
	return failed, nil
}

// ListPage is one page of ListObjectsV2.
type ListPage struct {
	Keys           []string
	CommonPrefixes []string
	// Next is the continuation token of the next page, "" on the last.
	Next string
}

// ListObjectsV2 lists one page of the keys under prefix, grouped into
// common prefixes at delimiter when it is set; continuation is a previous
// page's Next.
func (c *S3) ListObjectsV2(ctx context.Context, bucket, prefix, delimiter, continuation string) (*ListPage, error) {
	q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
	if delimiter != "" {
		q.Set("delimiter", delimiter)
	}
	if continuation != "" {
		q.Set("continuation-token", continuation)
	}
	resp, err := c.call(ctx, "ListObjectsV2", http.MethodGet, bucket, "", q, nil, nil, maxObjectBytes)
	if err != nil {
		return nil, err
	}
	var out struct {
		Contents []struct {
			Key string `xml:"Key"`
		} `xml:"Contents"`
		CommonPrefixes []struct {
			Prefix string `xml:"Prefix"`
		} `xml:"CommonPrefixes"`
		IsTruncated           bool   `xml:"IsTruncated"`
		NextContinuationToken string `xml:"NextContinuationToken"`
	}
	if err := xml.Unmarshal(resp.body, &out); err != nil {
		return nil, deserializationError(s3Service, "ListObjectsV2", err)
	}
	page := &ListPage{}
	for _, o := range out.Contents {
		page.Keys = append(page.Keys, o.Key)
	}
	for _, p := range out.CommonPrefixes {
		page.CommonPrefixes = append(page.CommonPrefixes, p.Prefix)
	}
	if out.IsTruncated {
		if out.NextContinuationToken == "" {
			return nil, deserializationError(s3Service, "ListObjectsV2", fmt.Errorf("a truncated listing without a continuation token"))
		}
		page.Next = out.NextContinuationToken
	}
	return page, nil
}

// CreateBucket creates a bucket in the client's region.
func (c *S3) CreateBucket(ctx context.Context, bucket string) error {
	var body []byte
	if r := c.cfg.Region; r != "" && r != "us-east-1" {
		body = fmt.Appendf(nil, `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>`, r)
	}
	_, err := c.call(ctx, "CreateBucket", http.MethodPut, bucket, "", nil, nil, body, maxBodyBytes)
	return err
}

// call sends one REST-XML request on bucket/key.
func (c *S3) call(ctx context.Context, operation, method, bucket, key string, query url.Values, h http.Header, body []byte, maxBody int64) (*response, error) {
	path, host := "/"+bucket+"/"+key, ""
	if !c.pathStyle {
		path, host = "/"+key, bucket
	}
	if key == "" {
		path = strings.TrimSuffix(path, "/") + "/"
	}
	if h == nil {
		h = http.Header{}
	}
	region := c.cfg.Region
	return c.cfg.do(ctx, request{
		service: s3Service, operation: operation, method: method, path: path, hostPrefix: host,
		query: query, header: h, body: body, maxBody: maxBody,
		sign: func(r *http.Request, body []byte) error {
			creds, err := c.creds.Retrieve(ctx)
			if err != nil {
				return fmt.Errorf("retrieving the AWS credentials: %w", err)
			}
			sum := sha256.Sum256(body)
			hash := hex.EncodeToString(sum[:])
			r.Header.Set("X-Amz-Content-Sha256", hash)
			return c.signer.SignHTTP(ctx, creds, r, hash, "s3", region, time.Now().UTC())
		},
	}, restXMLError)
}

// restXMLError reads S3's error document: <Error><Code/><Message/></Error>.
// HEAD-like answers (304, some 404s) have none: the status names them.
func restXMLError(_ http.Header, body []byte) (code, message string) {
	var doc struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(body, &doc) != nil {
		return "", ""
	}
	return doc.Code, doc.Message
}

// escapePath is S3's encoding of a key in a path: every byte but the
// unreserved ones and '/'.
func escapePath(p string) string { return httpbinding.EscapePath(p, false) }
