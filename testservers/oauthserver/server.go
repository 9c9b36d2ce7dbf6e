// Command oauthserver is a real, strict OAuth 2.0 authorization server for
// tests, listening on 127.0.0.1 (started by internal/testpeers/oauthserver,
// whose Server drives it).
//
// It reproduces what our CLI talks to at dash.cloudflare.com/oauth2: plain
// OAuth 2.0 (no OpenID Connect) with the authorization code grant, PKCE
// (S256 only, required for the public client), a login form and a consent
// form, rotating single-use refresh tokens, and RFC 7009 revocation. The
// protocol work is done by github.com/ory/fosite with its in-memory store;
// this program only adds the login/consent UI, loopback redirect matching,
// counters and a few knobs (the /_test/ endpoints, see control.go).
//
// It is a program of its own, in the testservers module, so that fosite and
// its dependencies (otel, grpc, gobuffalo, ...) stay out of the SDK's go.mod
// and thus out of every user's go.sum.
//
// fosite rather than zitadel/oidc (see shared/spec/test-peers.md §4):
// zitadel refuses authorize requests without the openid scope, which
// Cloudflare's client never sends, and its example storage fixes access
// tokens at 5 minutes, while tests need to choose the lifetime.
//
// Notes on behaviour inherited from fosite:
//   - Authorize redirects (code or error) use 303 See Other, not 302.
//   - Reusing a rotated refresh token answers invalid_grant AND revokes the
//     whole token family, including the newest refresh token and its access
//     token (RFC 6819 §5.2.2.3).
//   - state must be at least 8 characters (fosite's minimum entropy).
//   - A refresh token is issued only when offline_access is granted.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
)

// Options are the flags; internal/testpeers/oauthserver documents them
// (its Options) and always passes every one.
type Options struct {
	ClientID           string
	RedirectURIs       []string // for loopback hosts any port matches (RFC 8252 §7.3), see loopbackMatch
	Scopes             []string
	AccessTTL          time.Duration // fosite rounds expiry to whole seconds
	Username, Password string
}

// Server is the authorization server. All methods are safe for concurrent
// use.
type Server struct {
	opts     Options
	store    *storage.MemoryStore
	provider fosite.OAuth2Provider

	// mu serialises every call into fosite (its memory store is not fully
	// race-free, and the knobs below walk its maps) and guards the fields.
	mu                   sync.Mutex
	pending              map[string]*pending
	exchanges, refreshes int
	revocations          int
	denyConsent          bool
	// holdRotations makes every refresh that rotated the tokens wait,
	// before its answer is written, until the test resumes it (a client
	// cancelled then has lost nothing but the answer); see control.go.
	holdRotations bool
	holds         *holds
}

// pending is an authorization request waiting for login and consent.
type pending struct {
	ar   fosite.AuthorizeRequester
	user string // set once the login form succeeded
}

// newServer makes the server that answers at baseURL
// (http://127.0.0.1:PORT).
func newServer(o Options, baseURL string) (*Server, http.Handler) {
	s := &Server{opts: o, store: storage.NewMemoryStore(), pending: map[string]*pending{}, holds: newHolds()}
	s.store.Clients[o.ClientID] = &fosite.DefaultClient{
		ID:            o.ClientID,
		Public:        true,
		RedirectURIs:  slices.Clone(o.RedirectURIs),
		ResponseTypes: []string{"code"},
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		Scopes:        slices.Clone(o.Scopes),
	}
	cfg := &fosite.Config{
		AccessTokenLifespan:            o.AccessTTL,
		GlobalSecret:                   []byte(randomHex(32)), // HMAC key, per server
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{"offline_access"},
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		TokenURL:                       baseURL + "/oauth2/token",
	}
	s.provider = compose.Compose(cfg, &loopbackStore{MemoryStore: s.store},
		compose.NewOAuth2HMACStrategy(cfg),
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2PKCEFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2TokenIntrospectionFactory,
	)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", s.authorize)
	mux.HandleFunc("POST /oauth2/login", s.login)
	mux.HandleFunc("POST /oauth2/consent", s.consent)
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("POST /oauth2/revoke", s.revoke)
	mux.HandleFunc("GET /whoami", s.whoami)
	s.control(mux)
	return s, mux
}

// tokenRequests counts POSTs to the token endpoint by grant_type, counted on
// arrival, before any validation (so rejected requests count too).
func (s *Server) tokenRequests() (exchanges, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exchanges, s.refreshes
}

// revocationCount counts POSTs to the revocation endpoint, on arrival,
// before any validation.
func (s *Server) revocationCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revocations
}

// accessTokenValid reports whether token is a known, unexpired, unrevoked
// access token (fosite token introspection).
func (s *Server) accessTokenValid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	use, _, err := s.provider.IntrospectToken(context.Background(), token, fosite.AccessToken, new(fosite.DefaultSession))
	return err == nil && use == fosite.AccessToken
}

// revokeRefreshTokens forgets every refresh token issued so far, as if the
// user revoked the login: refreshing then fails with invalid_grant. Access
// tokens stay valid until they expire.
func (s *Server) revokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sig := range mapKeys(s.store.RefreshTokens) {
		_ = s.store.DeleteRefreshTokenSession(context.Background(), sig)
	}
}

// expireAccessTokens forgets every access token issued so far, so /whoami
// and accessTokenValid reject them as if they had expired. Refresh tokens
// are unaffected.
func (s *Server) expireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sig := range mapKeys(s.store.AccessTokens) {
		_ = s.store.DeleteAccessTokenSession(context.Background(), sig)
	}
}

// setDenyConsent makes the consent step answer access_denied whichever
// button is pressed.
func (s *Server) setDenyConsent(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyConsent = deny
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// --- loopback redirect URIs (RFC 8252 §7.3) ---

// fosite ignores the port only for loopback IP literals, not for
// "localhost" (Cloudflare's redirect host), so the authorize handler checks
// the redirect URI itself and, when it matches a registered one but for
// the port, passes it in the context; loopbackStore then shows fosite a
// client that has it registered verbatim.

type redirectKey struct{}

type loopbackStore struct{ *storage.MemoryStore }

func (st *loopbackStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := st.MemoryStore.GetClient(ctx, id)
	u, _ := ctx.Value(redirectKey{}).(string)
	dc, ok := c.(*fosite.DefaultClient)
	if err != nil || u == "" || !ok {
		return c, err
	}
	cp := *dc
	cp.RedirectURIs = append(slices.Clone(dc.RedirectURIs), u)
	return &cp, nil
}

// loopbackMatch reports whether raw equals one of registered except for the
// port, and its host is a loopback host.
func loopbackMatch(raw string, registered []string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || !isLoopbackHost(u.Hostname()) {
		return false
	}
	for _, r := range registered {
		ru, err := url.Parse(r)
		if err == nil && ru.Scheme == u.Scheme && ru.Hostname() == u.Hostname() &&
			ru.Path == u.Path && ru.RawQuery == u.RawQuery && ru.User == nil && u.User == nil {
			return true
		}
	}
	return false
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// --- authorize: login and consent ---

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if u := r.URL.Query().Get("redirect_uri"); loopbackMatch(u, s.opts.RedirectURIs) {
		ctx = context.WithValue(ctx, redirectKey{}, u)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	id := randomHex(16)
	s.pending[id] = &pending{ar: ar}
	s.render(w, loginPage, pageData{ID: id, ClientID: s.opts.ClientID})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PostFormValue("req")
	p := s.pending[id]
	if p == nil {
		http.Error(w, "unknown or finished authorization request", http.StatusBadRequest)
		return
	}
	if r.PostFormValue("username") != s.opts.Username || r.PostFormValue("password") != s.opts.Password {
		s.render(w, loginPage, pageData{ID: id, ClientID: s.opts.ClientID, Error: "Incorrect email or password."})
		return
	}
	p.user = s.opts.Username
	s.render(w, consentPage, pageData{ID: id, ClientID: s.opts.ClientID, Scopes: p.ar.GetRequestedScopes()})
}

func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PostFormValue("req")
	p := s.pending[id]
	if p == nil || p.user == "" {
		http.Error(w, "unknown, unauthenticated or finished authorization request", http.StatusBadRequest)
		return
	}
	delete(s.pending, id)
	if s.denyConsent || r.PostFormValue("consent") != "allow" {
		s.provider.WriteAuthorizeError(ctx, w, p.ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	}
	for _, scope := range p.ar.GetRequestedScopes() { // fosite already checked them against the client
		p.ar.GrantScope(scope)
	}
	resp, err := s.provider.NewAuthorizeResponse(ctx, p.ar, &fosite.DefaultSession{Subject: p.user, Username: p.user})
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, p.ar, err)
		return
	}
	s.provider.WriteAuthorizeResponse(ctx, w, p.ar, resp)
}

// --- token, revoke, resource ---

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	grant := r.PostFormValue("grant_type")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch grant {
	case "authorization_code":
		s.exchanges++
	case "refresh_token":
		s.refreshes++
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, new(fosite.DefaultSession))
	if err != nil {
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	if grant == "refresh_token" && s.holdRotations {
		s.mu.Unlock()
		s.holds.wait(ctx)
		s.mu.Lock()
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revocations++
	if r.PostFormValue("token") == "" {
		// RFC 7009 requires it; fosite itself would answer 200 and revoke
		// nothing (e.g. for a body with refresh_token= instead of token=).
		s.provider.WriteRevocationResponse(ctx, w, fosite.ErrInvalidRequest.WithHint("The 'token' parameter is missing."))
		return
	}
	s.provider.WriteRevocationResponse(ctx, w, s.provider.NewRevocationRequest(ctx, r))
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	use, ar, err := s.provider.IntrospectToken(r.Context(), fosite.AccessTokenFromRequest(r), fosite.AccessToken, new(fosite.DefaultSession))
	s.mu.Unlock()
	if err != nil || use != fosite.AccessToken {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sub":    ar.GetSession().GetSubject(),
		"scopes": []string(ar.GetGrantedScopes()),
	})
}

// --- pages ---

type pageData struct {
	ID, ClientID, Error string
	Scopes              []string
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Log in</title></head><body>
<h1>Log in to authorize {{.ClientID}}</h1>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/oauth2/login">
<input type="hidden" name="req" value="{{.ID}}">
<label>Email <input id="username" name="username" type="text" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button id="login" type="submit">Log in</button>
</form></body></html>
`))

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Authorize</title></head><body>
<h1>{{.ClientID}} wants access to your account</h1>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/oauth2/consent">
<input type="hidden" name="req" value="{{.ID}}">
<button id="allow" name="consent" value="allow" type="submit">Allow</button>
<button id="deny" name="consent" value="deny" type="submit">Deny</button>
</form></body></html>
`))

func (s *Server) render(w http.ResponseWriter, t *template.Template, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = t.Execute(w, d)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
