package oauthserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/alchemy-go/alchemy/internal/testpeers/oauthserver"
)

var testScopes = []string{"account:read", "workers:write", "offline_access"}

// config is a Cloudflare-like client: public, params in the body, a
// loopback redirect on a port other than the registered one.
func config(s *oauthserver.Server, redirect string, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = testScopes
	}
	return &oauth2.Config{
		ClientID:    s.ClientID(),
		RedirectURL: redirect,
		Scopes:      scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.AuthorizeURL(),
			TokenURL:  s.TokenURL(),
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

const redirect = "http://localhost:51234/auth/callback" // registered with port 9976

// authorize runs the browser part and returns the code.
func authorize(t *testing.T, s *oauthserver.Server, cfg *oauth2.Config, verifier string) string {
	t.Helper()
	const state = "state-0123456789"
	loc, err := s.Approve(t.Context(), cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if q.Get("error") != "" || q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("redirect %s: want code and state", loc)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != cfg.RedirectURL {
		t.Fatalf("redirected to %s, want %s", got, cfg.RedirectURL)
	}
	return q.Get("code")
}

// login is the whole flow: authorize, then exchange with the verifier.
func login(t *testing.T, s *oauthserver.Server, cfg *oauth2.Config) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	tok, err := cfg.Exchange(t.Context(), authorize(t, s, cfg, verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tokenResponse is the JSON body of a token endpoint answer (success or error).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
}

// post sends a form exactly like the Cloudflare client does.
func post(t *testing.T, target string, form url.Values) (int, tokenResponse) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var tr tokenResponse
	if len(b) > 0 {
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatalf("%s: %s: %v", resp.Status, b, err)
		}
	}
	return resp.StatusCode, tr
}

func refresh(t *testing.T, s *oauthserver.Server, rt string) (int, tokenResponse) {
	t.Helper()
	return post(t, s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
		"client_id": {s.ClientID()}, "redirect_uri": {redirect}})
}

func wantGrantError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	tok := login(t, s, config(s, redirect))

	if tok.AccessToken == "" || tok.RefreshToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
		t.Fatalf("token %+v", tok)
	}
	if d := time.Until(tok.Expiry); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expires in %v, want ~1h", d)
	}
	if got := tok.Extra("scope"); got != strings.Join(testScopes, " ") {
		t.Errorf("scope = %v", got)
	}
	if !s.AccessTokenValid(tok.AccessToken) {
		t.Error("AccessTokenValid = false for a fresh token")
	}
	if ex, rf := s.TokenRequests(); ex != 1 || rf != 0 {
		t.Errorf("TokenRequests = %d, %d", ex, rf)
	}

	// The protected resource.
	resp, err := config(s, redirect).Client(t.Context(), tok).Get(s.URL + "/whoami")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var who struct {
		Sub    string   `json:"sub"`
		Scopes []string `json:"scopes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&who); err != nil || resp.StatusCode != 200 {
		t.Fatalf("whoami: %s %v", resp.Status, err)
	}
	if who.Sub != "user@example.com" || !slices.Equal(who.Scopes, testScopes) {
		t.Errorf("whoami = %+v", who)
	}
	resp2, err := http.Get(s.URL + "/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusUnauthorized {
		t.Errorf("whoami without token: %s", resp2.Status)
	}
}

func TestCodeIsSingleUse(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	cfg := config(s, redirect)
	verifier := oauth2.GenerateVerifier()
	code := authorize(t, s, cfg, verifier)
	if _, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	_, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	wantGrantError(t, err, "invalid_grant")
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	tok := login(t, s, config(s, redirect))

	// Cloudflare-style refresh (form with client_id and redirect_uri).
	status, r1 := refresh(t, s, tok.RefreshToken)
	if status != 200 || r1.AccessToken == "" || r1.RefreshToken == "" || r1.RefreshToken == tok.RefreshToken ||
		r1.ExpiresIn < 3590 || r1.Scope != strings.Join(testScopes, " ") || !strings.EqualFold(r1.TokenType, "bearer") {
		t.Fatalf("refresh: %d %+v", status, r1)
	}
	if s.AccessTokenValid(tok.AccessToken) || !s.AccessTokenValid(r1.AccessToken) {
		t.Error("after a refresh only the new access token should be valid")
	}

	// The old refresh token is single use...
	if status, r := refresh(t, s, tok.RefreshToken); status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("reuse: %d %+v", status, r)
	}
	// ...and its reuse revoked the whole family (fosite, RFC 6819 5.2.2.3).
	if status, r := refresh(t, s, r1.RefreshToken); status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("refresh after reuse: %d %+v", status, r)
	}
	if ex, rf := s.TokenRequests(); ex != 1 || rf != 3 {
		t.Errorf("TokenRequests = %d, %d", ex, rf)
	}
}

func TestRefreshWithTokenSource(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	cfg := config(s, redirect)
	tok := login(t, s, cfg)
	tok.Expiry = time.Now().Add(-time.Minute)
	nt, err := cfg.TokenSource(t.Context(), tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if nt.AccessToken == tok.AccessToken || nt.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh did not rotate")
	}
	if ex, rf := s.TokenRequests(); ex != 1 || rf != 1 {
		t.Errorf("TokenRequests = %d, %d", ex, rf)
	}
}

func TestNoOfflineAccessNoRefreshToken(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	tok := login(t, s, config(s, redirect, "account:read"))
	if tok.AccessToken == "" || tok.RefreshToken != "" {
		t.Fatalf("token %+v", tok)
	}
}

func TestPKCE(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	cfg := config(s, redirect)

	t.Run("wrong verifier", func(t *testing.T) {
		code := authorize(t, s, cfg, oauth2.GenerateVerifier())
		_, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantGrantError(t, err, "invalid_grant")
	})
	t.Run("missing verifier", func(t *testing.T) {
		code := authorize(t, s, cfg, oauth2.GenerateVerifier())
		_, err := cfg.Exchange(t.Context(), code)
		wantGrantError(t, err, "invalid_grant")
	})
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"no challenge":    nil,
		"plain challenge": {oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
	} {
		t.Run(name, func(t *testing.T) {
			loc, err := s.Approve(t.Context(), cfg.AuthCodeURL("state-0123456789", opts...))
			if err != nil {
				t.Fatal(err)
			}
			if loc.Query().Get("error") != "invalid_request" || loc.Query().Get("code") != "" {
				t.Fatalf("redirect %s, want error=invalid_request", loc)
			}
		})
	}
}

func TestDenyConsent(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	authURL := config(s, redirect).AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	check := func(loc *url.URL, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("state") != "state-0123456789" || q.Get("code") != "" {
			t.Fatalf("redirect %s", loc)
		}
	}
	check(s.Deny(t.Context(), authURL))
	s.SetDenyConsent(true)
	check(s.Approve(t.Context(), authURL))
	s.SetDenyConsent(false)
	if loc, err := s.Approve(t.Context(), authURL); err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("after SetDenyConsent(false): %v %v", loc, err)
	}
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	tok := login(t, s, config(s, redirect))
	status, _ := post(t, s.RevokeURL(), url.Values{"token": {tok.RefreshToken},
		"token_type_hint": {"refresh_token"}, "client_id": {s.ClientID()}})
	if status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if status, r := refresh(t, s, tok.RefreshToken); status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("refresh after revoke: %d %+v", status, r)
	}
	if s.AccessTokenValid(tok.AccessToken) {
		t.Error("revoking the refresh token should revoke its access token too")
	}
	// RFC 7009: an unknown token is not an error.
	if status, _ := post(t, s.RevokeURL(), url.Values{"token": {"nope"}, "client_id": {s.ClientID()}}); status != 200 {
		t.Errorf("revoke unknown: %d", status)
	}
	// RFC 7009 names the parameter "token"; a body without it is rejected
	// (plain fosite would answer 200 and revoke nothing).
	if status, r := post(t, s.RevokeURL(), url.Values{"refresh_token": {tok.RefreshToken}, "client_id": {s.ClientID()}}); status != 400 || r.Error != "invalid_request" {
		t.Errorf("revoke without token: %d %+v", status, r)
	}
	if n := s.Revocations(); n != 3 {
		t.Errorf("Revocations = %d", n)
	}
}

func TestRevokeRefreshTokens(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	tok := login(t, s, config(s, redirect))
	s.RevokeRefreshTokens()
	if status, r := refresh(t, s, tok.RefreshToken); status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("refresh: %d %+v", status, r)
	}
	if !s.AccessTokenValid(tok.AccessToken) {
		t.Error("access token should outlive RevokeRefreshTokens")
	}
}

func TestAccessTokenValid(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{AccessTTL: time.Second})
	tok := login(t, s, config(s, redirect))
	if s.AccessTokenValid("garbage") || s.AccessTokenValid(tok.RefreshToken) {
		t.Error("garbage or a refresh token reported as a valid access token")
	}
	if !s.AccessTokenValid(tok.AccessToken) {
		t.Fatal("fresh token invalid")
	}
	deadline := time.Now().Add(3 * time.Second)
	for s.AccessTokenValid(tok.AccessToken) {
		if time.Now().After(deadline) {
			t.Fatal("access token did not expire after its 1s TTL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The refresh token still works and so does ExpireAccessTokens.
	status, r := refresh(t, s, tok.RefreshToken)
	if status != 200 || !s.AccessTokenValid(r.AccessToken) {
		t.Fatalf("refresh: %d %+v", status, r)
	}
	s.ExpireAccessTokens()
	if s.AccessTokenValid(r.AccessToken) {
		t.Error("ExpireAccessTokens left the token valid")
	}
}

func TestRedirectURIs(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{
		RedirectURIs: []string{"http://localhost:9976/auth/callback", "http://127.0.0.1/cb"},
	})
	for _, u := range []string{
		"http://localhost:9976/auth/callback", // exact
		"http://localhost:40001/auth/callback",
		"http://127.0.0.1:40002/cb",
		"http://127.0.0.1/cb",
	} {
		login(t, s, config(s, u)) // authorize checks the redirect target
	}
	for _, u := range []string{
		"http://evil.example:9976/auth/callback", // other host
		"http://127.0.0.1:9976/auth/callback",    // loopback, but not the registered host
		"http://localhost:40001/other",           // other path
		"https://localhost:9976/auth/callback",   // other scheme
	} {
		authURL := config(s, u).AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		if loc, err := s.Approve(t.Context(), authURL); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("%s: got %v, %v; want a 400 error page", u, loc, err)
		}
	}
}

// TestPages checks the markup a chromedp-driven browser relies on.
func TestPages(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	authURL := config(s, redirect).AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	get := func(method, u string, form url.Values) string {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodGet {
			resp, err = http.Get(u)
		} else {
			resp, err = http.PostForm(u, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %s %s", method, u, resp.Status, b)
		}
		return string(b)
	}
	has := func(page string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("page lacks %s:\n%s", w, page)
			}
		}
	}
	loginForm := []string{`<form method="post"`, `id="username"`, `id="password"`, `id="login"`}

	page := get(http.MethodGet, authURL, nil)
	has(page, loginForm...)
	id := page[strings.Index(page, `name="req" value="`)+len(`name="req" value="`):]
	id = id[:strings.Index(id, `"`)]

	page = get(http.MethodPost, s.URL+"/oauth2/login", url.Values{"req": {id}, "username": {"user@example.com"}, "password": {"wrong"}})
	has(page, append(loginForm, `id="error"`)...)

	page = get(http.MethodPost, s.URL+"/oauth2/login", url.Values{"req": {id}, "username": {"user@example.com"}, "password": {"correct horse"}})
	has(page, `<form method="post"`, `id="allow"`, `id="deny"`, "workers:write")
}

func TestCustomOptions(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{
		ClientID: "6d8c2255-0773-45f6-b376-2914632e6f91", Scopes: []string{"zone:read", "offline_access"},
		Username: "a@b.c", Password: "pw", AccessTTL: 5 * time.Minute,
	})
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %s", s.URL)
	}
	tok := login(t, s, config(s, redirect, "zone:read", "offline_access"))
	if d := time.Until(tok.Expiry); d > 5*time.Minute+time.Second || d < 4*time.Minute {
		t.Errorf("expires in %v", d)
	}
	// A scope the client may not request.
	loc, err := s.Approve(context.Background(), config(s, redirect, "workers:write").AuthCodeURL("state-0123456789",
		oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil || loc.Query().Get("error") != "invalid_scope" {
		t.Errorf("disallowed scope: %v %v", loc, err)
	}
}

// AfterRotate's function runs in the test's process while the server holds
// the answer of a refresh that already rotated the tokens: the old refresh
// token is spent then, and the answer arrives only once the function
// returned. AfterRotate(nil) stops it.
func TestAfterRotate(t *testing.T) {
	t.Parallel()
	s := oauthserver.Start(t, oauthserver.Options{})
	tok := login(t, s, config(s, redirect))
	returned := make(chan struct{})
	var sawSpent bool
	s.AfterRotate(func() {
		// The old access token was revoked by the rotation, before the answer.
		sawSpent = !s.AccessTokenValid(tok.AccessToken)
		time.Sleep(200 * time.Millisecond)
		close(returned)
	})
	start := time.Now()
	status, r := refresh(t, s, tok.RefreshToken)
	select {
	case <-returned:
	default:
		t.Fatal("the refresh answered before the AfterRotate function returned")
	}
	if status != 200 || r.RefreshToken == "" || !sawSpent || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("refresh: %d %+v, old token spent during the hook: %v, took %v", status, r, sawSpent, time.Since(start))
	}
	s.AfterRotate(nil)
	if status, r := refresh(t, s, r.RefreshToken); status != 200 || r.RefreshToken == "" {
		t.Fatalf("refresh after AfterRotate(nil): %d %+v", status, r)
	}
}
