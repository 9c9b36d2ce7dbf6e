package auth

import (
	"fmt"
	"net/http"
	"time"

	iauth "github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/cloudflare/cfcred"
)

// CloudflareCredentials are resolved Cloudflare credentials: exactly one
// of APIToken, APIKey (with Email) or OAuthToken is set. Their values are
// secrets: alchemy keeps them out of its own output, and a provider must
// not put them in errors or attributes.
type CloudflareCredentials struct {
	// AccountID is the account every call acts in (the profile's, or
	// CLOUDFLARE_ACCOUNT_ID).
	AccountID  string
	APIToken   string
	APIKey     string
	Email      string
	OAuthToken string
	// ExpiresAt is zero unless they expire (OAuth).
	ExpiresAt time.Time
}

// SetHeaders sets the headers that authenticate a Cloudflare API request:
// Authorization: Bearer for a token, X-Auth-Key and X-Auth-Email for a
// global API key.
func (c *CloudflareCredentials) SetHeaders(h http.Header) {
	cfcred.Auth{APIToken: c.APIToken, APIKey: c.APIKey, Email: c.Email, OAuthToken: c.OAuthToken}.SetHeaders(h)
}

// Cloudflare reads the Cloudflare credentials of a request whose provider
// names CloudflareProvider in its Auth method.
func Cloudflare(c Credentials) (*CloudflareCredentials, error) {
	var v iauth.CloudflareValues
	r, ok := c.(iauth.CloudflareReader)
	if !ok {
		return nil, notOf(CloudflareProvider, c)
	}
	if v, ok = r.CloudflareValues(); !ok {
		return nil, notOf(CloudflareProvider, nil)
	}
	return &CloudflareCredentials{AccountID: v.AccountID, APIToken: v.APIToken, APIKey: v.APIKey, Email: v.Email,
		OAuthToken: v.OAuthToken, ExpiresAt: v.ExpiresAt}, nil
}

// AWSCredentials are resolved AWS credentials: keys (secret), the region
// to act in, and the account once STS has confirmed it.
type AWSCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Region is the profile's region; "" means us-east-1.
	Region string
	// AccountID is "" until STS has answered once.
	AccountID string
	// ExpiresAt is zero for long-lived keys. Calls that may outlive them
	// resolve them again with alchemy.Request.Refresh.
	ExpiresAt time.Time
}

// AWS reads the AWS credentials of a request whose provider names
// AWSProvider in its Auth method.
func AWS(c Credentials) (*AWSCredentials, error) {
	var a iauth.AWSValues
	r, ok := c.(iauth.AWSReader)
	if !ok {
		return nil, notOf(AWSProvider, c)
	}
	if a, ok = r.AWSValues(); !ok {
		return nil, notOf(AWSProvider, nil)
	}
	return &AWSCredentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey, SessionToken: a.SessionToken,
		Region: a.Region, AccountID: a.AccountID, ExpiresAt: a.ExpiresAt}, nil
}

// GitHub reads the GitHub token (a secret) of a request whose provider
// names GitHubProvider in its Auth method.
func GitHub(c Credentials) (token string, err error) {
	r, ok := c.(iauth.GitHubReader)
	if !ok {
		return "", notOf(GitHubProvider, c)
	}
	if token, ok = r.GitHubToken(); !ok {
		return "", notOf(GitHubProvider, nil)
	}
	return token, nil
}

func notOf(provider string, c Credentials) error {
	if c == nil {
		return fmt.Errorf("no %s credentials were resolved: the resource provider's Auth method must return %q", provider, provider)
	}
	return fmt.Errorf("these are not %s credentials (they come from %s); the resource provider's Auth method must return %q", provider, c.Source(), provider)
}
