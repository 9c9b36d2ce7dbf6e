package cloudflare

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/muesli/cancelreader"
	"golang.org/x/oauth2"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/browser"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/envfile"
)

// The Cloudflare OAuth client (spec/auth.md 4.1.1): a public client with
// PKCE, no secret. Every endpoint can be redirected for tests and for other
// deployments of the same authorization server.
const (
	defaultClientID     = "6d8c2255-0773-45f6-b376-2914632e6f91"
	defaultAuthorizeURL = "https://dash.cloudflare.com/oauth2/authorize"
	defaultTokenURL     = "https://dash.cloudflare.com/oauth2/token"
	defaultRevokeURL    = "https://dash.cloudflare.com/oauth2/revoke"
	defaultRedirectURI  = "http://localhost:9976/auth/callback"
)

// DefaultScopes are requested when no --scopes are given (plus
// offline_access, which every login adds for the refresh token).
var DefaultScopes = []string{
	"account:read", "ai-search:write", "ai-search:run", "ai:write", "aig:read", "aig:write",
	"cloudchamber:write", "connectivity:admin", "containers:write", "d1:write", "pages:write",
	"pipelines:write", "queues:write", "secrets_store:write", "ssl_certs:write", "user:read",
	"vectorize:write", "workers_kv:write", "workers_observability:read", "workers_observability:write",
	"workers_observability_telemetry:write", "workers_routes:write", "workers_scripts:write",
	"workers_tail:read", "workers:write", "zone:read",
}

// refreshWindow: an access token with less than this left is refreshed
// before use, so nothing starts with a token about to expire.
const refreshWindow = 5 * time.Minute

type endpoints struct {
	clientID, authorize, token, revoke, redirect string
}

// client is the client a grant belongs to: the one it was issued to when
// the file says so.
func (ep endpoints) client(o *OAuth) string {
	if o.ClientID != "" {
		return o.ClientID
	}
	return ep.clientID
}

func oauthEndpoints(env envfile.Source) endpoints {
	get := func(key, def string) string {
		if v := envfile.Get(env, key); v != "" {
			return v
		}
		return def
	}
	return endpoints{
		clientID:  get("CLOUDFLARE_OAUTH_CLIENT_ID", defaultClientID),
		authorize: get("CLOUDFLARE_OAUTH_AUTHORIZE_URL", defaultAuthorizeURL),
		token:     get("CLOUDFLARE_OAUTH_TOKEN_URL", defaultTokenURL),
		revoke:    get("CLOUDFLARE_OAUTH_REVOKE_URL", defaultRevokeURL),
		redirect:  get("CLOUDFLARE_OAUTH_REDIRECT_URI", defaultRedirectURI),
	}
}

// OAuthError is an error the authorization server (or the callback)
// reported, as error / error_description.
type OAuthError struct {
	Code, Description string
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loginTimeout bounds the whole browser step.
func loginTimeout(env envfile.Source) time.Duration {
	if d, err := time.ParseDuration(envfile.Get(env, "ALCHEMY_OAUTH_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 5 * time.Minute
}

// browserLogin runs authorization code + PKCE: it opens the browser (or
// prints the URL), waits for the redirect on the loopback callback or for
// the redirected URL pasted on stdin, whichever comes first, and exchanges
// the code.
func browserLogin(ctx context.Context, c *auth.Context, scopes []string) (*OAuth, error) {
	ep := oauthEndpoints(c.Env)
	verifier, state := oauth2.GenerateVerifier(), randomString(32)
	requested := append(append([]string{}, scopes...), "offline_access")
	cfg := &oauth2.Config{
		ClientID:    ep.clientID,
		Endpoint:    oauth2.Endpoint{AuthURL: ep.authorize, TokenURL: ep.token, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: ep.redirect,
		Scopes:      requested,
	}
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	ctx, cancel := context.WithTimeout(ctx, loginTimeout(c.Env))
	defer cancel()
	codes := make(chan result, 2)
	srv, listenErr := startCallback(ep.redirect, state, codes)
	if srv != nil {
		// Shutdown, not Close: the page answering the callback that ends the
		// login must still reach the browser.
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}()
	}

	// With --no-browser nothing is opened, so nothing says it is.
	if c.Login.NoBrowser {
		c.IO.Info("Cloudflare: open this URL in a browser to sign in:")
	} else {
		c.IO.Info("Cloudflare: opening browser for OAuth login...")
	}
	c.IO.Info(authURL)
	opened := false
	if !c.Login.NoBrowser {
		if err := browser.Open(c.Env, authURL); err == nil {
			opened = true
		} else if !errors.Is(err, browser.ErrNoDisplay) {
			c.IO.Warn("Cloudflare: could not open browser automatically. Please open the URL above manually.")
		}
	}
	if listenErr != nil {
		c.IO.Warn(fmt.Sprintf("Cloudflare: cannot listen on %s for the OAuth callback (%v) — paste the redirected URL (or the code) instead.", ep.redirect, listenErr))
	}
	if !opened || listenErr != nil {
		// On a remote machine the browser runs elsewhere and its redirect to
		// localhost lands nowhere: the person pastes where it went instead.
		// The reader is cancelled when the login ends, so that a callback
		// that wins the race does not leave it swallowing the keys of the
		// next prompt.
		c.IO.Info("Cloudflare: after signing in, paste the URL your browser was sent to (or the code) here and press Enter:")
		in, err := cancelreader.NewReader(c.IO.In)
		if err != nil {
			return nil, err
		}
		defer in.Cancel()
		go readPaste(in, state, codes)
	}
	c.IO.Info(fmt.Sprintf("Cloudflare: waiting for authorization (up to %s)...", humanDuration(loginTimeout(c.Env))))

	var code string
	for code == "" {
		select {
		case r := <-codes:
			if r.err != nil {
				var oe *OAuthError
				if errors.As(r.err, &oe) && oe.Code == "invalid_state" {
					c.IO.Warn("Cloudflare: ignored a callback that does not belong to this login (state mismatch); still waiting.")
					continue
				}
				return nil, r.err
			}
			code = r.code
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, &OAuthError{Code: "timeout", Description: "The authorization process timed out."}
			}
			return nil, ctx.Err()
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError(err)
	}
	return fromToken(tok, nil, c.Now()), nil
}

// humanDuration is "5 minutes", "1 minute", or the compact form otherwise.
func humanDuration(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		if n := int(d / time.Minute); n != 1 {
			return fmt.Sprintf("%d minutes", n)
		}
		return "1 minute"
	}
	return display.Duration(d)
}

type result struct {
	code string
	err  error
}

// startCallback serves the redirect URI on loopback only. It answers with a
// small page of our own and hands the first callback that carries this
// login's state (or an error) to codes.
func startCallback(redirect, state string, codes chan<- result) (*http.Server, error) {
	u, err := url.Parse(redirect)
	if err != nil {
		return nil, fmt.Errorf("CLOUDFLARE_OAUTH_REDIRECT_URI %q is not a URL", redirect)
	}
	host := u.Hostname()
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, u.Port()))
	if err != nil {
		return nil, err
	}
	var ln6 net.Listener
	if u.Hostname() == "localhost" {
		// Browsers may resolve localhost to ::1 first; loopback only, and
		// best effort (no IPv6 is fine).
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ln6, _ = net.Listen("tcp", net.JoinHostPort("::1", port))
	}
	var done atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc(u.Path, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case done.Load():
			page(w, http.StatusGone, "This login is already finished", "You can close this tab.")
		case q.Get("state") != state:
			// Anything on this machine can call the loopback port: a callback
			// without this login's state, error or not, is not ours.
			page(w, http.StatusBadRequest, "This link does not belong to the login in progress", "The state does not match. If you started alchemy login, use the browser window it opened.")
			codes <- result{err: &OAuthError{Code: "invalid_state", Description: "Invalid state"}}
		case q.Get("error") != "":
			desc := q.Get("error_description")
			if desc == "" {
				desc = "An unknown error occurred."
			}
			done.Store(true)
			page(w, http.StatusBadRequest, "Cloudflare sign-in failed", q.Get("error")+": "+desc+". Go back to the terminal for what to do next.")
			codes <- result{err: &OAuthError{Code: q.Get("error"), Description: desc}}
		case q.Get("code") == "":
			page(w, http.StatusBadRequest, "Cloudflare sign-in failed", "The callback is missing its code. Start again with alchemy login.")
			codes <- result{err: &OAuthError{Code: "invalid_state", Description: "Missing code"}}
		default:
			done.Store(true)
			page(w, http.StatusOK, "Signed in to Cloudflare", "alchemy has your login. You can close this tab and go back to the terminal.")
			codes <- result{code: q.Get("code")}
		}
	})
	// Addr is informational (Serve uses ln): the bound address, which
	// differs from the redirect URI's when it names port 0.
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if ln6 != nil {
		go srv.Serve(ln6)
	}
	return srv, nil
}

func page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>%s</title><body style=\"font-family:system-ui;margin:4em\"><h1>%s</h1><p>%s</p></body>",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(body))
	// Sent before the login is told the result, which then stops the server.
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// readPaste accepts the redirected URL, "code#state", or a bare code. End of
// input only stops reading: the callback may still arrive.
func readPaste(in io.Reader, state string, codes chan<- result) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		code, gotState := line, ""
		u, err := url.Parse(line)
		if err == nil && u.Query().Get("error") != "" {
			if u.Query().Get("state") != state {
				codes <- result{err: &OAuthError{Code: "invalid_state", Description: "Invalid state"}}
				continue
			}
			codes <- result{err: &OAuthError{Code: u.Query().Get("error"), Description: u.Query().Get("error_description")}}
			return
		}
		if err == nil && u.Query().Get("code") != "" {
			code, gotState = u.Query().Get("code"), u.Query().Get("state")
		} else if i := strings.IndexByte(line, '#'); i > 0 {
			code, gotState = line[:i], line[i+1:]
		}
		if gotState != "" && gotState != state {
			codes <- result{err: &OAuthError{Code: "invalid_state", Description: "Invalid state"}}
			continue
		}
		codes <- result{code: code}
		return
	}
}

// fromToken is the stored form of the tokens a server answered, registered
// as secrets the moment they are received.
func fromToken(tok *oauth2.Token, prev *OAuth, now time.Time) *OAuth {
	o := auth.Loaded(&OAuth{Type: "oauth", Access: tok.AccessToken, Refresh: tok.RefreshToken})
	if o.Refresh == "" && prev != nil {
		o.Refresh = prev.Refresh // the server may keep the old one valid
	}
	if prev != nil {
		o.ClientID = prev.ClientID
	}
	exp := tok.Expiry
	if exp.IsZero() {
		exp = now.Add(time.Hour)
	}
	o.Expires = exp.UnixMilli()
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		o.Scopes = strings.Fields(s)
	} else if prev != nil {
		o.Scopes = prev.Scopes
	}
	return o
}

func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return &OAuthError{Code: re.ErrorCode, Description: re.ErrorDescription}
		}
		return &OAuthError{Code: "parse_error", Description: fmt.Sprintf("Token endpoint returned %d", re.Response.StatusCode)}
	}
	return &OAuthError{Code: "network_error", Description: "Token request failed: " + err.Error()}
}

// refresh trades the refresh token for new tokens. It is a plain form POST
// rather than oauth2.TokenSource so that it sends what the Cloudflare server
// expects (client_id and redirect_uri in the body).
func refresh(ctx context.Context, c *auth.Context, o *OAuth) (*OAuth, error) {
	ep := oauthEndpoints(c.Env)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {o.Refresh}, "client_id": {ep.client(o)}, "redirect_uri": {ep.redirect}}
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
		Scope        string `json:"scope"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	status, err := postForm(ctx, c, ep.token, form, &body)
	if err != nil {
		return nil, &OAuthError{Code: "network_error", Description: "Token request failed: " + err.Error()}
	}
	if status/100 != 2 || body.AccessToken == "" {
		if body.Error != "" {
			return nil, &OAuthError{Code: body.Error, Description: body.Description}
		}
		return nil, &OAuthError{Code: "parse_error", Description: fmt.Sprintf("Token endpoint returned %d", status)}
	}
	tok := &oauth2.Token{AccessToken: body.AccessToken, RefreshToken: body.RefreshToken}
	if body.ExpiresIn > 0 {
		tok.Expiry = c.Now().Add(time.Duration(body.ExpiresIn) * time.Second)
	}
	tok = tok.WithExtra(map[string]any{"scope": body.Scope})
	return fromToken(tok, o, c.Now()), nil
}

// revoke tells the server to forget the refresh token (RFC 7009).
func revoke(ctx context.Context, c *auth.Context, o *OAuth) error {
	ep := oauthEndpoints(c.Env)
	form := url.Values{"token": {o.Refresh}, "token_type_hint": {"refresh_token"}, "client_id": {ep.client(o)}}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	status, err := postForm(ctx, c, ep.revoke, form, &body)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		if body.Description == "" {
			body.Description = fmt.Sprintf("revocation endpoint returned %d", status)
		}
		return errors.New(body.Description)
	}
	return nil
}

func postForm(ctx context.Context, c *auth.Context, endpoint string, form url.Values, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = json.Unmarshal(data, out)
	return resp.StatusCode, nil
}
