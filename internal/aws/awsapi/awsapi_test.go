package awsapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/alchemy-go/alchemy/internal/aws/awsapi"
	"github.com/alchemy-go/alchemy/internal/fakes/awssso"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

var keys = aws.Credentials{AccessKeyID: "AKIDGOOD", SecretAccessKey: "secret"}

// apiError asserts err has the SDK's shape for an error answer: an
// OperationError of service/operation around a ResponseError of status
// around an API error of code.
func apiError(t *testing.T, err error, service, operation string, status int, code string) {
	t.Helper()
	var op *smithy.OperationError
	var resp *awshttp.ResponseError
	var api smithy.APIError
	if !errors.As(err, &op) || op.ServiceID != service || op.OperationName != operation {
		t.Fatalf("want an OperationError of %s %s, got %T %v", service, operation, err, err)
	}
	if !errors.As(err, &resp) || resp.HTTPStatusCode() != status {
		t.Fatalf("want a ResponseError with status %d, got %v", status, err)
	}
	if !errors.As(err, &api) || api.ErrorCode() != code {
		t.Fatalf("want API error code %s, got %v", code, err)
	}
}

func TestSTS(t *testing.T) {
	emulate := testpeers.Emulate(t)
	gate := emulate.STSRejectingUnknownKeys(t, "AKIDGOOD")
	cfg := awsapi.Config{Region: "eu-west-1", Endpoint: gate.Endpoint}

	t.Run("GetCallerIdentity", func(t *testing.T) {
		id, err := awsapi.NewSTS(cfg, keys).GetCallerIdentity(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if id.Account != testpeers.AccountID || !strings.HasPrefix(id.Arn, "arn:aws:iam::"+testpeers.AccountID+":") {
			t.Fatalf("identity: %+v", id)
		}
		// The gate read the access key from a SigV4 Authorization header.
		if seen := gate.AccessKeyIDs(); len(seen) == 0 || seen[len(seen)-1] != "AKIDGOOD" {
			t.Fatalf("the gate saw %v", seen)
		}
	})

	t.Run("RejectedKeyAsTheSDKReportsIt", func(t *testing.T) {
		bad := aws.Credentials{AccessKeyID: "AKIDBAD", SecretAccessKey: "secret"}
		_, err := awsapi.NewSTS(cfg, bad).GetCallerIdentity(context.Background())
		apiError(t, err, "STS", "GetCallerIdentity", 403, "InvalidClientTokenId")
		// The SDK's own client, same call: the same message, but for the
		// request id.
		_, sdkErr := sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(gate.Endpoint),
			Credentials: credentials.NewStaticCredentialsProvider(bad.AccessKeyID, bad.SecretAccessKey, "")}).
			GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		ids := regexp.MustCompile(`RequestID: [^,]*,`)
		if got, want := ids.ReplaceAllString(err.Error(), "RequestID: _,"), ids.ReplaceAllString(sdkErr.Error(), "RequestID: _,"); got != want {
			t.Fatalf("error message\n got: %s\nwant: %s", got, want)
		}
	})

	t.Run("AssumeRole", func(t *testing.T) {
		emulate.CreateRole(t, "awsapi-test")
		arn := "arn:aws:iam::" + testpeers.AccountID + ":role/awsapi-test"
		out, err := awsapi.NewSTS(cfg, keys).AssumeRole(context.Background(), awsapi.AssumeRoleInput{
			RoleArn: arn, RoleSessionName: "alchemy-test", Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" || time.Until(c.Expiration) < 30*time.Minute {
			t.Fatalf("credentials: %+v", out)
		}
		// (emulate answers the role's ARN where AWS answers
		// arn:aws:sts::<account>:assumed-role/<role>/<session>.)
		if out.Account() != testpeers.AccountID || !strings.Contains(out.Arn, "awsapi-test") {
			t.Fatalf("assumed role %q, account %q", out.Arn, out.Account())
		}
	})

	t.Run("UnreachableEndpoint", func(t *testing.T) {
		_, err := awsapi.NewSTS(awsapi.Config{Region: "us-east-1", Endpoint: testpeers.LeakGuardEndpoint}, keys).
			GetCallerIdentity(context.Background())
		var send *smithyhttp.RequestSendError
		var op *smithy.OperationError
		if !errors.As(err, &send) || !errors.As(err, &op) || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("want a RequestSendError inside an OperationError, got %T %v", err, err)
		}
	})
}

// Server errors and throttling are retried, up to MaxAttempts; what the
// credentials are refused with is not.
func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		code     string
		attempts int32
	}{
		{"ServerError", 503, "ServiceUnavailable", 3},
		{"Throttled", 400, "Throttling", 3},
		{"Rejected", 403, "InvalidClientTokenId", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.Header().Set("X-Amzn-Requestid", "req-1")
				w.WriteHeader(tc.status)
				w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>` + tc.code + `</Code><Message>no</Message></Error></ErrorResponse>`))
			}))
			defer srv.Close()
			_, err := awsapi.NewSTS(awsapi.Config{Region: "us-east-1", Endpoint: srv.URL}, keys).GetCallerIdentity(context.Background())
			apiError(t, err, "STS", "GetCallerIdentity", tc.status, tc.code)
			if got := n.Load(); got != tc.attempts {
				t.Errorf("%d attempts, want %d", got, tc.attempts)
			}
			if want := "RequestID: req-1, api error " + tc.code + ": no"; !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		})
	}
}

func TestSSO(t *testing.T) {
	fake := awssso.Start(t)
	fake.AddAssignment("111122223333", "Admin")
	cfg := awsapi.Config{Region: "eu-central-1", Endpoint: fake.URL}
	oidc, portal := awsapi.NewOIDC(cfg), awsapi.NewPortal(cfg)
	ctx := context.Background()

	reg, err := oidc.RegisterClient(ctx, "alchemy")
	if err != nil || reg.ClientID == "" || reg.ClientSecret == "" || time.Unix(reg.ClientSecretExpiresAt, 0).Before(time.Now()) {
		t.Fatalf("RegisterClient: %+v %v", reg, err)
	}
	da, err := oidc.StartDeviceAuthorization(ctx, reg, "https://corp.awsapps.com/start")
	if err != nil || da.DeviceCode == "" || da.UserCode == "" || !strings.Contains(da.VerificationURIComplete, da.UserCode) || da.ExpiresIn <= 0 {
		t.Fatalf("StartDeviceAuthorization: %+v %v", da, err)
	}
	grant := awsapi.CreateTokenInput{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret,
		GrantType: awsapi.GrantDeviceCode, DeviceCode: da.DeviceCode}

	// Before the person approves: AuthorizationPendingException, as the
	// SDK's typed error would carry it.
	_, err = oidc.CreateToken(ctx, grant)
	apiError(t, err, "SSO OIDC", "CreateToken", 400, "AuthorizationPendingException")
	if err := fake.Approve(da.UserCode); err != nil {
		t.Fatal(err)
	}
	tok, err := oidc.CreateToken(ctx, grant)
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" || tok.ExpiresIn <= 0 {
		t.Fatalf("CreateToken: %+v %v", tok, err)
	}

	rc, err := portal.GetRoleCredentials(ctx, tok.AccessToken, "111122223333", "Admin")
	if err != nil || !strings.HasPrefix(rc.AccessKeyID, "ASIA") || rc.SessionToken == "" || time.Until(rc.Expiration) < 30*time.Minute {
		t.Fatalf("GetRoleCredentials: %+v %v", rc, err)
	}
	issued := fake.Issued()
	if len(issued) != 1 || issued[0].AccessKeyID != rc.AccessKeyID {
		t.Fatalf("the fake issued %+v", issued)
	}

	// A role not assigned: ForbiddenException, not in the SDK's model, so a
	// generic API error as against AWS.
	_, err = portal.GetRoleCredentials(ctx, tok.AccessToken, "111122223333", "Other")
	apiError(t, err, "SSO", "GetRoleCredentials", 403, "ForbiddenException")

	// An expired access token is refused; the refresh grant gives a new one.
	fake.ExpireAccessTokens()
	_, err = portal.GetRoleCredentials(ctx, tok.AccessToken, "111122223333", "Admin")
	apiError(t, err, "SSO", "GetRoleCredentials", 401, "UnauthorizedException")
	if !strings.Contains(err.Error(), "Session token not found or invalid") {
		t.Errorf("message: %v", err)
	}
	refresh := awsapi.CreateTokenInput{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret,
		GrantType: awsapi.GrantRefreshToken, RefreshToken: tok.RefreshToken}
	fresh, err := oidc.CreateToken(ctx, refresh)
	if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" {
		t.Fatalf("refresh: %+v %v", fresh, err)
	}
	if _, err := portal.GetRoleCredentials(ctx, fresh.AccessToken, "111122223333", "Admin"); err != nil {
		t.Fatal(err)
	}
	// Refresh tokens rotate: the used one is refused.
	_, err = oidc.CreateToken(ctx, refresh)
	apiError(t, err, "SSO OIDC", "CreateToken", 400, "InvalidGrantException")

	// Every request reached the operation (and grant) the fake serves at
	// its path.
	var ops []string
	for _, r := range fake.Requests() {
		ops = append(ops, r.Operation)
	}
	want := "RegisterClient StartDeviceAuthorization CreateToken:device_code CreateToken:device_code GetRoleCredentials GetRoleCredentials GetRoleCredentials " +
		"CreateToken:refresh_token GetRoleCredentials CreateToken:refresh_token"
	if got := strings.Join(ops, " "); got != want {
		t.Fatalf("operations:\n got %s\nwant %s", got, want)
	}
}

// With no endpoint override, each service is called at its regional
// endpoint (recorded by a transport that sends nothing).
func TestRegionalEndpoints(t *testing.T) {
	var hosts []string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		hosts = append(hosts, r.Method+" "+r.URL.String())
		return nil, errors.New("not sent")
	})}
	cfg := awsapi.Config{Region: "eu-west-1", HTTP: client, MaxAttempts: 1}
	ctx := context.Background()
	awsapi.NewSTS(cfg, keys).GetCallerIdentity(ctx)
	awsapi.NewOIDC(cfg).RegisterClient(ctx, "alchemy")
	awsapi.NewPortal(awsapi.Config{Region: "cn-north-1", HTTP: client, MaxAttempts: 1}).GetRoleCredentials(ctx, "t", "1", "R")
	want := []string{"POST https://sts.eu-west-1.amazonaws.com/", "POST https://oidc.eu-west-1.amazonaws.com/client/register",
		"GET https://portal.sso.cn-north-1.amazonaws.com.cn/federation/credentials?account_id=1&role_name=R"}
	if strings.Join(hosts, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(hosts, "\n"), strings.Join(want, "\n"))
	}
	if _, err := awsapi.NewSTS(awsapi.Config{HTTP: client}, keys).GetCallerIdentity(ctx); err == nil || !strings.Contains(err.Error(), "no AWS region") {
		t.Fatalf("no region: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
