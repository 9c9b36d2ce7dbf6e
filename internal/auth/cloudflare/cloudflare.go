// Package cloudflare is the Cloudflare auth provider: an API token or a
// global API key + email stored in the profile, or the same taken from the
// environment. (OAuth is listed in the menu and arrives in its own change.)
package cloudflare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// Name is the provider's key in profiles.json.
const Name = "Cloudflare"

const storedKey = "cf-stored"

// Credential types of the stored method.
const (
	TypeAPIToken = "apiToken"
	TypeAPIKey   = "apiKey"
)

// Provider implements auth.Provider for Cloudflare.
type Provider struct{}

var _ auth.Provider = Provider{}

func (Provider) Name() string { return Name }

func (Provider) Methods() []auth.Method {
	return []auth.Method{
		{ID: "oauth", Label: "OAuth", Hint: "recommended — browser-based login with automatic token refresh"},
		{ID: "env", Label: "Environment Variables", Hint: "CLOUDFLARE_API_TOKEN or CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL"},
		{ID: "stored", Label: "API Token or API Key", Hint: "enter credentials interactively, stored in ~/.alchemy/credentials"},
	}
}

// Entry is the Cloudflare entry of profiles.json.
type Entry struct {
	Method         string   `json:"method"`
	CredentialType string   `json:"credentialType,omitempty"`
	Scopes         []string `json:"scopes,omitempty"`
	AccountID      string   `json:"accountId,omitempty"`
}

// Stored is credentials/<profile>/cf-stored.json.
type Stored struct {
	Type      string `json:"type"`
	APIToken  string `json:"apiToken,omitempty"`
	APIKey    string `json:"apiKey,omitempty"`
	Email     string `json:"email,omitempty"`
	AccountID string `json:"accountId"`
	// Unchecked marks credentials saved while the API could not be
	// reached: shown as unchecked until a login checks them.
	Unchecked bool `json:"unchecked,omitempty"`
}

// Secrets are the token, key and email (the email pairs with the key).
func (s *Stored) Secrets() []string { return []string{s.APIToken, s.APIKey, s.Email} }

// OAuth is credentials/<profile>/cf-oauth.json.
type OAuth struct {
	Type    string   `json:"type"`
	Access  string   `json:"access"`
	Refresh string   `json:"refresh"`
	Expires int64    `json:"expires"` // epoch milliseconds
	Scopes  []string `json:"scopes"`
	// ClientID is the OAuth client the grant was issued to when another
	// client made it (the TypeScript tool's, read from its v1 file);
	// refreshes and revocations name it. Empty for our own grants, so the
	// seed's cf-oauth.json shape is unchanged.
	ClientID string `json:"clientId,omitempty"`
}

// Secrets are the access and refresh tokens.
func (o *OAuth) Secrets() []string { return []string{o.Access, o.Refresh} }

const oauthKey = "cf-oauth"

// Credentials are resolved Cloudflare credentials.
type Credentials struct {
	Type        string // TypeAPIToken, TypeAPIKey, "oauth"
	AccessToken string
	ExpiresAt   time.Time
	APIToken    string
	APIKey      string
	Email       string
	AccountID   string
	source      auth.Source
}

func (c *Credentials) Source() auth.Source        { return c.source }
func (c *Credentials) Expires() (time.Time, bool) { return c.ExpiresAt, !c.ExpiresAt.IsZero() }

// CloudflareValues are what auth.Cloudflare reads (auth.CloudflareReader).
func (c *Credentials) CloudflareValues() (auth.CloudflareValues, bool) {
	if c == nil {
		return auth.CloudflareValues{}, false
	}
	return auth.CloudflareValues{AccountID: c.AccountID, APIToken: c.APIToken, APIKey: c.APIKey, Email: c.Email,
		OAuthToken: c.AccessToken, ExpiresAt: c.ExpiresAt}, true
}

func (c *Credentials) Fields(now time.Time) []auth.Field {
	switch c.Type {
	case "oauth":
		return []auth.Field{
			{Key: "accessToken", Value: display.Redact(c.AccessToken, 4)},
			{Key: "expires", Value: display.Expiry(c.ExpiresAt, now)},
			{Key: "accountId", Value: c.AccountID},
		}
	case TypeAPIKey:
		return []auth.Field{
			{Key: "apiKey", Value: display.Redact(c.APIKey, 4)},
			{Key: "email", Value: display.Redact(c.Email, 4), Width: len("email:") + 1},
			{Key: "accountId", Value: c.AccountID},
		}
	}
	return []auth.Field{
		{Key: "apiToken", Value: display.Redact(c.APIToken, 4)},
		{Key: "accountId", Value: c.AccountID},
	}
}

// Env is the credentials as the variables Cloudflare tools read (wrangler
// and alchemy's env method), for alchemy profile env / exec. An OAuth access
// token is a bearer token like an API token.
// Secrets are the token, key and email (the email pairs with the key).
func (c *Credentials) Secrets() []string {
	return []string{c.APIToken, c.APIKey, c.Email, c.AccessToken}
}

// Inherited are the variables wrangler and the Cloudflare SDKs read.
func (c *Credentials) Inherited() []string {
	return []string{"CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_ACCOUNT_ID",
		"CF_API_TOKEN", "CF_API_KEY", "CF_EMAIL", "CF_ACCOUNT_ID"}
}

func (c *Credentials) Env() map[string]string {
	m := map[string]string{"CLOUDFLARE_ACCOUNT_ID": c.AccountID}
	switch c.Type {
	case TypeAPIKey:
		m["CLOUDFLARE_API_KEY"], m["CLOUDFLARE_EMAIL"] = c.APIKey, c.Email
	case "oauth":
		m["CLOUDFLARE_API_TOKEN"] = c.AccessToken
	default:
		m["CLOUDFLARE_API_TOKEN"] = c.APIToken
	}
	return m
}

// APIAuth is the auth for the Cloudflare API client.
func (c *Credentials) APIAuth() cfapi.Auth {
	switch c.Type {
	case TypeAPIKey:
		return cfapi.Auth{APIKey: c.APIKey, Email: c.Email}
	case "oauth":
		return cfapi.Auth{OAuthToken: c.AccessToken}
	}
	return cfapi.Auth{APIToken: c.APIToken}
}

func (Provider) SecretKeys(e profile.Entry) []string {
	if e.Method() == "stored" {
		return []string{storedKey}
	}
	if e.Method() == "oauth" {
		return []string{oauthKey}
	}
	return nil
}

func (p Provider) Configure(ctx context.Context, c *auth.Context, method string) (profile.Entry, error) {
	if method == "" {
		var err error
		method, err = auth.ChooseMethod(ctx, c, p)
		if err != nil {
			return nil, err
		}
	}
	switch method {
	case "env":
		if !c.Interactive {
			if _, err := readEnv(c.Env); err != nil {
				c.IO.Warn(fmt.Sprintf("Cloudflare: %s; the profile will use them once they are set.", err))
			}
		}
		return profile.NewEntry(Entry{Method: "env"})
	case "stored":
		s, err := p.captureStored(ctx, c)
		if err != nil {
			return nil, err
		}
		return profile.NewEntry(Entry{Method: "stored", CredentialType: s.Type})
	case "oauth":
		scopes := c.Login.Scopes
		if len(scopes) == 0 {
			scopes = DefaultScopes
		}
		account, err := oauthLogin(ctx, c, scopes)
		if err != nil {
			return nil, err
		}
		return profile.NewEntry(Entry{Method: "oauth", Scopes: scopes, AccountID: account})
	}
	_, err := auth.MethodFor(p, method)
	return nil, err
}

// oauthLogin signs in with the browser, stores the tokens and picks the
// account. It needs a person: without one (no terminal, CI) it fails at
// once, naming what to do, rather than print a URL and wait for a paste
// nobody will make.
func oauthLogin(ctx context.Context, c *auth.Context, scopes []string) (string, error) {
	// ALCHEMY_OAUTH_PASTE=1 (from the process environment only) lets a
	// script without a terminal drive a remote sign-in by pasting the
	// redirected URL on stdin; CI never waits.
	scripted := envfile.Get(c.Env, "ALCHEMY_OAUTH_PASTE") == "1" && !envfile.Bool(c.Env, "CI")
	if !c.Interactive && !scripted {
		return "", auth.Errorf("Cloudflare: signing in with OAuth needs a browser and a person, and this process is non-interactive (no terminal, or CI is set). Run `alchemy login --profile %s --provider Cloudflare` in a terminal, or use an API token: `alchemy login --profile %s --provider Cloudflare --method stored` with CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID set", c.Profile, c.Profile)
	}
	// An account to pin the login to that cannot be one fails before the
	// person signs in, and is not quoted whole: it may be a token.
	if id, source := pinnedAccount(c); id != "" {
		if err := validAccount(id, source); err != nil {
			return "", err
		}
	}
	o, err := browserLogin(ctx, c, scopes)
	if err != nil {
		return "", oauthFailure(c, err)
	}
	pinned, _ := pinnedAccount(c)
	client := cfapi.New(envfile.Get(c.Env, "CLOUDFLARE_BASE_URL"), cfapi.Auth{OAuthToken: o.Access}, c.HTTP)
	account, err := chooseAccount(ctx, c, client, pinned)
	if err != nil && (cfapi.IsUnreachable(err) || cfapi.IsRejected(err)) {
		err = auth.Errorf("Cloudflare: could not list accounts: %v", err)
	}
	if err != nil {
		// Nobody will hold this grant: give it back.
		_ = revoke(ctx, c, o)
		return "", err
	}
	var old OAuth
	hadOld := false
	err = c.WithSecrets(ctx, func(tx *profile.Tx) error {
		hadOld, _ = tx.ReadSecret(oauthKey, &old)
		return tx.WriteSecret(oauthKey, o)
	})
	if err != nil {
		return "", err
	}
	if hadOld && old.Refresh != "" && old.Refresh != o.Refresh {
		// The login this one replaces stays valid at Cloudflare otherwise;
		// it is given back once the new one is saved.
		c.AfterSave(func() {
			if err := revoke(ctx, c, &old); err != nil {
				c.IO.Warn(fmt.Sprintf("Cloudflare: could not revoke the previous OAuth token: %v", err))
			}
		})
	}
	return account, nil
}

// Forget gives back what removed secrets held: a replaced OAuth grant is
// revoked (best effort), after its file is gone and its replacement saved.
func (Provider) Forget(ctx context.Context, c *auth.Context, e profile.Entry, secrets map[string]json.RawMessage) error {
	raw, ok := secrets[oauthKey]
	if !ok {
		return nil
	}
	var o OAuth
	if err := json.Unmarshal(raw, &o); err != nil || o.Refresh == "" {
		return nil
	}
	if err := revoke(ctx, c, &o); err != nil {
		return fmt.Errorf("could not revoke the replaced OAuth grant: %v", err)
	}
	return nil
}

func oauthFailure(c *auth.Context, err error) error {
	var oe *OAuthError
	if errors.As(err, &oe) {
		return auth.Errorf("Cloudflare OAuth login failed (%s). Run `alchemy login --profile %s --provider Cloudflare --configure` to try again, or choose API Token there", oe, c.Profile)
	}
	return err
}

// chooseAccount lists the accounts a new credential can see (GET
// /accounts, every page): none is an error, one is taken, several are
// chosen from; pinned (--account-id, CLOUDFLARE_ACCOUNT_ID, the profile's)
// must be one of them. Without a terminal, several accounts and no pin is
// an error that lists them (ids are not secrets).
func chooseAccount(ctx context.Context, c *auth.Context, client *cfapi.Client, pinned string) (string, error) {
	accounts, err := client.Accounts(ctx)
	if err != nil {
		if cfapi.IsUnreachable(err) || cfapi.IsRejected(err) {
			return "", err // the caller knows what the credential is
		}
		return "", auth.Errorf("Cloudflare: could not list accounts: %v", err)
	}
	if len(accounts) == 0 {
		return "", auth.Errorf("Cloudflare: this login can see no Cloudflare accounts, so nothing could be deployed with it. Nothing was saved. Use a token (or sign in as a user) with access to an account (a token's Account Resources, in the dashboard under My Profile → API Tokens), then run `alchemy login --profile %s --provider Cloudflare --configure` again", c.Profile)
	}
	if pinned != "" {
		for _, a := range accounts {
			if strings.EqualFold(a.ID, pinned) {
				return a.ID, nil
			}
		}
		return "", auth.Errorf("Cloudflare: this login cannot see account %s; it sees %s. Check --account-id / CLOUDFLARE_ACCOUNT_ID", pinned, accountList(accounts))
	}
	if len(accounts) == 1 {
		c.IO.Info(fmt.Sprintf("Cloudflare: using account %s (%s), the only one this login can see.", accounts[0].Name, accounts[0].ID))
		return accounts[0].ID, nil
	}
	if !c.Interactive {
		return "", auth.Errorf("Cloudflare: this login can see %d accounts: %s. Pass --account-id (or set CLOUDFLARE_ACCOUNT_ID) to choose one: run this command again with --account-id <id>", len(accounts), accountList(accounts))
	}
	opts := make([]prompt.Option, len(accounts))
	for i, a := range accounts {
		opts[i] = prompt.Option{Value: a.ID, Label: a.Name, Hint: a.ID}
	}
	return c.Prompt.Select(ctx, fmt.Sprintf("Which Cloudflare account should profile '%s' deploy to?", c.Profile), opts, accounts[0].ID)
}

// accountList is "Work (0123…), Personal (fedc…)" with whole ids.
func accountList(accounts []cfapi.Account) string {
	parts := make([]string, len(accounts))
	for i, a := range accounts {
		parts[i] = fmt.Sprintf("%s (%s)", a.Name, a.ID)
	}
	return strings.Join(parts, ", ")
}

// pinnedAccount is the account an OAuth login must choose, if any:
// --account-id (or the profile's account, on a new sign-in), else
// CLOUDFLARE_ACCOUNT_ID; and where it came from, for messages.
func pinnedAccount(c *auth.Context) (id, source string) {
	if c.Login.AccountID != "" {
		return c.Login.AccountID, "given to this login with --account-id or by the profile"
	}
	return envfile.Get(c.Env, "CLOUDFLARE_ACCOUNT_ID"), "from the CLOUDFLARE_ACCOUNT_ID env var"
}

// captureStored asks for (or, without a terminal, takes from the
// environment) a token or key, checks it with the API and stores it.
func (Provider) captureStored(ctx context.Context, c *auth.Context) (*Stored, error) {
	var s *Stored
	var err error
	if c.Interactive {
		s, err = promptStored(ctx, c)
	} else {
		s, err = storedFromEnv(c)
	}
	if err != nil {
		return nil, err
	}
	if id, source := pinnedAccount(c); id != "" {
		if err := validAccount(id, source); err != nil {
			return nil, err
		}
		s.AccountID = strings.ToLower(id)
	}
	err = check(ctx, c, auth.Loaded(s))
	var rejected *rejectedError
	switch {
	case errors.As(err, &rejected):
		return nil, auth.Errorf("Cloudflare rejected this %s (%v). Nothing was saved. Check it in the Cloudflare dashboard, then run `alchemy login --profile %s --provider Cloudflare --configure` again%s", rejected.what, rejected.err, c.Profile, rejected.hint)
	case errors.Is(err, errUnreachable):
		c.IO.Warn(fmt.Sprintf("Cloudflare: %v; saving it unchecked.", err))
	case err != nil:
		return nil, err
	}
	if err := c.WithSecrets(ctx, func(tx *profile.Tx) error { return tx.WriteSecret(storedKey, s) }); err != nil {
		return nil, err
	}
	c.IO.Success("Cloudflare: credentials saved.")
	return s, nil
}

func promptStored(ctx context.Context, c *auth.Context) (*Stored, error) {
	kind, err := c.Prompt.Select(ctx, "Cloudflare credential type", []prompt.Option{
		{Value: TypeAPIToken, Label: "API Token", Hint: "recommended"},
		{Value: TypeAPIKey, Label: "API Key + Email"},
	}, TypeAPIToken)
	if err != nil {
		return nil, err
	}
	s := &Stored{Type: kind}
	if kind == TypeAPIToken {
		s.APIToken, err = c.Prompt.Input(ctx, prompt.Input{Title: "Cloudflare API Token", Secret: true, Required: true})
	} else {
		// The upstream tool echoes the global key; it is the most powerful
		// secret Cloudflare has, so it is masked here.
		s.APIKey, err = c.Prompt.Input(ctx, prompt.Input{Title: "Cloudflare API Key", Secret: true, Required: true})
		if err == nil {
			s.Email, err = c.Prompt.Input(ctx, prompt.Input{Title: "Cloudflare Email", Required: true})
		}
	}
	if err != nil {
		return nil, err
	}
	// The account is looked up with the credential once it is checked
	// (check), so it is not asked for here.
	return s, nil
}

// askAccount asks for an account id, when it cannot be looked up (the API
// is unreachable): there is no skipping it, as a profile without one
// cannot deploy.
func askAccount(ctx context.Context, c *auth.Context) (string, error) {
	id, err := c.Prompt.Input(ctx, prompt.Input{
		Title:    "Cloudflare Account ID (Workers & Pages → Account details)",
		Required: true,
		Validate: func(v string) error {
			if !isAccountID(v) {
				return errors.New("Expected a 32-character hex account ID (Workers & Pages → Account details)")
			}
			return nil
		},
	})
	return strings.ToLower(id), err
}

// storedFromEnv takes the secrets of a stored login from the variables;
// the account comes from --account-id / CLOUDFLARE_ACCOUNT_ID or is looked
// up (captureStored).
func storedFromEnv(c *auth.Context) (*Stored, error) {
	creds, err := readEnvSecrets(c.Env)
	if err != nil {
		return nil, auth.Errorf("Cloudflare: %s, then run this command again to store them", err)
	}
	return &Stored{Type: creds.Type, APIToken: creds.APIToken, APIKey: creds.APIKey, Email: creds.Email}, nil
}

// errUnreachable marks a check that could not reach the API.
var errUnreachable = errors.New("could not reach the Cloudflare API")

// rejectedError is a credential the API refused; callers word the remedy.
type rejectedError struct {
	what string // "API token", "API key and email"
	err  error
	hint string // what else may explain it, or ""
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("Cloudflare rejected this %s: %v", e.what, e.err)
}

// check asks Cloudflare whether it accepts s and which account it acts in.
// s.AccountID, when set, is the account it must act in (an account-owned
// token verifies only against it); else the accounts the credential sees
// are listed: one is taken, several are chosen from. When the API cannot
// be reached, s is marked unchecked and the error wraps errUnreachable; the
// account is then asked for (or must have been given). A refusal is a
// *rejectedError.
func check(ctx context.Context, c *auth.Context, s *Stored) error {
	creds := &Credentials{Type: s.Type, APIToken: s.APIToken, APIKey: s.APIKey, Email: s.Email}
	client := cfapi.New(envfile.Get(c.Env, "CLOUDFLARE_BASE_URL"), creds.APIAuth(), c.HTTP)
	var err error
	what := "API token"
	accountToken := false
	if s.Type == TypeAPIKey {
		what = "API key and email"
		_, err = client.User(ctx)
	} else {
		_, err = client.VerifyToken(ctx)
		if cfapi.IsRejected(err) && s.AccountID != "" {
			// Account-owned tokens only verify against their account.
			if _, aerr := client.VerifyAccountToken(ctx, s.AccountID); aerr == nil {
				err, accountToken = nil, true
			}
		}
	}
	if err == nil && !accountToken {
		var account string
		account, err = chooseAccount(ctx, c, client, s.AccountID)
		switch {
		case err == nil:
			s.AccountID = account
		case cfapi.IsRejected(err) && s.AccountID != "":
			// The credential is good (it verified); it only may not list
			// accounts, and the account was given.
			err = nil
		case cfapi.IsRejected(err):
			return auth.Errorf("Cloudflare accepted this %s but would not list its accounts (%v). Nothing was saved. Pass --account-id (or set CLOUDFLARE_ACCOUNT_ID) to name the account", what, err)
		case !cfapi.IsUnreachable(err):
			return err
		}
	}
	switch {
	case err == nil:
		s.Unchecked = false
		return nil
	case cfapi.IsRejected(err):
		hint := ""
		if s.Type != TypeAPIKey && s.AccountID == "" {
			hint = " (an account-owned token verifies only against its account: pass --account-id or set CLOUDFLARE_ACCOUNT_ID)"
		}
		return &rejectedError{what: what, err: err, hint: hint}
	case cfapi.IsUnreachable(err):
		s.Unchecked = true
		if s.AccountID == "" {
			if !c.Interactive {
				return auth.Errorf("Cloudflare: could not reach the Cloudflare API to check the %s and look up its accounts (%v). Nothing was saved. Pass --account-id (or set CLOUDFLARE_ACCOUNT_ID) to save it unchecked, or try again once the API can be reached", what, err)
			}
			c.IO.Warn(fmt.Sprintf("Cloudflare: could not reach the Cloudflare API (%v), so its accounts cannot be looked up.", err))
			account, aerr := askAccount(ctx, c)
			if aerr != nil {
				return aerr
			}
			s.AccountID = account
		}
		return fmt.Errorf("%w to check the %s (%v)", errUnreachable, what, err)
	default:
		return auth.Errorf("Cloudflare: could not check the %s: %v", what, err)
	}
}

func (p Provider) Login(ctx context.Context, c *auth.Context, e profile.Entry) error {
	switch e.Method() {
	case "env":
		_, err := readEnv(c.Env)
		if err != nil {
			return auth.Errorf("Cloudflare: %s", err)
		}
		c.IO.Success("Cloudflare: using credentials from environment variables.")
		return nil
	case "stored":
		return loginStored(ctx, c)
	case "oauth":
		var cfg Entry
		if err := e.Decode(&cfg); err != nil {
			return err
		}
		if cfg.AccountID == "" {
			// Deploys need the account the login acts in; a sign-in picks it
			// (the only one, a menu, or --account-id).
			return &auth.ReconfigureError{Reason: fmt.Sprintf("Cloudflare: profile '%s' has an OAuth login but no account", c.Profile)}
		}
		var o OAuth
		if found, err := c.ReadSecret(oauthKey, &o); err == nil && found {
			c.IO.Info("Cloudflare: refreshing OAuth credentials...")
			if _, err := freshOAuth(ctx, c, true); err == nil {
				c.IO.Success("Cloudflare: OAuth credentials refreshed.")
				return nil
			}
			c.IO.Info("Cloudflare: the stored login was rejected; signing in again.")
		}
		scopes := cfg.Scopes
		if len(scopes) == 0 {
			scopes = DefaultScopes
		}
		if c.Login.AccountID == "" {
			c.Login.AccountID = cfg.AccountID // the profile stays on its account
		}
		_, err := oauthLogin(ctx, c, scopes)
		return err
	}
	_, err := auth.MethodFor(p, e.Method())
	return err
}

// loginStored checks a stored login and repairs what keeps it from
// resolving: a missing account is looked up (or taken from --account-id /
// CLOUDFLARE_ACCOUNT_ID) and saved; missing or rejected credentials are
// asked for again (auth.ReconfigureError). Credentials that still cannot
// be checked stay marked unchecked, and are never called valid.
func loginStored(ctx context.Context, c *auth.Context) error {
	var s Stored
	found, err := c.ReadSecret(storedKey, &s)
	if err != nil {
		return err
	}
	if !found {
		return &auth.ReconfigureError{Reason: "Cloudflare: the stored credentials are missing"}
	}
	before := s
	if id, source := pinnedAccount(c); id != "" && (c.Login.AccountID != "" || s.AccountID == "") {
		if err := validAccount(id, source); err != nil {
			return err
		}
		s.AccountID = strings.ToLower(id)
	}
	err = check(ctx, c, &s)
	var rejected *rejectedError
	switch {
	case errors.As(err, &rejected):
		return &auth.ReconfigureError{Reason: fmt.Sprintf("Cloudflare rejected the stored %s (%v)%s", rejected.what, rejected.err, rejected.hint)}
	case errors.Is(err, errUnreachable):
		c.IO.Warn(fmt.Sprintf("Cloudflare: %v; the stored credentials stay unchecked.", err))
	case err != nil:
		return err
	}
	if s != before {
		if err := c.WithSecrets(ctx, func(tx *profile.Tx) error { return tx.WriteSecret(storedKey, &s) }); err != nil {
			return err
		}
		if s.AccountID != before.AccountID {
			c.IO.Success(fmt.Sprintf("Cloudflare: account %s saved to profile '%s'.", s.AccountID, c.Profile))
		}
	}
	if !s.Unchecked {
		c.IO.Success("Cloudflare: stored credentials are valid.")
	}
	return nil
}

// freshOAuth returns the stored OAuth tokens with at least refreshWindow
// left, refreshing them when needed (or always, with force). The refresh
// happens under the profile's lock and re-reads the file first: refresh
// tokens are single-use, so of many processes needing a refresh at once,
// exactly one may spend it; the others find its result.
func freshOAuth(ctx context.Context, c *auth.Context, force bool) (*OAuth, error) {
	notFound := auth.Errorf("Cloudflare OAuth credentials not found. Run: alchemy login --profile %s", c.Profile)
	var o OAuth
	found, err := c.ReadSecret(oauthKey, &o)
	if err != nil {
		return nil, err
	}
	if !found || o.Type != "oauth" {
		return nil, notFound
	}
	fresh := func(o *OAuth) bool { return time.UnixMilli(o.Expires).After(c.Now().Add(refreshWindow)) }
	if !force && fresh(&o) {
		return &o, nil
	}
	var out *OAuth
	err = c.WithSecrets(ctx, func(tx *profile.Tx) error {
		var cur OAuth
		if found, err := tx.ReadSecret(oauthKey, &cur); err != nil || !found {
			if err == nil {
				err = notFound
			}
			return err
		}
		if fresh(&cur) && (!force || cur.Refresh != o.Refresh) {
			out = &cur // another process refreshed while we waited for the lock
			return nil
		}
		// The refresh token is single-use: spend it only where its
		// replacement can be saved for every process.
		if err := tx.CanPersist(); err != nil {
			return auth.Errorf("Cloudflare: the OAuth access token of profile '%s' needs a refresh, and refresh tokens are single-use: refreshing where the new one cannot be saved would lose the login for every other process. %v. Make the alchemy home writable (or mount it so), or use environment credentials (CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID with CI=1)", c.Profile, err)
		}
		// The request is not cancelled by Ctrl-C: once the server has
		// rotated the token, its answer is the only copy of the new one.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		next, err := refresh(rctx, c, &cur)
		var oe *OAuthError
		if errors.As(err, &oe) && oe.Code == "invalid_grant" {
			// A writer that does not take our lock (the TypeScript tool) may
			// have spent the token: look once more.
			var again OAuth
			if found, _ := tx.ReadSecret(oauthKey, &again); found && again.Refresh != cur.Refresh && fresh(&again) {
				out = &again
				return nil
			}
		}
		if err != nil {
			return auth.Errorf("Cloudflare OAuth refresh failed. Run: alchemy login --profile %s (the token endpoint said %v)", c.Profile, err)
		}
		out = next
		if err := tx.WriteSecret(oauthKey, next); err != nil {
			// The old refresh token is spent: this process keeps working
			// with the new access token, and says what was lost.
			c.IO.Warn(fmt.Sprintf("Cloudflare: the refreshed OAuth tokens could not be saved (%v). This command goes on with them, but the next one will need `alchemy login --profile %s`.", err, c.Profile))
		}
		return nil
	})
	if err == nil && ctx.Err() != nil {
		// Interrupted while refreshing: what was refreshed is saved; now
		// the command may stop.
		return out, ctx.Err()
	}
	return out, err
}

// refreshTimeout bounds a refresh request, which no interrupt cancels.
const refreshTimeout = 30 * time.Second

func (Provider) Logout(ctx context.Context, c *auth.Context, e profile.Entry) error {
	switch e.Method() {
	case "stored":
		if err := c.WithSecrets(ctx, func(tx *profile.Tx) error { return tx.DeleteSecret(storedKey) }); err != nil {
			return err
		}
		c.IO.Success("Cloudflare: stored credentials removed")
	case "env":
		c.IO.Info("Cloudflare: credentials come from environment variables; nothing stored to remove.")
	case "oauth":
		return c.WithSecrets(ctx, func(tx *profile.Tx) error {
			var o OAuth
			if found, err := tx.ReadSecret(oauthKey, &o); err == nil && found && o.Refresh != "" {
				if err := revoke(ctx, c, &o); err != nil {
					c.IO.Warn(fmt.Sprintf("Cloudflare: could not revoke OAuth token: %v", err))
				}
			}
			if err := tx.DeleteSecret(oauthKey); err != nil {
				return err
			}
			c.IO.Success("Cloudflare: OAuth credentials removed.")
			return nil
		})
	}
	return nil
}

func (p Provider) Read(ctx context.Context, c *auth.Context, e profile.Entry) (auth.Credentials, error) {
	switch e.Method() {
	case "env":
		creds, err := readEnv(c.Env)
		if err != nil {
			return nil, err
		}
		if err := validAccount(creds.AccountID, "from the CLOUDFLARE_ACCOUNT_ID env var"); err != nil {
			return nil, err
		}
		creds.AccountID = strings.ToLower(creds.AccountID)
		return creds, nil
	case "stored":
		var s Stored
		found, err := c.ReadSecret(storedKey, &s)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, auth.Errorf("Cloudflare stored credentials not found. Run: alchemy login --profile %s --configure", c.Profile)
		}
		account, source := s.AccountID, fmt.Sprintf("stored for profile '%s'", c.Profile)
		if account == "" {
			account, source = envfile.Get(c.Env, "CLOUDFLARE_ACCOUNT_ID"), "from the CLOUDFLARE_ACCOUNT_ID env var"
		}
		if err := validAccount(account, source); err != nil {
			return nil, err
		}
		src := auth.Source{Type: "stored"}
		if s.Unchecked {
			src.Details = fmt.Sprintf("unchecked (saved while Cloudflare could not be reached; `alchemy login --profile %s` checks it)", c.Profile)
		}
		return &Credentials{Type: s.Type, APIToken: s.APIToken, APIKey: s.APIKey, Email: s.Email,
			AccountID: strings.ToLower(account), source: src}, nil
	case "oauth":
		var cfg Entry
		if err := e.Decode(&cfg); err != nil {
			return nil, err
		}
		if err := validAccount(cfg.AccountID, fmt.Sprintf("configured for profile '%s'", c.Profile)); err != nil {
			return nil, err
		}
		o, err := freshOAuth(ctx, c, false)
		if err != nil {
			return nil, err
		}
		return &Credentials{Type: "oauth", AccessToken: o.Access, ExpiresAt: time.UnixMilli(o.Expires),
			AccountID: strings.ToLower(cfg.AccountID), source: auth.Source{Type: "oauth"}}, nil
	}
	_, err := auth.MethodFor(p, e.Method())
	return nil, err
}

// isAccountID reports whether id is 32 hex digits, either case.
func isAccountID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range []byte(strings.ToLower(id)) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validAccount(id, source string) error {
	if id == "" {
		return auth.Errorf("Cloudflare account ID is missing (%s). Set CLOUDFLARE_ACCOUNT_ID or re-run 'alchemy login' and provide your account ID (found in the Cloudflare dashboard under Workers & Pages → Account details).", source)
	}
	if !isAccountID(id) {
		// What sits where the account id goes may be a token or key
		// (variables swapped, a token pasted into the account field), and
		// none of it is registered as a secret yet: it is shown as secrets
		// are, with its length to tell a typo.
		return auth.Errorf("'%s' (%d characters) is not a valid Cloudflare account ID (%s) — expected 32 hex characters. Copy the account ID from the Cloudflare dashboard (Workers & Pages → Account details) into CLOUDFLARE_ACCOUNT_ID or re-run 'alchemy login'.", display.Redact(id, 4), len(id), source)
	}
	return nil
}

// readEnv resolves the env method: the account id and a token, or a key and
// email. Every missing variable is named in one error.
func readEnv(env envfile.Source) (*Credentials, error) {
	creds, missing := envSecrets(env)
	account := envfile.Get(env, "CLOUDFLARE_ACCOUNT_ID")
	if account == "" {
		missing = append(missing, "CLOUDFLARE_ACCOUNT_ID")
	}
	if len(missing) > 0 {
		return nil, notFound(missing)
	}
	creds.AccountID = account
	return creds, nil
}

// readEnvSecrets is readEnv without the account.
func readEnvSecrets(env envfile.Source) (*Credentials, error) {
	creds, missing := envSecrets(env)
	if len(missing) > 0 {
		return nil, notFound(missing)
	}
	return creds, nil
}

func notFound(missing []string) error {
	return auth.Errorf("Cloudflare env credentials not found. Set %s.", strings.Join(missing, " and "))
}

// envSecrets reads a token, or a key and email; else it says what to set.
func envSecrets(env envfile.Source) (*Credentials, []string) {
	src := auth.Source{Type: "env"}
	if tok := envfile.Get(env, "CLOUDFLARE_API_TOKEN"); tok != "" {
		return auth.Loaded(&Credentials{Type: TypeAPIToken, APIToken: tok, source: src}), nil
	}
	key, email := envfile.Get(env, "CLOUDFLARE_API_KEY"), envfile.Get(env, "CLOUDFLARE_EMAIL")
	switch {
	case key != "" && email != "":
		return auth.Loaded(&Credentials{Type: TypeAPIKey, APIKey: key, Email: email, source: src}), nil
	case key != "":
		return nil, []string{"CLOUDFLARE_EMAIL (the global API key in CLOUDFLARE_API_KEY needs it)"}
	}
	return nil, []string{"CLOUDFLARE_API_TOKEN or CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL"}
}
