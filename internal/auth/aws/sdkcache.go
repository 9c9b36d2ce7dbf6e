package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alchemy-go/alchemy/internal/auth"
)

// SDKCredentials is an AWS SDK credentials cache over retrieve, which
// resolves the AWS provider's credentials (a run's resolver): the SDK asks
// again auth.RefreshWindow before the keys expire, so a call that outlives
// them (a long table wait on one-hour SSO keys, a deploy's state commits)
// signs with fresh ones. Resources and the S3 state store both sign this
// way.
func SDKCredentials(retrieve func(ctx context.Context) (auth.Credentials, error)) *awssdk.CredentialsCache {
	return awssdk.NewCredentialsCache(awssdk.CredentialsProviderFunc(func(ctx context.Context) (awssdk.Credentials, error) {
		got, err := retrieve(ctx)
		if err != nil {
			return awssdk.Credentials{}, err
		}
		c, ok := got.(*Credentials)
		if !ok || c == nil {
			return awssdk.Credentials{}, fmt.Errorf("no AWS credentials (got %T)", got)
		}
		out := awssdk.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
			SessionToken: c.SessionToken, Source: "alchemy profile"}
		if exp, ok := c.Expires(); ok {
			out.CanExpire, out.Expires = true, exp
		}
		return out, nil
	}), func(o *awssdk.CredentialsCacheOptions) { o.ExpiryWindow = auth.RefreshWindow })
}
