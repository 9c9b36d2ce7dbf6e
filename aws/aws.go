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
// alchemy::stage and alchemy::id. Each provider's Read reports the resource
// found under the name a resource would get, with those tags as its stamp;
// the engine alone decides whether it may be taken over (see
// alchemy.Reader). Create never takes anything over: a name that is taken
// is an error wrapping alchemy.ErrAlreadyExists.
//
// ALCHEMY_S3_TOLERATE_NOT_IMPLEMENTED=1 makes S3Bucket skip, with a note,
// the bucket settings (tagging, versioning, public access block) that the
// endpoint answers with 501 NotImplemented, and read them as unknown (no
// ownership stamp, the declared values) when it looks a bucket up. It
// exists for S3-compatible emulators such as s3rver and must not be set
// against AWS, where a 501 is a real failure.
package aws

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/auth"
	awsauth "github.com/alchemy-go/alchemy/internal/auth/aws"
	"github.com/alchemy-go/alchemy/internal/engine"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func init() {
	alchemy.Register[S3BucketArgs, S3BucketAttrs](bucketProvider{})
	alchemy.Register[SQSQueueArgs, SQSQueueAttrs](queueProvider{})
}

// Every provider here reads what exists (alchemy.Reader) and names it
// (alchemy.Identified), so that the engine can judge it.
var (
	_ alchemy.Reader[S3BucketArgs, S3BucketAttrs]                 = bucketProvider{}
	_ alchemy.Identified[S3BucketArgs, S3BucketAttrs]             = bucketProvider{}
	_ alchemy.Reader[SQSQueueArgs, SQSQueueAttrs]                 = queueProvider{}
	_ alchemy.Identified[SQSQueueArgs, SQSQueueAttrs]             = queueProvider{}
	_ alchemy.Reader[DynamoDBTableArgs, DynamoDBTableAttrs]       = tableProvider{}
	_ alchemy.Identified[DynamoDBTableArgs, DynamoDBTableAttrs]   = tableProvider{}
	_ alchemy.Reader[IAMRoleArgs, IAMRoleAttrs]                   = roleProvider{}
	_ alchemy.Identified[IAMRoleArgs, IAMRoleAttrs]               = roleProvider{}
	_ alchemy.Reader[LambdaFunctionArgs, LambdaFunctionAttrs]     = functionProvider{}
	_ alchemy.Identified[LambdaFunctionArgs, LambdaFunctionAttrs] = functionProvider{}
)

// authName is the auth provider every resource here uses.
const authName = awsauth.Name

// Ownership tag keys (the TypeScript tool's too): the SDK's, which
// alchemy.StampFromTags reads.
const (
	TagStack = alchemy.TagStack
	TagStage = alchemy.TagStage
	TagID    = alchemy.TagID
)

// tagPrefix is the namespace of the ownership tags, refused in user tags.
const tagPrefix = "alchemy::"

// EnvTolerateNotImplemented is the knob described in the package comment.
const EnvTolerateNotImplemented = "ALCHEMY_S3_TOLERATE_NOT_IMPLEMENTED"

// sdkConfig builds the SDK config from the resolved AWS credentials. The
// keys come from one aws.CredentialsCache per run over the profile's
// resolver (refresh), so a call longer than the credentials' life (a
// 15-minute table wait on one-hour SSO credentials) gets fresh ones from
// the SDK itself; the region is the credentials' (us-east-1 when they name
// none).
func sdkConfig(ctx context.Context, c auth.Credentials, refresh *engine.Refresher) (sdkaws.Config, error) {
	creds, ok := c.(*awsauth.Credentials)
	if !ok || creds == nil {
		return sdkaws.Config{}, fmt.Errorf("no AWS credentials (got %T)", c)
	}
	region := creds.Region
	if region == "" {
		region = awsauth.DefaultRegion
	}
	if refresh == nil {
		return loadConfig(ctx, creds, region, nil)
	}
	// Loading the SDK's configuration reads the environment and the shared
	// config files: once per run (Refresher) and region, not once per call.
	key := configKey{refresh, region}
	if cfg, ok := configs.Load(key); ok {
		return cfg.(sdkaws.Config), nil
	}
	cfg, err := loadConfig(ctx, creds, region, refresh)
	if err != nil {
		return sdkaws.Config{}, err
	}
	configs.Store(key, cfg)
	return cfg, nil
}

type configKey struct {
	refresh *engine.Refresher
	region  string
}

var configs sync.Map // configKey -> sdkaws.Config

func loadConfig(ctx context.Context, creds *awsauth.Credentials, region string, refresh *engine.Refresher) (sdkaws.Config, error) {
	var provider sdkaws.CredentialsProvider = credentials.NewStaticCredentialsProvider(
		creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	if refresh != nil {
		provider = credentialsCache(refresh)
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithCredentialsProvider(provider),
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

// createAttempts bounds createCall's attempts.
const createAttempts = 5

// noRetry turns a client's own retries off for one call: createCall
// retries it instead.
var noRetry = sdkaws.NopRetryer{}

// createCall makes a create request with the SDK's retries replaced by
// ours, which know what the SDK's do not: an attempt that got no answer (a
// transport error, a 5xx; not a throttle, which was never processed) may
// have created the resource. When a later attempt is then told the name is
// taken, the error wraps alchemy.ErrMaybeCreated too, and the engine takes
// the resource over as this create's own instead of refusing it as someone
// else's. call must turn the client's retries off (noRetry).
func createCall[T any](ctx context.Context, call func() (T, error), taken func(error) bool) (T, error) {
	retryable := retry.IsErrorRetryables(retry.DefaultRetryables)
	throttle := retry.IsErrorThrottles(retry.DefaultThrottles)
	lost := false
	for attempt := 1; ; attempt++ {
		out, err := call()
		if err == nil {
			return out, nil
		}
		if taken(err) {
			if lost {
				err = fmt.Errorf("%w (%w)", err, alchemy.ErrMaybeCreated)
			}
			return out, err
		}
		if attempt >= createAttempts || ctx.Err() != nil || retryable.IsErrorRetryable(err) != sdkaws.TrueTernary {
			return out, err
		}
		if throttle.IsErrorThrottle(err) != sdkaws.TrueTernary {
			lost = true
		}
		wait := min(200*time.Millisecond<<(attempt-1), 5*time.Second)
		wait = wait/2 + rand.N(wait/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return out, err
		}
	}
}

// caches holds one credentials cache per Refresher (per run and auth
// provider): every client of the run shares its keys and its refreshes.
var caches sync.Map // *engine.Refresher -> *sdkaws.CredentialsCache

func credentialsCache(refresh *engine.Refresher) *sdkaws.CredentialsCache {
	if c, ok := caches.Load(refresh); ok {
		return c.(*sdkaws.CredentialsCache)
	}
	c, _ := caches.LoadOrStore(refresh, awsauth.SDKCredentials(refresh.Retrieve))
	return c.(*sdkaws.CredentialsCache)
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

// responseHeader is a header of the response that made err, "" if none.
func responseHeader(err error, key string) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(key)
	}
	return ""
}

// notImplemented reports whether err is the endpoint saying it does not
// implement the call (501 NotImplemented) and the user allowed skipping that.
func notImplemented(err error) bool {
	if os.Getenv(EnvTolerateNotImplemented) != "1" {
		return false
	}
	return hasCode(err, "NotImplemented") || httpStatus(err) == http.StatusNotImplemented
}

// ownershipTags merges user tags with the ownership tags of stamp (see
// alchemy.Request.Stamp); ownership wins.
func ownershipTags(user map[string]string, stamp alchemy.Stamp) map[string]string {
	out := make(map[string]string, len(user)+3)
	for k, v := range user {
		out[k] = v
	}
	out[TagStack], out[TagStage], out[TagID] = stamp.Stack, stamp.Stage, stamp.ID
	return out
}

// userTags are a resource's tags without the alchemy:: ones: the user tags
// of its live configuration (nil for none).
func userTags(tags map[string]string) map[string]string {
	var out map[string]string
	for k, v := range tags {
		if strings.HasPrefix(k, tagPrefix) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// stampedBy reports whether tags carry exactly stamp.
func stampedBy(tags map[string]string, stamp alchemy.Stamp) bool {
	s := alchemy.StampFromTags(tags)
	return s != nil && *s == stamp
}

// checkUserTags refuses user tags in the alchemy:: namespace.
func checkUserTags(tags map[string]string) error {
	for k := range tags {
		if strings.HasPrefix(k, tagPrefix) {
			return fmt.Errorf("tag %q: the alchemy:: prefix is reserved for ownership tags", k)
		}
	}
	return nil
}
