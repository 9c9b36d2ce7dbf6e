// Package s3link links the S3 state store into a program: importing it sets
// backends.OpenS3, and links the AWS auth provider whose credentials sign
// the store's requests. The alchemy binary imports it; so does a stack
// program built with the SDK's default tags (go run), and one alchemy
// builds for a stack whose state is on S3 (internal/stackrun's features).
package s3link

import (
	"cmp"
	"context"
	"fmt"
	"os"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alchemy-go/alchemy/internal/auth"
	awsauth "github.com/alchemy-go/alchemy/internal/auth/aws"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/backends"
	"github.com/alchemy-go/alchemy/internal/state/s3state"
	"github.com/alchemy-go/alchemy/internal/state/s3state/s3url"
)

func init() { backends.OpenS3 = open }

func open(ctx context.Context, loc s3url.Location, o backends.Options) (state.Backend, error) {
	creds, err := o.AWSCredentials(ctx, loc.Profile)
	if err != nil {
		return nil, err
	}
	cfg, err := Config(creds)(ctx)
	if err != nil {
		return nil, err
	}
	return s3state.Open(ctx, loc, cfg, s3state.Options{})
}

// Config is the AWS SDK configuration an s3:// state store uses: the keys
// of the selected profile's AWS provider (alchemy login, or the environment
// under CI), resolved through the same resolver as the stack's resources
// and refreshed by the SDK before they expire; the region is the
// credentials' (us-east-1 when they name none), which the URL's ?region=
// overrides. As for resources (aws/aws.go, sdkConfig), nothing is read from
// ~/.aws behind the profile's back; endpoint overrides
// (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL) are read from the environment as
// usual.
func Config(creds backends.Credentials) func(ctx context.Context) (sdkaws.Config, error) {
	return func(ctx context.Context) (sdkaws.Config, error) {
		c, err := creds(ctx, awsauth.Name)
		if err != nil {
			return sdkaws.Config{}, fmt.Errorf("credentials for the S3 state store: %w", err)
		}
		ac, ok := c.(*awsauth.Credentials)
		if !ok || ac == nil {
			return sdkaws.Config{}, fmt.Errorf("credentials for the S3 state store: no AWS credentials (got %T)", c)
		}
		region := ac.Region
		if region == "" {
			region = awsauth.DefaultRegion
		}
		provider := awsauth.SDKCredentials(func(ctx context.Context) (auth.Credentials, error) {
			return creds(ctx, awsauth.Name)
		})
		// Built here rather than by the SDK's config loader, which would
		// link the SDK's STS, SSO and Sign-In clients into every start-up
		// (cmd/alchemy/link_test.go): the keys and region come from the
		// profile, the endpoint override from the environment.
		cfg := sdkaws.Config{Region: region, Credentials: provider}
		if !envfile.IsTrue(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
			if e := cmp.Or(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL")); e != "" {
				cfg.BaseEndpoint = sdkaws.String(e)
			}
		}
		return cfg, nil
	}
}
