package testpeers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// condClient is an S3 client for a conditional-write proof.
func condClient(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
}

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	if err == nil {
		return http.StatusOK
	}
	return -1
}

// conditionalWriteFailures runs the checks the S3 state backend relies on
// and returns what the server got wrong ("" items: none).
func conditionalWriteFailures(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var fails []string
	check := func(what string, err error, want ...int) {
		got := status(err)
		for _, w := range want {
			if got == w {
				return
			}
		}
		fails = append(fails, what)
		t.Logf("%s: status %d, want %v (%v)", what, got, want, err)
	}
	put := func(key, body string, f func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}
		if f != nil {
			f(in)
		}
		return c.PutObject(ctx, in)
	}
	first, err := put("cond/k", "one", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	if err != nil {
		t.Fatalf("PutObject If-None-Match:* of a new key: %v", err)
	}
	_, err = put("cond/k", "two", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	check("PutObject If-None-Match:* on an existing key must fail (412)", err, 412, 409)
	second, err := put("cond/k", "three", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
	check("PutObject If-Match:<current ETag> must succeed", err, 200)
	if err == nil {
		_, err = put("cond/k", "four", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
		check("PutObject If-Match:<stale ETag> must fail (412)", err, 412, 409)
	}
	_, err = put("cond/missing", "x", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(`"0123456789abcdef0123456789abcdef"`) })
	check("PutObject If-Match on a missing key must fail (404 on AWS; 412 counts)", err, 404, 412)
	if second != nil {
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("cond/k"), IfMatch: first.ETag})
		check("DeleteObject If-Match:<stale ETag> must fail (412)", err, 412)
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("cond/k"), IfMatch: first.ETag})
		check("GetObject If-Match:<stale ETag> must fail (412)", err, 412)
	}

	// Races: exactly one of 8 concurrent claims, and of 8 renewals of one
	// ETag, wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := put("cond/race", "claim", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		fails = append(fails, "exactly one of 8 concurrent If-None-Match:* claims wins")
		t.Logf("%d of 8 concurrent If-None-Match:* claims won", n)
	}
	cur, err := put("cond/race2", "base", nil)
	if err != nil {
		t.Fatal(err)
	}
	wins.Store(0)
	for i := range 8 {
		wg.Go(func() {
			if _, err := put("cond/race2", "renew "+string(rune('a'+i)), func(in *s3.PutObjectInput) { in.IfMatch = cur.ETag }); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		fails = append(fails, "exactly one of 8 concurrent If-Match renewals of one ETag wins")
		t.Logf("%d of 8 concurrent If-Match renewals won", n)
	}
	return fails
}

// TestVersitygwConditionalWrites proves, before the S3 state tests trust
// it, that the gateway rejects the conditional writes that must fail, as
// AWS does, and checks signatures.
func TestVersitygwConditionalWrites(t *testing.T) {
	isolatedAWSEnv(t)
	started := time.Now()
	g := Versitygw(t)
	t.Logf("versitygw ready at %s in %v (build included)", g.URL, time.Since(started).Round(time.Millisecond))
	c := condClient(g.Config())
	if fails := conditionalWriteFailures(t, c, g.NewBucket(t)); len(fails) > 0 {
		t.Fatalf("versitygw does not implement conditional writes as AWS does:\n%s", strings.Join(fails, "\n"))
	}

	// Signatures are checked: a wrong secret and an unsigned request are
	// refused.
	bad := g.Config()
	bad.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: VersitygwAccessKeyID, SecretAccessKey: "not-the-secret"}, nil
	})
	_, err := condClient(bad).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(g.NewBucket(t))})
	if status(err) != http.StatusForbidden {
		t.Errorf("a wrong secret: %v, want 403", err)
	}
	resp, err := http.Get(g.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an anonymous request: %d, want 403", resp.StatusCode)
	}
}

// TestOtherS3PeersIgnoreConditions records a finding, not a requirement:
// the other S3 peers do not implement conditional writes well enough for the
// S3 state backend, which is why versitygw is used. s3rver 3.7.1 ignores
// If-None-Match and If-Match on PutObject altogether; gofakes3 v1.2.0 checks
// them on PutObject but ignores If-Match on GetObject and DeleteObject (a
// stale conditional delete deletes) and answers 412, not 404, to If-Match on
// a missing key. If one of them starts passing, this test fails: update
// this comment and shared/spec/test-peers.md, and consider the peer.
func TestOtherS3PeersIgnoreConditions(t *testing.T) {
	isolatedAWSEnv(t)
	ctx := context.Background()
	t.Run("s3rver", func(t *testing.T) {
		p := S3rver(t)
		cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(p.URL),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: S3rverAccessKeyID, SecretAccessKey: S3rverSecretAccessKey}, nil
			})}
		c := condClient(cfg)
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cond")}); err != nil {
			t.Fatal(err)
		}
		fails := conditionalWriteFailures(t, c, "cond")
		if !contains(fails, "PutObject If-None-Match:* on an existing key must fail (412)") ||
			!contains(fails, "PutObject If-Match:<stale ETag> must fail (412)") {
			t.Errorf("s3rver now rejects failing conditional PUTs: %q", fails)
		}
	})
	t.Run("gofakes3", func(t *testing.T) {
		p := StartServer(t, "fakes3", "/")
		cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(p.URL),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "any", SecretAccessKey: "any"}, nil
			})}
		c := condClient(cfg)
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cond")}); err != nil {
			t.Fatal(err)
		}
		fails := conditionalWriteFailures(t, c, "cond")
		if !contains(fails, "DeleteObject If-Match:<stale ETag> must fail (412)") {
			t.Errorf("gofakes3 now honours If-Match on DeleteObject: %q", fails)
		}
		if contains(fails, "PutObject If-None-Match:* on an existing key must fail (412)") {
			t.Errorf("gofakes3 no longer honours If-None-Match on PutObject: %q", fails)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
