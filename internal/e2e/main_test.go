//go:build unix

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// What TestMain sets up once for every test of the run.
var (
	// repoRoot is the root of the alchemy module.
	repoRoot string
	// alchemyBin is the alchemy binary under test, built from ./cmd/alchemy.
	alchemyBin string
	// cacheDir is ALCHEMY_CACHE_DIR for every process: each stack file is
	// compiled once per run, by whichever test runs it first.
	cacheDir string
	// configDir is XDG_CONFIG_HOME for every command: the go command
	// writes its telemetry counters there, sometimes after the alchemy
	// process that ran it has exited, which in a test's own HOME broke
	// the test's TempDir clean-up. (GOENV is set, so alchemy reads no go
	// env file from it.)
	configDir string
	// goEnv is the Go build environment (GOCACHE, GOMODCACHE, ...) and PATH,
	// so the stack builds hit the developer's warm caches.
	goEnv []string
)

// runTimeout bounds one non-interactive alchemy run, a first build of a
// stack file included, on a loaded machine.
const runTimeout = 120 * time.Second

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "alchemy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := setup(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "e2e setup: %v\n", err)
		return 1
	}
	before := repoStateDirs()
	code := m.Run()
	testpeers.StopVersitygw()
	// Every test runs its stacks in a project of its own: a .alchemy that
	// appears in the repository means a test ran a stack in place, sharing
	// (and racing on) the repository module's state.
	for _, d := range repoStateDirs() {
		if !slices.Contains(before, d) {
			fmt.Fprintf(os.Stderr, "e2e: the run wrote %s inside the repository: a test ran a stack file in place instead of in its own project (world.project)\n", d)
			code = 1
		}
	}
	return code
}

// repoStateDirs lists the .alchemy directories in the repository where a
// stack file run in place would write: the module root (state and locks),
// and next to the stack files of examples/ and testdata/ (default file
// paths).
func repoStateDirs() []string {
	var dirs []string
	for _, pattern := range []string{".alchemy", "examples/*/.alchemy", "internal/e2e/testdata/*/.alchemy"} {
		m, _ := filepath.Glob(filepath.Join(repoRoot, pattern))
		dirs = append(dirs, m...)
	}
	return dirs
}

func setup(tmp string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	if _, err := os.Stat(filepath.Join(repoRoot, "go.mod")); err != nil {
		return fmt.Errorf("no go.mod at the repository root %s: %w", repoRoot, err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}

	// The Go build environment as `go env` sees it now, before HOME changes
	// for the children. GOENV too: without it the go env file is found
	// through HOME, and stackrun's cache key holds that file's path, so
	// every test's fresh HOME would rebuild every stack file.
	keys := []string{"GOENV", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GOSUMDB", "GONOSUMDB",
		"GOPRIVATE", "GONOPROXY", "GOINSECURE", "GOTOOLCHAIN", "GOTMPDIR"}
	out, err := exec.Command(goBin, append([]string{"env", "-json"}, keys...)...).Output()
	if err != nil {
		return fmt.Errorf("go env: %w", err)
	}
	var ge map[string]string
	if err := json.Unmarshal(out, &ge); err != nil {
		return fmt.Errorf("go env -json: %w", err)
	}
	goEnv = nil
	for _, k := range keys {
		if v := ge[k]; v != "" {
			goEnv = append(goEnv, k+"="+v)
		}
	}
	for _, k := range []string{"PATH", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			goEnv = append(goEnv, k+"="+v)
		}
	}

	cacheDir = filepath.Join(tmp, "cache")
	configDir = filepath.Join(tmp, "config")
	alchemyBin = filepath.Join(tmp, "bin", "alchemy")
	start := time.Now()
	build := exec.Command(goBin, "build", "-o", alchemyBin, "./cmd/alchemy")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/alchemy: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: built alchemy in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// stackPath is the absolute path of a stack file (or its directory) under
// the repository.
func stackPath(rel ...string) string {
	return filepath.Join(append([]string{repoRoot}, rel...)...)
}

// fixture is the directory of a stack file under testdata.
func fixture(name string) string {
	return stackPath("internal", "e2e", "testdata", name)
}

// example is the directory of an example stack under examples/.
func example(name string) string {
	return stackPath("examples", name)
}

// world is one test's user: a project directory, a home and an alchemy
// home, all fresh.
type world struct {
	t           *testing.T
	dir         string // the project (see project) and working directory of every command
	home        string // $HOME
	alchemyHome string // $ALCHEMY_HOME
	env         []string
}

// projectModule is the module path of a test project; internalModule is
// that of a project whose stack imports the SDK's internal test packages
// (internal/testprovider), which Go allows only to packages under
// github.com/alchemy-go/alchemy/.
const (
	projectModule  = "example.com/project"
	internalModule = "github.com/alchemy-go/alchemy/e2eproject"
)

// writeModule makes dir the root of a Go module of its own that builds with
// this repository's SDK: a go.mod requiring github.com/alchemy-go/alchemy
// with a replace directive to the repository, and the repository's go.sum.
// The go.mod repeats the repository's requirements: with module graph
// pruning a main module must list the modules its imports need, or go build
// stops with "updates to go.mod needed". Everything resolves offline from
// the warm module cache.
func writeModule(t testing.TB, dir, module string) {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod := regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(string(gomod), "module "+module) +
		"\nrequire github.com/alchemy-go/alchemy v0.0.0\n\nreplace github.com/alchemy-go/alchemy => " + repoRoot + "\n"
	sum, err := os.ReadFile(filepath.Join(repoRoot, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the files under src into dst, skipping hidden entries
// (a .alchemy left by a stack run in place).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// project makes w.dir the user's project: a module of its own (writeModule)
// holding a copy of the stack directory src (a fixture or an example: its
// alchemy.run.go and the files next to it), in w.dir itself or in
// w.dir/sub... It returns the copy's directory. The stack's state is then
// at w.path(".alchemy", "state"), and relative paths in the stack resolve
// from the copy, never from the repository.
func (w *world) project(src string, sub ...string) string {
	w.t.Helper()
	return makeProject(w.t, w.dir, projectModule, src, sub...)
}

// internalProject is project for a stack that imports the SDK's internal
// test packages (see internalModule).
func (w *world) internalProject(src string) string {
	w.t.Helper()
	return makeProject(w.t, w.dir, internalModule, src)
}

func makeProject(t testing.TB, root, module, src string, sub ...string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		writeModule(t, root, module)
	}
	dst := filepath.Join(append([]string{root}, sub...)...)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	copyDir(t, src, dst)
	return dst
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := newWorldTB(t)
	w.t = t
	return w
}

// newWorldTB is newWorld for benchmarks: only command and path are usable.
func newWorldTB(t testing.TB) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{dir: filepath.Join(root, "project"), home: filepath.Join(root, "userhome")}
	w.alchemyHome = filepath.Join(w.home, ".alchemy")
	for _, d := range []string{w.dir, w.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A clean environment, not os.Environ(): CI, a coding agent's variables,
	// ALCHEMY_PLAIN or a developer's cloud credentials would all change what
	// alchemy does.
	w.env = append(append([]string(nil), goEnv...),
		"HOME="+w.home,
		"ALCHEMY_HOME="+w.alchemyHome,
		"ALCHEMY_CACHE_DIR="+cacheDir,
		"XDG_CONFIG_HOME="+configDir,
		"USER=tester",
		"LANG=C.UTF-8",
		// Nothing may reach a real cloud.
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(w.home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(w.home, ".aws", "credentials"),
		"CLOUDFLARE_BASE_URL=http://127.0.0.1:1",
		"GITHUB_API_URL=http://127.0.0.1:1",
	)
	return w
}

// with is w for a subtest: the same project, home and environment,
// failing t.
func (w *world) with(t *testing.T) *world {
	c := *w
	c.t = t
	return &c
}

// path is a path inside the project directory.
func (w *world) path(rel ...string) string {
	return filepath.Join(append([]string{w.dir}, rel...)...)
}

// result is a finished non-interactive run.
type result struct {
	args         []string
	code         int
	stdout       string
	stderr       string
	took         time.Duration
	signaledKill bool
}

func (r result) String() string {
	return fmt.Sprintf("alchemy %s: exit %d after %v\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// command prepares `alchemy args...` in w's working directory and
// environment (plus extra), stdin /dev/null, in a process group of its own.
func (w *world) command(extra []string, args ...string) *exec.Cmd {
	cmd := exec.Command(alchemyBin, args...)
	cmd.Dir = w.dir
	cmd.Env = append(append([]string(nil), w.env...), extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// runIn runs `alchemy args...` with dir as the working directory.
func (w *world) runIn(dir string, extra []string, args ...string) result {
	w.t.Helper()
	cmd := w.command(extra, args...)
	cmd.Dir = dir
	return runCmd(w.t, cmd, args)
}

// run runs `alchemy args...` without a terminal and waits for it.
func (w *world) run(args ...string) result {
	w.t.Helper()
	return w.runEnv(nil, args...)
}

// runEnv is run with extra environment variables.
func (w *world) runEnv(extra []string, args ...string) result {
	w.t.Helper()
	return runCmd(w.t, w.command(extra, args...), args)
}

func runCmd(t *testing.T, cmd *exec.Cmd, args []string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(runTimeout):
		killGroup(cmd)
		<-done
		t.Fatalf("alchemy %s did not finish within %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), runTimeout, stdout.String(), stderr.String())
	}
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	r.code, r.signaledKill = exitCode(t, err)
	if r.took > 2*time.Second {
		built := ""
		if strings.Contains(r.stderr, "Building ") {
			built = " (built the stack file)"
		}
		t.Logf("slow: alchemy %s took %v%s", strings.Join(args, " "), r.took.Round(time.Millisecond), built)
	}
	return r
}

func exitCode(t *testing.T, err error) (code int, killed bool) {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, false
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), ws.Signal() == syscall.SIGKILL
		}
		return ee.ExitCode(), false
	}
	t.Fatalf("wait: %v", err)
	return -1, false
}

// killGroup SIGKILLs the process group cmd leads: alchemy and the stack
// program it runs.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// mustRun runs and requires exit code want.
func (w *world) mustRun(want int, args ...string) result {
	w.t.Helper()
	r := w.run(args...)
	if r.code != want {
		w.t.Fatalf("want exit %d; %s", want, r)
	}
	return r
}

// ok runs and requires success.
func (w *world) ok(args ...string) result {
	w.t.Helper()
	return w.mustRun(0, args...)
}

// requireContains fails unless s contains every one of wants.
func requireContains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, s)
		}
	}
}

// exists reports whether path exists (without following a final symlink).
func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err == nil {
		return true
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return false
}

// listDir returns the names in dir, sorted; none when it does not exist.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// stateRow is the part of a state row the tests look at.
type stateRow struct {
	FQN          string          `json:"fqn"`
	ResourceType string          `json:"resourceType"`
	InstanceID   string          `json:"instanceId"`
	Status       string          `json:"status"`
	Attr         json.RawMessage `json:"attr"`
}

// stateRows reads a stage's rows as alchemy sees them: every row file (not
// the output record, not temp files), keyed by FQN, with the stage's
// write-ahead journal (.journal, left by a run that was killed before it
// checkpointed) laid over them. It reports whether a journal was there.
func stateRows(t *testing.T, dir string) (rows map[string]stateRow, journal bool) {
	t.Helper()
	rows = map[string]stateRow{}
	decode := func(what string, data []byte) stateRow {
		var r stateRow
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("state row %s: %v\n%s", what, err, data)
		}
		return r
	}
	for _, name := range listDir(t, dir) {
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") || name == "__stack_output__.json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		r := decode(name, data)
		rows[r.FQN] = r
	}
	data, err := os.ReadFile(filepath.Join(dir, ".journal"))
	if errors.Is(err, fs.ErrNotExist) {
		return rows, false
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		var rec struct {
			FQN  string          `json:"f"`
			Data json.RawMessage `json:"d"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			if i == len(lines)-1 {
				continue // torn by a kill: that commit never returned
			}
			t.Fatalf("state journal line %d: %v\n%s", i+1, err, line)
		}
		switch {
		case rec.FQN == "":
			// the stack output record
		case rec.Data == nil || string(rec.Data) == "null":
			delete(rows, rec.FQN)
		default:
			rows[rec.FQN] = decode(".journal", rec.Data)
		}
	}
	return rows, true
}

// readJSON decodes a JSON file.
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
