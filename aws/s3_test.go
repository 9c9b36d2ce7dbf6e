package aws_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type bucketConfig struct {
	present bool
	name    string
	tags    map[string]string
}

func bucketStack(c *bucketConfig) *cli.StackProgram {
	return alchemy.Program("s3test", func(s *alchemy.Stack) {
		if !c.present {
			return
		}
		props := aws.S3BucketProps{Tags: alchemy.V(c.tags)}
		if c.name != "" {
			props.BucketName = alchemy.String(c.name)
		}
		b := aws.NewS3Bucket(s, "Bucket", props)
		s.Output("bucket", b.BucketName)
		s.Output("arn", b.ARN)
	})
}

func buckets(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, sdkaws.ToString(b.Name))
	}
	slices.Sort(names)
	return names
}

func putObjects(t *testing.T, c *s3.Client, bucket string, n int) {
	t.Helper()
	for i := range n {
		key := "dir/obj-" + string(rune('a'+i))
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key,
			Body: strings.NewReader("data " + key)}); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
	}
}

func startS3rver(t *testing.T) *s3.Client {
	t.Helper()
	started := time.Now()
	peer := testpeers.S3rver(t)
	t.Logf("s3rver ready in %v", time.Since(started).Round(time.Millisecond))
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_S3": peer.URL})
	return s3.NewFromConfig(sdkConfig(t))
}

// TestS3BucketLifecycle drives a bucket through the engine against s3rver,
// which checks the access key of every signed request, so it also proves the
// AWS credentials flow from the environment into the provider.
func TestS3BucketLifecycle(t *testing.T) {
	c := startS3rver(t)
	// s3rver answers 501 to bucket tagging.
	t.Setenv(aws.EnvTolerateNotImplemented, "1")
	cfg := &bucketConfig{present: true, tags: map[string]string{"team": "a"}}

	// Create.
	r := mustRun(t, bucketStack(cfg), "deploy", "--yes")
	got := buckets(t, c)
	if len(got) != 1 || !strings.HasPrefix(got[0], "s3test-bucket-dev-tester-") || len(got[0]) > 63 {
		t.Fatalf("buckets after create: %v", got)
	}
	first := got[0]
	if !strings.Contains(r.out, "arn: arn:aws:s3:::"+first) {
		t.Errorf("deploy output lacks the ARN:\n%s", r.out)
	}
	putObjects(t, c, first, 3)

	// No-op re-deploy.
	r = mustRun(t, bucketStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: no changes") {
		t.Errorf("re-deploy was not a no-op:\n%s", r.out)
	}

	// Update (tags): in place.
	cfg.tags = map[string]string{"team": "b"}
	r = mustRun(t, bucketStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to update") {
		t.Errorf("tag change is not an update:\n%s", r.out)
	}
	if got := buckets(t, c); !slices.Equal(got, []string{first}) {
		t.Fatalf("buckets after update: %v", got)
	}

	// Replace (name change): the new bucket is created, the old one, which
	// holds objects, emptied and deleted.
	cfg.name = "s3test-renamed-bucket"
	r = mustRun(t, bucketStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to replace") {
		t.Errorf("name change is not a replace:\n%s", r.out)
	}
	if got := buckets(t, c); !slices.Equal(got, []string{"s3test-renamed-bucket"}) {
		t.Fatalf("buckets after replace: %v", got)
	}
	putObjects(t, c, "s3test-renamed-bucket", 2)

	// Removal from the stack deletes it.
	cfg.present = false
	mustRun(t, bucketStack(cfg), "deploy", "--yes")
	if got := buckets(t, c); len(got) != 0 {
		t.Fatalf("buckets after removal: %v", got)
	}

	// Destroy of a bucket deleted behind alchemy's back succeeds.
	cfg.present, cfg.name = true, ""
	mustRun(t, bucketStack(cfg), "deploy", "--yes")
	got = buckets(t, c)
	if len(got) != 1 || got[0] == first {
		t.Fatalf("buckets after re-create: %v (a new generation must get a new name)", got)
	}
	if _, err := c.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: &got[0]}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, bucketStack(cfg), "destroy", "--yes")
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "s3test", "dev_tester")); !os.IsNotExist(err) {
		t.Fatalf("destroy left state: %v", err)
	}
}

// Without the knob, an endpoint that does not implement tagging is a
// failure: against AWS it would mean the ownership tags are missing.
func TestS3BucketNotImplementedFailsWithoutKnob(t *testing.T) {
	startS3rver(t)
	r := run(t, bucketStack(&bucketConfig{present: true}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "tagging") || !strings.Contains(r.errOut, "NotImplemented") {
		t.Fatalf("want a tagging NotImplemented failure: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
}

// A key s3rver does not know is refused, and the error never shows the
// secret.
func TestS3BucketBadCredentials(t *testing.T) {
	startS3rver(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
	const secret = "very-secret-value-do-not-print"
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	r := run(t, bucketStack(&bucketConfig{present: true}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "InvalidAccessKeyId") {
		t.Fatalf("want InvalidAccessKeyId: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if strings.Contains(r.out+r.errOut, secret) {
		t.Fatal("the secret access key was printed")
	}
}
