//go:build unix

package cli_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/fakes/awssso"
	githubfake "github.com/alchemy-go/alchemy/internal/fakes/github"
	"github.com/alchemy-go/alchemy/internal/leakcheck"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// The secret-leak test of issue 11, for the auth commands (the stack
// commands: internal/e2e/leak_test.go). Homes hold distinctive secrets for
// every provider and method, written as alchemy writes them; every command
// runs through the real binary against peers that reject those secrets,
// against endpoints that do not answer, and on broken files; no stdout,
// stderr or file outside the secret stores may hold a secret or its first 8
// characters. `profile env` and `profile exec` are the only disclosures, and
// they must show the secrets, or this test could pass by printing nothing.

// planted are the secrets of a leak home, by where they live.
type planted struct {
	cfToken, cfKey, cfEmail                  string // credentials/{stored,apikey}/cf-stored.json
	cfOAuthAccess, cfOAuthRefresh            string // credentials/oauth/cf-oauth.json (expired)
	cfFreshAccess, cfFreshRefresh            string // credentials/oauth-fresh/cf-oauth.json (an hour left)
	awsKeyID, awsSecret, awsSession          string // credentials/stored/aws.json
	ghToken                                  string // credentials/stored/gh-stored.json
	ssoAccess, ssoRefresh, ssoClientSecret   string // the AWS CLI's token cache of AWS profile "planted"
	neonKey                                  string // credentials/unknown/neon-stored.json (a provider we lack)
	cfEnvToken                               string // CLOUDFLARE_API_TOKEN
	cfEnvKey, cfEnvEmail                     string // CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL, in an --env-file
	awsEnvKeyID, awsEnvSecret, awsEnvSession string // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
	ghEnvToken                               string // GITHUB_TOKEN
}

func plantSecrets(t *testing.T, set *leakcheck.Set) *planted {
	g := func(label, prefix string) string { return set.Generate(t, label, prefix, 40) }
	email := func(label string) string {
		v := leakcheck.Random(t, 12) + "@example.com"
		set.Add(t, label, v)
		return v
	}
	return &planted{
		cfToken: g("Cloudflare stored API token", ""), cfKey: g("Cloudflare stored API key", ""),
		cfEmail:       email("Cloudflare stored email"),
		cfOAuthAccess: g("Cloudflare OAuth access token (expired)", ""), cfOAuthRefresh: g("Cloudflare OAuth refresh token", ""),
		cfFreshAccess: g("Cloudflare OAuth access token (fresh)", ""), cfFreshRefresh: g("Cloudflare OAuth refresh token (fresh)", ""),
		awsKeyID: g("AWS stored access key id", "AKIA"), awsSecret: g("AWS stored secret access key", ""),
		awsSession: g("AWS stored session token", ""),
		ghToken:    g("GitHub stored token", "ghp_"),
		ssoAccess:  g("AWS SSO cached access token (planted)", "aoa"), ssoRefresh: g("AWS SSO cached refresh token (planted)", "aor"),
		ssoClientSecret: g("AWS SSO cached client secret (planted)", ""),
		neonKey:         g("Neon stored API key", ""),
		cfEnvToken:      g("CLOUDFLARE_API_TOKEN", ""), cfEnvKey: g("CLOUDFLARE_API_KEY", ""),
		cfEnvEmail:  email("CLOUDFLARE_EMAIL"),
		awsEnvKeyID: g("AWS_ACCESS_KEY_ID", "AKIA"), awsEnvSecret: g("AWS_SECRET_ACCESS_KEY", ""),
		awsEnvSession: g("AWS_SESSION_TOKEN", ""),
		ghEnvToken:    g("GITHUB_TOKEN", "ghp_"),
	}
}

// leakHome is one home of planted secrets and the peers its commands talk
// to: the OAuth world (authorization server, Cloudflare fake), a GitHub
// fake and the AWS SSO fake, none of which knows a planted secret; STS is
// the emulate peer behind a gate that rejects every key.
type leakHome struct {
	*oauthWorld
	name string // the subtest's, in the labels of secrets issued to this home
	set  *leakcheck.Set
	s    *planted
	sso  *awssso.Server
	gh   *githubfake.Server
	// tokenEnv puts the Cloudflare env token in a command's environment;
	// keyEnvFile is the --env-file holding the Cloudflare env key instead.
	tokenEnv   []string
	keyEnvFile string

	mu   sync.Mutex
	runs []leakRun
}

// leakRun is one finished command.
type leakRun struct {
	where string
	p     *oauthProc
	// disclosed: stdout is what the user asked to see (profile env, exec).
	disclosed bool
}

// leakCmd is a command to run: its arguments, its environment on top of
// the home's, and whether its stdout discloses on request.
type leakCmd struct {
	env       []string
	args      []string
	disclosed bool
}

const (
	ssoAccount = "111122223333"
	ssoIssued  = "https://issued.awsapps.com/start"
	ssoPlanted = "https://planted.awsapps.com/start"
)

func newLeakHome(t *testing.T, set *leakcheck.Set, s *planted, sts *testpeers.STSGate) *leakHome {
	t.Helper()
	h := &leakHome{oauthWorld: newOAuthWorld(t, 0, cfAccount), name: t.Name(), set: set, s: s,
		sso: awssso.Start(t), gh: githubfake.New(), tokenEnv: []string{"CLOUDFLARE_API_TOKEN=" + s.cfEnvToken}}
	h.gh.Start()
	t.Cleanup(h.gh.Close)
	h.sso.AddAssignment(ssoAccount, "Admin")
	// A sign-in nobody confirms ends soon: a login whose SSO session was
	// refused starts one, and waits for it without a terminal too.
	h.sso.SetDeviceAuthorizationTTL(2 * time.Second)
	h.env = append(h.env,
		"GITHUB_API_URL="+h.gh.URL(),
		"AWS_CONFIG_FILE="+filepath.Join(h.home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(h.home, ".aws", "credentials"),
		"AWS_ENDPOINT_URL="+testpeers.LeakGuardEndpoint, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_STS="+sts.Endpoint,
		"CLOUDFLARE_ACCOUNT_ID="+cfAccount,
		"AWS_ACCESS_KEY_ID="+s.awsEnvKeyID, "AWS_SECRET_ACCESS_KEY="+s.awsEnvSecret,
		"AWS_SESSION_TOKEN="+s.awsEnvSession, "AWS_REGION=us-east-1",
		"GITHUB_TOKEN="+s.ghEnvToken,
		// No paste: a login that falls back to the browser fails at once
		// instead of waiting for a redirect nobody will paste.
		"ALCHEMY_OAUTH_PASTE=",
	)
	for k, v := range h.sso.Env() {
		h.env = append(h.env, k+"="+v)
	}
	h.keyEnvFile = filepath.Join(t.TempDir(), "cloudflare-key.env")
	writeFile(t, h.keyEnvFile, "CLOUDFLARE_API_KEY="+s.cfEnvKey+"\nCLOUDFLARE_EMAIL="+s.cfEnvEmail+"\n")
	return h
}

// pointAPIsAt sends every API the commands use to base, each under a path
// of its own.
func (h *leakHome) pointAPIsAt(base string) {
	for k, path := range map[string]string{"CLOUDFLARE_BASE_URL": "/client/v4", "GITHUB_API_URL": "/github",
		"AWS_ENDPOINT_URL_STS": "/sts/", "AWS_ENDPOINT_URL_SSO": "/sso", "AWS_ENDPOINT_URL_SSO_OIDC": "/oidc",
		"CLOUDFLARE_OAUTH_TOKEN_URL": "/oauth2/token", "CLOUDFLARE_OAUTH_REVOKE_URL": "/oauth2/revoke"} {
		h.env = append(h.env, k+"="+base+path)
	}
}

// plantProfiles writes profiles.json and the secret files of every method,
// as alchemy writes them (shared/spec/auth.md §1.2, §1.3), and the AWS
// config and token cache of the SSO profiles: "sso" with a session the SSO
// fake issued (its role credentials reach alchemy), "sso-planted" with a
// token the fake never issued.
func (h *leakHome) plantProfiles(t *testing.T) {
	t.Helper()
	s := h.s
	oauth := map[string]any{"method": "oauth", "scopes": []string{"account:read", "user:read", "offline_access"}, "accountId": cfAccount}
	h.writeProfiles(t, map[string]any{
		"stored": map[string]any{"Cloudflare": map[string]string{"method": "stored", "credentialType": "apiToken"},
			"AWS": map[string]string{"method": "stored"}, "GitHub": map[string]string{"method": "stored"}},
		"apikey":      map[string]any{"Cloudflare": map[string]string{"method": "stored", "credentialType": "apiKey"}},
		"oauth":       map[string]any{"Cloudflare": oauth},
		"oauth-fresh": map[string]any{"Cloudflare": oauth},
		"sso":         map[string]any{"AWS": map[string]string{"method": "sso", "ssoProfile": "issued"}},
		"sso-planted": map[string]any{"AWS": map[string]string{"method": "sso", "ssoProfile": "planted"}},
		"env": map[string]any{"Cloudflare": map[string]string{"method": "env"}, "AWS": map[string]string{"method": "env"},
			"GitHub": map[string]string{"method": "env"}},
	})
	h.writeSecret(t, "stored", "cf-stored", map[string]string{"type": "apiToken", "apiToken": s.cfToken, "accountId": cfAccount})
	h.writeSecret(t, "stored", "aws", map[string]string{"accountId": "", "accessKeyId": s.awsKeyID,
		"secretAccessKey": s.awsSecret, "sessionToken": s.awsSession, "region": "us-east-1"})
	h.writeSecret(t, "stored", "gh-stored", map[string]string{"type": "pat", "token": s.ghToken})
	h.writeSecret(t, "apikey", "cf-stored", map[string]string{"type": "apiKey", "apiKey": s.cfKey, "email": s.cfEmail, "accountId": cfAccount})
	h.writeSecret(t, "oauth", "cf-oauth", oauthTokens{Type: "oauth", Access: s.cfOAuthAccess, Refresh: s.cfOAuthRefresh,
		Expires: time.Now().Add(-time.Hour).UnixMilli(), Scopes: []string{"account:read", "user:read", "offline_access"}})
	h.writeSecret(t, "oauth-fresh", "cf-oauth", oauthTokens{Type: "oauth", Access: s.cfFreshAccess, Refresh: s.cfFreshRefresh,
		Expires: time.Now().Add(time.Hour).UnixMilli(), Scopes: []string{"account:read", "user:read", "offline_access"}})

	h.writeAWSConfig(t, "issued", "planted")
	at, rt, clientID, clientSecret, exp := h.sso.IssueToken(ssoIssued)
	h.set.Add(t, h.label("AWS SSO cached access token"), at)
	h.set.Add(t, h.label("AWS SSO cached refresh token"), rt)
	h.set.Add(t, h.label("AWS SSO client secret"), clientSecret)
	h.writeSSOCache(t, "issued", ssoCache(ssoIssued, at, rt, clientID, clientSecret, exp))
	h.writeSSOCache(t, "planted", ssoCache(ssoPlanted, s.ssoAccess, s.ssoRefresh, "planted-client-id", s.ssoClientSecret, time.Now().Add(time.Hour)))
}

func ssoCache(startURL, access, refresh, clientID, clientSecret string, exp time.Time) string {
	b, _ := json.Marshal(map[string]string{"startUrl": startURL, "region": "us-east-1", "accessToken": access,
		"expiresAt": exp.UTC().Format(time.RFC3339), "clientId": clientID, "clientSecret": clientSecret,
		"registrationExpiresAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), "refreshToken": refresh})
	return string(b)
}

func (h *leakHome) writeProfiles(t *testing.T, profiles map[string]any) {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{"version": 0, "profiles": profiles}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(h.alchemy, "profiles.json"), string(b))
}

// writeSecret writes credentials/<profile>/<key>.json; a string is written
// as is (a broken file), anything else as JSON.
func (h *leakHome) writeSecret(t *testing.T, profile, key string, v any) {
	t.Helper()
	data, ok := v.(string)
	if !ok {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		data = string(b)
	}
	writeFile(t, filepath.Join(h.alchemy, "credentials", profile, key+".json"), data)
}

// writeAWSConfig writes ~/.aws/config with, for each name, an sso-session
// of that name and a profile of that name using it.
func (h *leakHome) writeAWSConfig(t *testing.T, names ...string) {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "[sso-session %s]\nsso_start_url = https://%s.awsapps.com/start\nsso_region = us-east-1\n\n", n, n)
		fmt.Fprintf(&b, "[profile %s]\nsso_session = %s\nsso_account_id = %s\nsso_role_name = Admin\nregion = us-east-1\n\n", n, n, ssoAccount)
	}
	writeFile(t, filepath.Join(h.home, ".aws", "config"), b.String())
}

// writeSSOCache writes the AWS CLI's token cache of an sso-session.
func (h *leakHome) writeSSOCache(t *testing.T, session, data string) {
	t.Helper()
	sum := sha1.Sum([]byte(session))
	writeFile(t, filepath.Join(h.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"), data)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runAll runs the commands, a few at a time, and records them for check.
func (h *leakHome) runAll(t *testing.T, cmds []leakCmd) []*oauthProc {
	t.Helper()
	const parallel = 8
	procs := make([]*oauthProc, len(cmds))
	for from := 0; from < len(cmds); from += parallel {
		to := min(from+parallel, len(cmds))
		for i := from; i < to; i++ {
			procs[i] = h.start(t, cmds[i].env, cmds[i].args...)
		}
		for i := from; i < to; i++ {
			procs[i].wait(t)
			h.record(cmds[i], procs[i])
		}
	}
	return procs
}

// run runs one command and records it.
func (h *leakHome) run(t *testing.T, c leakCmd) *oauthProc {
	t.Helper()
	return h.runAll(t, []leakCmd{c})[0]
}

func (h *leakHome) record(c leakCmd, p *oauthProc) {
	// The names of the variables the command got on top of the home's,
	// never their values.
	var names []string
	for _, kv := range c.env {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	where := "alchemy " + strings.Join(c.args, " ")
	if len(names) > 0 {
		where += " (with " + strings.Join(names, ", ") + ")"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs = append(h.runs, leakRun{where: where, p: p, disclosed: c.disclosed})
}

// label names a secret issued to this home by one of its peers.
func (h *leakHome) label(format string, args ...any) string {
	return fmt.Sprintf(format, args...) + " issued in " + h.name
}

// addIssued adds the role credentials the SSO fake handed out so far.
func (h *leakHome) addIssued(t *testing.T) []awssso.IssuedCredentials {
	t.Helper()
	issued := h.sso.Issued()
	for i, c := range issued {
		h.set.Add(t, h.label("AWS SSO role access key id #%d", i+1), c.AccessKeyID)
		h.set.Add(t, h.label("AWS SSO role secret access key #%d", i+1), c.SecretAccessKey)
		h.set.Add(t, h.label("AWS SSO role session token #%d", i+1), c.SessionToken)
	}
	return issued
}

// check fails t for every secret in a recorded command's output (stdout of
// the disclosures excepted) and in the home, outside the files that store
// secrets by design: alchemy's credentials, the AWS CLI's token cache, and
// the backup of an unusable profiles.json (the user's own file, kept).
func (h *leakHome) check(t *testing.T) {
	t.Helper()
	h.addIssued(t)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.runs {
		if !r.disclosed {
			h.set.Check(t, r.where+", stdout", r.p.stdout.String())
		}
		h.set.Check(t, r.where+", stderr", r.p.stderr.String())
	}
	h.set.CheckTree(t, h.home, ".alchemy/credentials", ".alchemy/profiles", ".alchemy/.profiles-v0-*", ".aws/sso/cache", ".alchemy/profiles.json.invalid-*.bak")
}

// output is a command's stdout and stderr, secrets masked, for assertions
// on what it said.
func (h *leakHome) output(p *oauthProc) string {
	return h.set.Mask(p.stdout.String() + p.stderr.String())
}

// requireSaid fails t unless the command's output holds every want.
func (h *leakHome) requireSaid(t *testing.T, p *oauthProc, wants ...string) {
	t.Helper()
	out := h.output(p)
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("alchemy %s does not say %q:\n%s", strings.Join(p.args, " "), want, out)
		}
	}
}

var leakProfiles = []string{"stored", "apikey", "oauth", "oauth-fresh", "sso", "sso-planted", "env"}

// newLeakProfiles are the profiles authCommands' logins may create.
var newLeakProfiles = []string{"new-token", "new-key", "new-aws", "new-gh"}

// leakProviders are the providers of the planted profiles that have more
// than one: a login stops at the first provider that fails, so each is
// also logged in alone.
var leakProviders = map[string][]string{"stored": {"Cloudflare", "AWS", "GitHub"}, "env": {"Cloudflare", "AWS", "GitHub"}}

// authCommands is every auth command on every planted profile: show and
// login, plain, --json and under CI; list; login --method stored of a new
// profile from the environment; the Cloudflare env key from --env-file.
func (h *leakHome) authCommands() []leakCmd {
	ci := append([]string{"CI=1"}, h.tokenEnv...)
	var cmds []leakCmd
	for _, p := range leakProfiles {
		cmds = append(cmds,
			leakCmd{env: h.tokenEnv, args: []string{"profile", "show", "--profile", p}},
			leakCmd{env: h.tokenEnv, args: []string{"profile", "show", "--profile", p, "--json"}},
			leakCmd{env: h.tokenEnv, args: []string{"login", "--profile", p}},
			leakCmd{env: ci, args: []string{"profile", "show", "--profile", p, "--json"}},
			leakCmd{env: ci, args: []string{"login", "--profile", p}},
		)
		for _, provider := range leakProviders[p] {
			cmds = append(cmds, leakCmd{env: h.tokenEnv, args: []string{"login", "--profile", p, "--provider", provider}})
		}
	}
	keyFile := []string{"--env-file", h.keyEnvFile}
	return append(cmds,
		leakCmd{env: h.tokenEnv, args: []string{"profile", "list"}},
		leakCmd{env: h.tokenEnv, args: []string{"profile", "list", "--json"}},
		leakCmd{env: ci, args: []string{"profile", "show"}},
		leakCmd{env: []string{"CI=1"}, args: append([]string{"profile", "show", "--json"}, keyFile...)},
		leakCmd{args: append([]string{"profile", "show", "--profile", "env"}, keyFile...)},
		leakCmd{args: append([]string{"login", "--profile", "env"}, keyFile...)},
		leakCmd{env: h.tokenEnv, args: []string{"login", "--profile", "new-token", "--provider", "Cloudflare", "--method", "stored"}},
		leakCmd{args: append([]string{"login", "--profile", "new-key", "--provider", "Cloudflare", "--method", "stored"}, keyFile...)},
		leakCmd{args: []string{"login", "--profile", "new-aws", "--provider", "AWS", "--method", "stored"}},
		leakCmd{args: []string{"login", "--profile", "new-gh", "--provider", "GitHub", "--method", "stored"}},
		leakCmd{env: h.tokenEnv, args: []string{"login", "--profile", "new-oauth", "--provider", "Cloudflare", "--method", "oauth"}},
		leakCmd{args: []string{"login", "--profile", "new-sso", "--provider", "AWS", "--method", "sso"}, env: []string{"AWS_PROFILE=planted"}},
	)
}

// goodbyeCommands sign out of every profile, then remove it.
func goodbyeCommands(profiles []string) []leakCmd {
	var cmds []leakCmd
	for _, p := range profiles {
		cmds = append(cmds, leakCmd{args: []string{"logout", "--profile", p, "--yes"}})
	}
	for _, p := range profiles {
		cmds = append(cmds, leakCmd{args: []string{"profile", "clear", "--profile", p, "--yes"}})
	}
	return cmds
}

// authorizeURLOrExit waits for the sign-in URL a paste login prints, or
// for the process to exit without one ("").
func authorizeURLOrExit(t *testing.T, w *oauthWorld, p *oauthProc) string {
	t.Helper()
	prefix := w.srv.AuthorizeURL() + "?"
	deadline := time.Now().Add(oauthStepTimeout)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			if strings.HasPrefix(line, prefix) {
				return line
			}
		}
		select {
		case <-p.done:
			return ""
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("neither a sign-in URL nor an exit within %s:\n%s", oauthStepTimeout, p)
	return ""
}

// byArgs returns the proc of the command with exactly these arguments and
// environment names.
func byArgs(t *testing.T, cmds []leakCmd, procs []*oauthProc, env []string, args ...string) *oauthProc {
	t.Helper()
	for i, c := range cmds {
		if slices.Equal(c.args, args) && slices.Equal(c.env, env) {
			return procs[i]
		}
	}
	t.Fatalf("no command %v", args)
	return nil
}

func TestNoCommandLeaksASecret(t *testing.T) {
	t.Parallel()
	set := leakcheck.New()
	s := plantSecrets(t, set)
	// STS rejects every key: none is allowed, and emulate's IAM issued none.
	sts := testpeers.Emulate(t).STSRejectingUnknownKeys(t)

	t.Run("RejectedByEveryAPI", func(t *testing.T) {
		t.Parallel()
		h := newLeakHome(t, set, s, sts)
		h.plantProfiles(t)
		cmds := h.authCommands()
		procs := h.runAll(t, cmds)

		// The secrets were presented and refused, by the APIs' own answers.
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "login", "--profile", "stored"),
			"Cloudflare rejected this API token", "Invalid API Token")
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "login", "--profile", "apikey"),
			"Cloudflare rejected the stored API key and email", "Unknown X-Auth-Key or X-Auth-Email")
		h.requireSaid(t, byArgs(t, cmds, procs, nil, "login", "--profile", "new-aws", "--provider", "AWS", "--method", "stored"),
			"AWS rejected these access keys", "InvalidClientTokenId")
		h.requireSaid(t, byArgs(t, cmds, procs, nil, "login", "--profile", "new-gh", "--provider", "GitHub", "--method", "stored"),
			"GitHub rejected this token", "Bad credentials")
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "profile", "show", "--profile", "oauth"),
			"Cloudflare OAuth refresh failed", "invalid_grant")
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "profile", "show", "--profile", "sso-planted"),
			"AWS SSO sign-in for profile 'planted' is missing or has expired")
		// What is shown of a secret is its first 4 characters.
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "profile", "show", "--profile", "stored"),
			"apiToken: "+s.cfToken[:4]+"****", "secretAccessKey: "+s.awsSecret[:4]+"****", "token: "+s.ghToken[:6]+"****")
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "profile", "show", "--profile", "sso"), "accessKeyId:     ASIA****")
		if got := sts.AccessKeyIDs(); !slices.Contains(got, s.awsKeyID) || !slices.Contains(got, s.awsEnvKeyID) {
			t.Errorf("STS did not see the stored and the env access key ids: %s", h.set.Mask(strings.Join(got, " ")))
		}
		var cfKinds []string
		for _, r := range h.cf.Requests() {
			if r.Credential != "" {
				t.Errorf("the Cloudflare fake recognised a planted credential: %+v", r)
			}
			cfKinds = append(cfKinds, r.AuthKind)
		}
		if !slices.Contains(cfKinds, "token") || !slices.Contains(cfKinds, "key") {
			t.Errorf("the Cloudflare fake saw no token or no key: %v", cfKinds)
		}
		if ghSeen := h.gh.Requests(); len(ghSeen) == 0 || ghSeen[0].AuthKind != "token" {
			t.Errorf("the GitHub fake saw %+v", ghSeen)
		}
		if _, refreshes := h.tokenCounts(); refreshes == 0 {
			t.Error("the OAuth server saw no refresh")
		}

		// The disclosures, on explicit request, show exactly what was asked.
		envCmds := []leakCmd{
			{disclosed: true, args: []string{"profile", "env", "--profile", "stored"}},
			{disclosed: true, args: []string{"profile", "env", "--profile", "apikey", "--format", "json"}},
			{disclosed: true, args: []string{"profile", "env", "--profile", "oauth-fresh", "--format", "dotenv"}},
			{disclosed: true, env: h.tokenEnv, args: []string{"profile", "env", "--profile", "env", "--format", "json"}},
			{disclosed: true, args: []string{"profile", "env", "--profile", "sso", "--format", "json"}},
			{disclosed: true, env: h.tokenEnv, args: []string{"profile", "exec", "--profile", "stored", "--", "sh", "-c",
				`printf '%s\n' "$CLOUDFLARE_API_TOKEN" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "$GITHUB_TOKEN"`}},
		}
		disclosed := h.runAll(t, envCmds)
		for _, p := range disclosed {
			if p.code != 0 {
				t.Errorf("exit %d: %s", p.code, h.output(p))
			}
		}
		h.set.Shows(t, "profile env --profile stored", disclosed[0].stdout.String(), "Cloudflare stored API token",
			"AWS stored access key id", "AWS stored secret access key", "AWS stored session token", "GitHub stored token")
		h.set.Shows(t, "profile env --profile apikey", disclosed[1].stdout.String(), "Cloudflare stored API key", "Cloudflare stored email")
		h.set.Shows(t, "profile env --profile oauth-fresh", disclosed[2].stdout.String(), "Cloudflare OAuth access token (fresh)")
		h.set.Shows(t, "profile env --profile env", disclosed[3].stdout.String(), "CLOUDFLARE_API_TOKEN",
			"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GITHUB_TOKEN")
		var ssoEnv map[string]string
		if err := json.Unmarshal([]byte(disclosed[4].stdout.String()), &ssoEnv); err != nil {
			t.Errorf("profile env --profile sso: %v", err)
		}
		issued := h.addIssued(t)
		i := slices.IndexFunc(issued, func(c awssso.IssuedCredentials) bool { return c.AccessKeyID == ssoEnv["AWS_ACCESS_KEY_ID"] })
		if i < 0 {
			t.Errorf("profile env --profile sso shows no role credentials the SSO fake issued")
		} else {
			h.set.Shows(t, "profile env --profile sso", disclosed[4].stdout.String(),
				h.label("AWS SSO role secret access key #%d", i+1), h.label("AWS SSO role session token #%d", i+1))
		}
		// exec hands the child the profile's keys, not the shell's.
		h.set.Shows(t, "profile exec --profile stored", disclosed[5].stdout.String(), "Cloudflare stored API token",
			"AWS stored access key id", "AWS stored secret access key", "AWS stored session token", "GitHub stored token")

		h.runAll(t, goodbyeCommands(slices.Concat(leakProfiles, newLeakProfiles)))
		h.check(t)
	})

	t.Run("UnreachableAPIs", func(t *testing.T) {
		t.Parallel()
		h := newLeakHome(t, set, s, sts)
		h.pointAPIsAt(testpeers.LeakGuardEndpoint)
		h.plantProfiles(t)
		cmds := h.authCommands()
		procs := h.runAll(t, cmds)
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "login", "--profile", "stored"), "could not reach the Cloudflare API")
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "login", "--profile", "stored", "--provider", "AWS"), "could not check the stored access keys")
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "login", "--profile", "stored", "--provider", "GitHub"), "could not reach the GitHub API")
		h.requireSaid(t, byArgs(t, cmds, procs, h.tokenEnv, "profile", "show", "--profile", "oauth"), "Token request failed")
		h.runAll(t, goodbyeCommands(slices.Concat(leakProfiles, newLeakProfiles)))
		h.check(t)
	})

	// The same in a home in the TypeScript tool's v1 layout (the first
	// command migrates the planted profiles.json into profiles/).
	for _, v1 := range []bool{false, true} {
		name := "EchoingAPIs"
		if v1 {
			name = "EchoingAPIsV1Home"
		}
		t.Run(name, func(t *testing.T) { echoingAPIs(t, set, s, sts, v1) })
	}

	t.Run("BrokenFiles", func(t *testing.T) {
		t.Parallel()
		h := newLeakHome(t, set, s, sts)
		broken := map[string]map[string]any{
			"trunc-cf":    {"Cloudflare": map[string]string{"method": "stored", "credentialType": "apiToken"}},
			"trunc-key":   {"Cloudflare": map[string]string{"method": "stored", "credentialType": "apiKey"}},
			"trunc-oauth": {"Cloudflare": map[string]any{"method": "oauth", "accountId": cfAccount}},
			"trunc-aws":   {"AWS": map[string]string{"method": "stored"}},
			"trunc-gh":    {"GitHub": map[string]string{"method": "stored"}},
			"mistyped":    {"Cloudflare": map[string]any{"method": "oauth", "accountId": cfAccount}, "GitHub": map[string]string{"method": "stored"}},
			"swapped":     {"Cloudflare": map[string]string{"method": "stored", "credentialType": "apiToken"}},
			"unknown":     {"Neon": map[string]string{"method": "stored"}, "Cloudflare": map[string]string{"method": "carrier-pigeon"}},
			"sso-broken":  {"AWS": map[string]string{"method": "sso", "ssoProfile": "broken"}},
			"env":         {"Cloudflare": map[string]string{"method": "env"}},
		}
		profiles := map[string]any{}
		for name, p := range broken {
			profiles[name] = p
		}
		h.writeProfiles(t, profiles)
		// Files cut short in the middle of (or right after) a secret.
		h.writeSecret(t, "trunc-cf", "cf-stored", `{"type":"apiToken","apiToken":"`+s.cfToken[:20])
		h.writeSecret(t, "trunc-key", "cf-stored", `{"type":"apiKey","apiKey":"`+s.cfKey+`","email":"`+s.cfEmail+`","accountId":"`)
		h.writeSecret(t, "trunc-oauth", "cf-oauth", `{"type":"oauth","access":"`+s.cfOAuthAccess+`","refresh":"`+s.cfOAuthRefresh)
		h.writeSecret(t, "trunc-aws", "aws", `{"accountId":"","accessKeyId":"`+s.awsKeyID+`","secretAccessKey":"`+s.awsSecret+`","sessionTok`)
		h.writeSecret(t, "trunc-gh", "gh-stored", `{"type":"pat","token":"`+s.ghToken+`"`)
		// Valid JSON of the wrong shapes: an OAuth file of another type, a
		// token where a string list would be.
		h.writeSecret(t, "mistyped", "cf-oauth", map[string]string{"type": "apiToken", "access": s.cfOAuthAccess, "refresh": s.cfOAuthRefresh})
		h.writeSecret(t, "mistyped", "gh-stored", map[string]any{"type": "pat", "token": []string{s.ghToken}})
		// A token where the account id goes (fields swapped by hand).
		h.writeSecret(t, "swapped", "cf-stored", map[string]string{"type": "apiToken", "apiToken": cfAccount, "accountId": s.cfToken})
		// A provider this alchemy does not have, and a method no provider has.
		h.writeSecret(t, "unknown", "neon-stored", map[string]string{"type": "apiKey", "apiKey": s.neonKey})
		h.writeAWSConfig(t, "broken")
		h.writeSSOCache(t, "broken", `{"startUrl":"https://broken.awsapps.com/start","region":"us-east-1","accessToken":"`+s.ssoAccess+`","clientSecret":"`+s.ssoClientSecret)

		var cmds []leakCmd
		for name := range broken {
			cmds = append(cmds,
				leakCmd{args: []string{"profile", "show", "--profile", name}},
				leakCmd{args: []string{"profile", "show", "--profile", name, "--json"}},
				leakCmd{args: []string{"login", "--profile", name}},
				leakCmd{env: []string{"CI=1"}, args: []string{"login", "--profile", name}},
				leakCmd{disclosed: true, args: []string{"profile", "env", "--profile", name}},
			)
		}
		// Environment variables swapped by hand: the token in the account
		// id, the key where the email goes.
		swappedEnv := []string{"CLOUDFLARE_ACCOUNT_ID=" + s.cfEnvToken, "CLOUDFLARE_API_TOKEN=" + cfAccount}
		cmds = append(cmds,
			leakCmd{args: []string{"profile", "list", "--json"}},
			leakCmd{env: swappedEnv, args: []string{"profile", "show", "--profile", "env"}},
			leakCmd{env: append([]string{"CI=1"}, swappedEnv...), args: []string{"login", "--profile", "env"}},
			leakCmd{env: swappedEnv, args: []string{"login", "--profile", "swapped-env", "--provider", "Cloudflare", "--method", "stored"}},
			leakCmd{env: []string{"CLOUDFLARE_API_KEY=" + s.cfEnvKey, "CLOUDFLARE_EMAIL=" + s.cfEnvKey},
				args: []string{"login", "--profile", "key-as-email", "--provider", "Cloudflare", "--method", "stored"}},
		)
		procs := h.runAll(t, cmds)
		h.requireSaid(t, byArgs(t, cmds, procs, nil, "profile", "show", "--profile", "trunc-cf"), "contain invalid JSON")
		h.requireSaid(t, byArgs(t, cmds, procs, nil, "profile", "show", "--profile", "swapped"), "is not a valid Cloudflare account ID")
		h.requireSaid(t, byArgs(t, cmds, procs, swappedEnv, "profile", "show", "--profile", "env"), "is not a valid Cloudflare account ID")

		names := make([]string, 0, len(broken))
		for name := range broken {
			names = append(names, name)
		}
		sort.Strings(names)
		h.runAll(t, goodbyeCommands(names))
		h.check(t)
	})

	t.Run("BrokenProfilesJSON", func(t *testing.T) {
		t.Parallel()
		for name, content := range map[string]string{
			// A token pasted into profiles.json, and the file cut short.
			"truncated": `{"version":0,"profiles":{"p":{"Cloudflare":{"method":"stored","apiToken":"` + s.cfToken,
			// A secret file copied over profiles.json.
			"secret file": `{"type":"apiKey","apiKey":"` + s.cfKey + `","email":"` + s.cfEmail + `","accountId":"` + cfAccount + `"}`,
			// A token one character away from valid JSON.
			"syntax": `{"version":0,"profiles":{"p":{"GitHub":{"method":"stored","token":"` + s.ghToken + `"]}}}`,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := newLeakHome(t, set, s, sts)
				writeFile(t, filepath.Join(h.alchemy, "profiles.json"), content)
				procs := h.runAll(t, []leakCmd{
					{args: []string{"profile", "show", "--profile", "p"}},
					{args: []string{"profile", "show", "--profile", "p", "--json"}},
					{args: []string{"profile", "list"}},
					{args: []string{"profile", "list", "--json"}},
					{args: []string{"login", "--profile", "p"}},
					{env: []string{"CI=1"}, args: []string{"profile", "show", "--profile", "p"}},
					{disclosed: true, args: []string{"profile", "env", "--profile", "p"}},
					{args: []string{"logout", "--profile", "p", "--yes"}},
				})
				h.requireSaid(t, procs[0], "profiles.json cannot be used")
				// A new login moves the file to a backup and starts afresh.
				h.run(t, leakCmd{env: h.tokenEnv, args: []string{"login", "--profile", "p", "--provider", "Cloudflare", "--method", "stored"}})
				h.run(t, leakCmd{args: []string{"profile", "clear", "--profile", "p", "--yes"}})
				h.check(t)
			})
		}
	})

	t.Run("OAuthGrantRefreshed", func(t *testing.T) {
		t.Parallel()
		h := newLeakHome(t, set, s, sts)
		h.env = append(h.env, "ALCHEMY_OAUTH_PASTE=1") // pasteLogin pastes the redirect
		// A real grant: signed in through the OAuth server, refreshed,
		// and revoked; every token it issued is looked for.
		login := h.pasteLogin(t, "--profile", "p")
		h.record(leakCmd{args: login.args}, login)
		if login.code != 0 {
			t.Fatalf("login: %s", h.output(login))
		}
		n := 0
		issued := func() oauthTokens {
			tok := h.readTokens(t, "p")
			n++
			h.set.Add(t, h.label("Cloudflare OAuth access token #%d", n), tok.Access)
			h.set.Add(t, h.label("Cloudflare OAuth refresh token #%d", n), tok.Refresh)
			return tok
		}
		tok := issued()
		tok.Expires = time.Now().Add(-time.Minute).UnixMilli()
		h.writeTokens(t, "p", tok)
		h.run(t, leakCmd{args: []string{"profile", "show", "--profile", "p"}})
		issued()
		h.run(t, leakCmd{args: []string{"login", "--profile", "p"}})
		issued()
		h.run(t, leakCmd{env: []string{"CI=1"}, args: []string{"profile", "show", "--profile", "p", "--json"}})
		env := h.run(t, leakCmd{disclosed: true, args: []string{"profile", "env", "--profile", "p"}})
		h.set.Shows(t, "profile env --profile p", env.stdout.String(), h.label("Cloudflare OAuth access token #%d", n))
		h.run(t, leakCmd{args: []string{"logout", "--profile", "p", "--yes"}})
		if _, refreshes := h.tokenCounts(); refreshes < 2 {
			t.Errorf("the OAuth server saw %d refreshes, want 2", refreshes)
		}

		// The API token where the account id goes: a sign-in pinned to
		// that "account" must not quote it, before or after the browser.
		swapped := *h.oauthWorld
		swapped.env = append(slices.Clone(h.env), "CLOUDFLARE_ACCOUNT_ID="+s.cfEnvToken)
		p := swapped.start(t, nil, "login", "--profile", "swapped", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		if u := authorizeURLOrExit(t, &swapped, p); u != "" {
			p.paste(t, swapped.approve(t, u).String())
		}
		p.wait(t)
		h.record(leakCmd{env: []string{"CLOUDFLARE_ACCOUNT_ID"}, args: p.args}, p)
		h.requireSaid(t, p, "is not a valid Cloudflare account ID")
		h.check(t)
	})
}

// echoingAPIs runs every auth command against APIs that refuse everything
// and quote back what they were sent: every kind of secret must have been
// sent (so the test sees them) and none printed.
func echoingAPIs(t *testing.T, set *leakcheck.Set, s *planted, sts *testpeers.STSGate, v1 bool) {
	t.Parallel()
	h := newLeakHome(t, set, s, sts)
	echo := leakcheck.StartEcho(t)
	h.pointAPIsAt(echo.URL)
	h.plantProfiles(t)
	if v1 {
		if err := os.MkdirAll(filepath.Join(h.alchemy, "profiles"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	h.runAll(t, h.authCommands())
	h.runAll(t, goodbyeCommands(slices.Concat(leakProfiles, newLeakProfiles)))
	// The server was sent (and repeated) a secret of every kind.
	sent := map[string]bool{}
	for _, f := range h.set.Find(echo.Received()) {
		sent[f.Label] = true
	}
	for _, want := range []string{"Cloudflare stored API token", "Cloudflare stored API key", "Cloudflare stored email",
		"Cloudflare OAuth refresh token", "Cloudflare OAuth refresh token (fresh)", "AWS stored access key id", "AWS stored session token",
		"GitHub stored token", "AWS SSO cached access token (planted)", "CLOUDFLARE_API_TOKEN", "AWS_ACCESS_KEY_ID", "GITHUB_TOKEN"} {
		if !sent[want] {
			t.Errorf("the echo server was never sent %q", want)
		}
	}
	h.check(t)
	if _, err := os.Stat(filepath.Join(h.alchemy, "profiles.json")); v1 == (err == nil) {
		t.Errorf("v1 home %v, yet profiles.json: %v", v1, err)
	}
}
