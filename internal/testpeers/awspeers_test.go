package testpeers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

// isolatedAWSEnv sets the leak guards and temp AWS files of every AWS test.
func isolatedAWSEnv(t *testing.T) {
	IsolateAWS(t)
	t.Setenv("AWS_REGION", "us-east-1")
}

func sdkConfig(t *testing.T, akid, secret string) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(akid, secret, "")))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestS3rverChecksSignatures(t *testing.T) {
	isolatedAWSEnv(t)
	started := time.Now()
	p := S3rver(t)
	t.Logf("s3rver ready at %s in %v", p.URL, time.Since(started).Round(time.Millisecond))
	t.Setenv("AWS_ENDPOINT_URL_S3", p.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	good := s3.NewFromConfig(sdkConfig(t, S3rverAccessKeyID, S3rverSecretAccessKey))
	if _, err := good.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("peer-check")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := good.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("peer-check"), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}

	// Only the access key id is checked: s3rver 3.7.1 does not compute
	// SigV4 signatures (it does for V2 only), so a wrong secret passes.
	bad := s3.NewFromConfig(sdkConfig(t, "AKIDNOTS3RVER", S3rverSecretAccessKey))
	_, err := bad.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("peer-check")})
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) || ae.ErrorCode() != "InvalidAccessKeyId" {
		t.Fatalf("wrong access key: %v, want InvalidAccessKeyId", err)
	}
	wrongSecret := s3.NewFromConfig(sdkConfig(t, S3rverAccessKeyID, "not-the-secret"))
	if _, err := wrongSecret.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("peer-check")}); err != nil {
		t.Logf("s3rver now checks SigV4 signatures (update the S3rver doc): %v", err)
	}

	_, err = good.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("peer-check"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	if err == nil || !errors.As(err, &ae) || ae.ErrorCode() != "NotImplemented" {
		t.Fatalf("PutBucketTagging: %v, want NotImplemented", err)
	}
}

func TestLocalSQS(t *testing.T) {
	isolatedAWSEnv(t)
	started := time.Now()
	p := LocalSQS(t)
	t.Logf("local-aws-sqs ready at %s in %v", p.URL, time.Since(started).Round(time.Millisecond))
	t.Setenv("AWS_ENDPOINT_URL_SQS", p.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c := sqs.NewFromConfig(sdkConfig(t, "any", "any"))
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("peer-check"), Tags: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	if want := p.URL + "/" + AccountID + "/peer-check"; aws.ToString(out.QueueUrl) != want {
		t.Errorf("QueueUrl = %q, want %q", aws.ToString(out.QueueUrl), want)
	}
	tags, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: out.QueueUrl})
	if err != nil || tags.Tags["a"] != "b" {
		t.Fatalf("ListQueueTags: %v %v", tags, err)
	}
	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}); err != nil {
		t.Fatalf("DeleteQueue: %v", err)
	}
	// No 60 s wait before a deleted name can be used again.
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("peer-check")}); err != nil {
		t.Fatalf("re-CreateQueue: %v", err)
	}
}
