package cfapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
)

const (
	accA = "0123456789abcdef0123456789abcdef"
	accB = "fedcba9876543210fedcba9876543210"
)

func newFake(t *testing.T) *cloudflarefake.Server {
	t.Helper()
	f := cloudflarefake.New()
	f.Start()
	t.Cleanup(f.Close)
	f.AddAccount(accA, "Account A")
	f.AddAccount(accB, "Account B")
	return f
}

func withToken(f *cloudflarefake.Server, tok string) *cfapi.Client {
	return cfapi.New(f.URL(), cfapi.Auth{APIToken: tok}, nil)
}

func TestFakeVerifyActiveToken(t *testing.T) {
	f := newFake(t)
	exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	f.AddToken(secretToken, cloudflarefake.TokenOptions{ID: "tokid1", UserEmail: "me@example.com", ExpiresOn: exp})

	ts, err := withToken(f, secretToken).VerifyToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ts.ID != "tokid1" || ts.Status != "active" || ts.ExpiresOn == nil || !ts.ExpiresOn.Equal(exp) {
		t.Fatalf("status = %+v", ts)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/user/tokens/verify" || reqs[0].AuthKind != "token" || reqs[0].Credential != "tokid1" {
		t.Fatalf("requests = %+v", reqs)
	}
	if strings.Contains(fmt.Sprintf("%+v", reqs), secretToken) {
		t.Fatal("request log holds the secret")
	}
}

func TestFakeVerifyRejections(t *testing.T) {
	f := newFake(t)
	f.AddToken("revoked-token", cloudflarefake.TokenOptions{})
	f.RevokeToken("revoked-token")
	f.AddToken("account-token", cloudflarefake.TokenOptions{AccountID: accA})

	for _, tok := range []string{"never-registered", "revoked-token", "account-token"} {
		_, err := withToken(f, tok).VerifyToken(context.Background())
		var ae *cfapi.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 401 || !ae.HasCode(1000) {
			t.Fatalf("%s: err = %v", tok, err)
		}
		if !cfapi.IsRejected(err) || cfapi.IsUnreachable(err) {
			t.Fatalf("%s: misclassified", tok)
		}
		assertNoSecret(t, err, tok)
	}
}

func TestFakeVerifyInactiveTokens(t *testing.T) {
	f := newFake(t)
	f.AddToken("disabled-token", cloudflarefake.TokenOptions{ID: "d", Status: "disabled"})
	f.AddToken("expired-token", cloudflarefake.TokenOptions{ID: "e", Status: "expired"})
	f.AddToken("past-expiry-token", cloudflarefake.TokenOptions{ID: "p", ExpiresOn: time.Now().Add(-time.Hour)})

	for tok, want := range map[string]string{"disabled-token": "disabled", "expired-token": "expired", "past-expiry-token": "expired"} {
		ts, err := withToken(f, tok).VerifyToken(context.Background())
		var ie *cfapi.InactiveTokenError
		if !errors.As(err, &ie) || ie.Status != want || ts.Status != want {
			t.Fatalf("%s: ts=%+v err=%v", tok, ts, err)
		}
		if !cfapi.IsRejected(err) {
			t.Fatalf("%s: not rejected", tok)
		}
	}
}

func TestFakeVerifyAccountToken(t *testing.T) {
	f := newFake(t)
	f.AddToken("acct-a-token", cloudflarefake.TokenOptions{ID: "ta", AccountID: accA})
	f.AddToken("user-token", cloudflarefake.TokenOptions{ID: "tu"})

	ts, err := withToken(f, "acct-a-token").VerifyAccountToken(context.Background(), accA)
	if err != nil || ts.ID != "ta" || !ts.Active() {
		t.Fatalf("ts=%+v err=%v", ts, err)
	}
	for _, tc := range []struct{ tok, acc string }{
		{"acct-a-token", accB}, // wrong account
		{"user-token", accA},   // user token on the account endpoint
		{"unknown", accA},
	} {
		_, err := withToken(f, tc.tok).VerifyAccountToken(context.Background(), tc.acc)
		var ae *cfapi.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 401 || !ae.HasCode(1000) || !cfapi.IsRejected(err) {
			t.Fatalf("%+v: err = %v", tc, err)
		}
	}
}

func TestFakeGlobalKey(t *testing.T) {
	f := newFake(t)
	const key = "0123456789abcdef0123456789abcdef01234"
	f.AddUser("user-id-1", "me@example.com")
	f.AddGlobalKey("me@example.com", key)

	u, err := cfapi.New(f.URL(), cfapi.Auth{APIKey: key, Email: "me@example.com"}, nil).User(context.Background())
	if err != nil || u.ID != "user-id-1" || u.Email != "me@example.com" {
		t.Fatalf("u=%+v err=%v", u, err)
	}
	for _, auth := range []cfapi.Auth{
		{APIKey: key + "x", Email: "me@example.com"},
		{APIKey: key, Email: "other@example.com"},
	} {
		_, err := cfapi.New(f.URL(), auth, nil).User(context.Background())
		var ae *cfapi.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 403 || !ae.HasCode(9103) || !cfapi.IsRejected(err) {
			t.Fatalf("err = %v", err)
		}
		assertNoSecret(t, err, key, key+"x")
	}
	if got := f.Requests()[0]; got.AuthKind != "key" || got.Credential != "me@example.com" {
		t.Fatalf("request = %+v", got)
	}
}

func TestFakeAccountsAllPages(t *testing.T) {
	f := cloudflarefake.New()
	defer f.Close()
	for i := 0; i < 120; i++ {
		f.AddAccount(fmt.Sprintf("%032x", i+1), fmt.Sprintf("Account %03d", i))
	}
	f.AddToken(secretToken, cloudflarefake.TokenOptions{})
	accts, err := withToken(f, secretToken).Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 120 || accts[0].Name != "Account 000" || accts[119].Name != "Account 119" {
		t.Fatalf("got %d accounts: first %+v", len(accts), accts[0])
	}
	reqs := f.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %+v", reqs)
	}
	for i, r := range reqs {
		if r.Path != "/accounts" || r.Query != fmt.Sprintf("page=%d&per_page=50", i+1) {
			t.Fatalf("request %d = %+v", i, r)
		}
	}
}

func TestFakeUnreachable(t *testing.T) {
	f := newFake(t)
	f.AddToken(secretToken, cloudflarefake.TokenOptions{})
	c := withToken(f, secretToken)

	f.SetDown(503)
	_, err := c.VerifyToken(context.Background())
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || !cfapi.IsUnreachable(err) || cfapi.IsRejected(err) {
		t.Fatalf("down: err = %v", err)
	}
	f.SetDown(0)
	if _, err := c.VerifyToken(context.Background()); err != nil {
		t.Fatalf("back up: %v", err)
	}

	f.Close()
	_, err = c.VerifyToken(context.Background())
	if !cfapi.IsUnreachable(err) || cfapi.IsRejected(err) {
		t.Fatalf("closed: err = %v", err)
	}
	assertNoSecret(t, err, secretToken)
}
