// Package aws is the AWS auth provider: access keys stored in the profile
// (checked with STS GetCallerIdentity before they are saved) or taken from
// the environment. (SSO is listed in the menu and arrives in its own change.)
package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// Name is the provider's key in profiles.json.
const Name = "AWS"

const storedKey = "aws-stored"

// DefaultRegion is offered when nothing else names a region.
const DefaultRegion = "us-east-1"

// Provider implements auth.Provider for AWS.
type Provider struct{}

var _ auth.Provider = Provider{}

func (Provider) Name() string { return Name }

func (Provider) Methods() []auth.Method {
	return []auth.Method{
		{ID: "sso", Label: "SSO", Hint: "a profile of ~/.aws/config: IAM Identity Center, a role, or credential_process"},
		{ID: "env", Label: "Environment Variables", Hint: "AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY"},
		{ID: "stored", Label: "Stored", Hint: "stored in ~/.alchemy/credentials"},
	}
}

// Entry is the AWS entry of profiles.json.
type Entry struct {
	Method     string `json:"method"`
	SSOProfile string `json:"ssoProfile,omitempty"`
}

// Stored is credentials/<profile>/aws-stored.json (aws.json before; see
// Shape). SessionToken is "" when absent,
// as the TypeScript tool writes it.
type Stored struct {
	AccountID       string `json:"accountId"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
	Region          string `json:"region"`
}

// Secrets are the keys.
func (s *Stored) Secrets() []string {
	return []string{s.AccessKeyID, s.SecretAccessKey, s.SessionToken}
}

// Credentials are resolved AWS credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Region          string
	// AccountID is "" until STS has answered once.
	AccountID string
	// ExpiresAt is zero for long-lived keys.
	ExpiresAt time.Time
	source    auth.Source
}

func (c *Credentials) Source() auth.Source        { return c.source }
func (c *Credentials) Expires() (time.Time, bool) { return c.ExpiresAt, !c.ExpiresAt.IsZero() }

// AWSValues are what auth.AWS reads (auth.AWSReader).
func (c *Credentials) AWSValues() (auth.AWSValues, bool) {
	if c == nil {
		return auth.AWSValues{}, false
	}
	return auth.AWSValues{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		Region: c.Region, AccountID: c.AccountID, ExpiresAt: c.ExpiresAt}, true
}

func (c *Credentials) Fields(now time.Time) []auth.Field {
	const w = len("secretAccessKey:")
	f := []auth.Field{
		{Key: "accessKeyId", Value: display.Redact(c.AccessKeyID, 4), Width: w},
		{Key: "secretAccessKey", Value: display.Redact(c.SecretAccessKey, 4), Width: w},
	}
	if c.SessionToken != "" {
		f = append(f, auth.Field{Key: "sessionToken", Value: display.Redact(c.SessionToken, 4), Width: w})
	}
	if c.Region != "" {
		f = append(f, auth.Field{Key: "region", Value: c.Region, Width: w})
	}
	if c.AccountID != "" {
		f = append(f, auth.Field{Key: "account", Value: c.AccountID, Width: w})
	}
	if !c.ExpiresAt.IsZero() {
		f = append(f, auth.Field{Key: "expires", Value: display.Expiry(c.ExpiresAt, now), Width: w})
	}
	return f
}

// Env is the credentials as the environment variables other tools read
// (alchemy profile env / exec).
// Secrets are the keys (the access key id too: with the secret it is a
// login, and it names the account's user).
func (c *Credentials) Secrets() []string {
	return []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken}
}

// Inherited are the variables the AWS SDKs and CLI read credentials,
// profiles and regions from.
func (c *Credentials) Inherited() []string {
	return []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
		"AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_REGION", "AWS_DEFAULT_REGION"}
}

func (c *Credentials) Env() map[string]string {
	m := map[string]string{"AWS_ACCESS_KEY_ID": c.AccessKeyID, "AWS_SECRET_ACCESS_KEY": c.SecretAccessKey}
	if c.SessionToken != "" {
		m["AWS_SESSION_TOKEN"] = c.SessionToken
	}
	if c.Region != "" {
		m["AWS_REGION"], m["AWS_DEFAULT_REGION"] = c.Region, c.Region
	}
	return m
}

func (Provider) SecretKeys(e profile.Entry) []string {
	if e.Method() == "stored" {
		return []string{storedKey}
	}
	return nil
}

func (p Provider) Configure(ctx context.Context, c *auth.Context, method string) (profile.Entry, error) {
	if method == "" {
		var err error
		if method, err = auth.ChooseMethod(ctx, c, p); err != nil {
			return nil, err
		}
	}
	switch method {
	case "env":
		if !c.Interactive {
			if _, err := readEnv(c.Env); err != nil {
				c.IO.Warn(fmt.Sprintf("AWS: %s; the profile will use them once they are set.", err))
			}
		}
		return profile.NewEntry(Entry{Method: "env"})
	case "stored":
		if err := captureStored(ctx, c); err != nil {
			return nil, err
		}
		return profile.NewEntry(Entry{Method: "stored"})
	case "sso":
		name, err := chooseProfile(ctx, c)
		if err != nil {
			return nil, err
		}
		if err := ssoLogin(ctx, c, name, false); err != nil {
			return nil, err
		}
		return profile.NewEntry(Entry{Method: "sso", SSOProfile: name})
	}
	_, err := auth.MethodFor(p, method)
	return nil, err
}

// chooseProfile picks a profile of the AWS config file: asked for in a
// terminal, else AWS_PROFILE names it.
func chooseProfile(ctx context.Context, c *auth.Context) (string, error) {
	ps, path, err := listProfiles(c.Env)
	if err != nil {
		return "", err
	}
	if !c.Interactive {
		name := envfile.Get(c.Env, "AWS_PROFILE")
		if name == "" {
			return "", auth.Errorf("AWS: set AWS_PROFILE to the profile of %s to use (SSO, role or credential_process), then run this command again", path)
		}
		if _, err := findProfile(c.Env, name); err != nil {
			return "", err
		}
		return name, nil
	}
	if len(ps) == 0 {
		return "", auth.Errorf("AWS: no profile in %s uses IAM Identity Center (SSO), a role or credential_process. Run `aws configure sso` to add one, or choose Stored or Environment Variables", path)
	}
	opts := make([]prompt.Option, len(ps))
	for i, p := range ps {
		opts[i] = prompt.Option{Value: p.Name, Label: p.Name, Hint: p.hint()}
	}
	return c.Prompt.Select(ctx, "AWS profile (from "+path+")", opts, ps[0].Name)
}

// ssoLogin makes sure the profile resolves, signing in to IAM Identity
// Center natively when its SSO sign-in is missing or over (or always, with
// force).
func ssoLogin(ctx context.Context, c *auth.Context, name string, force bool) error {
	if !force {
		creds, err := resolveSSO(ctx, c, name)
		if err == nil {
			c.IO.Success(fmt.Sprintf("AWS SSO: signed in (profile %s, account %s).", name, creds.AccountID))
			return nil
		}
		if !needsSignIn(err) {
			return auth.Errorf("AWS: profile '%s' does not resolve: %v", name, err)
		}
	}
	prof, err := findProfile(c.Env, name)
	if err != nil {
		return err
	}
	root, ok := ssoRoot(c.Env, prof)
	if !ok {
		return auth.Errorf("AWS: profile '%s' does not resolve and does not use SSO, so alchemy cannot sign it in; fix it with the AWS CLI", name)
	}
	if envfile.Bool(c.Env, "CI") {
		// Nobody can approve a device code in a CI job: fail now rather
		// than poll until the code expires.
		return auth.Errorf("AWS: profile '%s' needs an SSO sign-in in a browser, and CI is set, so nobody can approve it here. Sign in where a person can (`aws sso login --profile %s`, or `alchemy login --profile %s --provider AWS` in a terminal), or give the job credentials of its own (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, or an OIDC role)", name, name, c.Profile)
	}
	if err := deviceLogin(ctx, c, root); err != nil {
		return err
	}
	creds, err := resolveSSO(ctx, c, name)
	if err != nil {
		return auth.Errorf("AWS: signed in to SSO, but profile '%s' still does not resolve: %v", name, err)
	}
	c.IO.Success(fmt.Sprintf("AWS SSO: login complete (profile %s, account %s).", name, creds.AccountID))
	return nil
}

func captureStored(ctx context.Context, c *auth.Context) error {
	var s *Stored
	var err error
	if c.Interactive {
		s, err = promptStored(ctx, c)
	} else {
		s, err = storedFromEnv(c.Env)
	}
	if err != nil {
		return err
	}
	id, err := callerIdentity(ctx, c, auth.Loaded(s))
	switch {
	case err == nil:
		s.AccountID = id.Account
	case IsRejected(err):
		return auth.Errorf("AWS rejected these access keys (%v). Nothing was saved. Check them, then run `alchemy login --profile %s --provider AWS --configure` again", err, c.Profile)
	case IsUnreachable(err):
		c.IO.Warn(fmt.Sprintf("AWS: could not reach STS in %s to check the keys (%v); saving them unchecked. The account id is filled in on the next successful check.", s.Region, err))
	default:
		return auth.Errorf("AWS: could not check the access keys: %v", err)
	}
	if err := c.WithSecrets(ctx, func(tx *profile.Tx) error { return tx.WriteSecret(storedKey, s) }); err != nil {
		return err
	}
	c.IO.Success("AWS credentials saved.")
	return nil
}

func promptStored(ctx context.Context, c *auth.Context) (*Stored, error) {
	s := &Stored{}
	questions := []struct {
		dst *string
		in  prompt.Input
	}{
		{&s.AccessKeyID, prompt.Input{Title: "AWS Access Key ID", Required: true}},
		{&s.SecretAccessKey, prompt.Input{Title: "AWS Secret Access Key", Secret: true, Required: true}},
		{&s.SessionToken, prompt.Input{Title: "AWS Session Token (optional — press Enter to skip)", Placeholder: "(none)", Secret: true}},
		{&s.Region, prompt.Input{Title: "AWS Region", Placeholder: DefaultRegion, Default: DefaultRegion}},
	}
	for _, q := range questions {
		v, err := c.Prompt.Input(ctx, q.in)
		if err != nil {
			return nil, err
		}
		*q.dst = v
	}
	return s, nil
}

func storedFromEnv(env envfile.Source) (*Stored, error) {
	creds, err := readEnvKeys(env)
	if err != nil {
		return nil, auth.Errorf("AWS: %s, then run this command again to store them", err)
	}
	region := envRegion(env)
	if region == "" {
		region = DefaultRegion
	}
	return &Stored{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken, Region: region}, nil
}

func (Provider) Login(ctx context.Context, c *auth.Context, e profile.Entry) error {
	switch e.Method() {
	case "env":
		creds, err := readEnv(c.Env)
		if err != nil {
			return auth.Errorf("AWS: %s", err)
		}
		if creds.AccountID == "" {
			// AWS_ACCOUNT_ID unset: ask STS, as a check of the keys too.
			id, err := callerIdentity(ctx, c, &Stored{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken, Region: creds.Region})
			switch {
			case IsRejected(err):
				return auth.Errorf("AWS rejected the access keys in the environment (%v)", err)
			case err == nil:
				creds.AccountID = id.Account
			}
		}
		if creds.AccountID != "" {
			c.IO.Success(fmt.Sprintf("AWS: using credentials from environment variables (account %s).", creds.AccountID))
		} else {
			c.IO.Success("AWS: using credentials from environment variables.")
		}
		return nil
	case "stored":
		var s Stored
		found, err := c.ReadSecret(storedKey, &s)
		if err != nil {
			return err
		}
		if !found {
			return captureStored(ctx, c)
		}
		id, err := callerIdentity(ctx, c, &s)
		switch {
		case IsRejected(err):
			// Asked for again (or read from the environment without a
			// terminal), as a first login would.
			return &auth.ReconfigureError{Reason: fmt.Sprintf("AWS rejected the stored access keys (%v)", err)}
		case err != nil:
			c.IO.Warn(fmt.Sprintf("AWS: could not check the stored access keys (%v); they stay unchecked.", err))
			return nil
		}
		if s.AccountID != id.Account {
			if err := rememberAccount(ctx, c, id.Account); err != nil {
				return err
			}
		}
		c.IO.Success(fmt.Sprintf("AWS: stored credentials are valid (account %s).", id.Account))
		return nil
	case "sso":
		var cfg Entry
		if err := e.Decode(&cfg); err != nil {
			return err
		}
		return ssoLogin(ctx, c, cfg.SSOProfile, false)
	}
	_, err := auth.MethodFor(Provider{}, e.Method())
	return err
}

// rememberAccount fills in the account id of stored keys saved while STS was
// unreachable. It re-reads under the lock so a concurrent re-configure wins.
func rememberAccount(ctx context.Context, c *auth.Context, account string) error {
	return c.WithSecrets(ctx, func(tx *profile.Tx) error {
		var s Stored
		if found, err := tx.ReadSecret(storedKey, &s); err != nil || !found {
			return err
		}
		s.AccountID = account
		return tx.WriteSecret(storedKey, &s)
	})
}

func (Provider) Logout(ctx context.Context, c *auth.Context, e profile.Entry) error {
	switch e.Method() {
	case "stored":
		if err := c.WithSecrets(ctx, func(tx *profile.Tx) error { return tx.DeleteSecret(storedKey) }); err != nil {
			return err
		}
		c.IO.Success("AWS: stored credentials removed")
	case "env":
		c.IO.Info("AWS: credentials come from environment variables; nothing stored to remove.")
	case "sso":
		var cfg Entry
		if err := e.Decode(&cfg); err != nil {
			return err
		}
		// alchemy keeps no role credentials on disk; the SSO sign-in is the
		// AWS CLI's too, so it is only ended when asked.
		if !c.Login.EndSSO {
			c.IO.Info(fmt.Sprintf("AWS: the SSO sign-in of profile %s is shared with the AWS CLI and was kept. Run `alchemy logout --provider AWS --sso` (or `aws sso logout`) to end it.", cfg.SSOProfile))
			return nil
		}
		prof, err := findProfile(c.Env, cfg.SSOProfile)
		if err != nil {
			return err
		}
		root, ok := ssoRoot(c.Env, prof)
		if !ok {
			c.IO.Info(fmt.Sprintf("AWS: profile %s does not use SSO; nothing to sign out of.", cfg.SSOProfile))
			return nil
		}
		path, err := ssoCachePath(root)
		if err != nil {
			return err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		c.IO.Success("AWS: SSO logout complete")
	}
	return nil
}

func (p Provider) Read(ctx context.Context, c *auth.Context, e profile.Entry) (auth.Credentials, error) {
	switch e.Method() {
	case "env":
		return readEnv(c.Env)
	case "stored":
		var s Stored
		found, err := c.ReadSecret(storedKey, &s)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, auth.Errorf("AWS stored credentials not found. Run: alchemy login --profile %s --configure", c.Profile)
		}
		return &Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken,
			Region: s.Region, AccountID: s.AccountID, source: auth.Source{Type: "stored"}}, nil
	case "sso":
		var cfg Entry
		if err := e.Decode(&cfg); err != nil {
			return nil, err
		}
		creds, err := resolveSSO(ctx, c, cfg.SSOProfile)
		if needsSignIn(err) {
			return nil, auth.Errorf("AWS SSO sign-in for profile '%s' is missing or has expired. Run `alchemy login --profile %s --provider AWS` (or `aws sso login --profile %s`)", cfg.SSOProfile, c.Profile, cfg.SSOProfile)
		}
		return creds, err
	}
	_, err := auth.MethodFor(p, e.Method())
	return nil, err
}

func readEnvKeys(env envfile.Source) (*Credentials, error) {
	if err := envfile.RequireAll(env, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"); err != nil {
		return nil, err
	}
	return auth.Loaded(&Credentials{AccessKeyID: envfile.Get(env, "AWS_ACCESS_KEY_ID"), SecretAccessKey: envfile.Get(env, "AWS_SECRET_ACCESS_KEY"),
		SessionToken: envfile.Get(env, "AWS_SESSION_TOKEN"), AccountID: envfile.Get(env, "AWS_ACCOUNT_ID"), source: auth.Source{Type: "env"}}), nil
}

// readEnv resolves the env method. Every missing variable is named in one
// error, the region with the keys.
func readEnv(env envfile.Source) (*Credentials, error) {
	creds, err := readEnvKeys(env)
	region := envRegion(env)
	var missing *envfile.MissingError
	if region == "" && (err == nil || errors.As(err, &missing)) {
		if missing == nil {
			missing = &envfile.MissingError{}
		}
		missing.Names = append(missing.Names, "AWS_REGION (or AWS_DEFAULT_REGION)")
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	creds.Region = region
	return creds, nil
}

func envRegion(env envfile.Source) string {
	if r := envfile.Get(env, "AWS_REGION"); r != "" {
		return r
	}
	return envfile.Get(env, "AWS_DEFAULT_REGION")
}
