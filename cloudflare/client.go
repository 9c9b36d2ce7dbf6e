// Package cloudflare has Cloudflare resources: Workers KV namespaces, R2
// buckets, D1 databases, DNS records and Workers. Their calls use the
// "Cloudflare" auth provider's credentials and the account they name;
// CLOUDFLARE_BASE_URL overrides the API root (tests point it at a fake).
//
// Every provider here can Read what it manages, so the engine, not the
// provider, decides whether something found under a resource's name may be
// taken over or deleted: Create never takes anything over (a name already
// taken is an error wrapping alchemy.ErrAlreadyExists). KV namespaces, R2
// buckets and D1 databases carry no tags: only a generated name proves one
// is this stack's. DNS records carry an ownership marker in their comment,
// Workers ownership tags.
package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"github.com/alchemy-go/alchemy"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	authcf "github.com/alchemy-go/alchemy/internal/auth/cloudflare"
	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
)

// authName is the auth provider every resource here needs.
const authName = "Cloudflare"

// Retry policy for transient failures (429, 5xx, network errors), as the
// TypeScript tool's Cloudflare layer: exponential from 250 ms, doubling,
// capped at 5 s, jittered, at most 8 tries; a 429 waits at least 500 ms.
// 4xx answers are never retried. Tests shrink these.
var (
	retryBase  = 250 * time.Millisecond
	retryCap   = 5 * time.Second
	retryFloor = 500 * time.Millisecond // 429
	maxTries   = 8
)

// client is the API client of one call, bound to the credentials' account.
type client struct {
	api     *cfapi.Client
	account string
}

func newClient(creds auth.Credentials) (*client, error) {
	cf, ok := creds.(*authcf.Credentials)
	if !ok || cf == nil {
		return nil, fmt.Errorf("no Cloudflare credentials were resolved for this resource (got %T); run `alchemy login` or set CI=1 with CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID", creds)
	}
	if cf.AccountID == "" {
		return nil, errors.New("the Cloudflare credentials name no account: set CLOUDFLARE_ACCOUNT_ID or re-run `alchemy login`")
	}
	base := os.Getenv("CLOUDFLARE_BASE_URL")
	if base == "" {
		base = cfapi.DefaultBaseURL
	}
	return &client{api: cfapi.New(base, cf.APIAuth(), nil), account: cf.AccountID}, nil
}

// accountPath is "/accounts/{account_id}" + rest.
func (c *client) accountPath(rest string) string {
	return "/accounts/" + url.PathEscape(c.account) + rest
}

// do is cfapi's Do with retries of transient failures. Bodies are values
// re-encoded on every try. A create retried after a lost answer may find
// its own first attempt: Create then returns an error wrapping
// alchemy.ErrAlreadyExists, and the engine reads what is there and decides
// (the resource's Read says it is this resource's: its generated name, its
// stamp, or this row's claimed create).
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, result any) (*cfapi.ResultInfo, error) {
	lost := false
	for try := 1; ; try++ {
		info, err := c.api.Do(ctx, method, path, query, body, result)
		if err == nil || try >= maxTries || !cfapi.IsUnreachable(err) || ctx.Err() != nil {
			if err != nil && lost && method == http.MethodPost {
				// An earlier attempt got no answer and may have created
				// what this one is told already exists.
				err = &maybeCreated{err}
			}
			return info, err
		}
		lost = true
		if err := sleep(ctx, backoff(try, err)); err != nil {
			return nil, err
		}
	}
}

// maybeCreated is an error of a POST retried after an attempt that got no
// answer: it wraps alchemy.ErrMaybeCreated too.
type maybeCreated struct{ err error }

func (e *maybeCreated) Error() string   { return e.err.Error() }
func (e *maybeCreated) Unwrap() []error { return []error{e.err, alchemy.ErrMaybeCreated} }

// backoff is the wait before try+1: retryBase·2^(try-1), capped, with
// jitter in [d/2, d]; at least retryFloor after a 429 and at least the
// server's Retry-After.
func backoff(try int, err error) time.Duration {
	d := retryBase << (try - 1)
	if d > retryCap || d <= 0 {
		d = retryCap
	}
	d = d/2 + rand.N(d/2+1)
	var ae *cfapi.APIError
	if errors.As(err, &ae) {
		if ae.StatusCode == http.StatusTooManyRequests && d < retryFloor {
			d = retryFloor
		}
		if ae.RetryAfter > d {
			d = min(ae.RetryAfter, retryCap)
		}
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hasCode reports whether err is an API answer carrying code.
func hasCode(err error, codes ...int) bool {
	var ae *cfapi.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.HasCode(c) {
			return true
		}
	}
	return false
}

// isGone reports whether err says the resource does not exist: one of the
// API's not-found codes, or any 404.
func isGone(err error, codes ...int) bool {
	return err != nil && (hasCode(err, codes...) || isStatus(err, http.StatusNotFound))
}

// isStatus reports whether err is an API answer with HTTP status code.
func isStatus(err error, status int) bool {
	var ae *cfapi.APIError
	return errors.As(err, &ae) && ae.StatusCode == status
}
