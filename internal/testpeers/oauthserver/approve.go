package oauthserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Approve drives the login and consent pages for authorizeURL with
// net/http, as a user pressing "Allow" would, and returns the redirect the
// server answers with (to the client's redirect_uri, carrying code and
// state) without following it. A redirect carrying an OAuth error (for
// example after SetDenyConsent(true), or for an invalid scope) is returned
// too, with a nil error: inspect its "error" query parameter. err is set
// only when the flow produced no redirect.
func (s *Server) Approve(ctx context.Context, authorizeURL string) (*url.URL, error) {
	return s.walk(ctx, authorizeURL, s.opts.Username, s.opts.Password, "allow")
}

// Deny is Approve but presses "Deny"; the redirect carries
// error=access_denied.
func (s *Server) Deny(ctx context.Context, authorizeURL string) (*url.URL, error) {
	return s.walk(ctx, authorizeURL, s.opts.Username, s.opts.Password, "deny")
}

var reqField = regexp.MustCompile(`name="req" value="([0-9a-f]+)"`)

func (s *Server) walk(ctx context.Context, authorizeURL, user, pass, decision string) (*url.URL, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	base, err := url.Parse(authorizeURL)
	if err != nil {
		return nil, err
	}

	page, loc, err := step(ctx, c, http.MethodGet, authorizeURL, nil)
	if err != nil || loc != nil {
		return loc, err
	}
	m := reqField.FindStringSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("oauthserver: no login form in authorize page: %.300s", page)
	}
	id := m[1]

	page, loc, err = step(ctx, c, http.MethodPost, base.ResolveReference(&url.URL{Path: "/oauth2/login"}).String(),
		url.Values{"req": {id}, "username": {user}, "password": {pass}})
	if err != nil || loc != nil {
		return loc, err
	}
	if !strings.Contains(page, `id="allow"`) {
		return nil, fmt.Errorf("oauthserver: login failed: %.300s", page)
	}

	_, loc, err = step(ctx, c, http.MethodPost, base.ResolveReference(&url.URL{Path: "/oauth2/consent"}).String(),
		url.Values{"req": {id}, "consent": {decision}})
	if err == nil && loc == nil {
		err = fmt.Errorf("oauthserver: consent did not redirect")
	}
	return loc, err
}

// step sends one request and returns either the 200 page body or the
// redirect location.
func step(ctx context.Context, c *http.Client, method, target string, form url.Values) (string, *url.URL, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return "", nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, err
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, err := resp.Location()
		return "", loc, err
	case resp.StatusCode != http.StatusOK:
		return "", nil, fmt.Errorf("oauthserver: %s %s: %s: %.300s", method, target, resp.Status, b)
	}
	return string(b), nil, nil
}
