package cli

import (
	"cmp"
	"context"
	"fmt"
	"os"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alchemy-go/alchemy/internal/auth"
	awsauth "github.com/alchemy-go/alchemy/internal/auth/aws"
	"github.com/alchemy-go/alchemy/internal/envfile"
)

// stateAWSConfig is the AWS SDK configuration an s3:// state store uses:
// the keys of the selected profile's AWS provider (alchemy login, or the
// environment under CI), resolved through the same resolver as the stack's
// resources and refreshed by the SDK before they expire; the region is the
// credentials' (us-east-1 when they name none), which the URL's ?region=
// overrides. As for resources (aws/aws.go, sdkConfig), nothing is read from
// ~/.aws behind the profile's back; endpoint overrides
// (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL) are read from the environment as
// usual.
func stateAWSConfig(creds func(ctx context.Context, name string) (auth.Credentials, error)) func(ctx context.Context) (sdkaws.Config, error) {
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
		provider := sdkaws.NewCredentialsCache(sdkaws.CredentialsProviderFunc(func(ctx context.Context) (sdkaws.Credentials, error) {
			got, err := creds(ctx, awsauth.Name)
			if err != nil {
				return sdkaws.Credentials{}, err
			}
			ac, ok := got.(*awsauth.Credentials)
			if !ok || ac == nil {
				return sdkaws.Credentials{}, fmt.Errorf("no AWS credentials (got %T)", got)
			}
			out := sdkaws.Credentials{AccessKeyID: ac.AccessKeyID, SecretAccessKey: ac.SecretAccessKey, SessionToken: ac.SessionToken, Source: "alchemy profile"}
			if exp, ok := ac.Expires(); ok {
				out.CanExpire, out.Expires = true, exp
			}
			return out, nil
		}), func(o *sdkaws.CredentialsCacheOptions) { o.ExpiryWindow = auth.RefreshWindow })
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

// stateAWS is backends.Options.AWSConfig: for "", the credentials of the
// profile the command runs with (current, or opened now when the command
// has no session of its own: outputs, `alchemy state`); for a profile an
// s3:// URL names (?profile=), that profile's, chosen as explicitly as
// --profile (so honoured under CI) and never bound to the stage: state may
// live in an account of its own.
func (f *Factory) stateAWS(p *ProfileFlags, current func(ctx context.Context, name string) (auth.Credentials, error)) func(ctx context.Context, profile string) (sdkaws.Config, error) {
	return func(ctx context.Context, name string) (sdkaws.Config, error) {
		creds := current
		if name != "" || creds == nil {
			q := *p
			if name != "" {
				q.Profile, q.profileSet = name, true
			}
			s, err := f.session(&q)
			if err != nil {
				return sdkaws.Config{}, fmt.Errorf("credentials for the S3 state store: %w", err)
			}
			creds = auth.NewResolver(s.Auth, f.Registry(), s.envOnly()).Credentials
		}
		return stateAWSConfig(creds)(ctx)
	}
}
