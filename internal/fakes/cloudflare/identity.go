package cloudflarefake

import (
	"net/http"
	"strconv"
	"time"
)

// Token verify, user and account endpoints.

type tokenVerifyResult struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	ExpiresOn string `json:"expires_on,omitempty"`
	NotBefore string `json:"not_before,omitempty"`
}

func (s *Server) verifyResult(t *token) reply {
	res := tokenVerifyResult{ID: t.opts.ID, Status: t.status(s.now())}
	if !t.opts.ExpiresOn.IsZero() {
		res.ExpiresOn = t.opts.ExpiresOn.UTC().Format(time.RFC3339)
	}
	if !t.opts.NotBefore.IsZero() {
		res.NotBefore = t.opts.NotBefore.UTC().Format(time.RFC3339)
	}
	if res.Status == "active" {
		return ok(res, msgTokenActive)
	}
	return ok(res)
}

// GET /user/tokens/verify: user-owned tokens only.
func (s *Server) verifyUserToken(c *call) reply {
	t := c.p.token
	if t == nil || t.accountOwned() {
		return fail(http.StatusUnauthorized, errInvalidAPIToken)
	}
	return s.verifyResult(t)
}

// GET /accounts/{account_id}/tokens/verify: account-owned tokens of that
// account only.
func (s *Server) verifyAccountToken(c *call) reply {
	t := c.p.token
	if t == nil || t.opts.AccountID != c.r.PathValue("account_id") {
		return fail(http.StatusUnauthorized, errInvalidAPIToken)
	}
	return s.verifyResult(t)
}

type userJSON struct {
	ID                             string  `json:"id"`
	Email                          string  `json:"email"`
	Username                       string  `json:"username"`
	FirstName                      *string `json:"first_name"`
	LastName                       *string `json:"last_name"`
	TwoFactorAuthenticationEnabled bool    `json:"two_factor_authentication_enabled"`
	Suspended                      bool    `json:"suspended"`
	CreatedOn                      string  `json:"created_on"`
	ModifiedOn                     string  `json:"modified_on"`
}

// GET /user
func (s *Server) getUser(c *call) reply {
	var email string
	switch {
	case c.p.key != nil:
		email = c.p.key.email
	case c.p.token != nil && !c.p.token.accountOwned():
		email = c.p.token.opts.UserEmail
	}
	u := s.users[email]
	if email == "" || u == nil {
		return fail(http.StatusForbidden, errUnauthorizedResource)
	}
	created := u.createdOn.Format(time.RFC3339)
	return ok(userJSON{
		ID:         u.id,
		Email:      u.email,
		Username:   u.id,
		CreatedOn:  created,
		ModifiedOn: created,
	})
}

type accountJSON struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	Settings  accountSettings `json:"settings"`
	CreatedOn string          `json:"created_on"`
}

type accountSettings struct {
	EnforceTwofactor bool `json:"enforce_twofactor"`
}

func toAccountJSON(a *account) accountJSON {
	return accountJSON{ID: a.id, Name: a.name, Type: "standard", CreatedOn: a.createdOn.Format(time.RFC3339)}
}

// Page sizes of GET /accounts (developers.cloudflare.com/api/go/resources/accounts/methods/list:
// per_page minimum 5, maximum 50; default 20).
const (
	accountsDefaultPerPage = 20
	accountsMinPerPage     = 5
	accountsMaxPerPage     = 50
)

// GET /accounts
func (s *Server) listAccounts(c *call) reply {
	if c.p.token != nil && c.p.token.accountOwned() {
		return fail(http.StatusBadRequest, errListAccountsAcctTok)
	}
	q := c.r.URL.Query()
	page := atoiDefault(q.Get("page"), 1)
	if page < 1 {
		page = 1
	}
	perPage := atoiDefault(q.Get("per_page"), accountsDefaultPerPage)
	perPage = min(max(perPage, accountsMinPerPage), accountsMaxPerPage)

	visible := s.visibleAccounts(c.p)
	total := len(visible)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	result := make([]accountJSON, 0, end-start)
	for _, a := range visible[start:end] {
		result = append(result, toAccountJSON(a))
	}
	return okList(result, resultInfo{
		Page:       page,
		PerPage:    perPage,
		Count:      len(result),
		TotalCount: total,
		TotalPages: (total + perPage - 1) / perPage,
	})
}

// GET /accounts/{account_id}
func (s *Server) getAccount(c *call) reply {
	id := c.r.PathValue("account_id")
	if s.accounts[id] == nil || !s.canSeeAccount(c.p, id) {
		return fail(http.StatusForbidden, errUnauthorizedResource)
	}
	return ok(toAccountJSON(s.accounts[id]))
}

func atoiDefault(s string, def int) int {
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
