// Package cfcred is how a Cloudflare API request is authenticated: the
// credential styles and their headers. cfapi sends requests with it; the
// public auth package sets the same headers for a provider's own client
// without linking cfapi.
package cfcred

import "net/http"

// Auth holds exactly one credential style.
//
//   - APIToken: an API token (user-owned or account-owned), sent as
//     "Authorization: Bearer <token>".
//   - APIKey + Email: the legacy global API key, sent as "X-Auth-Key" and
//     "X-Auth-Email".
//   - OAuthToken: an OAuth access token (as obtained by an OAuth login), sent
//     as a bearer exactly like APIToken.
//
// Setting more than one style makes every cfapi call fail with ErrAmbiguousAuth
// before anything is sent. Setting none sends no credential headers (the API
// then answers with its "missing header" errors).
type Auth struct {
	APIToken   string
	APIKey     string
	Email      string
	OAuthToken string
}

// Kind names the credential style in use: "token", "oauth", "key" or "none".
// It returns "ambiguous" when more than one style is set.
func (a Auth) Kind() string {
	n := 0
	kind := "none"
	if a.APIToken != "" {
		n++
		kind = "token"
	}
	if a.OAuthToken != "" {
		n++
		kind = "oauth"
	}
	if a.APIKey != "" || a.Email != "" {
		n++
		kind = "key"
	}
	if n > 1 {
		return "ambiguous"
	}
	return kind
}

// Bearer returns the bearer credential, if the style is token or oauth.
func (a Auth) Bearer() string {
	if a.APIToken != "" {
		return a.APIToken
	}
	return a.OAuthToken
}

// SetHeaders sets the headers that authenticate a request in a's style
// (none when it is "none" or "ambiguous").
func (a Auth) SetHeaders(h http.Header) {
	switch a.Kind() {
	case "token", "oauth":
		h.Set("Authorization", "Bearer "+a.Bearer())
	case "key":
		h.Set("X-Auth-Email", a.Email)
		h.Set("X-Auth-Key", a.APIKey)
	}
}

// Secrets lists the values that must never appear in an error string.
func (a Auth) Secrets() []string {
	var s []string
	for _, v := range []string{a.APIToken, a.APIKey, a.OAuthToken} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}
