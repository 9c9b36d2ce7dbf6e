// Package cfapi is alchemy's small, typed client for the Cloudflare REST API v4
// (https://api.cloudflare.com/client/v4).
//
// It exists for two jobs:
//
//   - checking a credential before a profile stores it (VerifyToken,
//     VerifyAccountToken, User, Accounts, Account), with IsRejected and
//     IsUnreachable telling the caller whether to refuse the secret or to
//     store it with a warning;
//   - giving later resource code (KV, R2, Workers, D1, DNS) one place that
//     speaks the v4 envelope: Do sends a request, unwraps
//     {"success","errors","messages","result","result_info"} and returns
//     every failure as a classified error.
//
// Secrets never leave through errors: the API token, the global API key and
// the OAuth token are scrubbed from every error string this package builds,
// including messages a server sends back. The account e-mail is not secret
// and may appear.
//
// Only the standard library is used; cloudflare-go is deliberately not a
// dependency.
package cfapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy/internal/cloudflare/cfcred"
)

// DefaultBaseURL is the production API root. Paths given to Do are appended
// to it, so it carries the "/client/v4" prefix.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// UserAgent is sent with every request.
const UserAgent = "alchemy-go"

// DefaultTimeout bounds a whole request when New builds the HTTP client.
const DefaultTimeout = 30 * time.Second

// maxBodyBytes caps how much of a response body is read. Listing endpoints
// are paginated, so a legitimate page is far below this.
const maxBodyBytes = 32 << 20

// Auth holds exactly one credential style (cfcred.Auth, which the public
// auth package also uses without linking this client).
type Auth = cfcred.Auth

// Client talks to one Cloudflare API base URL with one credential. It is safe
// for concurrent use.
type Client struct {
	base *url.URL
	auth Auth
	hc   *http.Client
	// baseErr is set when baseURL could not be parsed; every call returns it.
	baseErr error
}

// New returns a client for baseURL ("" means DefaultBaseURL) using auth.
// A nil hc gets a fresh http.Client with a DefaultTimeout timeout.
func New(baseURL string, auth Auth, hc *http.Client) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	c := &Client{auth: auth, hc: hc}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	switch {
	case err != nil:
		// url.Parse errors quote the input; the base URL holds no secret but
		// keep the message short anyway.
		c.baseErr = fmt.Errorf("cfapi: invalid base URL: %w", errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		c.baseErr = fmt.Errorf("cfapi: invalid base URL %q: want http(s)://host[/path]", baseURL)
	default:
		c.base = u
	}
	return c
}

// BaseURL returns the API root the client sends requests to.
func (c *Client) BaseURL() string {
	if c.base == nil {
		return ""
	}
	return c.base.String()
}

// AuthKind reports the credential style in use; see Auth.Kind.
func (c *Client) AuthKind() string { return c.auth.Kind() }

// ResultInfo is the envelope's pagination block. Page-based endpoints fill
// Page, PerPage, Count, TotalCount and TotalPages; cursor-based ones (for
// example Workers KV key listings) fill Count and Cursor.
type ResultInfo struct {
	Page       int    `json:"page"`
	PerPage    int    `json:"per_page"`
	Count      int    `json:"count"`
	TotalCount int    `json:"total_count"`
	TotalPages int    `json:"total_pages"`
	Cursor     string `json:"cursor,omitempty"`
}

// RawBody lets Do send a body that is not JSON (for example a multipart
// Worker upload). Do sends Reader as is with the given Content-Type.
type RawBody struct {
	ContentType string
	Reader      io.Reader
}

// envelope is the v4 response wrapper.
type envelope struct {
	Success    *bool           `json:"success"`
	Errors     []ErrorDetail   `json:"errors"`
	Messages   []ErrorDetail   `json:"messages"`
	Result     json.RawMessage `json:"result"`
	ResultInfo *ResultInfo     `json:"result_info"`
}

// Do sends method path (relative to the base URL, starting with "/") with the
// given query and body, and decodes the envelope's "result" into result when
// result is non-nil.
//
// body may be nil (no body), a RawBody, an io.Reader (sent as
// application/octet-stream), a []byte or json.RawMessage (sent as JSON
// verbatim), or any other value (JSON-encoded).
//
// It returns the envelope's result_info (nil when absent). Every failure is
// an error that IsRejected / IsUnreachable can classify: *APIError when the
// API answered with success:false, a non-2xx status, or a body that is not
// an envelope; a transport error otherwise. No error string contains the
// credential.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any, result any) (*ResultInfo, error) {
	if c.baseErr != nil {
		return nil, c.baseErr
	}
	if kind := c.auth.Kind(); kind == "ambiguous" {
		return nil, ErrAmbiguousAuth
	}
	if err := c.checkHeaderValues(); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("cfapi: path %q must start with \"/\"", path)
	}

	u := *c.base
	// Paths may carry escaped IDs; keep them escaped on the wire.
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		return nil, fmt.Errorf("cfapi: invalid path %q", path)
	}
	u.Path = c.base.Path + unescaped
	u.RawPath = c.base.EscapedPath() + path
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}

	reqBody, contentType, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reqBody)
	if err != nil {
		return nil, c.scrub(fmt.Errorf("cfapi: building request: %w", err))
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c.auth.SetHeaders(req.Header)

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.scrub(&TransportError{Method: method, Path: path, Err: err})
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, c.scrub(&TransportError{Method: method, Path: path, Err: err})
	}
	if len(raw) > maxBodyBytes {
		return nil, c.apiError(resp, method, path, nil, "response body larger than 32 MiB")
	}

	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Success == nil {
		return nil, c.apiError(resp, method, path, nil, "response is not a Cloudflare API envelope: "+snippet(raw))
	}
	if !*env.Success || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.apiError(resp, method, path, env.Errors, "")
	}
	if result != nil && len(env.Result) > 0 && string(env.Result) != "null" {
		if err := json.Unmarshal(env.Result, result); err != nil {
			return env.ResultInfo, c.scrub(fmt.Errorf("cfapi: %s %s: decoding result: %w", method, path, err))
		}
	}
	return env.ResultInfo, nil
}

// checkHeaderValues refuses credentials that cannot be sent as header values.
// net/http would refuse them too, but a local, classified error is clearer.
func (c *Client) checkHeaderValues() error {
	for name, v := range map[string]string{
		"API token":   c.auth.APIToken,
		"OAuth token": c.auth.OAuthToken,
		"API key":     c.auth.APIKey,
		"e-mail":      c.auth.Email,
	} {
		if v == "" {
			continue
		}
		if v != strings.TrimSpace(v) {
			return &CredentialFormatError{What: name, Reason: "has leading or trailing whitespace"}
		}
		for i := 0; i < len(v); i++ {
			if b := v[i]; b < 0x20 || b == 0x7f {
				return &CredentialFormatError{What: name, Reason: "contains control characters"}
			}
		}
	}
	return nil
}

func encodeBody(body any) (io.Reader, string, error) {
	switch b := body.(type) {
	case nil:
		return nil, "", nil
	case RawBody:
		return b.Reader, b.ContentType, nil
	case *RawBody:
		return b.Reader, b.ContentType, nil
	case json.RawMessage:
		return bytes.NewReader(b), "application/json", nil
	case []byte:
		return bytes.NewReader(b), "application/json", nil
	case io.Reader:
		return b, "application/octet-stream", nil
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, "", fmt.Errorf("cfapi: encoding request body: %w", err)
		}
		return bytes.NewReader(data), "application/json", nil
	}
}

func (c *Client) apiError(resp *http.Response, method, path string, details []ErrorDetail, note string) error {
	e := &APIError{
		StatusCode: resp.StatusCode,
		Errors:     details,
		Method:     method,
		Path:       path,
		Note:       note,
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	// Messages come from the server; scrub them in place so that even the
	// structured fields never carry a secret echoed back.
	for i := range e.Errors {
		e.Errors[i].Message = redact(e.Errors[i].Message, c.auth.Secrets())
		for j := range e.Errors[i].ErrorChain {
			e.Errors[i].ErrorChain[j].Message = redact(e.Errors[i].ErrorChain[j].Message, c.auth.Secrets())
		}
	}
	e.Note = redact(e.Note, c.auth.Secrets())
	return e
}

// scrub wraps err so that its message has every secret replaced. errors.Is
// and errors.As still see the original chain.
func (c *Client) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := redact(msg, c.auth.Secrets())
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// snippet returns a short, printable excerpt of a body for error messages.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty body)"
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	const max = 120
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
