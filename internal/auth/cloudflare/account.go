package cloudflare

import (
	"context"
	"fmt"

	"github.com/alchemy-go/alchemy/internal/auth"
)

var _ auth.AccountReader = Provider{}

// Account is the account a deploy with these credentials acts in: every
// resource's API path names the credentials' AccountID, whichever source
// (profile, CLOUDFLARE_ACCOUNT_ID) set it.
func (Provider) Account(_ context.Context, _ *auth.Context, creds auth.Credentials) (string, error) {
	cf, ok := creds.(*Credentials)
	if !ok || cf == nil {
		return "", fmt.Errorf("Cloudflare: no Cloudflare credentials to check (got %T)", creds)
	}
	return cf.AccountID, nil
}

var _ auth.AccountNamer = Provider{}

// KnownAccount is the account id deploys use: the credentials carry it.
func (Provider) KnownAccount(creds auth.Credentials) string {
	if cf, ok := creds.(*Credentials); ok && cf != nil {
		return cf.AccountID
	}
	return ""
}
