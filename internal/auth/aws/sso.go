package aws

import (
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	"gopkg.in/ini.v1"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/aws/awsapi"
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
	// keys are all of the profile's settings, the credentials file's
	// over the config file's, as the SDK merges them.
	keys map[string]string
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

// sharedFiles are the AWS CLI's config and credentials files, read once.
type sharedFiles struct {
	configPath string
	// profiles are the config file's profiles ([default], [profile x]) in
	// file order; keys holds every profile's settings by name, including
	// the credentials file's sections ([x]), which win over the config
	// file's.
	profiles []string
	keys     map[string]map[string]string
	sessions map[string]map[string]string // [sso-session x]
}

// loadShared reads the config file (AWS_CONFIG_FILE, else ~/.aws/config)
// and the credentials file (credsPath; "" for none). A missing file is
// empty.
func loadShared(env envfile.Source, credsPath string) (*sharedFiles, error) {
	f := &sharedFiles{keys: map[string]map[string]string{}, sessions: map[string]map[string]string{}}
	path, err := configPath(env)
	if err != nil {
		return f, err
	}
	f.configPath = path
	read := func(path, what string, section func(name string) (profile string, ok bool)) error {
		if path == "" {
			return nil
		}
		file, err := ini.LoadSources(ini.LoadOptions{Insensitive: false, AllowBooleanKeys: true}, path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("could not read the AWS %s file %s: %w", what, path, err)
		}
		for _, s := range file.Sections() {
			if name, ok := strings.CutPrefix(s.Name(), "sso-session "); ok && what == "config" {
				f.sessions[strings.TrimSpace(name)] = s.KeysHash()
				continue
			}
			name, ok := section(s.Name())
			if !ok {
				continue
			}
			if f.keys[name] == nil {
				f.keys[name] = map[string]string{}
				if what == "config" {
					f.profiles = append(f.profiles, name)
				}
			}
			for k, v := range s.KeysHash() {
				f.keys[name][k] = v
			}
		}
		return nil
	}
	err = read(path, "config", func(name string) (string, bool) {
		if name == "default" {
			return name, true
		}
		p, ok := strings.CutPrefix(name, "profile ")
		return strings.TrimSpace(p), ok
	})
	if err != nil {
		return f, err
	}
	err = read(credsPath, "credentials", func(name string) (string, bool) { return name, name != ini.DefaultSection })
	return f, err
}

// profile parses a profile's settings; Kind is "" when it has none of the
// kinds alchemy lists (static keys, say).
func (f *sharedFiles) profile(name string) (awsProfile, bool) {
	keys, ok := f.keys[name]
	if !ok {
		return awsProfile{}, false
	}
	get := func(k string) string { return keys[k] }
	p := awsProfile{Name: name, Region: get("region"), AccountID: get("sso_account_id"), RoleName: get("sso_role_name"),
		RoleARN: get("role_arn"), Source: get("source_profile"), keys: keys}
	switch {
	case get("sso_session") != "":
		p.Kind, p.Session = "sso", get("sso_session")
		if sess := f.sessions[p.Session]; sess != nil {
			p.StartURL, p.SSORegion = sess["sso_start_url"], sess["sso_region"]
		}
	case get("sso_start_url") != "":
		p.Kind, p.StartURL, p.SSORegion = "sso", get("sso_start_url"), get("sso_region")
	case p.RoleARN != "" && (p.Source != "" || get("credential_source") != ""):
		p.Kind = "role"
	case get("credential_process") != "":
		p.Kind = "process"
	}
	return p, true
}

// listProfiles reads the AWS config file: SSO profiles first (both the
// sso-session and the legacy inline style), then role and
// credential_process profiles, each group by name.
func listProfiles(env envfile.Source) ([]awsProfile, string, error) {
	f, err := loadShared(env, "")
	if err != nil {
		return nil, f.configPath, err
	}
	var out []awsProfile
	for _, name := range f.profiles {
		if p, _ := f.profile(name); p.Kind != "" {
			out = append(out, p)
		}
	}
	rank := map[string]int{"sso": 0, "role": 1, "process": 2}
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].Kind] != rank[out[j].Kind] {
			return rank[out[i].Kind] < rank[out[j].Kind]
		}
		return out[i].Name < out[j].Name
	})
	return out, f.configPath, nil
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

// ssoCache is the AWS CLI's token cache file (~/.aws/sso/cache/<sha1>.json),
// which the AWS CLI and the SDKs read and write too.
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

// errSignIn marks errors that mean the SSO sign-in is missing or over, so
// only a new sign-in helps.
var errSignIn = errors.New("sign in to AWS SSO")

// signInCodes are the SSO and SSO-OIDC answers that mean the same: the
// portal refusing the access token, the refresh token or the client
// registration refused.
var signInCodes = map[string]bool{"UnauthorizedException": true, "InvalidGrantException": true,
	"ExpiredTokenException": true, "InvalidClientException": true}

// needsSignIn reports whether err means the SSO sign-in itself is missing or
// over (not a network or permission problem).
func needsSignIn(err error) bool {
	var op *smithy.OperationError
	var api smithy.APIError
	switch {
	case errors.Is(err, errSignIn):
		return true
	case errors.As(err, &op) && (op.ServiceID == "SSO" || op.ServiceID == "SSO OIDC"):
		return errors.As(err, &api) && signInCodes[api.ErrorCode()]
	}
	return false
}

// readSSOCache reads the profile's token cache and registers its secrets:
// they are sent to AWS, whose errors may quote them.
func readSSOCache(p awsProfile) (*ssoCache, string, error) {
	path, err := ssoCachePath(p)
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, path, fmt.Errorf("%w: no cached SSO token for %s (%s)", errSignIn, p.StartURL, path)
	}
	if err != nil {
		return nil, path, err
	}
	var cache ssoCache
	if err := json.Unmarshal(data, &cache); err != nil {
		return nil, path, fmt.Errorf("%w: the cached SSO token %s is not JSON (%v)", errSignIn, path, err)
	}
	return auth.Loaded(&cache), path, nil
}

// ssoToken is the profile's SSO access token, refreshed (and written back
// for the AWS CLI) when it has expired, as the SDK's SSO token provider
// does. The SDK refreshes only sso-session profiles; a legacy profile's
// token is refreshed too when its cache holds a refresh token.
func ssoToken(ctx context.Context, c *auth.Context, env envfile.Source, client *http.Client, p awsProfile) (string, error) {
	cache, path, err := readSSOCache(p)
	if err != nil {
		return "", err
	}
	exp, err := time.Parse(time.RFC3339, cache.ExpiresAt)
	if err == nil && c.Now().Before(exp) {
		return cache.AccessToken, nil
	}
	if cache.RefreshToken == "" || cache.ClientID == "" || cache.ClientSecret == "" {
		return "", fmt.Errorf("%w: the cached SSO token of %s has expired and cannot be refreshed", errSignIn, p.StartURL)
	}
	region := cmp.Or(p.SSORegion, cache.Region, DefaultRegion)
	tok, err := awsapi.NewOIDC(apiConfig(env, client, "SSO_OIDC", region)).CreateToken(ctx, awsapi.CreateTokenInput{
		ClientID: cache.ClientID, ClientSecret: cache.ClientSecret, GrantType: awsapi.GrantRefreshToken, RefreshToken: cache.RefreshToken})
	if err != nil {
		return "", fmt.Errorf("refreshing the cached SSO token of %s: %w", p.StartURL, err)
	}
	cache.AccessToken, cache.RefreshToken = tok.AccessToken, tok.RefreshToken
	cache.ExpiresAt = c.Now().UTC().Add(time.Duration(tok.ExpiresIn) * time.Second).Format(time.RFC3339)
	if err := saveSSOCache(path, auth.Loaded(cache)); err != nil {
		return "", err
	}
	return cache.AccessToken, nil
}

// deviceLogin signs in to IAM Identity Center natively: register a client,
// start a device authorization, let the person approve it in a browser (or
// open the printed URL anywhere), poll for the token, and write it where the
// AWS CLI and the SDK read it, so `aws` and `alchemy` share one sign-in.
func deviceLogin(ctx context.Context, c *auth.Context, p awsProfile) error {
	region := cmp.Or(p.SSORegion, DefaultRegion)
	hc, err := caClient(c.Env, c.HTTP, p.keys["ca_bundle"])
	if err != nil {
		return err
	}
	client := awsapi.NewOIDC(apiConfig(c.Env, hc, "SSO_OIDC", region))
	reg, err := client.RegisterClient(ctx, "alchemy")
	if err != nil {
		return auth.Errorf("AWS SSO: could not register with IAM Identity Center in %s: %v", region, err)
	}
	da, err := client.StartDeviceAuthorization(ctx, reg, p.StartURL)
	if err != nil {
		return auth.Errorf("AWS SSO: could not start the sign-in at %s: %v", p.StartURL, err)
	}
	link := da.VerificationURIComplete
	c.IO.Info(fmt.Sprintf("AWS SSO: sign in at %s and confirm the code %s", link, da.UserCode))
	if err := browser.Open(c.Env, link); err != nil && !errors.Is(err, browser.ErrNoDisplay) {
		c.IO.Warn("AWS SSO: could not open a browser; open the URL above yourself.")
	}
	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second
	}
	deadline := time.Now().Add(time.Duration(da.ExpiresIn) * time.Second)
	for {
		tok, err := client.CreateToken(ctx, awsapi.CreateTokenInput{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret,
			GrantType: awsapi.GrantDeviceCode, DeviceCode: da.DeviceCode})
		var api smithy.APIError
		code := ""
		if errors.As(err, &api) {
			code = api.ErrorCode()
		}
		switch {
		case err == nil:
			return writeSSOCache(c, p, region, reg, tok)
		case code == "AuthorizationPendingException":
		case code == "SlowDownException":
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

func writeSSOCache(c *auth.Context, p awsProfile, region string, reg *awsapi.RegisteredClient, tok *awsapi.Token) error {
	path, err := ssoCachePath(p)
	if err != nil {
		return err
	}
	now := c.Now().UTC()
	return saveSSOCache(path, auth.Loaded(&ssoCache{
		StartURL: p.StartURL, Region: region,
		AccessToken:           tok.AccessToken,
		ExpiresAt:             now.Add(time.Duration(tok.ExpiresIn) * time.Second).Format(time.RFC3339),
		ClientID:              reg.ClientID,
		ClientSecret:          reg.ClientSecret,
		RegistrationExpiresAt: time.Unix(reg.ClientSecretExpiresAt, 0).UTC().Format(time.RFC3339),
		RefreshToken:          tok.RefreshToken,
	}))
}

// saveSSOCache writes the token cache as the AWS CLI does: indented JSON,
// readable by its owner only, replaced atomically so the CLI never reads
// half a file.
func saveSSOCache(path string, cache *ssoCache) error {
	data, err := json.MarshalIndent(cache, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("writing the SSO token cache %s: %w", path, err)
	}
	return nil
}

// ssoCachePath is where the profile's SSO sign-in is cached:
// ~/.aws/sso/cache/<sha1 of the sso-session name, or of the start URL for
// legacy profiles>.json, as the AWS CLI and the SDK name it.
func ssoCachePath(p awsProfile) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	sum := sha1.Sum([]byte(p.cacheKey()))
	return filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"), nil
}
