package aws

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/ini.v1"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
)

var (
	_ auth.Explainer = Provider{}
	_ auth.Targeted  = (*Credentials)(nil)
)

const (
	envKeyID         = "AWS_ACCESS_KEY_ID"
	envSecret        = "AWS_SECRET_ACCESS_KEY"
	envSession       = "AWS_SESSION_TOKEN"
	envRegionVar     = "AWS_REGION"
	envDefaultRegion = "AWS_DEFAULT_REGION"
	envAccount       = "AWS_ACCOUNT_ID"
	envProfile       = "AWS_PROFILE"
)

var keyVars = []string{envKeyID, envSecret, envSession}

// Variables are what the env method reads, then what names an account,
// region or AWS CLI profile.
func (Provider) Variables() []auth.Variable {
	return []auth.Variable{{Name: envKeyID, Secret: true}, {Name: envSecret, Secret: true}, {Name: envSession, Secret: true},
		{Name: envRegionVar}, {Name: envDefaultRegion}, {Name: envAccount}, {Name: envProfile}}
}

// Explain mirrors Read from files alone: an SSO profile is described from
// the AWS config chain and the sign-in cache's expiry, never resolved.
func (Provider) Explain(x *auth.Explaining, e profile.Entry) auth.Use {
	switch e.Method() {
	case "env":
		return explainEnv(x)
	case "stored":
		return explainStored(x)
	case "sso":
		var cfg Entry
		_ = e.Decode(&cfg)
		return explainSSO(x, cfg.SSOProfile)
	}
	return x.UnknownMethod(Name, e.Method())
}

// regionVar is the region variable the env method reads: AWS_REGION before
// AWS_DEFAULT_REGION (envRegion).
func regionVar(get func(string) string) string {
	if get(envRegionVar) != "" {
		return envRegionVar
	}
	return envDefaultRegion
}

func explainEnv(x *auth.Explaining) auth.Use {
	u := auth.Use{Summary: "the access keys in " + envKeyID + " and " + envSecret, Instead: map[string]string{
		envProfile: "the access keys in the environment come first, as in the AWS CLI",
	}}
	region := regionVar(x.Get)
	u.Reads = append([]string{}, keyVars...)
	u.Reads = append(u.Reads, envAccount, region)
	if region == envRegionVar {
		u.Instead[envDefaultRegion] = envRegionVar + " is set, and it comes first"
	}
	for _, k := range []struct{ name, key string }{{"accessKeyId", envKeyID}, {"secretAccessKey", envSecret}, {"sessionToken", envSession}} {
		if from := x.From(k.key); from != "" {
			u.Values = append(u.Values, auth.Provenance{Name: k.name, Secret: true, From: from})
		} else if k.key != envSession && u.Problem == "" {
			u.Problem = "a deploy fails with `Missing required env: " + k.key + "`"
		}
	}
	if r := x.Get(region); r != "" {
		u.Values = append(u.Values, auth.Provenance{Name: "region", Value: r, From: x.From(region)})
	} else if u.Problem == "" {
		u.Problem = "a deploy fails: AWS region not found. Set AWS_REGION or AWS_DEFAULT_REGION."
	}
	if a := x.Get(envAccount); a != "" {
		u.Values = append(u.Values, auth.Provenance{Name: "account", Value: a, From: x.From(envAccount) + " (as given; not checked with STS)"})
	}
	return u
}

func explainStored(x *auth.Explaining) auth.Use {
	path := x.SecretFile(storedKey)
	// Only what is not secret is decoded.
	var s struct {
		AccountID    string       `json:"accountId"`
		Region       string       `json:"region"`
		SessionToken auth.Present `json:"sessionToken"`
	}
	file, problem := x.StoredFile(storedKey, &s, fmt.Sprintf("AWS stored credentials not found. Run: alchemy login --profile %s --configure", x.Profile))
	u := auth.Use{Summary: fmt.Sprintf("the access keys stored for profile '%s'", x.Profile), Instead: map[string]string{
		envProfile: x.ProfileUses("its stored access keys, not an AWS CLI profile"),
	}, Files: []auth.Considered{file}, Problem: problem}
	if problem != "" {
		return u
	}
	for _, v := range keyVars {
		u.Instead[v] = x.ProfileUses("its stored access keys")
	}
	u.Values = append(u.Values, auth.Provenance{Name: "accessKeyId", Secret: true, From: path}, auth.Provenance{Name: "secretAccessKey", Secret: true, From: path})
	if s.SessionToken {
		u.Values = append(u.Values, auth.Provenance{Name: "sessionToken", Secret: true, From: path})
	}
	u.Instead[envRegionVar] = x.ProfileUses("region %s from %s", s.Region, path)
	u.Instead[envDefaultRegion] = u.Instead[envRegionVar]
	u.Values = append(u.Values, auth.Provenance{Name: "region", Value: s.Region, From: path})
	if s.AccountID != "" {
		u.Instead[envAccount] = x.ProfileUses("account %s of its stored keys", s.AccountID)
		u.Values = append(u.Values, auth.Provenance{Name: "account", Value: s.AccountID, From: path + " (as STS reported it when the keys were saved)"})
	} else {
		u.Instead[envAccount] = x.ProfileUses("its stored keys, whatever account they belong to")
		u.Values = append(u.Values, auth.Provenance{Name: "account", Value: "not known yet", From: path + fmt.Sprintf(" (saved unchecked; `alchemy login --profile %s` fills it in)", x.Profile)})
	}
	return u
}

func explainSSO(x *auth.Explaining, name string) auth.Use {
	cfgPath, _ := configPath(x.Env)
	shownCfg := x.Path(cfgPath)
	entry := fmt.Sprintf("the AWS entry of profile '%s' in %s", x.Profile, x.Path(x.Store.EntryFile(x.Profile, Name)))
	u := auth.Use{Summary: fmt.Sprintf("AWS profile %s of %s, resolved as the AWS CLI does", name, shownCfg), Instead: map[string]string{
		envProfile: x.ProfileUses("AWS profile %s, named in its entry", name),
		envAccount: x.ProfileUses("the account of AWS profile %s", name),
	}}
	for _, v := range keyVars {
		u.Instead[v] = x.ProfileUses("AWS profile %s; AWS tools ignore these keys when a profile is named", name)
	}
	u.Values = append(u.Values, auth.Provenance{Name: "awsProfile", Value: name, From: entry})
	p, err := findProfile(x.Env, name)
	if err != nil {
		u.Files = []auth.Considered{{Source: "[profile " + name + "]", Layer: auth.LayerExternal, Where: shownCfg, Status: auth.StatusMissing}}
		u.Problem = err.Error()
		return u
	}
	u.Files = append(u.Files, auth.Considered{Source: "[profile " + name + "]", Layer: auth.LayerExternal, Where: shownCfg,
		Value: describe(p), Status: auth.StatusUsed})
	section := fmt.Sprintf("[profile %s] in %s", name, shownCfg)
	switch {
	case p.Kind == "sso":
		u.Values = append(u.Values, auth.Provenance{Name: "account", Value: p.AccountID, From: section},
			auth.Provenance{Name: "role", Value: p.RoleName, From: section})
	case p.Kind == "role":
		u.Values = append(u.Values, auth.Provenance{Name: "account", Value: arnAccount(p.RoleARN), From: section + " (role_arn)"},
			auth.Provenance{Name: "role", Value: p.RoleARN, From: section})
	default:
		u.Values = append(u.Values, auth.Provenance{Name: "account", Value: "known when credential_process runs", From: section})
	}
	u.Files = append(u.Files, chainSources(x, p, shownCfg, &u)...)
	explainSSORegion(x, p, section, &u)
	u.Values = append(u.Values, auth.Provenance{Name: "credentials", Secret: true,
		From: "the AWS profile, resolved at deploy (an explanation does not resolve them)"})
	return u
}

// explainSSORegion: the SDK's loader reads the region from the process
// environment before the profile, and never from the env file.
func explainSSORegion(x *auth.Explaining, p awsProfile, section string, u *auth.Use) {
	switch {
	case x.Env.Layers(envRegionVar).FromProcess():
		u.ProcessOnly = []string{envRegionVar}
		u.Instead[envDefaultRegion] = envRegionVar + " is set, and it comes first"
	case x.Env.Layers(envDefaultRegion).FromProcess():
		u.ProcessOnly = []string{envDefaultRegion}
	default:
		u.ProcessOnly = []string{envRegionVar, envDefaultRegion}
	}
	if r := x.Env.Layers(u.ProcessOnly[0]).Process; r != "" {
		u.Values = append(u.Values, auth.Provenance{Name: "region", Value: r,
			From: u.ProcessOnly[0] + " in the environment (it comes before the AWS profile's region, as in the AWS CLI)"})
		return
	}
	if p.Region != "" {
		u.Instead[envRegionVar] = x.ProfileUses("region %s of %s", p.Region, section)
		u.Instead[envDefaultRegion] = u.Instead[envRegionVar]
		u.Values = append(u.Values, auth.Provenance{Name: "region", Value: p.Region, From: section})
	} else if u.Problem == "" {
		u.Problem = fmt.Sprintf("no region: set region in %s, or export AWS_REGION", section)
	}
}

// describe is an AWS config profile in a few words.
func describe(p awsProfile) string {
	switch p.Kind {
	case "sso":
		return fmt.Sprintf("SSO %s, account %s, role %s", p.StartURL, p.AccountID, p.RoleName)
	case "role":
		return fmt.Sprintf("role %s", p.RoleARN)
	}
	return "credential_process"
}

// chainSources follows p's source_profile chain to where the first
// credentials come from: an SSO sign-in (the AWS CLI's token cache, whose
// expiry is read but never refreshed here) or keys in the shared
// credentials file.
func chainSources(x *auth.Explaining, p awsProfile, shownCfg string, u *auth.Use) []auth.Considered {
	var out []auth.Considered
	seen := map[string]bool{}
	for p.Kind == "role" && p.Source != "" && !seen[p.Name] {
		seen[p.Name] = true
		src, err := findProfile(x.Env, p.Source)
		if err != nil {
			return append(out, sharedKeys(x, p.Source, p.Name, shownCfg, u))
		}
		out = append(out, auth.Considered{Source: "[profile " + src.Name + "]", Layer: auth.LayerExternal, Where: shownCfg,
			Value: describe(src) + ", source_profile of " + p.Name, Status: auth.StatusUsed})
		p = src
	}
	if p.Kind != "sso" {
		return out
	}
	c := auth.Considered{Source: "the SSO sign-in of " + p.StartURL, Layer: auth.LayerExternal, Status: auth.StatusUsed}
	path, err := ssoCachePath(p)
	if err != nil {
		return out
	}
	c.Where = x.Path(path)
	var cache struct {
		ExpiresAt    string       `json:"expiresAt"`
		RefreshToken auth.Present `json:"refreshToken"`
	}
	data, err := os.ReadFile(path)
	signIn := fmt.Sprintf("Run `alchemy login --profile %s --provider AWS` (or `aws sso login --profile %s`)", x.Profile, p.Name)
	if err != nil || json.Unmarshal(data, &cache) != nil {
		c.Status = auth.StatusMissing
		if u.Problem == "" {
			u.Problem = "not signed in to AWS SSO. " + signIn
		}
		return append(out, c)
	}
	if t, err := time.Parse(time.RFC3339, cache.ExpiresAt); err == nil {
		c.Why = "it expires " + display.Expiry(t, x.Now())
		switch {
		case t.After(x.Now()):
		case bool(cache.RefreshToken):
			c.Why = "it has expired (" + display.ISO(t) + "); alchemy refreshes it at deploy"
		default:
			c.Why = "it has expired (" + display.ISO(t) + ")"
			if u.Problem == "" {
				u.Problem = "the AWS SSO sign-in has expired. " + signIn
			}
		}
	}
	return append(out, c)
}

// sharedKeys is a source_profile that is not an SSO, role or process
// profile: its keys are in the shared credentials file (read by the SDK from
// AWS_SHARED_CREDENTIALS_FILE in the process environment, else
// ~/.aws/credentials).
func sharedKeys(x *auth.Explaining, name, of, shownCfg string, u *auth.Use) auth.Considered {
	path := envfile.Get(x.Env, "AWS_SHARED_CREDENTIALS_FILE")
	if path == "" {
		path = filepath.Join(x.Home, ".aws", "credentials")
	}
	c := auth.Considered{Source: "[" + name + "]", Layer: auth.LayerExternal, Where: x.Path(path),
		Value: "access keys, source_profile of " + of, Status: auth.StatusUsed}
	f, err := ini.Load(path)
	if err != nil || !f.HasSection(name) {
		if !errors.Is(err, os.ErrNotExist) && err != nil {
			c.Why = err.Error()
		}
		c.Status = auth.StatusMissing
		if u.Problem == "" {
			u.Problem = fmt.Sprintf("the source_profile %s of AWS profile %s is neither a profile of %s nor a section of %s", name, of, shownCfg, c.Where)
		}
	}
	return c
}

// arnAccount is the account of an IAM ARN (arn:aws:iam::111122223333:role/x).
func arnAccount(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) > 4 {
		return parts[4]
	}
	return ""
}

// Targets: the account, region and AWS profile, unless they came from the
// variables themselves.
func (c *Credentials) Targets() []auth.Target {
	var origin string
	profileTarget := auth.Target{Vars: []string{envProfile}, What: "AWS profile", Method: "sso"}
	switch c.source.Type {
	case "stored":
		origin = "stored with its access keys"
		profileTarget.Origin = "it signs in with its stored access keys"
	case "sso":
		origin = "from AWS profile " + c.source.Details
		profileTarget.Value, profileTarget.Origin = c.source.Details, "its sso method"
	default:
		return nil
	}
	var out []auth.Target
	if c.AccountID != "" {
		out = append(out, auth.Target{Vars: []string{envAccount}, What: "account", Value: c.AccountID, Origin: origin, Method: "env"})
	}
	if c.Region != "" {
		out = append(out, auth.Target{Vars: []string{envRegionVar, envDefaultRegion}, What: "region", Value: c.Region, Origin: origin, Method: "env"})
	}
	return append(out, profileTarget)
}
