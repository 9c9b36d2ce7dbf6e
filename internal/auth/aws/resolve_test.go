package aws

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/fakes/awssso"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// chainWorld is a temp HOME with an AWS config and credentials file, STS
// behind the emulate peer's key-checking gate and SSO on the awssso fake.
type chainWorld struct {
	home string
	gate *testpeers.STSGate
	sso  *awssso.Server
	env  map[string]string
}

func newChainWorld(t *testing.T, emulate *testpeers.Peer, config, credentials string) *chainWorld {
	t.Helper()
	w := &chainWorld{home: t.TempDir(), sso: awssso.Start(t)}
	w.gate = emulate.STSRejectingUnknownKeys(t, "AKIDSOURCE", "AKIDENV")
	write(t, filepath.Join(w.home, ".aws", "config"), config)
	write(t, filepath.Join(w.home, ".aws", "credentials"), credentials)
	t.Setenv("HOME", w.home) // the SSO token cache's home, as the AWS CLI's
	w.env = map[string]string{"AWS_CONFIG_FILE": filepath.Join(w.home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(w.home, ".aws", "credentials"),
		"AWS_ENDPOINT_URL":            testpeers.LeakGuardEndpoint, "AWS_ENDPOINT_URL_STS": w.gate.Endpoint}
	for k, v := range w.sso.Env() {
		w.env[k] = v
	}
	return w
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (w *chainWorld) resolve(t *testing.T, name string, extra ...string) (*Credentials, error) {
	t.Helper()
	env := map[string]string{}
	for k, v := range w.env {
		env[k] = v
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	io, _, _, _ := iostreams.Test()
	c := &auth.Context{Profile: "p", Env: envfile.FromMap(env), IO: io, Prompt: prompt.NonInteractive{}, Now: time.Now}
	return resolveSSO(context.Background(), c, name)
}

const chainConfig = `[profile keys-role]
role_arn = arn:aws:iam::123456789012:role/chain
source_profile = keys
role_session_name = chain-test
region = eu-west-1

[profile env-role]
role_arn = arn:aws:iam::123456789012:role/chain
credential_source = Environment

[profile two-hops]
role_arn = arn:aws:iam::123456789012:role/chain
source_profile = keys-role

[profile self]
role_arn = arn:aws:iam::123456789012:role/chain
source_profile = self

[profile loop-a]
role_arn = arn:aws:iam::123456789012:role/chain
source_profile = loop-b

[profile loop-b]
role_arn = arn:aws:iam::123456789012:role/chain
source_profile = loop-a
`

// The self profile's keys are in the credentials file, so it is its own
// source, as the SDK allows.
const chainCredentials = `[keys]
aws_access_key_id = AKIDSOURCE
aws_secret_access_key = source-secret

[self]
aws_access_key_id = AKIDSOURCE
aws_secret_access_key = source-secret
`

func TestRoleChains(t *testing.T) {
	emulate := testpeers.Emulate(t)
	emulate.CreateRole(t, "chain")
	w := newChainWorld(t, emulate, chainConfig, chainCredentials)

	for _, tc := range []struct {
		profile string
		extra   []string
		region  string
		signers []string // access key ids the gate saw
	}{
		{"keys-role", nil, "eu-west-1", []string{"AKIDSOURCE"}},
		{"keys-role", []string{"AWS_REGION=ap-south-1"}, "ap-south-1", []string{"AKIDSOURCE"}},
		{"env-role", []string{"AWS_ACCESS_KEY_ID=AKIDENV", "AWS_SECRET_ACCESS_KEY=env-secret"}, "", []string{"AKIDENV"}},
		// The gate knows no role credentials, so the second hop goes to
		// emulate directly.
		{"two-hops", []string{"AWS_ENDPOINT_URL_STS=" + emulate.STSEndpoint()}, "", nil},
		{"self", nil, "", []string{"AKIDSOURCE"}},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			before := len(w.gate.AccessKeyIDs())
			creds, err := w.resolve(t, tc.profile, tc.extra...)
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID == "" || creds.SessionToken == "" || creds.AccountID != testpeers.AccountID || time.Until(creds.ExpiresAt) < 5*time.Minute {
				t.Fatalf("credentials: %+v", creds)
			}
			if creds.Region != tc.region || creds.Source().String() != "sso - "+tc.profile {
				t.Fatalf("region %q, source %q", creds.Region, creds.Source())
			}
			seen := w.gate.AccessKeyIDs()[before:]
			if strings.Join(seen, " ") != strings.Join(tc.signers, " ") {
				t.Fatalf("STS saw keys %v, want %v", seen, tc.signers)
			}
		})
	}

	t.Run("NoEnvironmentKeys", func(t *testing.T) {
		_, err := w.resolve(t, "env-role")
		if err == nil || !strings.Contains(err.Error(), "credential_source = Environment") || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("Loop", func(t *testing.T) {
		_, err := w.resolve(t, "loop-a")
		if err == nil || !strings.Contains(err.Error(), "is its own source_profile") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("RejectedSourceKeys", func(t *testing.T) {
		w := newChainWorld(t, emulate, chainConfig, strings.ReplaceAll(chainCredentials, "AKIDSOURCE", "AKIDUNKNOWN"))
		_, err := w.resolve(t, "keys-role")
		if !IsRejected(err) || !strings.Contains(err.Error(), "operation error STS: AssumeRole") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCredentialProcess(t *testing.T) {
	emulate := testpeers.Emulate(t)
	dir := t.TempDir()
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	good := filepath.Join(dir, "good.sh")
	write(t, good, `#!/bin/sh
echo "$1 ran" >&2
printf '{"Version":1,"AccessKeyId":"AKIDPROC","SecretAccessKey":"proc-secret","SessionToken":"proc-token","Expiration":"`+exp.Format(time.RFC3339)+`","AccountId":"210987654321"}'
`)
	bad := filepath.Join(dir, "bad.sh")
	write(t, bad, `#!/bin/sh
printf '{"Version":2,"AccessKeyId":"AKIDPROC","SecretAccessKey":"proc-secret-v2"}'
`)
	os.Chmod(good, 0o700)
	os.Chmod(bad, 0o700)
	w := newChainWorld(t, emulate, `[profile proc]
credential_process = `+good+` proc
region = us-east-2

[profile proc-v2]
credential_process = `+bad+`

[profile proc-fails]
credential_process = exit 3
`, "")

	creds, err := w.resolve(t, "proc")
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "AKIDPROC" || creds.SecretAccessKey != "proc-secret" || creds.SessionToken != "proc-token" ||
		creds.AccountID != "210987654321" || !creds.ExpiresAt.Equal(exp) || creds.Region != "us-east-2" {
		t.Fatalf("credentials: %+v", creds)
	}
	_, err = w.resolve(t, "proc-v2")
	if err == nil || !strings.Contains(err.Error(), "printed Version 2") || strings.Contains(err.Error(), "proc-secret-v2") {
		t.Fatalf("err = %v", err)
	}
	_, err = w.resolve(t, "proc-fails")
	if err == nil || !strings.Contains(err.Error(), "credential_process of AWS profile 'proc-fails' failed: exit status 3") {
		t.Fatalf("err = %v", err)
	}
	if n := len(w.gate.AccessKeyIDs()); n != 0 {
		t.Errorf("STS was called %d times for credential_process profiles", n)
	}
}

// What the SDK's loader supports and alchemy does not fails naming the
// setting, before anything is sent.
func TestUnsupportedSources(t *testing.T) {
	emulate := testpeers.Emulate(t)
	const role = "role_arn = arn:aws:iam::123456789012:role/chain\n"
	w := newChainWorld(t, emulate, `[profile imds]
`+role+`credential_source = Ec2InstanceMetadata

[profile ecs]
`+role+`credential_source = EcsContainer

[profile bogus-source]
`+role+`credential_source = Somewhere

[profile webid]
`+role+`source_profile = webid-src

[profile webid-src]
`+role+`web_identity_token_file = /tmp/token

[profile console]
`+role+`source_profile = console-src

[profile console-src]
login_session = arn:aws:iam::123456789012:user/me

[profile mfa]
`+role+`source_profile = keys
mfa_serial = arn:aws:iam::123456789012:mfa/me

[profile services]
`+role+`source_profile = keys
services = local

[profile endpoint]
`+role+`source_profile = keys
endpoint_url = http://127.0.0.1:1

[profile nothing]
`+role+`source_profile = empty

[profile empty]
region = us-east-1
`, chainCredentials)

	for profile, want := range map[string]string{
		"imds":         "uses credential_source = Ec2InstanceMetadata",
		"ecs":          "uses credential_source = EcsContainer",
		"bogus-source": `credential_source must be Environment, Ec2InstanceMetadata or EcsContainer, not "Somewhere"`,
		"webid":        "AWS profile 'webid-src' uses web_identity_token_file",
		"console":      "AWS profile 'console-src' uses login_session",
		"mfa":          "uses mfa_serial",
		"services":     "sets services, which alchemy does not read: set AWS_ENDPOINT_URL",
		"endpoint":     "sets endpoint_url, which alchemy does not read",
		"nothing":      "AWS profile 'empty' has no credentials alchemy can use",
	} {
		t.Run(profile, func(t *testing.T) {
			_, err := w.resolve(t, profile)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
			if strings.Contains(want, " uses ") && !strings.Contains(err.Error(), "aws configure export-credentials --profile") {
				t.Errorf("the error does not say what to do instead: %v", err)
			}
		})
	}
	if n := len(w.gate.AccessKeyIDs()); n != 0 {
		t.Errorf("STS was called %d times", n)
	}
}

// The SSO token cache: a missing one means signing in; an expired one is
// refreshed with its refresh token and written back for the AWS CLI; an
// ended session means signing in again.
func TestSSOTokenCache(t *testing.T) {
	emulate := testpeers.Emulate(t)
	w := newChainWorld(t, emulate, `[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-central-1

[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
`, "")
	w.sso.AddAssignment("111122223333", "Admin")

	_, err := w.resolve(t, "dev")
	if !needsSignIn(err) || !strings.Contains(err.Error(), "no cached SSO token for https://corp.awsapps.com/start") {
		t.Fatalf("without a cache: %v (needs sign-in: %v)", err, needsSignIn(err))
	}

	at, rt, clientID, clientSecret, _ := w.sso.IssueToken("https://corp.awsapps.com/start")
	path, _ := ssoCachePath(awsProfile{Session: "corp"})
	old := ssoCache{StartURL: "https://corp.awsapps.com/start", Region: "eu-central-1", AccessToken: at, RefreshToken: rt,
		ClientID: clientID, ClientSecret: clientSecret, RegistrationExpiresAt: "2099-01-01T00:00:00Z",
		ExpiresAt: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}
	data, _ := json.Marshal(old)
	write(t, path, string(data))
	w.sso.ExpireAccessTokens()

	creds, err := w.resolve(t, "dev")
	if err != nil || creds.AccountID != "111122223333" || !strings.HasPrefix(creds.AccessKeyID, "ASIA") {
		t.Fatalf("after refresh: %+v %v", creds, err)
	}
	var now ssoCache
	data, _ = os.ReadFile(path)
	if err := json.Unmarshal(data, &now); err != nil {
		t.Fatal(err)
	}
	exp, _ := time.Parse(time.RFC3339, now.ExpiresAt)
	if now.AccessToken == at || now.RefreshToken == rt || time.Until(exp) < time.Hour ||
		now.ClientID != clientID || now.StartURL != old.StartURL || now.RegistrationExpiresAt != old.RegistrationExpiresAt {
		t.Fatalf("cache after refresh: %s", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("cache mode %o", fi.Mode().Perm())
	}

	w.sso.EndSessions()
	_, err = w.resolve(t, "dev")
	if !needsSignIn(err) || !strings.Contains(err.Error(), "UnauthorizedException") {
		t.Fatalf("after the session ended: %v (needs sign-in: %v)", err, needsSignIn(err))
	}
	// A role the user is not assigned is a permission problem, not a
	// sign-in.
	write(t, filepath.Join(w.home, ".aws", "config"), strings.ReplaceAll(string(must(os.ReadFile(filepath.Join(w.home, ".aws", "config")))), "Admin", "Other"))
	at2, _, _, _, exp2 := w.sso.IssueToken("https://corp.awsapps.com/start")
	old.AccessToken, old.ExpiresAt = at2, exp2.UTC().Format(time.RFC3339)
	data, _ = json.Marshal(old)
	write(t, path, string(data))
	_, err = w.resolve(t, "dev")
	if needsSignIn(err) || !strings.Contains(err.Error(), "ForbiddenException") {
		t.Fatalf("unassigned role: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
