//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	"github.com/alchemy-go/alchemy/internal/testpeers/oauthserver"
)

// A dev session on an OAuth profile whose access tokens live 2 minutes,
// less than the 5-minute refresh window: every cycle must refresh before it
// deploys, and since each refresh revokes the previous access token, the
// second cycle only succeeds with a token refreshed during the session.
func TestDevSessionRefreshesShortLivedTokens(t *testing.T) {
	t.Parallel()
	const account, clientID = "0123456789abcdef0123456789abcdef", "6d8c2255-0773-45f6-b376-2914632e6f91"
	srv := oauthserver.Start(t, oauthserver.Options{ClientID: clientID, AccessTTL: 2 * time.Minute})
	cf := cloudflarefake.New()
	cf.AddAccount(account, "Dev")
	cf.TrustOAuth(srv.AccessTokenValid, cloudflarefake.TokenOptions{})
	cf.Start()
	t.Cleanup(cf.Close)

	// A login, as `alchemy login --method oauth` would have stored it.
	ctx := context.Background()
	cfg := &oauth2.Config{ClientID: clientID, RedirectURL: "http://127.0.0.1:9976/auth/callback", Scopes: oauthserver.DefaultScopes,
		Endpoint: oauth2.Endpoint{AuthURL: srv.AuthorizeURL(), TokenURL: srv.TokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	redirect, err := srv.Approve(ctx, cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(ctx, redirect.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}

	w := newWorld(t)
	os.MkdirAll(filepath.Join(w.alchemyHome, "credentials", "default"), 0o700)
	writeJSON := func(path string, v any) {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON(filepath.Join(w.alchemyHome, "profiles.json"), map[string]any{"version": 0, "profiles": map[string]any{
		"default": map[string]any{"Cloudflare": map[string]any{"method": "oauth", "scopes": []string{"account:read"}, "accountId": account}}}})
	writeJSON(filepath.Join(w.alchemyHome, "credentials", "default", "cf-oauth.json"), map[string]any{
		"type": "oauth", "access": tok.AccessToken, "refresh": tok.RefreshToken, "expires": tok.Expiry.UnixMilli(), "scopes": []string{"account:read"}})

	devKVModule(t, w.dir)
	_, out := startDev(t, w, "ALCHEMY_DEV_POLL=100ms", "CLOUDFLARE_BASE_URL="+cf.URL(), "CLOUDFLARE_OAUTH_TOKEN_URL="+srv.TokenURL())
	titles := func() []string { return kvTitles(cf, account) }
	out.waitFor(t, "[dev] cycle 1 applied")
	if got := titles(); len(got) != 1 || got[0] != "dev-one" {
		t.Fatalf("after cycle 1: %v\n%s", got, out.String())
	}
	_, refreshes := srv.TokenRequests()
	if refreshes < 1 {
		t.Fatalf("cycle 1 did not refresh a token with 2 minutes left (%d refreshes)", refreshes)
	}
	if srv.AccessTokenValid(tok.AccessToken) {
		t.Fatal("the first access token is still valid: the refresh did not rotate it")
	}
	os.WriteFile(w.path("message.txt"), []byte("two"), 0o644)
	out.waitFor(t, "[dev] cycle 2 applied")
	if got := titles(); len(got) != 1 || got[0] != "dev-two" {
		t.Fatalf("after cycle 2: %v\n%s", got, out.String())
	}
	if _, again := srv.TokenRequests(); again <= refreshes {
		t.Fatalf("cycle 2 did not refresh (%d then %d)", refreshes, again)
	}
	if strings.Contains(out.String(), "Failed") || strings.Contains(out.String(), "deploy failed") {
		t.Fatalf("a cycle failed:\n%s", out.String())
	}
}
