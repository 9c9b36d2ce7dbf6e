package cloudflarefake

import (
	"fmt"
	"time"
)

type account struct {
	id, name  string
	createdOn time.Time
}

type user struct {
	id, email string
	createdOn time.Time
}

// TokenOptions describes a registered API token.
type TokenOptions struct {
	// ID is the token's identifier tag (returned by verify); generated when
	// empty.
	ID string
	// Status is "active" (the default), "disabled" or "expired".
	Status string
	// AccountID, when set, makes this an account-owned token of that account.
	// It can then only see that account, and the user endpoints refuse it.
	AccountID string
	// Accounts limits which accounts a user token can see; empty means all
	// registered accounts. Ignored for account-owned tokens.
	Accounts []string
	// NoAccounts makes a user token that can see no account (one whose
	// account resources were all removed): it verifies, and GET /accounts
	// answers an empty list.
	NoAccounts bool
	// UserEmail is the user a user token belongs to (GET /user). Registered
	// with a generated ID if AddUser was not called for it.
	UserEmail string
	// ExpiresOn, when set, is returned by verify; once it has passed the
	// token's status becomes "expired".
	ExpiresOn time.Time
	// NotBefore, when set, is returned by verify.
	NotBefore time.Time
}

type token struct {
	opts TokenOptions
}

// status is the token's effective status now.
func (t *token) status(now time.Time) string {
	if t.opts.Status == "active" && !t.opts.ExpiresOn.IsZero() && !now.Before(t.opts.ExpiresOn) {
		return "expired"
	}
	return t.opts.Status
}

func (t *token) accountOwned() bool { return t.opts.AccountID != "" }

type globalKey struct {
	email, key string
	accounts   []string
}

func (s *Server) nextID() string {
	s.seq++
	return fmt.Sprintf("%032x", s.seq)
}

// AddAccount registers (or renames) an account. Real account IDs are 32 hex
// digits; any ID registered here is routable.
func (s *Server) AddAccount(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[id]; ok {
		a.name = name
		return
	}
	s.accounts[id] = &account{id: id, name: name, createdOn: s.now().UTC().Truncate(time.Second)}
	s.accountOrder = append(s.accountOrder, id)
}

// AddUser registers (or re-identifies) the user with this e-mail.
func (s *Server) AddUser(id, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(id, email)
}

func (s *Server) addUserLocked(id, email string) *user {
	if u, ok := s.users[email]; ok {
		if id != "" {
			u.id = id
		}
		return u
	}
	if id == "" {
		id = s.nextID()
	}
	u := &user{id: id, email: email, createdOn: s.now().UTC().Truncate(time.Second)}
	s.users[email] = u
	return u
}

// AddToken registers an API token (replacing any token with the same value).
func (s *Server) AddToken(secret string, opts TokenOptions) {
	switch opts.Status {
	case "":
		opts.Status = "active"
	case "active", "disabled", "expired":
	default:
		panic(fmt.Sprintf("cloudflarefake: AddToken: status %q: want active, disabled or expired", opts.Status))
	}
	if secret == "" {
		panic("cloudflarefake: AddToken: empty token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if opts.ID == "" {
		opts.ID = s.nextID()
	}
	opts.Accounts = append([]string(nil), opts.Accounts...)
	if opts.UserEmail != "" && !opts.accountOwned() {
		s.addUserLocked("", opts.UserEmail)
	}
	s.tokens[secret] = &token{opts: opts}
}

func (o TokenOptions) accountOwned() bool { return o.AccountID != "" }

// RevokeToken forgets a token: from then on the API treats it as unknown
// (verify answers 401, code 1000).
func (s *Server) RevokeToken(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, secret)
}

// AddGlobalKey registers a global API key for email (and the user, if not
// registered yet). accounts limits what the key can see; none means all.
func (s *Server) AddGlobalKey(email, key string, accounts ...string) {
	if email == "" || key == "" {
		panic("cloudflarefake: AddGlobalKey: empty e-mail or key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked("", email)
	s.keys[email] = &globalKey{email: email, key: key, accounts: append([]string(nil), accounts...)}
}

// visibleAccounts returns the accounts p can see, in registration order.
func (s *Server) visibleAccounts(p *principal) []*account {
	var allow []string
	switch {
	case p.token != nil && p.token.accountOwned():
		allow = []string{p.token.opts.AccountID}
	case p.token != nil && p.token.opts.NoAccounts:
		return nil
	case p.token != nil:
		allow = p.token.opts.Accounts
	case p.key != nil:
		allow = p.key.accounts
	}
	var out []*account
	for _, id := range s.accountOrder {
		if len(allow) > 0 && !contains(allow, id) {
			continue
		}
		out = append(out, s.accounts[id])
	}
	return out
}

func (s *Server) canSeeAccount(p *principal, id string) bool {
	for _, a := range s.visibleAccounts(p) {
		if a.id == id {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TrustOAuth makes the fake accept OAuth access tokens that valid reports as
// live (an authorization server's introspection), as Cloudflare accepts the
// tokens of its own OAuth server as bearer tokens. opts says what such a
// token can see (its Status is forced to "active").
func (s *Server) TrustOAuth(valid func(accessToken string) bool, opts TokenOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	opts.Status = "active"
	if opts.ID == "" {
		opts.ID = "oauth"
	}
	s.oauthValid, s.oauthOpts = valid, opts
}
