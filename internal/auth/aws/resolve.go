package aws

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/aws/awsapi"
	"github.com/alchemy-go/alchemy/internal/envfile"
)

// processLayer is the process environment's layer of an env: the SDK's
// shared-config loader, which resolveSSO replaces, read the region, the
// endpoint variables, the credentials file's path and credential_source =
// Environment's keys from the process and never from an env file; resolveSSO
// keeps that (profile explain tells the user so).
type processLayer struct{ env *envfile.Env }

func (p processLayer) Lookup(key string) (string, bool) {
	v := p.env.Layers(key).Process
	return v, v != ""
}

// sdkEnv is env's process layer; a Source that is not an *envfile.Env (a
// test's) is taken as the process environment itself.
func sdkEnv(env envfile.Source) envfile.Source {
	if e, ok := env.(*envfile.Env); ok {
		return processLayer{e}
	}
	return env
}

// processTimeout bounds a credential_process, as the SDK's does.
const processTimeout = time.Minute

// chain resolves the profiles of one resolveSSO call.
type chain struct {
	c     *auth.Context
	env   envfile.Source
	files *sharedFiles
	// http is c.HTTP, trusting the CA bundle the top profile or
	// AWS_CA_BUNDLE names (caClient).
	http *http.Client
	// region is where STS is called for role chains: the top profile's,
	// as the SDK's one config for the whole chain has it.
	region string
}

// resolveSSO resolves an AWS CLI profile as the SDK's shared-config loader
// did, from the same files: SSO role credentials (refreshing the cached
// token), role chains (source_profile, static keys of the credentials file,
// credential_source = Environment), credential_process, and the region
// (AWS_REGION or AWS_DEFAULT_REGION, else the profile's). What the SDK
// also supports and alchemy does not fails naming it (see unsupported).
func resolveSSO(ctx context.Context, c *auth.Context, name string) (*Credentials, error) {
	env := sdkEnv(c.Env)
	files, err := loadShared(c.Env, credentialsPath(env))
	if err != nil {
		return nil, err
	}
	p, ok := files.profile(name)
	if !ok {
		return nil, fmt.Errorf("AWS profile '%s' is not in %s", name, files.configPath)
	}
	if err := unsupportedEndpoints(env, p); err != nil {
		return nil, err
	}
	client, err := caClient(env, c.HTTP, p.keys["ca_bundle"])
	if err != nil {
		return nil, err
	}
	region := cmp.Or(envRegion(env), p.Region)
	ch := &chain{c: c, env: env, http: client, files: files, region: cmp.Or(region, DefaultRegion)}
	creds, err := ch.resolve(ctx, p, map[string]bool{})
	if err != nil {
		return nil, err
	}
	creds.Region, creds.source = region, auth.Source{Type: "sso", Details: name}
	return creds, nil
}

// resolve is the credentials of profile p, visited holding the profiles of
// the chain so far. The order of the cases is the SDK's.
func (ch *chain) resolve(ctx context.Context, p awsProfile, visited map[string]bool) (*Credentials, error) {
	keys := p.keys
	// A source profile with keys of its own ends the chain there, its
	// role_arn ignored (this is also how a profile names itself as its
	// source_profile).
	if len(visited) > 0 && keys["aws_access_key_id"] != "" {
		return ch.staticKeys(p)
	}
	if visited[p.Name] {
		return nil, fmt.Errorf("AWS profile '%s' is its own source_profile, through a chain, and has no keys: fix source_profile in %s", p.Name, ch.files.configPath)
	}
	visited[p.Name] = true
	var base *Credentials
	var err error
	switch {
	case p.Source != "":
		src, ok := ch.files.profile(p.Source)
		if !ok {
			return nil, fmt.Errorf("the source_profile '%s' of AWS profile '%s' is neither in %s nor in the credentials file", p.Source, p.Name, ch.files.configPath)
		}
		base, err = ch.resolve(ctx, src, visited)
	case keys["aws_access_key_id"] != "":
		base, err = ch.staticKeys(p)
	case keys["credential_source"] != "":
		base, err = ch.credentialSource(p)
	case keys["web_identity_token_file"] != "":
		return nil, unsupported(p, "web_identity_token_file", "an OIDC web identity")
	case p.Kind == "sso":
		base, err = ch.sso(ctx, p)
	case keys["login_session"] != "":
		return nil, unsupported(p, "login_session", "an AWS console sign-in (`aws login`)")
	case keys["credential_process"] != "":
		base, err = credentialProcess(ctx, p)
	default:
		return nil, fmt.Errorf("AWS profile '%s' has no credentials alchemy can use: no sso_session, role_arn, credential_process, or keys in the credentials file (alchemy does not ask EC2 or ECS for credentials). Fix it in %s", p.Name, ch.files.configPath)
	}
	if err != nil || p.RoleARN == "" {
		return base, err
	}
	return ch.assumeRole(ctx, p, base)
}

// unsupported names a setting of the SDK's shared config that alchemy does
// not resolve, and what to do instead.
func unsupported(p awsProfile, setting, what string) error {
	return fmt.Errorf("AWS profile '%s' uses %s (%s), which alchemy does not resolve. Use a profile with SSO, a role from another profile or credential_process, or export the credentials (`aws configure export-credentials --profile %s --format env`) and use the Environment Variables method",
		p.Name, setting, what, p.Name)
}

// unsupportedEndpoints refuses a profile that sets its own endpoints: alchemy
// reads them from AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> only, and
// calling AWS's endpoints instead would send the credentials elsewhere than
// the profile means.
func unsupportedEndpoints(env envfile.Source, p awsProfile) error {
	if envfile.Bool(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") || p.keys["ignore_configured_endpoint_urls"] == "true" {
		return nil
	}
	for _, k := range []string{"endpoint_url", "services"} {
		if p.keys[k] != "" {
			return fmt.Errorf("AWS profile '%s' sets %s, which alchemy does not read: set AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_STS, _SSO, _SSO_OIDC) instead, or remove it", p.Name, k)
		}
	}
	return nil
}

func (ch *chain) staticKeys(p awsProfile) (*Credentials, error) {
	k := p.keys
	if k["aws_secret_access_key"] == "" {
		return nil, fmt.Errorf("AWS profile '%s' has aws_access_key_id but no aws_secret_access_key", p.Name)
	}
	return auth.Loaded(&Credentials{AccessKeyID: k["aws_access_key_id"], SecretAccessKey: k["aws_secret_access_key"],
		SessionToken: k["aws_session_token"], AccountID: k["aws_account_id"]}), nil
}

func (ch *chain) credentialSource(p awsProfile) (*Credentials, error) {
	switch src := p.keys["credential_source"]; src {
	case "Environment":
		creds, err := readEnvKeys(ch.env)
		if err != nil {
			return nil, fmt.Errorf("AWS profile '%s' takes its keys from the environment (credential_source = Environment): %w", p.Name, err)
		}
		return creds, nil
	case "Ec2InstanceMetadata", "EcsContainer":
		return nil, unsupported(p, "credential_source = "+src, "the instance's or container's role")
	default:
		return nil, fmt.Errorf("AWS profile '%s': credential_source must be Environment, Ec2InstanceMetadata or EcsContainer, not %q", p.Name, src)
	}
}

func (ch *chain) sso(ctx context.Context, p awsProfile) (*Credentials, error) {
	if p.StartURL == "" || p.AccountID == "" || p.RoleName == "" {
		return nil, fmt.Errorf("AWS profile '%s' lacks sso_start_url, sso_account_id or sso_role_name (or its [sso-session %s] section): fix it with `aws configure sso --profile %s`", p.Name, p.Session, p.Name)
	}
	token, err := ssoToken(ctx, ch.c, ch.env, ch.http, p)
	if err != nil {
		return nil, err
	}
	region := cmp.Or(p.SSORegion, DefaultRegion)
	rc, err := awsapi.NewPortal(apiConfig(ch.env, ch.http, "SSO", region)).GetRoleCredentials(ctx, token, p.AccountID, p.RoleName)
	if err != nil {
		return nil, err
	}
	return auth.Loaded(&Credentials{AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken,
		AccountID: p.AccountID, ExpiresAt: rc.Expiration}), nil
}

// assumeRole assumes p's role with base, as the SDK's assume-role provider
// does: role_session_name or a generated one, external_id, duration_seconds
// (15 minutes unless longer).
func (ch *chain) assumeRole(ctx context.Context, p awsProfile, base *Credentials) (*Credentials, error) {
	k := p.keys
	if k["mfa_serial"] != "" {
		return nil, unsupported(p, "mfa_serial", "an MFA code for the role")
	}
	in := awsapi.AssumeRoleInput{RoleArn: p.RoleARN, ExternalID: k["external_id"], Duration: 15 * time.Minute,
		RoleSessionName: cmp.Or(k["role_session_name"], fmt.Sprintf("alchemy-%d", ch.c.Now().UnixNano()))}
	if s, err := strconv.Atoi(k["duration_seconds"]); err == nil && time.Duration(s)*time.Second > in.Duration {
		in.Duration = time.Duration(s) * time.Second
	}
	keys := awssdk.Credentials{AccessKeyID: base.AccessKeyID, SecretAccessKey: base.SecretAccessKey, SessionToken: base.SessionToken}
	out, err := awsapi.NewSTS(apiConfig(ch.env, ch.http, "STS", ch.region), keys).AssumeRole(ctx, in)
	if err != nil {
		return nil, err
	}
	rc := out.Credentials
	return auth.Loaded(&Credentials{AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken,
		AccountID: out.Account(), ExpiresAt: rc.Expiration}), nil
}

// credentialProcess runs p's credential_process as the SDK does: through the
// shell, with the process's environment, its stdin and stderr (for an MFA
// prompt), for at most a minute, reading the version 1 JSON document it
// prints.
func credentialProcess(ctx context.Context, p awsProfile) (*Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, processTimeout)
	defer cancel()
	shell := []string{"sh", "-c"}
	if runtime.GOOS == "windows" {
		shell = []string{"cmd.exe", "/C"}
	}
	cmd := exec.CommandContext(ctx, shell[0], append(shell[1:], p.keys["credential_process"])...)
	cmd.Env, cmd.Stdin, cmd.Stderr = os.Environ(), os.Stdin, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("the credential_process of AWS profile '%s' failed: %w", p.Name, err)
	}
	var doc struct {
		Version         int
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      *time.Time
		AccountID       string `json:"AccountId"`
	}
	// The output holds the secrets: errors never quote it.
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("the credential_process of AWS profile '%s' did not print a JSON document (%d bytes)", p.Name, len(out))
	}
	creds := auth.Loaded(&Credentials{AccessKeyID: doc.AccessKeyID, SecretAccessKey: doc.SecretAccessKey, SessionToken: doc.SessionToken, AccountID: doc.AccountID})
	switch {
	case doc.Version != 1:
		return nil, fmt.Errorf("the credential_process of AWS profile '%s' printed Version %d; only version 1 exists", p.Name, doc.Version)
	case doc.AccessKeyID == "" || doc.SecretAccessKey == "":
		return nil, fmt.Errorf("the credential_process of AWS profile '%s' printed no AccessKeyId or SecretAccessKey", p.Name)
	}
	if doc.Expiration != nil {
		creds.ExpiresAt = *doc.Expiration
	}
	return creds, nil
}

// credentialsPath is the shared credentials file: AWS_SHARED_CREDENTIALS_FILE,
// else ~/.aws/credentials ("" without a home).
func credentialsPath(env envfile.Source) string {
	if p := envfile.Get(env, "AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".aws", "credentials")
}
