//go:build unix

package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The README's first steps, before the SDK is published: `alchemy init`
// with a local checkout, `go mod tidy`, `alchemy plan`. Tidy keeps the SDK
// because of the alchemy.go that init writes; without it, tidy drops the
// SDK and the build's hint says how to get it back, never "go mod tidy".
func TestInitTidyPlan(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.mustRun(0, "init", "--sdk", repoRoot)
	if !strings.Contains(r.stdout, "go mod tidy") || !strings.Contains(r.stdout, "alchemy deploy") {
		t.Fatalf("init prints no next steps:\n%s", r)
	}
	tidy := func() {
		t.Helper()
		cmd := exec.Command("go", "mod", "tidy")
		cmd.Dir, cmd.Env = w.dir, w.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go mod tidy: %v\n%s", err, out)
		}
	}
	tidy()
	gomod, err := os.ReadFile(w.path("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "\nrequire github.com/alchemy-go/alchemy v0.0.0\n") {
		t.Fatalf("go mod tidy dropped the SDK:\n%s", gomod)
	}
	r = w.mustRun(0, "plan")
	if !strings.Contains(r.stdout, "Plan: 2 to create") {
		t.Fatalf("plan of the new stack:\n%s", r)
	}

	// Why alchemy.go is there.
	if err := os.Remove(w.path("alchemy.go")); err != nil {
		t.Fatal(err)
	}
	tidy()
	r = w.mustRun(1, "plan")
	for _, want := range []string{"is replaced but not required", "does not require the alchemy SDK", "\n  go get github.com/alchemy-go/alchemy\n", "//go:build tools"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stderr, "\n  go mod tidy") || strings.Contains(r.stderr, "often `go mod tidy`") {
		t.Errorf("the hint suggests go mod tidy, which broke the build:\n%s", r)
	}

	// init never overwrites.
	r = w.mustRun(1, "init", "--sdk", repoRoot)
	if !strings.Contains(r.stderr, "these files exist already") || r.stdout != "" {
		t.Fatalf("init over a module:\n%s", r)
	}
}
