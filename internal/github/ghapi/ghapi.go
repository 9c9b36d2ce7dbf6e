// Package ghapi is alchemy's minimal GitHub REST API client: it checks a
// GitHub token before a profile stores it, by asking who the token belongs
// to (GET /user, "Get the authenticated user",
// docs.github.com/rest/users/users).
//
// IsRejected and IsUnreachable tell the caller whether to refuse the token or
// to store it with a warning. The token never appears in an error string.
package ghapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is the public GitHub API root. GitHub Enterprise Server uses
// https://HOSTNAME/api/v3.
const DefaultBaseURL = "https://api.github.com"

// APIVersion is sent as X-GitHub-Api-Version.
const APIVersion = "2022-11-28"

// UserAgent is sent with every request (GitHub rejects requests without one).
const UserAgent = "alchemy-go"

// DefaultTimeout bounds a request when no http.Client is given.
const DefaultTimeout = 30 * time.Second

// User is the subset of the authenticated user that alchemy uses.
type User struct {
	Login string
	ID    int64
}

// APIError is a non-2xx answer from GitHub. Its body is
// {"message","documentation_url","status"}, for example 401
// {"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}.
type APIError struct {
	StatusCode       int
	Message          string
	DocumentationURL string
	// RateLimited is set when the answer is a (primary or secondary) rate
	// limit rather than a refusal of the token.
	RateLimited bool
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("github API: %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// TransportError is a request that got no HTTP answer.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return "github API: GET /user: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// ErrEmptyToken is returned, without sending anything, for an empty token.
var ErrEmptyToken = errors.New("github API: empty token")

// ErrTokenFormat is returned, without sending anything, for a token holding
// whitespace or control characters: it cannot be valid. IsRejected is true.
var ErrTokenFormat = errors.New("github API: token contains whitespace or control characters")

// CurrentUser returns the user token authenticates as, with
// GET {baseURL}/user. baseURL "" means DefaultBaseURL; hc nil means a client
// with DefaultTimeout.
func CurrentUser(ctx context.Context, hc *http.Client, baseURL, token string) (User, error) {
	if token == "" {
		return User{}, ErrEmptyToken
	}
	if strings.ContainsAny(token, " \t\r\n") || strings.IndexFunc(token, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		// Cannot be a valid token, and cannot be sent as a header value.
		return User{}, ErrTokenFormat
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/") + "/user")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return User{}, fmt.Errorf("github API: invalid base URL %q", baseURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return User{}, scrub(fmt.Errorf("github API: building request: %w", err), token)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	req.Header.Set("User-Agent", UserAgent)

	resp, err := hc.Do(req)
	if err != nil {
		return User{}, scrub(&TransportError{Err: err}, token)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return User{}, scrub(&TransportError{Err: err}, token)
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{StatusCode: resp.StatusCode}
		var msg struct {
			Message          string `json:"message"`
			DocumentationURL string `json:"documentation_url"`
		}
		if json.Unmarshal(body, &msg) == nil {
			e.Message = redact(msg.Message, token)
			e.DocumentationURL = msg.DocumentationURL
		} else {
			e.Message = "response is not JSON"
		}
		e.RateLimited = resp.StatusCode == http.StatusTooManyRequests ||
			(resp.StatusCode == http.StatusForbidden &&
				(resp.Header.Get("X-RateLimit-Remaining") == "0" ||
					resp.Header.Get("Retry-After") != "" ||
					strings.Contains(strings.ToLower(msg.Message), "rate limit")))
		return User{}, e
	}

	var out struct {
		Login string `json:"login"`
		ID    int64  `json:"id"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Login == "" {
		return User{}, &APIError{StatusCode: resp.StatusCode, Message: "response is not a GitHub user object"}
	}
	return User{Login: out.Login, ID: out.ID}, nil
}

// IsRejected reports whether GitHub refused the token: 401 (bad or expired
// credentials), or a 403 that is not a rate limit; also an empty or
// malformed token refused locally. The caller must not store the token.
func IsRejected(err error) bool {
	if errors.Is(err, ErrEmptyToken) || errors.Is(err, ErrTokenFormat) {
		return true
	}
	var e *APIError
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case e.RateLimited:
		return false
	case e.StatusCode == http.StatusUnauthorized, e.StatusCode == http.StatusForbidden:
		return true
	}
	return false
}

// IsUnreachable reports whether GitHub gave no verdict on the token: a
// network error, a timeout, a 5xx, or a rate limit. The caller may store the
// token with a warning. A context cancelled by the caller is not
// "unreachable".
func IsUnreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	var e *APIError
	if errors.As(err, &e) {
		return e.StatusCode >= 500 || e.RateLimited
	}
	return false
}

func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[REDACTED]")
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func scrub(err error, token string) error {
	msg := err.Error()
	if clean := redact(msg, token); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}
