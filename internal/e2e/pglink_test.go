package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// A stack program links the PostgreSQL state store only when its state is
// there: built without it (the driver is a fifth of the program and of
// its link), it says so before it does or prints anything, and alchemy
// builds it in and runs the command again, once; the stack's cache
// remembers it, so later commands build nothing more. The program run by
// hand says what to do instead.
func TestStackProgramLinksPostgresOnlyWhenItsStateIsThere(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.project(fixture("withstate"))
	cache := t.TempDir() // this test's own: the builds counted are its own
	local := []string{"ALCHEMY_CACHE_DIR=" + cache, "ALCHEMY_STATE=file://here"}

	d := w.runEnv(local, "deploy", "--yes")
	if d.code != 0 {
		t.Fatalf("deploy with local state: %s", d)
	}
	lean := newestExe(t, cache)
	deps := goVersionM(t, lean)
	if strings.Contains(deps, "github.com/jackc/pgx") || !strings.Contains(deps, "-tags=alchemy_nopg,alchemy_nos3,alchemy_noproviders,alchemy_child") {
		t.Fatalf("a stack program with local state links pgx, or was built without alchemy_nopg,alchemy_nos3,alchemy_noproviders,alchemy_child:\n%s", deps)
	}
	// The alchemy command draws its prompts and owns the builder and the
	// dev loop (stacklink_test.go lists the packages).
	for _, mod := range []string{"github.com/charmbracelet/huh", "github.com/charmbracelet/bubbletea", "github.com/fsnotify/fsnotify"} {
		if strings.Contains(deps, mod+"\t") {
			t.Errorf("a stack program built by alchemy links %s:\n%s", mod, deps)
		}
	}

	pg := testpeers.Postgres(t)
	shared := []string{"ALCHEMY_CACHE_DIR=" + cache, "ALCHEMY_STATE=" + pg.DSNWithout(), "PGPASSWORD=" + pg.Password}
	p := w.runEnv(shared, "deploy", "--yes")
	if p.code != 0 {
		t.Fatalf("deploy with PostgreSQL state: %s", p)
	}
	if n := strings.Count(p.stderr, "Building "); n != 1 {
		t.Errorf("the deploy built %d times, want once (the program with PostgreSQL):\n%s", n, p.stderr)
	}
	if n := strings.Count(p.stderr, "The state of alchemy.run.go is on PostgreSQL: building its program with the PostgreSQL store (once).\n"); n != 1 {
		t.Errorf("the deploy said why it builds again %d times, want once:\n%s", n, p.stderr)
	}
	// Run once: the context line and the plan are said once.
	if n := strings.Count(p.stdout, "withstate → dev_tester"); n != 1 {
		t.Errorf("the context line is there %d times:\n%s", n, p.stdout)
	}
	requireContains(t, "deploy with PostgreSQL state", p.stdout, "· state postgres://", "Plan: 1 to create")
	full := newestExe(t, cache)
	if deps := goVersionM(t, full); !strings.Contains(deps, "github.com/jackc/pgx") {
		t.Fatalf("the program for PostgreSQL state does not link pgx:\n%s", deps)
	}

	again := w.runEnv(shared, "plan")
	if again.code != 0 || strings.Contains(again.stderr, "Building ") || !strings.Contains(again.stdout, "Plan: no changes") {
		t.Errorf("plan after the stack needed PostgreSQL: %s", again)
	}

	// `alchemy state` runs the stack program to learn its store; one whose
	// alchemy.WithState names PostgreSQL is built with it on the way.
	src, err := os.ReadFile(w.path("alchemy.run.go"))
	if err != nil {
		t.Fatal(err)
	}
	withPG := strings.Replace(string(src), `alchemy.WithState("file://shared")`, `alchemy.WithState(os.Getenv("E2E_PG_STATE"))`, 1)
	withPG = strings.Replace(withPG, "import (", "import (\n\t\"os\"\n", 1)
	other := filepath.Join(w.dir, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "alchemy.run.go"), []byte(withPG), 0o644); err != nil {
		t.Fatal(err)
	}
	pgEnv := []string{"ALCHEMY_CACHE_DIR=" + cache, "E2E_PG_STATE=" + pg.DSNWithout(), "PGPASSWORD=" + pg.Password}
	l := w.runIn(other, pgEnv, "state", "list", "withstate/dev_tester")
	if l.code != 0 || l.stdout != "Greeting\n" || strings.Count(l.stderr, "Building ") != 2 {
		t.Errorf("state list of a stack whose WithState is PostgreSQL (built twice: without, then with it): %s", l)
	}
	m := w.runIn(other, pgEnv, "state", "migrate", "withstate/dev_tester", "--to", "file://copy")
	if m.code != 0 || strings.Contains(m.stderr, "Building ") {
		t.Errorf("state migrate from it, built already: %s", m)
	}

	// The program without it, run by hand.
	cmd := exec.Command(lean, "plan", filepath.Join(w.dir, "alchemy.run.go"))
	cmd.Dir, cmd.Env = w.dir, append(append([]string(nil), w.env...), shared...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "this program was built without the postgres state store") ||
		!strings.Contains(string(out), "run the stack with the alchemy command") || strings.Contains(string(out), pg.Password) {
		t.Errorf("the lean program run by hand with PostgreSQL state: %v\n%s", err, out)
	}
}

// newestExe is the stack executable built last in an ALCHEMY_CACHE_DIR.
func newestExe(t *testing.T, cache string) string {
	t.Helper()
	exes, _ := filepath.Glob(filepath.Join(cache, "stacks", "*", "*-*"))
	var newest string
	var when int64
	for _, e := range exes {
		if strings.HasSuffix(e, ".manifest") || strings.HasSuffix(e, ".relink") {
			continue
		}
		if fi, err := os.Stat(e); err == nil && fi.ModTime().UnixNano() >= when {
			newest, when = e, fi.ModTime().UnixNano()
		}
	}
	if newest == "" {
		t.Fatalf("no stack executable in %s", cache)
	}
	return newest
}

// goVersionM is `go version -m exe`: the modules it links and its build
// settings.
func goVersionM(t *testing.T, exe string) string {
	t.Helper()
	cmd := exec.Command("go", "version", "-m", exe)
	cmd.Env = goEnv
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	return string(out)
}

// A dev session whose state is on PostgreSQL: its first cycle finds the
// program built without the store, builds it in and deploys in the same
// cycle; an edit of the stack file then deploys without asking again.
func TestDevWithPostgresState(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	devModule(t, w.dir)
	pg := testpeers.Postgres(t)
	_, out := startDev(t, w, "ALCHEMY_DEV_POLL=50ms", "ALCHEMY_CACHE_DIR="+t.TempDir(),
		"ALCHEMY_STATE="+pg.DSNWithout(), "PGPASSWORD="+pg.Password)
	out.waitFor(t, "[dev] cycle 1 applied")
	const why = "The state of alchemy.run.go is on PostgreSQL: building its program with the PostgreSQL store (once).\n"
	if n := strings.Count(out.String(), why); n != 1 {
		t.Fatalf("cycle 1 said why it builds again %d times:\n%s", n, out.String())
	}
	if got, _ := os.ReadFile(w.path("out", "greeting.txt")); string(got) != "hello one" {
		t.Fatalf("cycle 1 deployed %q:\n%s", got, out.String())
	}
	saveFile(t, w.path("alchemy.run.go"), devStack("howdy"))
	out.waitFor(t, "[dev] cycle 2 applied")
	if got, _ := os.ReadFile(w.path("out", "greeting.txt")); string(got) != "howdy one" {
		t.Fatalf("cycle 2 deployed %q:\n%s", got, out.String())
	}
	if text := out.String(); strings.Count(text, why) != 1 || strings.Contains(text, "the deploy failed") ||
		strings.Contains(text, "failed to build") || strings.Contains(text, pg.Password) {
		t.Fatalf("after cycle 2:\n%s", out.String())
	}
}
