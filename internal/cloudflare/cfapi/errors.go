package cfapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrAmbiguousAuth is returned by every call when Auth sets more than one
// credential style. Nothing is sent.
var ErrAmbiguousAuth = errors.New("cfapi: more than one credential style set (use exactly one of API token, API key + e-mail, OAuth token)")

// ErrNotTokenAuth is returned by VerifyToken and VerifyAccountToken when the
// client does not hold a bearer credential. The verify endpoints only accept
// "Authorization: Bearer"; the real API answers a global API key there with
// HTTP 400, code 1001 `Missing "Authorization" header`. Use User to check a
// global API key.
var ErrNotTokenAuth = errors.New("cfapi: token verification needs an API token (check a global API key with User)")

// ErrorDetail is one entry of the envelope's "errors" (or "messages") array.
// Malformed-header errors (code 6003) carry the precise cause in ErrorChain,
// for example 6111 "Invalid format for Authorization header".
type ErrorDetail struct {
	Code       int           `json:"code"`
	Message    string        `json:"message"`
	ErrorChain []ErrorDetail `json:"error_chain,omitempty"`
}

func (d ErrorDetail) String() string {
	s := fmt.Sprintf("code %d: %s", d.Code, d.Message)
	if len(d.ErrorChain) > 0 {
		parts := make([]string, len(d.ErrorChain))
		for i, c := range d.ErrorChain {
			parts[i] = c.String()
		}
		s += " (" + strings.Join(parts, "; ") + ")"
	}
	return s
}

// APIError is an answer from the API that is not a success: success:false,
// a non-2xx status, or a body that is not a v4 envelope (for example the HTML
// page of a 502 from the edge).
type APIError struct {
	StatusCode int
	Errors     []ErrorDetail
	// Method and Path identify the request (Path is relative to the base URL).
	Method, Path string
	// Note explains a body that could not be read as an envelope.
	Note string
	// RetryAfter is the server's Retry-After, when it sent one in seconds.
	RetryAfter time.Duration
}

// Error renders, for example,
// "cloudflare API: 401 Unauthorized: code 1000: Invalid API Token".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("cloudflare API: ")
	fmt.Fprintf(&b, "%d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	switch {
	case len(e.Errors) > 0:
		parts := make([]string, len(e.Errors))
		for i, d := range e.Errors {
			parts[i] = d.String()
		}
		b.WriteString(": " + strings.Join(parts, "; "))
	case e.Note != "":
		b.WriteString(": " + e.Note)
	default:
		b.WriteString(": no error details in response")
	}
	return b.String()
}

// HasCode reports whether the API returned code, at the top level or in an
// error chain.
func (e *APIError) HasCode(code int) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
		for _, c := range d.ErrorChain {
			if c.Code == code {
				return true
			}
		}
	}
	return false
}

// TransportError is a request that got no HTTP answer: DNS failure,
// connection refused or reset, TLS failure, timeout, cancellation.
type TransportError struct {
	Method, Path string
	Err          error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("cloudflare API: %s %s: %v", e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// CredentialFormatError is a credential refused locally, before sending,
// because it cannot be a valid header value. The real API answers such
// values with HTTP 400, code 6003 and chain 6111/6102/6103 "Invalid format
// for ... header".
type CredentialFormatError struct {
	What   string // "API token", "API key", "OAuth token", "e-mail"
	Reason string
}

func (e *CredentialFormatError) Error() string {
	return fmt.Sprintf("cfapi: the %s %s", e.What, e.Reason)
}

// InactiveTokenError is returned with a populated TokenStatus when the verify
// endpoint answers success but the token's status is not "active"
// ("disabled" or "expired"): the token exists but cannot be used.
type InactiveTokenError struct {
	ID     string
	Status string
}

func (e *InactiveTokenError) Error() string {
	return fmt.Sprintf("cloudflare API: token %s is %s", e.ID, e.Status)
}

// authCodes are envelope error codes that mean "this credential was refused".
// Sources (looked up, not guessed):
//
//	1000  "Invalid API Token" — GET /user/tokens/verify with an unknown token,
//	      HTTP 401 (favonia/cloudflare-ddns
//	      scripts/github-actions/cloudflare-verify-contract/config/verify-contract.json,
//	      live snapshot 2026-03-22); also what account-owned tokens get there.
//	6102, 6103, 6111  chained under 6003 "Invalid request headers", HTTP 400:
//	      malformed X-Auth-Email / X-Auth-Key / Authorization header (same
//	      contract file; ddclient/ddclient#262, NewFuture/DDNS#152).
//	9103  "Unknown X-Auth-Key or X-Auth-Email", HTTP 403 — wrong global key
//	      or e-mail (saltyorg/docs docs/faq/Cloudflare.md: "Status: 403 ...
//	      code: 9103").
//	9106, 9107  "Missing X-Auth-Email header" / "Missing X-Auth-Key header",
//	      HTTP 403 — no credential at all.
//	9109  "Invalid access token", HTTP 403 — unknown token on a general
//	      endpoint such as /zones (favonia/cloudflare-ddns
//	      cloudflare-auth-error-watch/cases.go, snapshot 2026-06-30); the same
//	      code also reads "Unauthorized to access requested resource".
//	10000 "Authentication error", HTTP 401 — unknown token on account
//	      service endpoints such as /accounts/{id}/rules/lists (same file).
var authCodes = map[int]bool{
	1000: true, 6102: true, 6103: true, 6111: true,
	9103: true, 9106: true, 9107: true, 9109: true, 10000: true,
}

// IsRejected reports whether err means the API refused the credential, so
// the caller must not store it: HTTP 401 or 403, an authentication error code
// (see authCodes), a token whose status is not active, or a credential that
// cannot even be sent.
func IsRejected(err error) bool {
	if err == nil {
		return false
	}
	var fe *CredentialFormatError
	if errors.As(err, &fe) {
		return true
	}
	var ie *InactiveTokenError
	if errors.As(err, &ie) {
		return true
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	if ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden {
		return true
	}
	if ae.StatusCode >= 500 || ae.StatusCode == http.StatusTooManyRequests {
		return false
	}
	for code := range authCodes {
		if ae.HasCode(code) {
			return true
		}
	}
	return false
}

// IsUnreachable reports whether err means the API could not give an answer
// about the credential, so the caller may store it with a warning: a network
// error (DNS, connection refused or reset, TLS), a timeout, a 5xx, or a 429
// rate limit. A context cancelled by the caller is not "unreachable": the
// operation was abandoned, and the caller should treat it as such.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 500 || ae.StatusCode == http.StatusTooManyRequests
	}
	return false
}
