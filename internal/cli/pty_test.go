//go:build unix

package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	githubfake "github.com/alchemy-go/alchemy/internal/fakes/github"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// The PTY tests run the real alchemy binary (this test binary with
// ALCHEMY_CLI_MAIN=1, see TestMain) on a pseudo-terminal and drive the real
// huh prompts with keystrokes, as a person would.

// Keys as a terminal sends them in raw mode.
const (
	keyDown      = "\x1b[B"
	keyUp        = "\x1b[A"
	keyEnter     = "\r"
	keySpace     = " "
	keyCtrlC     = "\x03"
	keyBackspace = "\x7f"
)

// ptyTimeout bounds every wait for the screen or the process.
const ptyTimeout = 10 * time.Second

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

// ptyProc is a running alchemy on a pseudo-terminal.
type ptyProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File

	mu       sync.Mutex
	raw      bytes.Buffer
	answered int // bytes of raw already scanned for terminal queries
	cursor   int // offset in the stripped screen text that expect has consumed

	readDone chan struct{}
	exited   chan struct{}
	waitErr  error
}

// start runs `alchemy args...` in w's environment (plus extra) on a 120x40
// pseudo-terminal.
func (w *ptyWorld) start(t *testing.T, extra []string, args ...string) *ptyProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append([]string(nil), w.env...), extra...)
	cmd.Dir = t.TempDir() // no ./.env of the test's working directory
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		t.Fatalf("start alchemy on a pty: %v", err)
	}
	p := &ptyProc{t: t, cmd: cmd, ptmx: ptmx, readDone: make(chan struct{}), exited: make(chan struct{})}
	go p.readLoop()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		// The slave side is closed once the process is gone, so the reader
		// ends with EIO; closing the master also ends it.
		select {
		case <-p.readDone:
		case <-time.After(2 * time.Second):
		}
		_ = ptmx.Close()
		if t.Failed() {
			t.Logf("alchemy %s: screen:\n%s", strings.Join(args, " "), p.screen())
		}
	})
	return p
}

// termQueryRE matches what termenv (through lipgloss) asks a terminal to
// decide the background colour: OSC 10/11 queries and a cursor position
// report request.
var termQueryRE = regexp.MustCompile(`\x1b\]1[01];\?(?:\x07|\x1b\\)|\x1b\[6n`)

func (p *ptyProc) readLoop() {
	defer close(p.readDone)
	buf := make([]byte, 4096)
	for {
		n, err := p.ptmx.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.raw.Write(buf[:n])
			replies := p.termReplies()
			p.mu.Unlock()
			if replies != "" {
				_, _ = p.ptmx.WriteString(replies)
			}
		}
		if err != nil {
			return // EIO once the process has exited
		}
	}
}

// termReplies answers the terminal queries seen since the last call, as
// xterm would (a dark background, the cursor at 1;1). Without answers
// termenv (lipgloss's background detection) waits 5s before the first
// prompt renders.
func (p *ptyProc) termReplies() string {
	var out strings.Builder
	base := p.answered
	data := p.raw.Bytes()[base:]
	for _, m := range termQueryRE.FindAllIndex(data, -1) {
		q := string(data[m[0]:m[1]])
		switch {
		case q == "\x1b[6n":
			out.WriteString("\x1b[1;1R")
		case strings.HasPrefix(q, "\x1b]10;"):
			out.WriteString("\x1b]10;rgb:ffff/ffff/ffff\x1b\\")
		default:
			out.WriteString("\x1b]11;rgb:0000/0000/0000\x1b\\")
		}
		p.answered = base + m[1]
	}
	return out.String()
}

// ansiRE matches the escape sequences a TUI writes: CSI (colours, cursor
// movement, modes), OSC, other string sequences, and two-byte escapes.
var ansiRE = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_]|\x1b[=>78]`)

// screen is everything the process wrote, escape sequences removed and line
// ends normalised to \n.
func (p *ptyProc) screen() string {
	p.mu.Lock()
	raw := p.raw.String()
	p.mu.Unlock()
	return stripANSI(raw)
}

func stripANSI(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// expect waits until text appears on the screen after what earlier expects
// matched, and consumes the screen up to the end of the match.
func (p *ptyProc) expect(text string) {
	p.t.Helper()
	deadline := time.Now().Add(ptyTimeout)
	for {
		s := p.screen()
		if p.cursor <= len(s) {
			if i := strings.Index(s[p.cursor:], text); i >= 0 {
				p.cursor += i + len(text)
				return
			}
		}
		select {
		case <-p.readDone:
			// Nothing more will arrive; check once more what did.
			s = p.screen()
			if i := strings.Index(s[min(p.cursor, len(s)):], text); i >= 0 {
				p.cursor += i + len(text)
				return
			}
			p.t.Fatalf("alchemy exited before %q appeared; screen after the last match:\n%s", text, s[min(p.cursor, len(s)):])
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %s waiting for %q; screen after the last match:\n%s", ptyTimeout, text, s[min(p.cursor, len(s)):])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send types keys.
func (p *ptyProc) send(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		if _, err := p.ptmx.WriteString(k); err != nil {
			p.t.Fatalf("write %q to the pty: %v", k, err)
		}
	}
}

// wait waits for the process to exit and for its output to be read, and
// returns the exit code.
func (p *ptyProc) wait() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(ptyTimeout):
		p.t.Fatalf("alchemy did not exit within %s; screen:\n%s", ptyTimeout, p.screen())
	}
	select {
	case <-p.readDone:
	case <-time.After(ptyTimeout):
		p.t.Fatalf("pty output did not end within %s after exit", ptyTimeout)
	}
	var exit *exec.ExitError
	switch {
	case p.waitErr == nil:
		return 0
	case errors.As(p.waitErr, &exit):
		return exit.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.waitErr)
	return -1
}

// requireExit waits for exit and checks the code.
func (p *ptyProc) requireExit(want int) {
	p.t.Helper()
	if got := p.wait(); got != want {
		p.t.Fatalf("exit code %d, want %d; screen:\n%s", got, want, p.screen())
	}
}

// mustNotShow fails when the screen (raw or stripped) contains secret.
func (p *ptyProc) mustNotShow(secret string) {
	p.t.Helper()
	p.mu.Lock()
	raw := p.raw.String()
	p.mu.Unlock()
	if strings.Contains(raw, secret) || strings.Contains(stripANSI(raw), secret) {
		p.t.Errorf("the secret %q was echoed to the terminal", secret)
	}
}

// typeSecret types a secret into a masked input and waits for its mask.
func (p *ptyProc) typeSecret(secret string) {
	p.t.Helper()
	p.send(secret)
	p.expect(strings.Repeat("*", len(secret)))
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

		p.expect("Cloudflare authentication method")
		// The cursor starts on the first available method, not on OAuth.
		p.expect("> Environment Variables")
		p.send(keyDown)
		p.expect("> API Token or API Key")
		p.send(keyEnter)

		p.expect("Cloudflare credential type")
		p.expect("> API Token (recommended)")
		p.send(keyEnter)

		p.expect("Cloudflare API Token")
		p.typeSecret(cfToken)
		p.send(keyEnter)

		p.expect("Cloudflare Account ID (Enter to skip)")
		p.send(cfAccount)
		p.expect(cfAccount)
		p.send(keyEnter)

		p.expect("Cloudflare: credentials saved.")
		p.expect("Profile: p")
		p.expect("── Cloudflare ──")
		p.expect("apiToken: cf-valid-****")
		p.expect("accountId: " + cfAccount)
		p.expect("source: stored")
		p.requireExit(0)
		p.mustNotShow(cfToken)

		var stored map[string]any
		readJSON(t, filepath.Join(w.alchemy, "credentials", "p", "cf-stored.json"), &stored)
		jsonEqual(t, "cf-stored.json", stored, `{"type":"apiToken","apiToken":"`+cfToken+`","accountId":"`+cfAccount+`"}`)
		jsonEqual(t, "profiles.json profile p", readProfiles(t, w.alchemy).Profiles["p"],
			`{"Cloudflare":{"method":"stored","credentialType":"apiToken"}}`)

		var verified bool
		for _, r := range w.cf.Requests() {
			if r.Method == "GET" && r.Path == "/user/tokens/verify" && r.AuthKind == "token" {
				verified = true
			}
		}
		if !verified {
			t.Errorf("the Cloudflare fake saw no GET /user/tokens/verify with a token; saw %+v", w.cf.Requests())
		}
	})

	t.Run("CloudflareAccountValidation", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare")

		p.expect("Cloudflare authentication method")
		p.expect("> Environment Variables")
		p.send(keyDown)
		p.expect("> API Token or API Key")
		p.send(keyEnter)
		p.expect("Cloudflare credential type")
		p.send(keyEnter)
		p.expect("Cloudflare API Token")
		p.typeSecret(cfToken)
		p.send(keyEnter)

		p.expect("Cloudflare Account ID (Enter to skip)")
		const bad = "not-an-account"
		p.send(bad)
		p.expect(bad)
		p.send(keyEnter)
		p.expect("Expected a 32-character hex account ID")

		// Fix it: erase what was typed, type a valid id (upper case is
		// accepted and stored lower case).
		p.send(strings.Repeat(keyBackspace, len(bad)))
		upper := strings.ToUpper(cfAccount)
		p.send(upper)
		p.expect(upper)
		p.send(keyEnter)

		p.expect("Cloudflare: credentials saved.")
		p.expect("accountId: " + cfAccount)
		p.requireExit(0)
		p.mustNotShow(cfToken)

		var stored map[string]any
		readJSON(t, filepath.Join(w.alchemy, "credentials", "p", "cf-stored.json"), &stored)
		jsonEqual(t, "cf-stored.json", stored, `{"type":"apiToken","apiToken":"`+cfToken+`","accountId":"`+cfAccount+`"}`)
	})

	t.Run("AWS", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "AWS")

		p.expect("AWS authentication method")
		p.expect("> Environment Variables")
		p.send(keyDown)
		p.expect("> Stored")
		p.send(keyEnter)

		p.expect("AWS Access Key ID")
		p.send("AKIAIOSFODNN7EXAMPLE")
		p.expect("AKIAIOSFODNN7EXAMPLE")
		p.send(keyEnter)

		p.expect("AWS Secret Access Key")
		p.typeSecret(awsSecret)
		p.send(keyEnter)

		p.expect("AWS Session Token (optional — press Enter to skip)")
		p.send(keyEnter)

		p.expect("AWS Region")
		p.send(keyEnter)

		p.expect("AWS credentials saved.")
		p.expect("── AWS ──")
		p.expect("region:          us-east-1")
		p.requireExit(0)
		p.mustNotShow(awsSecret)

		var stored map[string]any
		readJSON(t, filepath.Join(w.alchemy, "credentials", "p", "aws.json"), &stored)
		jsonEqual(t, "aws.json", stored, `{"accountId":"`+testpeers.AccountID+`","accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"`+awsSecret+`","sessionToken":"","region":"us-east-1"}`)
		jsonEqual(t, "profiles.json profile p", readProfiles(t, w.alchemy).Profiles["p"], `{"AWS":{"method":"stored"}}`)
		if !slices.Contains(sts.AccessKeyIDs(), "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("STS never saw the typed access key: the keys were not checked")
		}
	})

	t.Run("GitHub", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "GitHub")

		p.expect("GitHub authentication method")
		p.expect("> GitHub CLI")
		p.send(keyDown, keyDown)
		p.expect("> Personal Access Token")
		p.send(keyEnter)

		p.expect("GitHub Personal Access Token")
		p.typeSecret(ghToken)
		p.send(keyEnter)

		p.expect("GitHub: credentials saved.")
		p.expect("── GitHub ──")
		p.expect("source: stored")
		p.requireExit(0)
		p.mustNotShow(ghToken)

		var stored map[string]any
		readJSON(t, filepath.Join(w.alchemy, "credentials", "p", "gh-stored.json"), &stored)
		jsonEqual(t, "gh-stored.json", stored, `{"type":"pat","token":"`+ghToken+`"}`)
		jsonEqual(t, "profiles.json profile p", readProfiles(t, w.alchemy).Profiles["p"], `{"GitHub":{"method":"stored"}}`)
		if len(w.gh.Requests()) == 0 {
			t.Errorf("the GitHub fake saw no request: the token was not checked")
		}
	})

	t.Run("CloudflareOAuthNotYetAvailable", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare")

		p.expect("Cloudflare authentication method")
		p.expect("> Environment Variables")
		p.send(keyUp)
		p.expect("> OAuth (not yet available)")
		p.send(keyEnter)
		p.expect("the Cloudflare method 'oauth' is not yet available in this version of alchemy")
		p.requireExit(2)
		if _, err := os.Stat(filepath.Join(w.alchemy, "profiles.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("profiles.json exists after choosing an unavailable method (err %v)", err)
		}
	})

	t.Run("CtrlC", func(t *testing.T) {
		t.Parallel()
		w := world(t)
		p := w.start(t, nil, "login", "--profile", "p", "--provider", "Cloudflare")

		p.expect("Cloudflare authentication method")
		p.expect("> Environment Variables")
		p.send(keyCtrlC)
		p.expect("Cancelled.")
		p.requireExit(130)
		if s := p.screen(); strings.Contains(s, "Interrupted.") {
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

		p.expect("Which providers should profile 'fresh' sign in to?")
		p.expect("GitHub")
		p.send(keyDown, keyDown)
		p.send(keySpace)
		p.expect("✓ GitHub")
		p.send(keyEnter)

		p.expect("GitHub authentication method")
		p.expect("> GitHub CLI")
		p.send(keyDown)
		p.expect("> Environment Variables")
		p.send(keyEnter)

		p.expect("Profile: fresh")
		p.expect("── GitHub ──")
		p.expect("source: env - GITHUB_TOKEN")
		p.requireExit(0)
		p.mustNotShow(ghToken)

		f := readProfiles(t, w.alchemy)
		jsonEqual(t, "profiles.json profiles", f.Profiles, `{"fresh":{"GitHub":{"method":"env"}}}`)
		if _, err := os.Stat(filepath.Join(w.alchemy, "credentials", "fresh", "gh-stored.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("gh-stored.json written for the env method (err %v)", err)
		}
	})
}

// TestPTYSelectShowsUnavailableMethods checks that a method menu whose first
// entries are not yet available still shows them when it opens, with the
// cursor on the first available one.
func TestPTYSelectShowsUnavailableMethods(t *testing.T) {
	emulate := testpeers.Emulate(t)
	sts := emulate.STSRejectingUnknownKeys(t, "AKIAIOSFODNN7EXAMPLE")
	for _, tc := range []struct{ provider, unavailable string }{
		{"Cloudflare", "OAuth (not yet available)"},
		{"AWS", "SSO (not yet available)"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			w := newPTYWorld(t, emulate.AWSEnv(), sts.Endpoint)
			p := w.start(t, nil, "login", "--profile", "p", "--provider", tc.provider)

			p.expect(tc.provider + " authentication method")
			menuStart := p.cursor
			p.expect("> Environment Variables")
			// The first frame, from the title to the cursor line.
			if menu := p.screen()[menuStart:p.cursor]; !strings.Contains(menu, tc.unavailable) {
				t.Errorf("the menu opens without its first entry %q: it is scrolled out of view above the cursor. First frame:\n%s", tc.unavailable, p.screen()[menuStart:])
			}
			p.send(keyCtrlC)
			p.requireExit(130)
		})
	}
}
