package awssso

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Defaults, as the real services document them.
const (
	defaultAccessTokenTTL    = 8 * time.Hour    // CreateToken expiresIn 28800
	defaultRoleCredentialTTL = time.Hour        // GetRoleCredentials
	defaultDeviceAuthTTL     = 10 * time.Minute // StartDeviceAuthorization expiresIn 600
	clientSecretTTL          = 90 * 24 * time.Hour
	pollInterval             = time.Second // StartDeviceAuthorization interval 1
	// slowDownSlack: two polls of a pending device code closer than
	// pollInterval-slowDownSlack answer SlowDownException.
	slowDownSlack = 100 * time.Millisecond
)

// Request is one request the fake received. It never holds a secret (no
// token, client secret or device code).
type Request struct {
	Method string
	Path   string
	// Query is the raw query string (account_id, role_name, max_result,
	// next_token: none of them secret).
	Query string
	// Operation is the API operation: "RegisterClient",
	// "StartDeviceAuthorization", "CreateToken:device_code",
	// "CreateToken:refresh_token", "CreateToken:<grantType>" for other grant
	// types, "GetRoleCredentials", "ListAccounts", "ListAccountRoles",
	// "Logout", "VerificationPage", or "" for an unknown route.
	Operation string
	// Status is the HTTP status answered.
	Status int
	// ErrorCode is the error shape answered ("AuthorizationPendingException",
	// "UnauthorizedException", ...), empty on success.
	ErrorCode string
}

// IssuedCredentials describes role credentials handed out by
// GetRoleCredentials, secrets included: the leak test looks for them in
// everything alchemy prints.
type IssuedCredentials struct {
	AccountID       string
	RoleName        string
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Server is the fake SSO OIDC service plus SSO portal. Create it with Start.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT, for both APIs.
	URL string

	srv *httptest.Server
	mu  sync.Mutex

	accessTTL   time.Duration
	roleTTL     time.Duration
	deviceTTL   time.Duration
	autoApprove bool

	clients       map[string]*client // by clientId
	devices       map[string]*deviceAuth
	deviceOrder   []*deviceAuth
	sessions      []*session
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken

	accounts     map[string]*account
	accountOrder []string

	issued   []IssuedCredentials
	requests []Request
}

type client struct {
	id, secret      string
	name            string
	scopes          []string
	issuedAt        time.Time
	secretExpiresAt time.Time
}

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDenied
	deviceRedeemed
)

type deviceAuth struct {
	deviceCode, userCode string
	clientID             string
	startURL             string
	expiresAt            time.Time
	state                deviceState
	lastPoll             time.Time
}

type session struct {
	startURL string
	clientID string
	ended    bool
}

type accessToken struct {
	sess      *session
	expiresAt time.Time
}

type refreshToken struct {
	sess     *session
	clientID string
	used     bool
}

type account struct {
	id, name, email string
	roles           []string
}

// Start serves a new fake on 127.0.0.1 (a free port) and closes it in
// t.Cleanup. Both the OIDC and the portal API are served on the same port.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, httptest.NewServer)
}

// StartTLS is Start over HTTPS, with a certificate only CAFile trusts:
// what a client behind a TLS-intercepting proxy sees.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	return start(t, httptest.NewTLSServer)
}

// CAFile writes the certificate the fake serves (StartTLS) to a PEM file
// in a temp dir and returns its path, for AWS_CA_BUNDLE.
func (s *Server) CAFile(t testing.TB) string {
	t.Helper()
	cert := s.srv.Certificate()
	if cert == nil {
		t.Fatal("awssso: CAFile of a fake started without TLS")
	}
	path := filepath.Join(t.TempDir(), "ca-bundle.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func start(t testing.TB, serve func(http.Handler) *httptest.Server) *Server {
	s := &Server{
		accessTTL:     defaultAccessTokenTTL,
		roleTTL:       defaultRoleCredentialTTL,
		deviceTTL:     defaultDeviceAuthTTL,
		clients:       map[string]*client{},
		devices:       map[string]*deviceAuth{},
		accessTokens:  map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
		accounts:      map[string]*account{},
	}
	s.srv = serve(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Env returns AWS_ENDPOINT_URL_SSO_OIDC and AWS_ENDPOINT_URL_SSO pointing at
// the fake, for t.Setenv or a subprocess environment.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_SSO_OIDC": s.URL,
		"AWS_ENDPOINT_URL_SSO":      s.URL,
	}
}

// AddAssignment lets the user assume roleName in accountID: GetRoleCredentials
// answers for it, and ListAccounts / ListAccountRoles list it.
func (s *Server) AddAssignment(accountID, roleName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(accountID)
	for _, r := range a.roles {
		if r == roleName {
			return
		}
	}
	a.roles = append(a.roles, roleName)
}

// SetAccount sets the name and e-mail ListAccounts reports for accountID
// (default "account-<id>" and "aws+<id>@example.com").
func (s *Server) SetAccount(accountID, accountName, emailAddress string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(accountID)
	a.name, a.email = accountName, emailAddress
}

func (s *Server) accountLocked(id string) *account {
	a := s.accounts[id]
	if a == nil {
		a = &account{id: id, name: "account-" + id, email: "aws+" + id + "@example.com"}
		s.accounts[id] = a
		s.accountOrder = append(s.accountOrder, id)
	}
	return a
}

// SetRoleCredentialTTL sets the lifetime of role credentials (default 1h).
func (s *Server) SetRoleCredentialTTL(d time.Duration) {
	s.mu.Lock()
	s.roleTTL = d
	s.mu.Unlock()
}

// SetAccessTokenTTL sets the lifetime of access tokens issued from now on
// (default 8h). CreateToken reports it as expiresIn, rounded up to seconds.
func (s *Server) SetAccessTokenTTL(d time.Duration) {
	s.mu.Lock()
	s.accessTTL = d
	s.mu.Unlock()
}

// SetDeviceAuthorizationTTL sets how long a device authorization stays usable
// (default 10m, expiresIn 600). StartDeviceAuthorization reports it as
// expiresIn, rounded up to seconds; after it CreateToken answers
// ExpiredTokenException.
func (s *Server) SetDeviceAuthorizationTTL(d time.Duration) {
	s.mu.Lock()
	s.deviceTTL = d
	s.mu.Unlock()
}

// PendingUserCodes returns the user codes of unexpired device authorizations
// waiting for the user, oldest first.
func (s *Server) PendingUserCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []string
	for _, d := range s.deviceOrder {
		if d.state == devicePending && now.Before(d.expiresAt) {
			out = append(out, d.userCode)
		}
	}
	return out
}

// Approve is the user approving userCode in the browser. It fails if the
// code is unknown, expired, or no longer pending.
func (s *Server) Approve(userCode string) error {
	return s.decide(userCode, deviceApproved)
}

// Deny is the user denying userCode in the browser: the next CreateToken for
// it answers AccessDeniedException.
func (s *Server) Deny(userCode string) error {
	return s.decide(userCode, deviceDenied)
}

func (s *Server) decide(userCode string, st deviceState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.deviceOrder {
		if d.userCode != userCode {
			continue
		}
		if !time.Now().Before(d.expiresAt) {
			return fmt.Errorf("awssso: user code %s has expired", userCode)
		}
		if d.state != devicePending {
			return fmt.Errorf("awssso: user code %s is not pending", userCode)
		}
		d.state = st
		return nil
	}
	return fmt.Errorf("awssso: unknown user code %q", userCode)
}

// AutoApprove makes every device authorization approved as soon as it starts
// (and approves those pending now), for tests that only need a session.
func (s *Server) AutoApprove(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoApprove = on
	if on {
		for _, d := range s.deviceOrder {
			if d.state == devicePending {
				d.state = deviceApproved
			}
		}
	}
}

// IssueToken creates a registered client and a signed-in session for
// startURL, as "aws sso login" leaves behind, for tests that pre-write the
// AWS CLI token cache (~/.aws/sso/cache/<sha1(session name)>.json).
func (s *Server) IssueToken(startURL string) (accessToken, refreshToken, clientID, clientSecret string, expiresAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.registerLocked("alchemy-fake", []string{"sso:account:access"})
	sess := &session{startURL: startURL, clientID: c.id}
	s.sessions = append(s.sessions, sess)
	at, exp := s.newAccessTokenLocked(sess)
	rt := s.newRefreshTokenLocked(sess, c.id)
	return at, rt, c.id, c.secret, exp
}

// ExpireAccessTokens makes every access token issued so far expired: the
// portal answers UnauthorizedException for them, and refresh tokens still
// work.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.accessTokens {
		if t.expiresAt.After(past) {
			t.expiresAt = past
		}
	}
}

// EndSessions ends every SSO session so far: their access and refresh tokens
// are all invalid, and only a new device authorization gives a session.
func (s *Server) EndSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		sess.ended = true
	}
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Issued returns the role credentials handed out so far, oldest first.
func (s *Server) Issued() []IssuedCredentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]IssuedCredentials(nil), s.issued...)
}

// --- state helpers (s.mu held) ---

func (s *Server) registerLocked(name string, scopes []string) *client {
	now := time.Now()
	c := &client{
		id:              randToken("", 22),
		secret:          randToken("", 48),
		name:            name,
		scopes:          scopes,
		issuedAt:        now,
		secretExpiresAt: now.Add(clientSecretTTL),
	}
	s.clients[c.id] = c
	return c
}

func (s *Server) newAccessTokenLocked(sess *session) (string, time.Time) {
	tok := randToken("aoa", 40)
	exp := time.Now().Add(s.accessTTL)
	s.accessTokens[tok] = &accessToken{sess: sess, expiresAt: exp}
	return tok, exp
}

func (s *Server) newRefreshTokenLocked(sess *session, clientID string) string {
	tok := randToken("aor", 40)
	s.refreshTokens[tok] = &refreshToken{sess: sess, clientID: clientID}
	return tok
}

// validAccessLocked reports whether tok is a live access token.
func (s *Server) validAccessLocked(tok string) (*accessToken, bool) {
	t := s.accessTokens[tok]
	if t == nil || t.sess.ended || !time.Now().Before(t.expiresAt) {
		return nil, false
	}
	return t, true
}

// --- random values ---

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func randString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

func randToken(prefix string, n int) string { return prefix + randString(tokenAlphabet, n) }

// randUserCode returns a code like "BCDF-GHJK" (letters that are hard to
// confuse, as the real service does).
func randUserCode() string {
	const letters = "BCDFGHJKLMNPQRSTVWXZ"
	return randString(letters, 4) + "-" + randString(letters, 4)
}

func randRequestID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
