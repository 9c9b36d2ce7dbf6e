package testpeers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/testpty"
)

// The real TypeScript tool: the alchemy CLI from npm, installed by
// ./scripts/test with `npm ci` in testpeers/ts (see TSTOOL.md in this
// directory for what it does with profiles and locks).
const (
	// TSToolVersion is the alchemy version testpeers/ts/package.json pins.
	TSToolVersion = "2.0.0-beta.79"
	// EnvTSToolDir names the directory holding its install (package.json,
	// node_modules); ./scripts/test sets it. Default: Dir()/ts.
	EnvTSToolDir = "ALCHEMY_TSTOOL_DIR"
)

// TSToolTimeout is how long one Run may take before the tool is killed and
// the test fails. The CLI needs 2-5 s to start (it loads ~900 modules);
// AWS calls that fail retry for ~25 s.
const TSToolTimeout = 90 * time.Second

// TS runs the TypeScript alchemy CLI (node <Dir>/node_modules/alchemy/bin/cli.js)
// on Node 24, isolated from the machine:
//
//   - a clean environment (nothing of the test process's leaks in), whose
//     HOME the caller must give; see Env for the defaults;
//   - no network: every fetch() to a host that is not loopback fails at once
//     (a preloaded guard, see Redirects), and HTTP(S)_PROXY point node's other
//     clients at a closed loopback port; AWS_ENDPOINT_URL and
//     CLOUDFLARE_API_BASE_URL point at a closed port too;
//   - telemetry off (DO_NOT_TRACK), so it neither writes ~/.alchemy/id nor
//     runs git nor sends spans;
//   - its working directory is WorkDir, where it writes .alchemy/log/out and
//     .alchemy/version-check.json (and would read a .env).
//
// TSTool returns a new TS per call; set its fields before Run.
type TS struct {
	// Dir is the install directory (testpeers/ts).
	Dir string
	// Node is the Node 24 binary; CLI is alchemy's bin/cli.js.
	Node, CLI string
	// WorkDir is the tool's working directory, a t.TempDir() of TSTool.
	WorkDir string
	// Timeout bounds each Run (TSToolTimeout by default).
	Timeout time.Duration
	// Redirects sends fetch() calls for a host, or any subdomain of it, to a
	// loopback base URL instead: {"amazonaws.com": peer.STSEndpoint()} makes
	// https://sts.us-east-1.amazonaws.com/ reach http://127.0.0.1:PORT/sts/
	// (the path and query are appended to the base URL's path). Targets must
	// be loopback. The tool itself is not changed, only its network.
	Redirects map[string]string

	netLog string // file the guard appends each fetch URL to
	guard  string // the preloaded guard module
}

// TSTool returns the installed TypeScript tool. A missing or different
// install fails the test (run ./scripts/test); it never skips.
func TSTool(t testing.TB) *TS {
	t.Helper()
	dir := os.Getenv(EnvTSToolDir)
	if dir == "" {
		peers, err := Dir()
		if err != nil {
			t.Fatalf("TypeScript tool: %v", err)
		}
		dir = filepath.Join(peers, "ts")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("TypeScript tool: %v", err)
	}
	node, err := Node24()
	if err != nil {
		t.Fatalf("TypeScript tool: %v", err)
	}
	cli := filepath.Join(dir, "node_modules", "alchemy", "bin", "cli.js")
	pkg := filepath.Join(dir, "node_modules", "alchemy", "package.json")
	RequireInstalled(t, "alchemy@"+TSToolVersion+" (testpeers/ts)", node, cli, pkg)
	var meta struct{ Version string }
	if data, err := os.ReadFile(pkg); err != nil || json.Unmarshal(data, &meta) != nil || meta.Version != TSToolVersion {
		t.Fatalf("TypeScript tool: %s has version %q, want %s: run ./scripts/test (it installs testpeers/ts with npm ci)", pkg, meta.Version, TSToolVersion)
	}
	tmp := t.TempDir()
	ts := &TS{
		Dir: dir, Node: node, CLI: cli,
		WorkDir: filepath.Join(tmp, "work"),
		Timeout: TSToolTimeout,
		netLog:  filepath.Join(tmp, "fetch.log"),
		guard:   filepath.Join(tmp, "netguard.mjs"),
	}
	if err := os.Mkdir(ts.WorkDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ts.guard, []byte(netGuard), 0o600); err != nil {
		t.Fatal(err)
	}
	return ts
}

// netGuard is preloaded (node --import) into every run. It replaces
// globalThis.fetch, which is what the CLI's HTTP client (Effect's
// FetchHttpClient) calls: each URL is logged, redirected when its host is in
// ALCHEMY_TSTOOL_REDIRECTS, and refused unless the target is loopback.
const netGuard = `import { appendFileSync } from "node:fs";
const redirects = JSON.parse(process.env.ALCHEMY_TSTOOL_REDIRECTS || "{}") || {};
const log = process.env.ALCHEMY_TSTOOL_NETLOG;
const realFetch = globalThis.fetch;
const loopback = (h) => h === "127.0.0.1" || h === "localhost" || h === "[::1]";
globalThis.fetch = async function guardedFetch(input, init) {
  const req = input instanceof Request ? input : undefined;
  const url = new URL(req ? req.url : String(input));
  let target = url;
  for (const [host, base] of Object.entries(redirects)) {
    if (url.hostname === host || url.hostname.endsWith("." + host)) {
      target = new URL(base.replace(/\/$/, "") + url.pathname + url.search);
      break;
    }
  }
  if (log) appendFileSync(log, url.href + (target === url ? "" : " -> " + target.href) + "\n");
  if (!loopback(target.hostname)) {
    throw new TypeError("alchemy testpeers: network blocked: " + url.href);
  }
  return req ? realFetch(new Request(target, req), init) : realFetch(target, init);
};
`

// Env returns the environment a run gets: the defaults below, then env on
// top (a key mapped to "" is removed). env must set HOME to a directory that
// is not the user's real home; ALCHEMY_HOME defaults to $HOME/.alchemy.
//
//	PATH=/usr/local/bin:/usr/bin:/bin   (prepend a dir for fake gh / aws)
//	TMPDIR=<the test process's temp dir> (node's compile cache goes there)
//	DO_NOT_TRACK=1 ALCHEMY_TELEMETRY_DISABLED=1 NO_COLOR=1
//	HTTP_PROXY=HTTPS_PROXY=http://127.0.0.1:1 NODE_USE_ENV_PROXY=1
//	NO_PROXY=127.0.0.1,localhost,::1
//	AWS_ENDPOINT_URL=http://127.0.0.1:1 AWS_EC2_METADATA_DISABLED=true
//	AWS_CONFIG_FILE=$HOME/.aws/config AWS_SHARED_CREDENTIALS_FILE=$HOME/.aws/credentials
//	CLOUDFLARE_API_BASE_URL=http://127.0.0.1:1/client/v4
//	ALCHEMY_TSTOOL_NETLOG, ALCHEMY_TSTOOL_REDIRECTS (for the network guard)
func (ts *TS) Env(t testing.TB, env map[string]string) []string {
	t.Helper()
	home := env["HOME"]
	if home == "" || !filepath.IsAbs(home) {
		t.Fatalf("TypeScript tool: env must set HOME to an absolute temp dir (got %q)", home)
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" && filepath.Clean(u.HomeDir) == filepath.Clean(home) {
		t.Fatalf("TypeScript tool: HOME %s is the real home directory; use a temp dir", home)
	}
	if ah := env["ALCHEMY_HOME"]; ah != "" {
		if u, err := user.Current(); err == nil && u.HomeDir != "" && filepath.Clean(ah) == filepath.Join(u.HomeDir, ".alchemy") {
			t.Fatalf("TypeScript tool: ALCHEMY_HOME %s is the real one; use a temp dir", ah)
		}
	}
	redirects, err := json.Marshal(ts.Redirects)
	if ts.Redirects == nil {
		redirects = []byte("{}")
	}
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"PATH":                        "/usr/local/bin:/usr/bin:/bin",
		"TMPDIR":                      os.TempDir(),
		"DO_NOT_TRACK":                "1",
		"ALCHEMY_TELEMETRY_DISABLED":  "1",
		"NO_COLOR":                    "1",
		"HTTP_PROXY":                  "http://127.0.0.1:1",
		"HTTPS_PROXY":                 "http://127.0.0.1:1",
		"NO_PROXY":                    "127.0.0.1,localhost,::1",
		"NODE_USE_ENV_PROXY":          "1",
		"AWS_ENDPOINT_URL":            LeakGuardEndpoint,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, ".aws", "credentials"),
		"CLOUDFLARE_API_BASE_URL":     "http://127.0.0.1:1/client/v4",
		"ALCHEMY_TSTOOL_NETLOG":       ts.netLog,
		"ALCHEMY_TSTOOL_REDIRECTS":    string(redirects),
	}
	for k, v := range env {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// Command returns the command for one run of the CLI (not started), with the
// environment of Env, in WorkDir, in its own process group. Use it for
// anything Run does not cover; Start puts it on a pseudo-terminal.
func (ts *TS) Command(t testing.TB, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append([]string{"--import", ts.guard, ts.CLI}, args...)
	cmd := exec.Command(ts.Node, argv...)
	cmd.Env = ts.Env(t, env)
	cmd.Dir = ts.WorkDir
	return cmd
}

// Run runs the CLI with args and returns what it printed and its exit code
// (a non-zero code is not a test failure). stdin is empty, so the tool runs
// non-interactively. If it runs longer than Timeout its process group is
// killed and the test fails.
func (ts *TS) Run(t testing.TB, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return ts.RunInput(t, env, "", args...)
}

// RunInput is Run with stdin (for `--set name=-`).
func (ts *TS) RunInput(t testing.TB, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := ts.Command(t, env, args...)
	var outBuf, errBuf bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	timeout := ts.Timeout
	if timeout <= 0 {
		timeout = TSToolTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	started := time.Now()
	var waitErr error
	done := make(chan struct{})
	startErr := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking thread exits: keep it alive
		// until the child is reaped (see start in testpeers.go).
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			startErr <- err
			close(done)
			return
		}
		startErr <- nil
		waitErr = cmd.Wait()
		close(done)
	}()
	if err := <-startErr; err != nil {
		t.Fatalf("TypeScript tool: start %s: %v", ts.Node, err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("TypeScript tool: alchemy %s did not finish within %v\n--- stdout ---\n%s\n--- stderr ---\n%s",
			strings.Join(args, " "), timeout, outBuf.String(), errBuf.String())
	}
	// The CLI may leave children behind (gh, aws); take its group down.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	code = 0
	var exit *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exit):
		code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	default:
		t.Fatalf("TypeScript tool: wait: %v", waitErr)
	}
	t.Logf("alchemy(ts) %s: exit %d in %v", strings.Join(args, " "), code, time.Since(started).Round(10*time.Millisecond))
	return outBuf.String(), errBuf.String(), code
}

// MustRun is Run that fails the test unless the exit code is 0; it returns
// stdout.
func (ts *TS) MustRun(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	out, errOut, code := ts.Run(t, env, args...)
	if code != 0 {
		t.Fatalf("TypeScript tool: alchemy %s: exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// Start runs the CLI on a 120x40 pseudo-terminal (TERM=xterm-256color unless
// env sets TERM), for its interactive prompts. The Proc's Timeout is 60 s
// (the CLI takes seconds to start).
func (ts *TS) Start(t testing.TB, env map[string]string, args ...string) *testpty.Proc {
	t.Helper()
	e := map[string]string{"TERM": "xterm-256color"}
	for k, v := range env {
		e[k] = v
	}
	p := testpty.Start(t, ts.Command(t, e, args...), 120, 40)
	p.Timeout = 60 * time.Second
	return p
}

// Fetches returns every URL the tool passed to fetch() in this TS's runs so
// far, in order ("URL -> TARGET" when redirected), blocked ones included.
func (ts *TS) Fetches(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(ts.netLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// TSProfilePath is where the tool keeps one provider of one profile:
// <alchemyHome>/profiles/<profile>/<lowercased provider>.json.
func TSProfilePath(alchemyHome, profile, provider string) string {
	return filepath.Join(alchemyHome, "profiles", profile, strings.ToLower(provider)+".json")
}

// TSProfileFile is a provider document of the tool's v1 layout.
type TSProfileFile struct {
	Format   string         `json:"format"`
	Provider string         `json:"provider"`
	Metadata map[string]any `json:"metadata"`
	Values   map[string]any `json:"values"`
}

// ReadTSProfile reads and decodes one provider document; it fails the test
// when the file is missing or not JSON. raw is the file as written.
func ReadTSProfile(t testing.TB, alchemyHome, profile, provider string) (doc TSProfileFile, raw []byte) {
	t.Helper()
	path := TSProfilePath(alchemyHome, profile, provider)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("TypeScript tool profile: %v", err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("TypeScript tool profile %s: %v\n%s", path, err, raw)
	}
	return doc, raw
}
