// Package awsapi is alchemy's small, typed client for the few AWS calls the
// CLI itself makes: STS GetCallerIdentity and AssumeRole (query protocol,
// signed with the SDK's v4 signer), IAM Identity Center's SSO-OIDC
// RegisterClient, StartDeviceAuthorization and CreateToken (unsigned JSON),
// the SSO portal's GetRoleCredentials (a bearer header), and the S3 object
// operations of the S3 state store (GetObject, conditional PutObject,
// DeleteObject(s), ListObjectsV2; REST-XML signed with v4).
//
// It exists for start-up time: Go initialises every linked package before
// main, and the SDK's generated service clients build endpoint tables and
// schemas at init (~3.5 ms of every command, docs/PERFORMANCE.md). This
// package links only the v4 signer and smithy-go's error types, so errors
// keep the SDK's shapes: a *smithy.OperationError wrapping an
// *awshttp.ResponseError (an *smithyhttp.ResponseError around a
// *smithy.GenericAPIError) when AWS answered with an error, or a
// *smithyhttp.RequestSendError when it could not be reached. Code written
// against the SDK's errors (errors.As with smithy.APIError, ResponseError,
// RequestSendError) works unchanged, and the messages read as the SDK's do.
//
// The AWS resources (package aws) keep the SDK: only stack programs link
// them.
package awsapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// UserAgent is sent with every request.
const UserAgent = "alchemy-go"

// DefaultMaxAttempts is how often a call is tried when AWS cannot be reached,
// answers 5xx or throttles: the SDK's standard retryer's default.
const DefaultMaxAttempts = 3

// maxBodyBytes caps how much of an answer is read; every answer of these
// operations is a few KiB.
const maxBodyBytes = 1 << 20

// Config is what every client needs.
type Config struct {
	// Region picks the regional endpoint and, for STS, the signing region.
	Region string
	// Endpoint replaces the regional endpoint when set (what
	// AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL name). Operation paths
	// are joined onto its path, as the SDK joins them onto BaseEndpoint.
	Endpoint string
	// HTTP is the client used; nil means http.DefaultClient.
	HTTP *http.Client
	// MaxAttempts bounds the tries of one call; 0 means DefaultMaxAttempts.
	MaxAttempts int
}

// service describes one AWS API: the SDK's service id (in error messages)
// and the host prefix of its regional endpoint.
type service struct {
	id, host string
}

var (
	stsService    = service{id: "STS", host: "sts"}
	oidcService   = service{id: "SSO OIDC", host: "oidc"}
	portalService = service{id: "SSO", host: "portal.sso"}
)

// baseURL is the endpoint override, or the service's regional endpoint in
// the region's partition.
func (c Config) baseURL(s service) (*url.URL, error) {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("the %s endpoint %q is not a URL (check AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_*)", s.id, c.Endpoint)
		}
		return u, nil
	}
	if c.Region == "" {
		return nil, fmt.Errorf("no AWS region to call %s in (set AWS_REGION, or region in the profile)", s.id)
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(c.Region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return &url.URL{Scheme: "https", Host: s.host + "." + c.Region + "." + suffix}, nil
}

// request is one operation's request before it is sent: built again for
// every attempt, because signing and sending consume it.
type request struct {
	service   service
	operation string
	method    string
	path      string
	query     url.Values
	header    http.Header
	body      []byte
	// hostPrefix, when set, is prepended to the endpoint's host with a
	// dot (an S3 bucket, virtual-hosted).
	hostPrefix string
	// maxBody caps the answer read; 0 means maxBodyBytes.
	maxBody int64
	// sign, when set, signs the request just before each attempt (v4
	// signatures carry the time, so a retry signs again).
	sign func(*http.Request, []byte) error
}

// response is a successful (2xx) answer.
type response struct {
	header http.Header
	body   []byte
}

// errorDecoder reads an error answer into its code and message.
type errorDecoder func(header http.Header, body []byte) (code, message string)

// do sends r with retries and returns the 2xx answer, or the error in the
// SDK's shape.
func (c Config) do(ctx context.Context, r request, decodeError errorDecoder) (*response, error) {
	opErr := func(err error) error {
		return &smithy.OperationError{ServiceID: r.service.id, OperationName: r.operation, Err: err}
	}
	base, err := c.baseURL(r.service)
	if err != nil {
		return nil, opErr(err)
	}
	u := *base
	u.Path = smithyhttp.JoinPath(base.Path, r.path)
	u.RawPath = escapePath(u.Path)
	if r.hostPrefix != "" {
		u.Host = r.hostPrefix + "." + u.Host
	}
	u.RawQuery = smithyhttp.JoinRawQuery(base.RawQuery, r.query.Encode())
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	for attempt := 1; ; attempt++ {
		resp, err := send(ctx, client, &u, r, decodeError)
		if err == nil {
			return resp, nil
		}
		if attempt >= attempts || !retryable(err) || ctx.Err() != nil {
			return nil, opErr(err)
		}
		select {
		case <-time.After(backoff(attempt)):
		case <-ctx.Done():
			return nil, opErr(err)
		}
	}
}

// send makes one attempt. Its errors are in the SDK's shape: a
// RequestSendError when there was no answer, an awshttp.ResponseError
// around the decoded API error when the answer was not 2xx.
func send(ctx context.Context, client *http.Client, u *url.URL, r request, decodeError errorDecoder) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), bytes.NewReader(r.body))
	if err != nil {
		return nil, &smithy.SerializationError{Err: err}
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", UserAgent)
	if r.sign != nil {
		if err := r.sign(req, r.body); err != nil {
			return nil, fmt.Errorf("signing the request: %w", err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	limit := r.maxBody
	if limit <= 0 {
		limit = maxBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, &smithyhttp.RequestSendError{Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode/100 == 2 {
		return &response{header: resp.Header, body: body}, nil
	}
	code, message := decodeError(resp.Header, body)
	if code == "" {
		// No code in the answer (a proxy's error page, say): name it by
		// its status, as "ServiceUnavailable".
		code = strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
		if code == "" {
			code = fmt.Sprintf("HTTP%d", resp.StatusCode)
		}
	}
	fault := smithy.FaultServer
	if resp.StatusCode < 500 {
		fault = smithy.FaultClient
	}
	return nil, &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: resp},
			Err:      &smithy.GenericAPIError{Code: code, Message: message, Fault: fault},
		},
		RequestID: requestID(resp.Header),
	}
}

// deserializationError is an answer that could not be read, in the SDK's
// shape.
func deserializationError(s service, operation string, err error) error {
	return &smithy.OperationError{ServiceID: s.id, OperationName: operation,
		Err: &smithy.DeserializationError{Err: fmt.Errorf("failed to decode the answer: %w", err)}}
}

func requestID(h http.Header) string {
	if id := h.Get("X-Amzn-Requestid"); id != "" {
		return id
	}
	return h.Get("X-Amz-Request-Id")
}

// throttlingCodes are the error codes the SDK's standard retryer retries.
var throttlingCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true, "RequestThrottledException": true,
	"TooManyRequestsException": true, "ProvisionedThroughputExceededException": true, "TransactionInProgressException": true,
	"RequestLimitExceeded": true, "BandwidthLimitExceeded": true, "LimitExceededException": true, "RequestThrottled": true,
	"PriorRequestNotComplete": true,
}

// retryable reports whether another attempt may succeed: no answer at all,
// a 5xx answer or throttling, as the SDK's standard retryer decides.
func retryable(err error) bool {
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) {
		switch resp.HTTPStatusCode() {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	var api smithy.APIError
	return errors.As(err, &api) && throttlingCodes[api.ErrorCode()]
}

// backoff is the pause before the next attempt: exponential with full
// jitter. Shorter than the SDK's (up to 2^attempt seconds): the CLI's calls
// are interactive, and a refused connection is not helped by waiting.
func backoff(attempt int) time.Duration {
	ceiling := 200 * time.Millisecond << (attempt - 1)
	return time.Duration(rand.Int64N(int64(ceiling)))
}
