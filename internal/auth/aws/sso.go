package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	oidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"gopkg.in/ini.v1"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/browser"
	"github.com/alchemy-go/alchemy/internal/envfile"
)

// awsProfile is one profile of the AWS CLI's config file that alchemy can
// sign in with.
type awsProfile struct {
	Name string
	// Kind is "sso", "role" (role_arn + source_profile/credential_source,
	// possibly chained onto an SSO profile) or "process" (credential_process).
	Kind      string
	Session   string // sso_session name, "" for the legacy inline style
	StartURL  string
	SSORegion string
	AccountID string
	RoleName  string
	RoleARN   string
	Source    string // source_profile
	Region    string
}

func (p awsProfile) hint() string {
	switch p.Kind {
	case "sso":
		return fmt.Sprintf("SSO %s, account %s, role %s", p.StartURL, p.AccountID, p.RoleName)
	case "role":
		from := p.Source
		if from == "" {
			from = "credential_source"
		}
		return fmt.Sprintf("role %s from %s", p.RoleARN, from)
	}
	return "credential_process"
}

// cacheKey is what the AWS CLI hashes to name the SSO token cache file:
// the sso-session name, or the start URL for legacy profiles.
func (p awsProfile) cacheKey() string {
	if p.Session != "" {
		return p.Session
	}
	return p.StartURL
}

func configPath(env envfile.Source) (string, error) {
	if p := envfile.Get(env, "AWS_CONFIG_FILE"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".aws", "config"), nil
}

// listProfiles reads the AWS config file: SSO profiles first (both the
// sso-session and the legacy inline style), then role and
// credential_process profiles, each group by name.
func listProfiles(env envfile.Source) ([]awsProfile, string, error) {
	path, err := configPath(env)
	if err != nil {
		return nil, "", err
	}
	f, err := ini.LoadSources(ini.LoadOptions{Insensitive: false, AllowBooleanKeys: true}, path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, path, nil
		}
		return nil, path, fmt.Errorf("could not read the AWS config file %s: %w", path, err)
	}
	sessions := map[string]*ini.Section{}
	for _, s := range f.Sections() {
		if name, ok := strings.CutPrefix(s.Name(), "sso-session "); ok {
			sessions[strings.TrimSpace(name)] = s
		}
	}
	var out []awsProfile
	for _, s := range f.Sections() {
		name := ""
		switch {
		case s.Name() == "default":
			name = "default"
		case strings.HasPrefix(s.Name(), "profile "):
			name = strings.TrimSpace(strings.TrimPrefix(s.Name(), "profile "))
		default:
			continue
		}
		get := func(k string) string { return s.Key(k).String() }
		p := awsProfile{Name: name, Region: get("region"), AccountID: get("sso_account_id"), RoleName: get("sso_role_name"),
			RoleARN: get("role_arn"), Source: get("source_profile")}
		switch {
		case get("sso_session") != "":
			p.Kind, p.Session = "sso", get("sso_session")
			if sess := sessions[p.Session]; sess != nil {
				p.StartURL, p.SSORegion = sess.Key("sso_start_url").String(), sess.Key("sso_region").String()
			}
		case get("sso_start_url") != "":
			p.Kind, p.StartURL, p.SSORegion = "sso", get("sso_start_url"), get("sso_region")
		case p.RoleARN != "" && (p.Source != "" || get("credential_source") != ""):
			p.Kind = "role"
		case get("credential_process") != "":
			p.Kind = "process"
		default:
			continue
		}
		out = append(out, p)
	}
	rank := map[string]int{"sso": 0, "role": 1, "process": 2}
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].Kind] != rank[out[j].Kind] {
			return rank[out[i].Kind] < rank[out[j].Kind]
		}
		return out[i].Name < out[j].Name
	})
	return out, path, nil
}

func findProfile(env envfile.Source, name string) (awsProfile, error) {
	ps, path, err := listProfiles(env)
	if err != nil {
		return awsProfile{}, err
	}
	for _, p := range ps {
		if p.Name == name {
			return p, nil
		}
	}
	return awsProfile{}, auth.Errorf("AWS profile '%s' is not in %s (or uses neither SSO, a role nor credential_process). Run `aws configure sso --profile %s`, or `alchemy login --provider AWS --configure` to pick another", name, path, name)
}

// ssoRoot is the SSO profile a profile's credentials come from: itself, or
// the end of its source_profile chain; false when none is SSO.
func ssoRoot(env envfile.Source, p awsProfile) (awsProfile, bool) {
	seen := map[string]bool{}
	for p.Kind == "role" && p.Source != "" && !seen[p.Name] {
		seen[p.Name] = true
		src, err := findProfile(env, p.Source)
		if err != nil {
			return awsProfile{}, false
		}
		p = src
	}
	return p, p.Kind == "sso"
}

// resolveSSO resolves a profile through the SDK's own shared-config loader:
// SSO role credentials (with the SDK refreshing the cached token), role
// chaining, credential_process; the same files the AWS CLI uses.
func resolveSSO(ctx context.Context, c *auth.Context, name string) (*Credentials, error) {
	registerSSOCache(c.Env, name)
	opts := []func(*config.LoadOptions) error{config.WithSharedConfigProfile(name)}
	if path, err := configPath(c.Env); err == nil {
		opts = append(opts, config.WithSharedConfigFiles([]string{path}))
	}
	if c.HTTP != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTP))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	out := &Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken,
		Region: cfg.Region, AccountID: creds.AccountID, source: auth.Source{Type: "sso", Details: name}}
	if creds.CanExpire {
		out.ExpiresAt = creds.Expires
	}
	return out, nil
}

// needsSignIn reports whether err means the SSO sign-in itself is missing or
// over (not a network or permission problem).
func needsSignIn(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, s := range []string{"cached SSO token", "SSO token", "InvalidGrant", "UnauthorizedException", "token is expired"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// ssoCache is the AWS CLI's token cache file (~/.aws/sso/cache/<sha1>.json).
type ssoCache struct {
	StartURL              string `json:"startUrl"`
	Region                string `json:"region"`
	AccessToken           string `json:"accessToken"`
	ExpiresAt             string `json:"expiresAt"`
	ClientID              string `json:"clientId"`
	ClientSecret          string `json:"clientSecret"`
	RegistrationExpiresAt string `json:"registrationExpiresAt"`
	RefreshToken          string `json:"refreshToken,omitempty"`
}

// Secrets are the tokens and the client secret.
func (s *ssoCache) Secrets() []string { return []string{s.AccessToken, s.RefreshToken, s.ClientSecret} }

// registerSSOCache registers the secrets of the token cache a profile's
// SSO sign-in uses: the SDK reads that file itself, not through our store,
// and sends its token to the portal (and its refresh token and client
// secret when it refreshes), whose errors may quote what they were sent.
func registerSSOCache(env envfile.Source, name string) {
	p, err := findProfile(env, name)
	if err != nil {
		return
	}
	root, ok := ssoRoot(env, p)
	if !ok {
		return
	}
	path, err := ssoCachePath(root)
	if err != nil {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return // no sign-in yet: nothing to send
	}
	var cache ssoCache
	if json.Unmarshal(data, &cache) == nil {
		auth.Loaded(&cache)
	}
}

// deviceLogin signs in to IAM Identity Center natively: register a client,
// start a device authorization, let the person approve it in a browser (or
// open the printed URL anywhere), poll for the token, and write it where the
// AWS CLI and the SDK read it, so `aws` and `alchemy` share one sign-in.
func deviceLogin(ctx context.Context, c *auth.Context, p awsProfile) error {
	region := p.SSORegion
	if region == "" {
		region = DefaultRegion
	}
	opts := ssooidc.Options{Region: region, Credentials: awssdk.AnonymousCredentials{}}
	if c.HTTP != nil {
		opts.HTTPClient = c.HTTP
	}
	if ep := endpoint(c.Env, "SSO_OIDC"); ep != "" {
		opts.BaseEndpoint = awssdk.String(ep)
	}
	client := ssooidc.New(opts)
	reg, err := client.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: awssdk.String("alchemy"), ClientType: awssdk.String("public")})
	if err != nil {
		return auth.Errorf("AWS SSO: could not register with IAM Identity Center in %s: %v", region, err)
	}
	da, err := client.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: awssdk.String(p.StartURL)})
	if err != nil {
		return auth.Errorf("AWS SSO: could not start the sign-in at %s: %v", p.StartURL, err)
	}
	link := awssdk.ToString(da.VerificationUriComplete)
	c.IO.Info(fmt.Sprintf("AWS SSO: sign in at %s and confirm the code %s", link, awssdk.ToString(da.UserCode)))
	if err := browser.Open(c.Env, link); err != nil && !errors.Is(err, browser.ErrNoDisplay) {
		c.IO.Warn("AWS SSO: could not open a browser; open the URL above yourself.")
	}
	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second
	}
	deadline := time.Now().Add(time.Duration(da.ExpiresIn) * time.Second)
	for {
		tok, err := client.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
			GrantType: awssdk.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: da.DeviceCode})
		var pending *oidctypes.AuthorizationPendingException
		var slow *oidctypes.SlowDownException
		switch {
		case err == nil:
			return writeSSOCache(c, p, region, reg, tok)
		case errors.As(err, &pending):
		case errors.As(err, &slow):
			interval += 5 * time.Second
		default:
			return auth.Errorf("AWS SSO sign-in failed: %v. Run `alchemy login --provider AWS` to try again", err)
		}
		if time.Now().After(deadline) {
			return auth.Errorf("AWS SSO sign-in timed out: the code was not confirmed in time. Run `alchemy login --provider AWS` to try again")
		}
		select {
		case <-time.After(interval):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func writeSSOCache(c *auth.Context, p awsProfile, region string, reg *ssooidc.RegisterClientOutput, tok *ssooidc.CreateTokenOutput) error {
	path, err := ssocreds.StandardCachedTokenFilepath(p.cacheKey())
	if err != nil {
		return err
	}
	now := c.Now().UTC()
	data, err := json.MarshalIndent(auth.Loaded(&ssoCache{
		StartURL: p.StartURL, Region: region,
		AccessToken:           awssdk.ToString(tok.AccessToken),
		ExpiresAt:             now.Add(time.Duration(tok.ExpiresIn) * time.Second).Format(time.RFC3339),
		ClientID:              awssdk.ToString(reg.ClientId),
		ClientSecret:          awssdk.ToString(reg.ClientSecret),
		RegistrationExpiresAt: time.Unix(reg.ClientSecretExpiresAt, 0).UTC().Format(time.RFC3339),
		RefreshToken:          awssdk.ToString(tok.RefreshToken),
	}), "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("writing the SSO token cache %s: %w", path, err)
	}
	return nil
}

// ssoCachePath is where the profile's SSO sign-in is cached.
func ssoCachePath(p awsProfile) (string, error) {
	return ssocreds.StandardCachedTokenFilepath(p.cacheKey())
}
