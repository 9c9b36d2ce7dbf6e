// Package oauthserver runs a real, strict OAuth 2.0 authorization server for
// tests on 127.0.0.1: the program testservers/oauthserver (ory/fosite: the
// authorization code grant with PKCE S256, a login and a consent page,
// rotating single-use refresh tokens, RFC 7009 revocation), started as a
// test peer. Server drives it over HTTP: the OAuth endpoints, and its /_test/
// endpoints for counters and knobs. The program's doc comment lists the
// behaviour inherited from fosite.
//
// The server is a separate program, in its own module, so that fosite and
// its dependencies are not requirements of the SDK (see
// internal/testpeers/goservers.go).
package oauthserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// DefaultScopes is Cloudflare's DEFAULT_SCOPES plus offline_access; it is
// what the client may request when Options.Scopes is empty.
var DefaultScopes = []string{
	"account:read", "ai-search:write", "ai-search:run", "ai:write",
	"aig:read", "aig:write", "cloudchamber:write", "connectivity:admin", "containers:write",
	"d1:write", "pages:write", "pipelines:write", "queues:write", "secrets_store:write",
	"ssl_certs:write", "user:read", "vectorize:write", "workers_kv:write",
	"workers_observability:read", "workers_observability:write",
	"workers_observability_telemetry:write", "workers_routes:write",
	"workers_scripts:write", "workers_tail:read", "workers:write", "zone:read",
	"offline_access",
}

// Options configures a Server. Zero values get the defaults noted.
type Options struct {
	// ClientID of the public client (no secret, PKCE S256 required).
	// Default "test-cli".
	ClientID string
	// RedirectURIs the client may use. For loopback hosts (127.0.0.1, ::1,
	// localhost) any port is accepted as long as scheme, host, path and
	// query match (RFC 8252 §7.3). Default
	// http://localhost:9976/auth/callback and http://127.0.0.1:9976/auth/callback.
	RedirectURIs []string
	// Scopes the client may request. Default DefaultScopes.
	Scopes []string
	// AccessTTL is the access token lifetime. Default 1h. fosite rounds
	// expiry to whole seconds.
	AccessTTL time.Duration
	// Username and Password accepted by the login form. Default
	// "user@example.com" / "correct horse".
	Username, Password string
}

// Server is a running authorization server. All methods are safe for
// concurrent use; a failed call to the server fails the test.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string

	t    testing.TB
	opts Options

	mu         sync.Mutex
	stopHolds  context.CancelFunc // the AfterRotate poller, or nil
	pollerDone chan struct{}
}

// Start starts a server on 127.0.0.1 and stops it in t.Cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = "test-cli"
	}
	if len(o.RedirectURIs) == 0 {
		o.RedirectURIs = []string{"http://localhost:9976/auth/callback", "http://127.0.0.1:9976/auth/callback"}
	}
	if len(o.Scopes) == 0 {
		o.Scopes = DefaultScopes
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = time.Hour
	}
	if o.Username == "" {
		o.Username = "user@example.com"
	}
	if o.Password == "" {
		o.Password = "correct horse"
	}
	args := []string{"-client-id", o.ClientID, "-access-ttl", o.AccessTTL.String(), "-username", o.Username, "-password", o.Password}
	for _, u := range o.RedirectURIs {
		args = append(args, "-redirect-uri", u)
	}
	for _, sc := range o.Scopes {
		args = append(args, "-scope", sc)
	}
	p := testpeers.StartServer(t, "oauthserver", "/_test/counters", args...)
	s := &Server{URL: p.URL, t: t, opts: o}
	t.Cleanup(func() { s.AfterRotate(nil) })
	return s
}

func (s *Server) AuthorizeURL() string { return s.URL + "/oauth2/authorize" }
func (s *Server) TokenURL() string     { return s.URL + "/oauth2/token" }
func (s *Server) RevokeURL() string    { return s.URL + "/oauth2/revoke" }

// ClientID returns the (possibly defaulted) client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// control calls a /_test/ endpoint and decodes its JSON answer into out
// (when not nil). A GET when form is nil, else a POST of form.
func (s *Server) control(ctx context.Context, path string, form url.Values, out any) error {
	method, body := http.MethodGet, ""
	if form != nil {
		method, body = http.MethodPost, form.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/_test/"+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("oauthserver: %s /_test/%s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (s *Server) mustControl(path string, form url.Values, out any) {
	if err := s.control(context.Background(), path, form, out); err != nil {
		s.t.Errorf("%v", err)
	}
}

type counters struct{ Exchanges, Refreshes, Revocations int }

func (s *Server) counters() counters {
	var c counters
	s.mustControl("counters", nil, &c)
	return c
}

// TokenRequests counts POSTs to the token endpoint by grant_type, counted on
// arrival, before any validation (so rejected requests count too).
func (s *Server) TokenRequests() (exchanges, refreshes int) {
	c := s.counters()
	return c.Exchanges, c.Refreshes
}

// Revocations counts POSTs to the revocation endpoint, on arrival, before
// any validation.
func (s *Server) Revocations() int { return s.counters().Revocations }

// AccessTokenValid reports whether token is a known, unexpired, unrevoked
// access token (fosite token introspection).
func (s *Server) AccessTokenValid(token string) bool {
	var r struct{ Valid bool }
	s.mustControl("access-token-valid", url.Values{"token": {token}}, &r)
	return r.Valid
}

// RevokeRefreshTokens forgets every refresh token issued so far, as if the
// user revoked the login: refreshing then fails with invalid_grant. Access
// tokens stay valid until they expire.
func (s *Server) RevokeRefreshTokens() { s.mustControl("revoke-refresh-tokens", url.Values{}, nil) }

// ExpireAccessTokens forgets every access token issued so far, so /whoami
// and AccessTokenValid reject them as if they had expired. Refresh tokens
// are unaffected.
func (s *Server) ExpireAccessTokens() { s.mustControl("expire-access-tokens", url.Values{}, nil) }

// SetDenyConsent makes the consent step answer access_denied whichever
// button is pressed.
func (s *Server) SetDenyConsent(deny bool) {
	s.mustControl("deny-consent", url.Values{"deny": {strconv.FormatBool(deny)}}, nil)
}

// AfterRotate sets a function run when a refresh has rotated the tokens,
// before its answer is written (the server holds the answer until fn
// returns); nil removes it and lets every held answer go.
func (s *Server) AfterRotate(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopHolds != nil {
		s.stopHolds()
		<-s.pollerDone
		s.stopHolds = nil
	}
	s.mustControl("hold-rotations", url.Values{"hold": {strconv.FormatBool(fn != nil)}}, nil)
	if fn == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopHolds, s.pollerDone = cancel, make(chan struct{})
	go func() {
		defer close(s.pollerDone)
		for {
			var held struct{ ID int }
			if err := s.control(ctx, "held", nil, &held); err != nil {
				return // stopped (or the server is gone: its holds time out)
			}
			fn()
			_ = s.control(context.Background(), "resume", url.Values{"id": {strconv.Itoa(held.ID)}}, nil)
		}
	}()
}
