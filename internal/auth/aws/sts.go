package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/aws/awsapi"
	"github.com/alchemy-go/alchemy/internal/envfile"
)

// Identity is what STS says about a set of keys.
type Identity struct {
	Account string
	ARN     string
}

// stsTimeout bounds the check so a login on a bad network does not hang.
const stsTimeout = 15 * time.Second

// callerIdentity calls STS GetCallerIdentity with exactly these keys in
// their region (the upstream tool once called it with no region at all).
// Nothing but the keys and the endpoint variables is read: a stray
// AWS_PROFILE must not change which keys are checked, but the SDK's endpoint
// variables (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL) still redirect it, read
// through the same env source as everything else.
func callerIdentity(ctx context.Context, c *auth.Context, s *Stored) (Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, stsTimeout)
	defer cancel()
	keys := awssdk.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}
	client, err := caClient(c.Env, c.HTTP, "")
	if err != nil {
		return Identity{}, err
	}
	cfg := apiConfig(c.Env, client, "STS", s.Region)
	cfg.MaxAttempts = 2
	out, err := awsapi.NewSTS(cfg, keys).GetCallerIdentity(ctx)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Account: out.Account, ARN: out.Arn}, nil
}

// apiConfig is the awsapi configuration of one service in region: its
// endpoint from env (service is its AWS_ENDPOINT_URL_<SERVICE> id).
func apiConfig(env envfile.Source, client *http.Client, service, region string) awsapi.Config {
	return awsapi.Config{Region: region, Endpoint: endpoint(env, service), HTTP: client}
}

// endpoint applies the SDK's endpoint variables for one service id.
func endpoint(env envfile.Source, service string) string {
	if envfile.Bool(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
		return ""
	}
	if v := envfile.Get(env, "AWS_ENDPOINT_URL_"+service); v != "" {
		return v
	}
	return envfile.Get(env, "AWS_ENDPOINT_URL")
}

var rejectedCodes = map[string]bool{
	"InvalidClientTokenId": true, "SignatureDoesNotMatch": true, "ExpiredToken": true,
	"AccessDenied": true, "UnrecognizedClientException": true, "InvalidAccessKeyId": true,
	"AuthFailure": true, "IncompleteSignature": true, "MissingAuthenticationToken": true,
}

// IsRejected reports whether AWS refused the credentials themselves.
func IsRejected(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && rejectedCodes[api.ErrorCode()]
}

// IsUnreachable reports whether the check could not be made: no network, a
// timeout, or a server error.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	var send *smithyhttp.RequestSendError
	if errors.As(err, &ne) || errors.As(err, &send) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= http.StatusInternalServerError {
		return true
	}
	return false
}

var _ auth.AccountReader = Provider{}

// Account is the account these credentials act in, as STS GetCallerIdentity
// answers with them: not the account id stored beside the keys or set in
// AWS_ACCOUNT_ID, which nothing checks.
func (Provider) Account(ctx context.Context, c *auth.Context, creds auth.Credentials) (string, error) {
	cr, ok := creds.(*Credentials)
	if !ok || cr == nil {
		return "", fmt.Errorf("AWS: no AWS credentials to check (got %T)", creds)
	}
	region := cr.Region
	if region == "" {
		region = DefaultRegion
	}
	id, err := callerIdentity(ctx, c, &Stored{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey,
		SessionToken: cr.SessionToken, Region: region})
	switch {
	case err == nil:
		return id.Account, nil
	case IsRejected(err):
		return "", auth.Errorf("AWS rejected the credentials when asked which account they belong to (%v)", err)
	case IsUnreachable(err):
		return "", auth.Errorf("AWS: could not reach STS to ask which account the credentials belong to (%v)", err)
	}
	return "", auth.Errorf("AWS: STS GetCallerIdentity failed (%v)", err)
}

var _ auth.AccountNamer = Provider{}

// KnownAccount is the account the credentials carry when STS or the SSO
// configuration named it; AWS_ACCOUNT_ID beside keys from the environment
// is only a claim, so it is not shown as the account.
func (Provider) KnownAccount(creds auth.Credentials) string {
	if cr, ok := creds.(*Credentials); ok && cr != nil && cr.source.Type != "env" {
		return cr.AccountID
	}
	return ""
}
