package auth

import "time"

// The built-in providers' credentials as the public auth package reads
// them (auth.Cloudflare, auth.AWS, auth.GitHub). Each provider's
// Credentials give their values through a method, so that reading them
// needs no import of the provider: a stack program links only the
// providers its resources use.

// CloudflareValues are Cloudflare credentials: exactly one of APIToken,
// APIKey (with Email) or OAuthToken is set.
type CloudflareValues struct {
	AccountID, APIToken, APIKey, Email, OAuthToken string
	ExpiresAt                                      time.Time
}

// AWSValues are AWS keys, the region to act in and the account once STS
// has confirmed it.
type AWSValues struct {
	AccessKeyID, SecretAccessKey, SessionToken, Region, AccountID string
	ExpiresAt                                                     time.Time
}

// CloudflareReader is implemented by the Cloudflare provider's
// credentials; ok is false for a nil pointer.
type CloudflareReader interface {
	CloudflareValues() (v CloudflareValues, ok bool)
}

// AWSReader is implemented by the AWS provider's credentials.
type AWSReader interface {
	AWSValues() (v AWSValues, ok bool)
}

// GitHubReader is implemented by the GitHub provider's credentials.
type GitHubReader interface {
	GitHubToken() (token string, ok bool)
}
