package awsapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/alchemy-go/alchemy/internal/aws/awsapi"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// versitygwS3 is a path-style client of the versitygw peer and a fresh
// bucket on it.
func versitygwS3(t *testing.T) (*awsapi.S3, string) {
	g := testpeers.Versitygw(t)
	cfg := g.Config()
	return awsapi.NewS3(awsapi.Config{Region: cfg.Region, Endpoint: g.URL}, cfg.Credentials, true), g.NewBucket(t)
}

// The wire format against a real S3 server (versitygw checks every
// signature): conditional writes, 304, keys that need escaping, deletes.
func TestS3Objects(t *testing.T) {
	ctx := context.Background()
	c, bucket := versitygwS3(t)

	etag, err := c.PutObject(ctx, awsapi.PutObjectInput{Bucket: bucket, Key: "a/lease.json", Body: []byte(`{"n":1}`), ContentType: "application/json", IfNoneMatch: "*"})
	if err != nil || etag == "" {
		t.Fatalf("first conditional put: etag %q, %v", etag, err)
	}
	_, err = c.PutObject(ctx, awsapi.PutObjectInput{Bucket: bucket, Key: "a/lease.json", Body: []byte(`{"n":2}`), IfNoneMatch: "*"})
	apiError(t, err, "S3", "PutObject", http.StatusPreconditionFailed, "PreconditionFailed")
	_, err = c.PutObject(ctx, awsapi.PutObjectInput{Bucket: bucket, Key: "a/lease.json", Body: []byte(`{"n":2}`), IfMatch: `"0123456789abcdef0123456789abcdef"`})
	apiError(t, err, "S3", "PutObject", http.StatusPreconditionFailed, "PreconditionFailed")
	etag2, err := c.PutObject(ctx, awsapi.PutObjectInput{Bucket: bucket, Key: "a/lease.json", Body: []byte(`{"n":3}`), IfMatch: etag})
	if err != nil || etag2 == etag {
		t.Fatalf("put If-Match the current ETag: %q, %v", etag2, err)
	}

	before := time.Now().Add(-time.Minute)
	o, err := c.GetObject(ctx, bucket, "a/lease.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if string(o.Body) != `{"n":3}` || o.ETag != etag2 || o.Date.Before(before) || o.LastModified.Before(before) {
		t.Fatalf("get: %q etag %q date %v modified %v", o.Body, o.ETag, o.Date, o.LastModified)
	}
	_, err = c.GetObject(ctx, bucket, "a/lease.json", etag2)
	apiError(t, err, "S3", "GetObject", http.StatusNotModified, "NotModified")
	_, err = c.GetObject(ctx, bucket, "a/missing.json", "")
	apiError(t, err, "S3", "GetObject", http.StatusNotFound, "NoSuchKey")

	// Keys are escaped in the path exactly as they are signed.
	odd := []string{"b/with space.json", "b/plus+equals=.json", "b/ünï©ødé.json", "b/pct%41~tilde!*'().json"}
	for _, k := range odd {
		if _, err := c.PutObject(ctx, awsapi.PutObjectInput{Bucket: bucket, Key: k, Body: []byte(k)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		if o, err := c.GetObject(ctx, bucket, k, ""); err != nil || string(o.Body) != k {
			t.Fatalf("get %q: %v", k, err)
		}
	}
	page, err := c.ListObjectsV2(ctx, bucket, "b/", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(odd)); !slices.Equal(page.Keys, want) || page.Next != "" {
		t.Fatalf("listed %q, want %q", page.Keys, want)
	}
	dirs, err := c.ListObjectsV2(ctx, bucket, "", "/", "")
	if err != nil || !slices.Equal(dirs.CommonPrefixes, []string{"a/", "b/"}) || len(dirs.Keys) != 0 {
		t.Fatalf("directories: %+v, %v", dirs, err)
	}

	if err := c.DeleteObject(ctx, bucket, "a/lease.json", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteObject(ctx, bucket, "a/lease.json", ""); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	failed, err := c.DeleteObjects(ctx, bucket, append(odd, "b/never-written.json"))
	if err != nil || len(failed) != 0 {
		t.Fatalf("delete objects: %+v, %v", failed, err)
	}
	if page, err := c.ListObjectsV2(ctx, bucket, "", "", ""); err != nil || len(page.Keys) != 0 {
		t.Fatalf("left after deletes: %+v, %v", page, err)
	}

	_, err = c.GetObject(ctx, "no-such-bucket-here", "k", "")
	apiError(t, err, "S3", "GetObject", http.StatusNotFound, "NoSuchBucket")
}

// More than one page: the continuation token is followed by the caller.
func TestS3ListPages(t *testing.T) {
	ctx := context.Background()
	c, bucket := versitygwS3(t)
	const n = 1003 // S3 answers 1,000 keys a page
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := c.PutObject(ctx, awsapi.PutObjectInput{Bucket: bucket, Key: fmt.Sprintf("k/%04d", i), Body: []byte("x")})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	pages, next := 0, ""
	for {
		p, err := c.ListObjectsV2(ctx, bucket, "k/", "", next)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		keys = append(keys, p.Keys...)
		if next = p.Next; next == "" {
			break
		}
	}
	if len(keys) != n || pages < 2 || keys[0] != "k/0000" || keys[n-1] != fmt.Sprintf("k/%04d", n-1) {
		t.Fatalf("%d keys in %d pages", len(keys), pages)
	}
	failed, err := c.DeleteObjects(ctx, bucket, keys[:1000])
	if err != nil || len(failed) != 0 {
		t.Fatalf("delete 1,000: %+v %v", failed, err)
	}
	if p, err := c.ListObjectsV2(ctx, bucket, "k/", "", ""); err != nil || len(p.Keys) != n-1000 {
		t.Fatalf("after deleting 1,000: %v %v", p, err)
	}
}

// Keys the server does not know are refused, and the error carries no
// secret.
func TestS3WrongCredentials(t *testing.T) {
	g := testpeers.Versitygw(t)
	bucket := g.NewBucket(t)
	c := awsapi.NewS3(awsapi.Config{Region: testpeers.VersitygwRegion, Endpoint: g.URL},
		aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: "s3-secret-never-shown"}, nil
		})), true)
	_, err := c.GetObject(context.Background(), bucket, "k", "")
	if err == nil || strings.Contains(err.Error(), "s3-secret-never-shown") {
		t.Fatalf("unknown keys: %v", err)
	}
	if code := apiCode(err); code == "" || code == "NoSuchKey" {
		t.Fatalf("unknown keys answered %q: %v", code, err)
	}
}

// recorder answers every request 200 with an empty body and keeps it: the
// addressing is checked without any traffic.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{"Etag": {`"e"`}}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// Virtual-hosted addressing on AWS and on a custom endpoint, path-style on
// request, with the key escaped once and signed as sent.
func TestS3Addressing(t *testing.T) {
	ctx := context.Background()
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "tok"}, nil
	})
	for _, tc := range []struct {
		cfg       awsapi.Config
		pathStyle bool
		want      string
	}{
		{awsapi.Config{Region: "eu-west-1"}, false, "https://state.s3.eu-west-1.amazonaws.com/team/a%20b%2Bc.json"},
		{awsapi.Config{Region: "cn-north-1"}, false, "https://state.s3.cn-north-1.amazonaws.com.cn/team/a%20b%2Bc.json"},
		{awsapi.Config{Region: "auto", Endpoint: "https://acct.r2.cloudflarestorage.com"}, false, "https://state.acct.r2.cloudflarestorage.com/team/a%20b%2Bc.json"},
		{awsapi.Config{Region: "auto", Endpoint: "http://127.0.0.1:9000/base"}, true, "http://127.0.0.1:9000/base/state/team/a%20b%2Bc.json"},
	} {
		rec := &recorder{}
		tc.cfg.HTTP = &http.Client{Transport: rec}
		c := awsapi.NewS3(tc.cfg, creds, tc.pathStyle)
		if _, err := c.PutObject(ctx, awsapi.PutObjectInput{Bucket: "state", Key: "team/a b+c.json", Body: []byte("{}"), IfNoneMatch: "*"}); err != nil {
			t.Fatal(err)
		}
		r := rec.reqs[0]
		if got := r.URL.String(); got != tc.want {
			t.Errorf("PUT %s, want %s", got, tc.want)
		}
		if r.Header.Get("If-None-Match") != "*" || r.Header.Get("X-Amz-Security-Token") != "tok" ||
			!strings.Contains(r.Header.Get("Authorization"), "/"+tc.cfg.Region+"/s3/aws4_request") ||
			!strings.Contains(r.Header.Get("Authorization"), "x-amz-content-sha256") || r.ContentLength != 2 {
			t.Errorf("headers: %v (length %d)", r.Header, r.ContentLength)
		}
	}
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func TestMain(m *testing.M) {
	code := m.Run()
	testpeers.StopVersitygw()
	os.Exit(code)
}
