package awsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/smithy-go"
)

// OIDC is a client of IAM Identity Center's SSO-OIDC service
// (oidc.<region>.amazonaws.com). Its operations are unsigned: the client id
// and secret travel in the JSON bodies.
type OIDC struct{ cfg Config }

// NewOIDC returns an SSO-OIDC client for cfg.Region.
func NewOIDC(cfg Config) *OIDC { return &OIDC{cfg: cfg} }

// RegisteredClient is RegisterClient's answer.
type RegisteredClient struct {
	ClientID              string `json:"clientId"`
	ClientSecret          string `json:"clientSecret"`
	ClientIDIssuedAt      int64  `json:"clientIdIssuedAt"`
	ClientSecretExpiresAt int64  `json:"clientSecretExpiresAt"` // epoch seconds
}

// RegisterClient registers a public client named name.
func (c *OIDC) RegisterClient(ctx context.Context, name string) (*RegisteredClient, error) {
	in := struct {
		ClientName string `json:"clientName"`
		ClientType string `json:"clientType"`
	}{name, "public"}
	var out RegisteredClient
	if err := c.call(ctx, "RegisterClient", "/client/register", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeviceAuthorization is StartDeviceAuthorization's answer.
type DeviceAuthorization struct {
	DeviceCode              string `json:"deviceCode"`
	UserCode                string `json:"userCode"`
	VerificationURI         string `json:"verificationUri"`
	VerificationURIComplete string `json:"verificationUriComplete"`
	ExpiresIn               int32  `json:"expiresIn"` // seconds
	Interval                int32  `json:"interval"`  // seconds between polls
}

// StartDeviceAuthorization starts a device sign-in at startURL.
func (c *OIDC) StartDeviceAuthorization(ctx context.Context, client *RegisteredClient, startURL string) (*DeviceAuthorization, error) {
	in := struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
		StartURL     string `json:"startUrl"`
	}{client.ClientID, client.ClientSecret, startURL}
	var out DeviceAuthorization
	if err := c.call(ctx, "StartDeviceAuthorization", "/device_authorization", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Grant types of CreateToken.
const (
	GrantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	GrantRefreshToken = "refresh_token"
)

// CreateTokenInput is what CreateToken sends: DeviceCode for the
// device-code grant, RefreshToken for the refresh grant.
type CreateTokenInput struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	GrantType    string `json:"grantType"`
	DeviceCode   string `json:"deviceCode,omitempty"`
	RefreshToken string `json:"refreshToken,omitempty"`
}

// Token is CreateToken's answer.
type Token struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int32  `json:"expiresIn"` // seconds
	RefreshToken string `json:"refreshToken"`
}

// CreateToken redeems a device code or a refresh token. While a device
// sign-in waits for the person, it fails with the API error codes
// AuthorizationPendingException or SlowDownException.
func (c *OIDC) CreateToken(ctx context.Context, in CreateTokenInput) (*Token, error) {
	var out Token
	if err := c.call(ctx, "CreateToken", "/token", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *OIDC) call(ctx context.Context, operation, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.cfg.do(ctx, request{service: oidcService, operation: operation, method: http.MethodPost, path: path,
		header: http.Header{"Content-Type": {"application/json"}}, body: body}, jsonError)
	if err != nil {
		return err
	}
	return decodeJSON(oidcService, operation, resp.body, out)
}

// Portal is a client of the SSO portal (portal.sso.<region>.amazonaws.com),
// which hands out role credentials for an SSO access token.
type Portal struct{ cfg Config }

// NewPortal returns an SSO portal client for cfg.Region.
func NewPortal(cfg Config) *Portal { return &Portal{cfg: cfg} }

// GetRoleCredentials exchanges the SSO access token for credentials of a
// role in an account.
func (c *Portal) GetRoleCredentials(ctx context.Context, accessToken, accountID, roleName string) (*RoleCredentials, error) {
	const op = "GetRoleCredentials"
	resp, err := c.cfg.do(ctx, request{service: portalService, operation: op, method: http.MethodGet,
		path:   "/federation/credentials",
		query:  url.Values{"account_id": {accountID}, "role_name": {roleName}},
		header: http.Header{"X-Amz-Sso_bearer_token": {accessToken}}}, jsonError)
	if err != nil {
		return nil, err
	}
	var out struct {
		RoleCredentials struct {
			AccessKeyID     string `json:"accessKeyId"`
			SecretAccessKey string `json:"secretAccessKey"`
			SessionToken    string `json:"sessionToken"`
			Expiration      int64  `json:"expiration"` // epoch milliseconds
		} `json:"roleCredentials"`
	}
	if err := decodeJSON(portalService, op, resp.body, &out); err != nil {
		return nil, err
	}
	rc := out.RoleCredentials
	return &RoleCredentials{AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken,
		Expiration: time.UnixMilli(rc.Expiration).UTC()}, nil
}

func decodeJSON(s service, operation string, body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return &smithy.OperationError{ServiceID: s.id, OperationName: operation,
			Err: &smithy.DeserializationError{Err: fmt.Errorf("failed to decode the answer: %w", err)}}
	}
	return nil
}

// jsonError reads a restJson1 error as the SDK does: the code from the
// X-Amzn-ErrorType header, else the body's "__type" or "code", cut at the
// first ':' and after any '#' ("AuthorizationPendingException:http://...",
// "com.amazonaws.switchboard.portal#UnauthorizedException"); the message
// from "message" (SSO-OIDC's OAuth-style bodies carry "error_description"
// instead).
func jsonError(h http.Header, body []byte) (code, message string) {
	var doc struct {
		Type        string `json:"__type"`
		Code        string `json:"code"`
		Message     string `json:"message"`
		MessageCap  string `json:"Message"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &doc)
	code = h.Get("X-Amzn-ErrorType")
	for _, alt := range []string{doc.Type, doc.Code} {
		if code == "" {
			code = alt
		}
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	for _, m := range []string{doc.Message, doc.MessageCap, doc.Description} {
		if message == "" {
			message = m
		}
	}
	return code, message
}
