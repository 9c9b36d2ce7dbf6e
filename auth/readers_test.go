package auth_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/auth"
	awsauth "github.com/alchemy-go/alchemy/internal/auth/aws"
	cfauth "github.com/alchemy-go/alchemy/internal/auth/cloudflare"
	ghauth "github.com/alchemy-go/alchemy/internal/auth/github"
)

// TestReadersOfTheBuiltInProviders: auth.Cloudflare, auth.AWS and
// auth.GitHub read their provider's credentials (through an interface: the
// public package links no provider), and refuse a nil or another
// provider's without panicking.
func TestReadersOfTheBuiltInProviders(t *testing.T) {
	exp := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cf, err := auth.Cloudflare(&cfauth.Credentials{Type: "oauth", AccessToken: "cf-oauth-access", ExpiresAt: exp, AccountID: "acc-1"})
	if err != nil || cf.OAuthToken != "cf-oauth-access" || cf.AccountID != "acc-1" || !cf.ExpiresAt.Equal(exp) || cf.APIToken != "" {
		t.Errorf("Cloudflare: %+v, %v", cf, err)
	}
	h := http.Header{}
	cf.SetHeaders(h)
	if h.Get("Authorization") != "Bearer cf-oauth-access" {
		t.Errorf("Cloudflare OAuth headers: %v", h)
	}
	key, err := auth.Cloudflare(&cfauth.Credentials{Type: "apiKey", APIKey: "global-key", Email: "me@example.com"})
	h = http.Header{}
	if err == nil {
		key.SetHeaders(h)
	}
	if h.Get("X-Auth-Key") != "global-key" || h.Get("X-Auth-Email") != "me@example.com" || h.Get("Authorization") != "" {
		t.Errorf("Cloudflare API key headers: %v (%v)", h, err)
	}
	a, err := auth.AWS(&awsauth.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret-key", SessionToken: "session",
		Region: "eu-west-1", AccountID: "123456789012", ExpiresAt: exp})
	if err != nil || *a != (auth.AWSCredentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret-key", SessionToken: "session",
		Region: "eu-west-1", AccountID: "123456789012", ExpiresAt: exp}) {
		t.Errorf("AWS: %+v, %v", a, err)
	}
	if tok, err := auth.GitHub(&ghauth.Credentials{Token: "ghp_example"}); err != nil || tok != "ghp_example" {
		t.Errorf("GitHub: %q, %v", tok, err)
	}

	var nilCF *cfauth.Credentials
	var nilAWS *awsauth.Credentials
	var nilGH *ghauth.Credentials
	for name, read := range map[string]func() error{
		"Cloudflare(nil pointer)": func() error { _, err := auth.Cloudflare(nilCF); return err },
		"AWS(nil pointer)":        func() error { _, err := auth.AWS(nilAWS); return err },
		"GitHub(nil pointer)":     func() error { _, err := auth.GitHub(nilGH); return err },
		"Cloudflare(nil)":         func() error { _, err := auth.Cloudflare(nil); return err },
		"AWS(GitHub's)":           func() error { _, err := auth.AWS(&ghauth.Credentials{Token: "ghp_example"}); return err },
		"GitHub(AWS's)":           func() error { _, err := auth.GitHub(&awsauth.Credentials{AccessKeyID: "AKIAEXAMPLE"}); return err },
		"Cloudflare(AWS's)":       func() error { _, err := auth.Cloudflare(&awsauth.Credentials{AccessKeyID: "AKIAEXAMPLE"}); return err },
	} {
		err := read()
		if err == nil || strings.Contains(err.Error(), "ghp_example") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
