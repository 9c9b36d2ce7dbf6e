package cloudflare

import (
	"fmt"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/profile"
)

var (
	_ auth.Explainer = Provider{}
	_ auth.Targeted  = (*Credentials)(nil)
)

const (
	envToken   = "CLOUDFLARE_API_TOKEN"
	envKey     = "CLOUDFLARE_API_KEY"
	envEmail   = "CLOUDFLARE_EMAIL"
	envAccount = "CLOUDFLARE_ACCOUNT_ID"
)

// Variables are what the env method reads (readEnv), in its order.
func (Provider) Variables() []auth.Variable {
	return []auth.Variable{{Name: envToken, Secret: true}, {Name: envKey, Secret: true},
		{Name: envEmail, Secret: true}, {Name: envAccount}}
}

// Explain mirrors Read without its network half: the OAuth tokens are
// described from their file, never refreshed.
func (Provider) Explain(x *auth.Explaining, e profile.Entry) auth.Use {
	switch e.Method() {
	case "env":
		return explainEnv(x)
	case "stored":
		return explainStored(x)
	case "oauth":
		return explainOAuth(x, e)
	}
	return x.UnknownMethod(Name, e.Method())
}

func explainEnv(x *auth.Explaining) auth.Use {
	u := auth.Use{Instead: map[string]string{}}
	switch {
	case x.Get(envToken) != "":
		u.Summary = "the API token in " + envToken
		u.Reads = []string{envToken, envAccount}
		u.Instead[envKey] = envToken + " is set, and it comes first"
		u.Instead[envEmail] = u.Instead[envKey]
		u.Values = append(u.Values, auth.Provenance{Name: "apiToken", Secret: true, From: x.From(envToken)})
	case x.Get(envKey) != "" && x.Get(envEmail) != "":
		u.Summary = "the global API key and email in " + envKey + " and " + envEmail
		u.Reads = []string{envKey, envEmail, envAccount}
		u.Values = append(u.Values, auth.Provenance{Name: "apiKey", Secret: true, From: x.From(envKey)},
			auth.Provenance{Name: "email", Secret: true, From: x.From(envEmail)})
	default:
		u.Summary = "nothing: no Cloudflare credential variable is set"
		u.Reads = []string{envToken, envKey, envEmail, envAccount}
		u.Problem = "a deploy fails: set " + envToken + " (or " + envKey + " + " + envEmail + ") and " + envAccount
	}
	if a := x.Get(envAccount); a != "" {
		u.Values = append(u.Values, auth.Provenance{Name: "accountId", Value: strings.ToLower(a), From: x.From(envAccount)})
	} else if u.Problem == "" {
		u.Problem = "a deploy fails: set " + envAccount + " to the account to deploy to"
	}
	return u
}

func explainStored(x *auth.Explaining) auth.Use {
	path := x.SecretFile(storedKey)
	// Only what is not secret is decoded.
	var s struct {
		Type      string `json:"type"`
		AccountID string `json:"accountId"`
	}
	file, problem := x.StoredFile(storedKey, &s, fmt.Sprintf("Cloudflare stored credentials not found. Run: alchemy login --profile %s --configure", x.Profile))
	u := auth.Use{Instead: map[string]string{}, Files: []auth.Considered{file}, Problem: problem}
	if problem != "" {
		u.Summary = "nothing: its stored credentials cannot be used"
		return u
	}
	what := "API token"
	if s.Type == TypeAPIKey {
		what = "API key and email"
		u.Values = append(u.Values, auth.Provenance{Name: "apiKey", Secret: true, From: path}, auth.Provenance{Name: "email", Secret: true, From: path})
	} else {
		u.Values = append(u.Values, auth.Provenance{Name: "apiToken", Secret: true, From: path})
	}
	u.Summary = fmt.Sprintf("the %s stored for profile '%s'", what, x.Profile)
	for _, v := range []string{envToken, envKey, envEmail} {
		u.Instead[v] = x.ProfileUses("its stored %s", what)
	}
	if s.AccountID != "" {
		account := strings.ToLower(s.AccountID)
		u.Instead[envAccount] = x.ProfileUses("account %s from %s", account, path)
		u.Values = append(u.Values, auth.Provenance{Name: "accountId", Value: account, From: path})
		return u
	}
	// A stored credential saved without an account reads the variable.
	u.Reads = []string{envAccount}
	if a := x.Get(envAccount); a != "" {
		u.Values = append(u.Values, auth.Provenance{Name: "accountId", Value: strings.ToLower(a), From: x.From(envAccount) + " (none is stored)"})
	} else {
		u.Problem = fmt.Sprintf("no account is stored and %s is not set: a deploy fails. Set it, or run `alchemy login --profile %s --provider Cloudflare --configure`", envAccount, x.Profile)
	}
	return u
}

func explainOAuth(x *auth.Explaining, e profile.Entry) auth.Use {
	var cfg Entry
	_ = e.Decode(&cfg)
	var o struct {
		Type    string       `json:"type"`
		Refresh auth.Present `json:"refresh"`
		Expires int64        `json:"expires"`
	}
	notFound := fmt.Sprintf("Cloudflare OAuth credentials not found. Run: alchemy login --profile %s", x.Profile)
	file, problem := x.StoredFile(oauthKey, &o, notFound)
	u := auth.Use{Summary: fmt.Sprintf("the OAuth login of profile '%s'", x.Profile), Instead: map[string]string{}, Problem: problem}
	for _, v := range []string{envToken, envKey, envEmail} {
		u.Instead[v] = x.ProfileUses("its OAuth login")
	}
	switch {
	case problem != "":
	case o.Type != "oauth":
		file.Status, u.Problem = auth.StatusMissing, notFound
	default:
		expires := time.UnixMilli(o.Expires)
		u.Values = append(u.Values, auth.Provenance{Name: "accessToken", Secret: true, From: file.Source},
			auth.Provenance{Name: "expires", Value: display.Expiry(expires, x.Now()), From: file.Source})
		if expires.Before(x.Now().Add(refreshWindow)) {
			file.Why = "the access token needs a refresh, which the next deploy makes (an explanation refreshes nothing)"
			if !o.Refresh {
				u.Problem = fmt.Sprintf("the access token needs a refresh and no refresh token is stored. Run: alchemy login --profile %s", x.Profile)
			}
		}
	}
	u.Files = []auth.Considered{file}
	entry := fmt.Sprintf("the Cloudflare entry of profile '%s' in %s", x.Profile, x.Path(x.Store.EntryFile(x.Profile, Name)))
	if cfg.AccountID != "" {
		account := strings.ToLower(cfg.AccountID)
		u.Instead[envAccount] = x.ProfileUses("account %s, chosen at its OAuth login (%s)", account, entry)
		u.Values = append(u.Values, auth.Provenance{Name: "accountId", Value: account, From: entry})
	} else if u.Problem == "" {
		u.Problem = fmt.Sprintf("the OAuth login chose no account. Run `alchemy login --profile %s --provider Cloudflare --configure`", x.Profile)
	}
	return u
}

// Targets: the account, unless it came from CLOUDFLARE_ACCOUNT_ID itself.
func (c *Credentials) Targets() []auth.Target {
	var origin string
	switch c.source.Type {
	case "stored":
		origin = "stored with its API token"
		if c.Type == TypeAPIKey {
			origin = "stored with its API key"
		}
	case "oauth":
		origin = "chosen at its OAuth login"
	default:
		return nil
	}
	return []auth.Target{{Vars: []string{envAccount}, What: "account", Value: c.AccountID, Origin: origin, Method: "env"}}
}
