package cfapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// TokenStatus is the result of a token verify call.
type TokenStatus struct {
	ID string
	// Status is "active", "disabled" or "expired" (the documented enum of
	// GET /user/tokens/verify).
	Status    string
	ExpiresOn *time.Time
	NotBefore *time.Time
}

// Active reports whether the token can be used.
func (t TokenStatus) Active() bool { return t.Status == "active" }

// User is the subset of GET /user that alchemy uses.
type User struct {
	ID    string
	Email string
}

// Account is the subset of an account object that alchemy uses.
type Account struct {
	ID   string
	Name string
}

type tokenStatusJSON struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	ExpiresOn *time.Time `json:"expires_on,omitempty"`
	NotBefore *time.Time `json:"not_before,omitempty"`
}

func (t tokenStatusJSON) status() TokenStatus {
	return TokenStatus{ID: t.ID, Status: t.Status, ExpiresOn: t.ExpiresOn, NotBefore: t.NotBefore}
}

// VerifyToken checks a user-owned API token (or OAuth token) with
// GET /user/tokens/verify.
//
// An unknown or revoked token, and an account-owned token, are answered by
// the API with HTTP 401, code 1000 "Invalid API Token" (IsRejected). A token
// that exists but is "disabled" or "expired" is returned with its status and
// an *InactiveTokenError (IsRejected). With a global API key it returns
// ErrNotTokenAuth without sending anything.
func (c *Client) VerifyToken(ctx context.Context) (TokenStatus, error) {
	return c.verify(ctx, "/user/tokens/verify")
}

// VerifyAccountToken checks an account-owned API token with
// GET /accounts/{accountID}/tokens/verify. Errors are as for VerifyToken.
func (c *Client) VerifyAccountToken(ctx context.Context, accountID string) (TokenStatus, error) {
	if accountID == "" {
		return TokenStatus{}, fmt.Errorf("cfapi: VerifyAccountToken: empty account ID")
	}
	return c.verify(ctx, "/accounts/"+url.PathEscape(accountID)+"/tokens/verify")
}

func (c *Client) verify(ctx context.Context, path string) (TokenStatus, error) {
	switch c.auth.Kind() {
	case "token", "oauth":
	case "ambiguous":
		return TokenStatus{}, ErrAmbiguousAuth
	default:
		return TokenStatus{}, ErrNotTokenAuth
	}
	var res tokenStatusJSON
	if _, err := c.Do(ctx, http.MethodGet, path, nil, nil, &res); err != nil {
		return TokenStatus{}, err
	}
	ts := res.status()
	if !ts.Active() {
		return ts, &InactiveTokenError{ID: ts.ID, Status: ts.Status}
	}
	return ts, nil
}

// User returns the user the credential belongs to (GET /user). This is the
// check for a global API key (X-Auth-Email + X-Auth-Key); a wrong key or
// e-mail is HTTP 403, code 9103 (IsRejected).
func (c *Client) User(ctx context.Context) (User, error) {
	var res struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/user", nil, nil, &res); err != nil {
		return User{}, err
	}
	return User{ID: res.ID, Email: res.Email}, nil
}

// accountsPerPage is the largest page GET /accounts allows (per_page:
// minimum 5, maximum 50 — developers.cloudflare.com/api/go/resources/accounts/methods/list).
const accountsPerPage = 50

// maxPages stops a runaway pagination loop against a misbehaving server.
const maxPages = 1000

// Accounts lists every account the credential can see, following all pages
// of GET /accounts.
func (c *Client) Accounts(ctx context.Context) ([]Account, error) {
	var all []Account
	for page := 1; page <= maxPages; page++ {
		q := url.Values{}
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(accountsPerPage))
		var res []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		info, err := c.Do(ctx, http.MethodGet, "/accounts", q, nil, &res)
		if err != nil {
			return nil, err
		}
		for _, a := range res {
			all = append(all, Account{ID: a.ID, Name: a.Name})
		}
		if info == nil || len(res) == 0 || info.TotalPages <= page {
			return all, nil
		}
	}
	return nil, fmt.Errorf("cfapi: GET /accounts: more than %d pages", maxPages)
}

// Account returns one account (GET /accounts/{id}). An account the
// credential cannot see is HTTP 403, code 9109 (IsRejected).
func (c *Client) Account(ctx context.Context, id string) (Account, error) {
	if id == "" {
		return Account{}, fmt.Errorf("cfapi: Account: empty account ID")
	}
	var res struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/accounts/"+url.PathEscape(id), nil, nil, &res); err != nil {
		return Account{}, err
	}
	return Account{ID: res.ID, Name: res.Name}, nil
}
