package aws

import (
	"context"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// Deleting a versioned bucket needs every version and delete marker gone
// (S3 answers 409 BucketNotEmpty otherwise). gofakes3 implements versioning
// (not tagging, so it cannot run the whole provider), so emptyBucket is
// checked on it directly; it runs as a test server program
// (testservers/fakes3) so that gofakes3 is no requirement of the SDK.
func TestEmptyVersionedBucket(t *testing.T) {
	peer := testpeers.StartServer(t, "fakes3", "/")
	c := s3.New(s3.Options{BaseEndpoint: sdkaws.String(peer.URL), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	ctx := context.Background()
	b := sdkaws.String("versioned")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	for i, key := range []string{"a", "a", "a", "b", "c/d"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: sdkaws.String(key),
			Body: strings.NewReader(strings.Repeat("x", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: sdkaws.String("b")}); err != nil {
		t.Fatal(err) // leaves a delete marker
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err == nil {
		t.Fatal("the peer deleted a bucket that still holds versions: the test proves nothing")
	}

	var notes []string
	if err := emptyBucket(ctx, c, "versioned", func(s string) { notes = append(notes, s) }); err != nil {
		t.Fatalf("emptyBucket: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatalf("DeleteBucket after emptyBucket: %v (notes %q)", err, notes)
	}
	if err := emptyBucket(ctx, c, "versioned", func(string) {}); !hasCode(err, "NoSuchBucket") {
		t.Fatalf("emptyBucket of a deleted bucket: %v, want NoSuchBucket", err)
	}
}
