// Package aws has AWS resources: S3 bucket, SQS queue, DynamoDB table, IAM
// role and Lambda function.
//
// Their calls use the credentials of the "AWS" auth provider (alchemy login,
// or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY with CI=1), never a profile of
// ~/.aws read behind its back: the SDK gets those keys and their region
// explicitly (us-east-1 when the credentials name none). Everything else the
// SDK reads from the environment as usual, in particular the endpoint
// overrides AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL,
// which point the resources at an emulator. Throttling, 5xx and transport
// errors are retried by the SDK's standard retryer.
//
// Every resource is stamped with the ownership tags alchemy::stack,
// alchemy::stage and alchemy::id.
//
// ALCHEMY_S3_TOLERATE_NOT_IMPLEMENTED=1 makes S3Bucket skip, with a note,
// the bucket settings (tagging, versioning, public access block) that the
// endpoint answers with 501 NotImplemented. It exists for S3-compatible
// emulators such as s3rver and must not be set against AWS, where a 501 is a
// real failure.
package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/auth"
	awsauth "github.com/alchemy-go/alchemy/internal/auth/aws"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func init() {
	alchemy.Register[S3BucketArgs, S3BucketAttrs](bucketProvider{})
	alchemy.Register[SQSQueueArgs, SQSQueueAttrs](queueProvider{})
}

// authName is the auth provider every resource here uses.
const authName = awsauth.Name

// Ownership tag keys (engine spec §2.4).
const (
	TagStack = "alchemy::stack"
	TagStage = "alchemy::stage"
	TagID    = "alchemy::id"
)

// EnvTolerateNotImplemented is the knob described in the package comment.
const EnvTolerateNotImplemented = "ALCHEMY_S3_TOLERATE_NOT_IMPLEMENTED"

// sdkConfig builds the SDK config from the resolved AWS credentials.
func sdkConfig(ctx context.Context, c auth.Credentials) (sdkaws.Config, error) {
	creds, ok := c.(*awsauth.Credentials)
	if !ok || creds == nil {
		return sdkaws.Config{}, fmt.Errorf("no AWS credentials (got %T)", c)
	}
	region := creds.Region
	if region == "" {
		region = awsauth.DefaultRegion
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)),
		// Keys only ever come from the auth provider.
		config.WithSharedCredentialsFiles([]string{}),
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	var missing config.SharedConfigProfileNotExistError
	if errors.As(err, &missing) {
		// AWS_PROFILE names a profile ~/.aws/config lacks: it matters to
		// nothing here (keys and region are explicit), so do without it.
		cfg, err = config.LoadDefaultConfig(ctx, append(opts, config.WithSharedConfigFiles([]string{}))...)
	}
	if err != nil {
		return sdkaws.Config{}, fmt.Errorf("AWS SDK configuration: %w", err)
	}
	return cfg, nil
}

// errorCode is the AWS error code of err, "" when it has none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// hasCode reports whether err is an AWS error with one of codes.
func hasCode(err error, codes ...string) bool {
	c := errorCode(err)
	for _, want := range codes {
		if c != "" && c == want {
			return true
		}
	}
	return false
}

// httpStatus is the HTTP status of the response that made err, 0 if none.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// notImplemented reports whether err is the endpoint saying it does not
// implement the call (501 NotImplemented) and the user allowed skipping that.
func notImplemented(err error) bool {
	if os.Getenv(EnvTolerateNotImplemented) != "1" {
		return false
	}
	return hasCode(err, "NotImplemented") || httpStatus(err) == http.StatusNotImplemented
}

// ownershipTags merges user tags with the ownership tags; ownership wins.
func ownershipTags(user map[string]string, stack, stage, id string) map[string]string {
	out := make(map[string]string, len(user)+3)
	for k, v := range user {
		out[k] = v
	}
	out[TagStack], out[TagStage], out[TagID] = stack, stage, id
	return out
}

// checkUserTags refuses user tags in the alchemy:: namespace.
func checkUserTags(tags map[string]string) error {
	for k := range tags {
		if strings.HasPrefix(k, "alchemy::") {
			return fmt.Errorf("tag %q: the alchemy:: prefix is reserved for ownership tags", k)
		}
	}
	return nil
}
