//go:build unix

package cli_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	githubfake "github.com/alchemy-go/alchemy/internal/fakes/github"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	"github.com/alchemy-go/alchemy/internal/testpty"
)

// The PTY tests run the real alchemy binary (this test binary with
// ALCHEMY_CLI_MAIN=1, see TestMain) on a pseudo-terminal and drive the real
// huh prompts with keystrokes, as a person would, through internal/testpty.

// awsSecret is the secret access key the AWS test types.
const awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

// ptyWorld is what one PTY test's alchemy process talks to: fresh fakes and
// a fresh home.
type ptyWorld struct {
	cf      *cloudflarefake.Server
	gh      *githubfake.Server
	home    string // $HOME
	alchemy string // $ALCHEMY_HOME
	env     []string
}

func newPTYWorld(t *testing.T, awsEnv map[string]string, stsEndpoint string) *ptyWorld {
	t.Helper()
	cf := cloudflarefake.New()
	cf.AddAccount(cfAccount, "Work")
	cf.AddAccount(cfOtherAccount, "Personal")
	cf.AddToken(cfToken, cloudflarefake.TokenOptions{UserEmail: cfEmail})
	cf.AddToken(cfAccountToken, cloudflarefake.TokenOptions{AccountID: cfAccount})
	cf.AddGlobalKey(cfEmail, cfGlobalKey, cfAccount)
	cf.Start()
	t.Cleanup(cf.Close)
	gh := githubfake.New()
	gh.AddToken(ghToken, "octocat")
	gh.Start()
	t.Cleanup(gh.Close)

	w := &ptyWorld{cf: cf, gh: gh, home: filepath.Join(t.TempDir(), "userhome")}
	w.alchemy = filepath.Join(w.home, ".alchemy")
	if err := os.MkdirAll(w.home, 0o700); err != nil {
		t.Fatal(err)
	}
	// A clean environment, not os.Environ(): the suite may run with CI set,
	// under a coding agent (CLAUDECODE, ...), with ALCHEMY_PLAIN, or with a
	// developer's cloud credentials, and any of those would change what the
	// CLI does. Only PATH (and coverage) is inherited.
	w.env = []string{
		"ALCHEMY_CLI_MAIN=1",
		"TERM=xterm-256color",
		"HOME=" + w.home,
		"ALCHEMY_HOME=" + w.alchemy,
		"CLOUDFLARE_BASE_URL=" + cf.URL(),
		"GITHUB_API_URL=" + gh.URL(),
		"AWS_CONFIG_FILE=" + filepath.Join(w.home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(w.home, ".aws", "credentials"),
	}
	for _, k := range []string{"PATH", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			w.env = append(w.env, k+"="+v)
		}
	}
	for k, v := range awsEnv {
		if k == "AWS_ENDPOINT_URL_STS" {
			v = stsEndpoint
		}
		w.env = append(w.env, k+"="+v)
	}
	return w
}

// start runs `alchemy args...` in w's environment (plus extra) on a 120x40
// pseudo-terminal.
func (w *ptyWorld) start(t *testing.T, extra []string, args ...string) *testpty.Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append([]string(nil), w.env...), extra...)
	cmd.Dir = t.TempDir() // no ./.env of the test's working directory
	p := testpty.Start(t, cmd, 120, 40)
	p.Name = "alchemy"
	return p
}

type profilesFile struct {
	Version  int                                  `json:"version"`
	Profiles map[string]map[string]map[string]any `json:"profiles"`
}

func readProfiles(t *testing.T, alchemyHome string) profilesFile {
	t.Helper()
	var f profilesFile
	readJSON(t, filepath.Join(alchemyHome, "profiles.json"), &f)
	return f
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
}

// jsonEqual compares got, as JSON, with the JSON text want, ignoring key
// order and layout.
func jsonEqual(t *testing.T, what string, got any, want string) {
	t.Helper()
	norm := func(data []byte) string {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out, _ := json.Marshal(v) // maps marshal with sorted keys
		return string(out)
	}
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if gs, ws := norm(g), norm([]byte(want)); gs != ws {
		t.Errorf("%s = %s, want %s", what, gs, ws)
	}
}

func TestPTYLogin(t *testing.T) {
	emulate := testpeers.Emulate(t)
	sts := emulate.STSRejectingUnknownKeys(t, "AKIAIOSFODNN7EXAMPLE")
	awsEnv := emulate.AWSEnv()
	world := func(t *testing.T) *ptyWorld { return newPTYWorld(t, awsEnv, sts.Endpoint) }

	t.Run("Cloudflare", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare")

		p.Expect("Cloudflare authentication method")
		// The cursor starts on the first method, OAuth (recommended).
		p.Expect("> OAuth")
		p.Send(testpty.KeyDown, testpty.KeyDown)
		p.Expect("> API Token or API Key")
		p.Send(testpty.KeyEnter)

		p.Expect("Cloudflare credential type")
		p.Expect("> API Token (recommended)")
		p.Send(testpty.KeyEnter)

		p.Expect("Cloudflare API Token")
		p.TypeSecret(cfToken)
		p.Send(testpty.KeyEnter)

		// The token sees two accounts: a menu of their names and ids,
		// not a question that can be skipped.
		p.Expect("Which Cloudflare account should profile 'p' deploy to?")
		p.Expect("> Work (" + cfAccount + ")")
		p.Expect("Personal (" + cfOtherAccount + ")")
		p.Send(testpty.KeyDown)
		p.Expect("> Personal (" + cfOtherAccount + ")")
		p.Send(testpty.KeyEnter)

		p.Expect("Cloudflare: credentials saved.")
		p.Expect("Profile: p")
		p.Expect("── Cloudflare ──")
		p.Expect("apiToken: cf-v****")
		p.Expect("accountId: " + cfOtherAccount)
		p.Expect("source: stored")
		p.RequireExit(0)
		p.MustNotShow(cfToken)
		if strings.Contains(p.Screen(), "Enter to skip") {
			t.Errorf("the account can still be skipped:\n%s", p.Screen())
		}

		var stored map[string]any
		readJSON(t, filepath.Join(w.alchemy, "credentials", "p", "cf-stored.json"), &stored)
		jsonEqual(t, "cf-stored.json", stored, `{"type":"apiToken","apiToken":"`+cfToken+`","accountId":"`+cfOtherAccount+`"}`)
		jsonEqual(t, "profiles.json profile p", readProfiles(t, w.alchemy).Profiles["p"],
			`{"Cloudflare":{"method":"stored","credentialType":"apiToken"}}`)

		var verified, listed bool
		for _, r := range w.cf.Requests() {
			if r.Method == "GET" && r.Path == "/user/tokens/verify" && r.AuthKind == "token" {
				verified = true
			}
			if r.Method == "GET" && r.Path == "/accounts" && r.AuthKind == "token" {
				listed = true
			}
		}
		if !verified || !listed {
			t.Errorf("the Cloudflare fake saw no GET /user/tokens/verify and GET /accounts with a token; saw %+v", w.cf.Requests())
		}
	})

	// With the API unreachable the accounts cannot be looked up: the id is
	// asked for (no skipping it), checked for shape, and the credentials
	// are saved and shown as unchecked.
	t.Run("CloudflareOfflineAsksAccount", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, []string{"CLOUDFLARE_BASE_URL=http://127.0.0.1:1/client/v4"}, "login", "--profile", "p", "--provider", "Cloudflare")

		p.Expect("Cloudflare authentication method")
		p.Expect("> OAuth")
		p.Send(testpty.KeyDown, testpty.KeyDown)
		p.Expect("> API Token or API Key")
		p.Send(testpty.KeyEnter)
		p.Expect("Cloudflare credential type")
		p.Send(testpty.KeyEnter)
		p.Expect("Cloudflare API Token")
		p.TypeSecret(cfToken)
		p.Send(testpty.KeyEnter)

		p.Expect("could not reach the Cloudflare API")
		p.Expect("Cloudflare Account ID (Workers & Pages → Account details)")
		p.Send(testpty.KeyEnter)
		p.Expect("Required")
		const bad = "not-an-account"
		p.Send(bad)
		p.Expect(bad)
		p.Send(testpty.KeyEnter)
		p.Expect("Expected a 32-character hex account ID")

		// Fix it: erase what was typed, type a valid id (upper case is
		// accepted and stored lower case).
		p.Send(strings.Repeat(testpty.KeyBackspace, len(bad)))
		upper := strings.ToUpper(cfAccount)
		p.Send(upper)
		p.Expect(upper)
		p.Send(testpty.KeyEnter)

		p.Expect("to check the API token (cloudflare API")
		p.Expect("saving it unchecked.")
		p.Expect("Cloudflare: credentials saved.")
		p.Expect("accountId: " + cfAccount)
		p.Expect("source: stored - unchecked")
		p.RequireExit(0)
		p.MustNotShow(cfToken)
		if s := p.Screen(); strings.Contains(s, "valid.") || strings.Contains(s, "<nil>") {
			t.Errorf("unchecked credentials called valid, or the failure lost:\n%s", s)
		}

		var stored map[string]any
		readJSON(t, filepath.Join(w.alchemy, "credentials", "p", "cf-stored.json"), &stored)
		jsonEqual(t, "cf-stored.json", stored, `{"type":"apiToken","apiToken":"`+cfToken+`","accountId":"`+cfAccount+`","unchecked":true}`)
	})

	t.Run("AWS", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "AWS")

		p.Expect("AWS authentication method")
		p.Expect("> SSO")
		p.Send(testpty.KeyDown, testpty.KeyDown)
		p.Expect("> Stored")
		p.Send(testpty.KeyEnter)

		p.Expect("AWS Access Key ID")
		p.Send("AKIAIOSFODNN7EXAMPLE")
		p.Expect("AKIAIOSFODNN7EXAMPLE")
		p.Send(testpty.KeyEnter)

		p.Expect("AWS Secret Access Key")
		p.TypeSecret(awsSecret)
		p.Send(testpty.KeyEnter)

		p.Expect("AWS Session Token (optional — press Enter to skip)")
		p.Send(testpty.KeyEnter)

		p.Expect("AWS Region")
		p.Send(testpty.KeyEnter)

		p.Expect("AWS credentials saved.")
		p.Expect("── AWS ──")
		p.Expect("region:          us-east-1")
		p.RequireExit(0)
		p.MustNotShow(awsSecret)

		var stored map[string]any
		readJSON(t, filepath.Join(w.alchemy, "credentials", "p", "aws-stored.json"), &stored)
		jsonEqual(t, "aws-stored.json", stored, `{"accountId":"`+testpeers.AccountID+`","accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"`+awsSecret+`","sessionToken":"","region":"us-east-1"}`)
		jsonEqual(t, "profiles.json profile p", readProfiles(t, w.alchemy).Profiles["p"], `{"AWS":{"method":"stored"}}`)
		if !slices.Contains(sts.AccessKeyIDs(), "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("STS never saw the typed access key: the keys were not checked")
		}
	})

	t.Run("GitHub", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "GitHub")

		p.Expect("GitHub authentication method")
		p.Expect("> GitHub CLI")
		p.Send(testpty.KeyDown, testpty.KeyDown)
		p.Expect("> Personal Access Token")
		p.Send(testpty.KeyEnter)

		p.Expect("GitHub Personal Access Token")
		p.TypeSecret(ghToken)
		p.Send(testpty.KeyEnter)

		p.Expect("GitHub: credentials saved.")
		p.Expect("── GitHub ──")
		p.Expect("source: stored")
		p.RequireExit(0)
		p.MustNotShow(ghToken)

		var stored map[string]any
		readJSON(t, filepath.Join(w.alchemy, "credentials", "p", "gh-stored.json"), &stored)
		jsonEqual(t, "gh-stored.json", stored, `{"type":"pat","token":"`+ghToken+`"}`)
		jsonEqual(t, "profiles.json profile p", readProfiles(t, w.alchemy).Profiles["p"], `{"GitHub":{"method":"stored"}}`)
		if len(w.gh.Requests()) == 0 {
			t.Errorf("the GitHub fake saw no request: the token was not checked")
		}
	})

	t.Run("CtrlC", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare")

		p.Expect("Cloudflare authentication method")
		p.Expect("> OAuth")
		p.Send(testpty.KeyCtrlC)
		p.Expect("Cancelled.")
		p.RequireExit(130)
		if s := p.Screen(); strings.Contains(s, "Interrupted.") {
			t.Errorf("Ctrl-C reached the process as SIGINT, not as a key to the prompt:\n%s", s)
		}
		for _, f := range []string{"profiles.json", "credentials"} {
			if _, err := os.Stat(filepath.Join(w.alchemy, f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists after a cancelled login (err %v)", f, err)
			}
		}
	})

	t.Run("NewProfilePicksProviders", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, []string{"GITHUB_TOKEN=" + ghToken}, "login", "--profile", "fresh")

		p.Expect("Which providers should profile 'fresh' sign in to?")
		// The keys are named, under the title: space toggles, enter confirms.
		p.Expect("space to toggle, enter to confirm")
		p.Expect("GitHub")
		p.Send(testpty.KeyDown, testpty.KeyDown)
		p.Send(testpty.KeySpace)
		p.Expect("✓ GitHub")
		p.Send(testpty.KeyEnter)

		p.Expect("GitHub authentication method")
		p.Expect("> GitHub CLI")
		p.Send(testpty.KeyDown)
		p.Expect("> Environment Variables")
		p.Send(testpty.KeyEnter)

		p.Expect("Profile: fresh")
		p.Expect("── GitHub ──")
		p.Expect("source: env - GITHUB_TOKEN")
		p.RequireExit(0)
		p.MustNotShow(ghToken)

		f := readProfiles(t, w.alchemy)
		jsonEqual(t, "profiles.json profiles", f.Profiles, `{"fresh":{"GitHub":{"method":"env"}}}`)
		if _, err := os.Stat(filepath.Join(w.alchemy, "credentials", "fresh", "gh-stored.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("gh-stored.json written for the env method (err %v)", err)
		}
	})
}
