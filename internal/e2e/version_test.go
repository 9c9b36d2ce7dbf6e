package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVersionFromBuildStamp builds alchemy as a user's `go build` in a
// checkout does (VCS stamping on, whatever GOFLAGS the test run has) and
// checks that `alchemy --version`, `alchemy version` and `version --json`
// report what the Go toolchain itself reads from that binary.
func TestVersionFromBuildStamp(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "alchemy")
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, "./cmd/alchemy")
	build.Dir = repoRoot // -buildvcs on the command line overrides GOFLAGS'
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	stamp := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod":
			stamp["mod"] = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs."):
			k, v, _ := strings.Cut(f[1], "=")
			stamp[k] = v
		}
	}
	// The go command stamps a checkout whose .git is a directory; a git
	// worktree (.git is a file) builds unstamped, as (devel).
	if fi, err := os.Stat(filepath.Join(repoRoot, ".git")); err == nil && fi.IsDir() && stamp["vcs.revision"] == "" {
		t.Fatalf("a build in a git checkout carries no vcs.revision:\n%s", out)
	}
	want := "alchemy " + stamp["mod"]
	if rev := stamp["vcs.revision"]; rev != "" {
		want += " (commit " + rev[:7]
		if stamp["vcs.modified"] == "true" {
			want += ", dirty"
		}
		want += ")"
	}
	want += "\n"

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("alchemy %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"-v"}} {
		if got := run(args...); got != want {
			t.Errorf("alchemy %s printed %q, want %q (from go version -m)", strings.Join(args, " "), got, want)
		}
	}
	if !regexp.MustCompile(`^alchemy \S+( \(commit [0-9a-f]{7}(, dirty)?\))?\n$`).MatchString(want) {
		t.Errorf("version line %q is not `alchemy VERSION (commit abcdef0[, dirty])`", want)
	}

	var v struct {
		Version, Commit, Go string
		Dirty               bool
	}
	if err := json.Unmarshal([]byte(run("version", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != stamp["mod"] || v.Commit != stamp["vcs.revision"] || v.Dirty != (stamp["vcs.modified"] == "true") || !strings.HasPrefix(v.Go, "go1.") {
		t.Errorf("version --json = %+v, want version %s, commit %s, dirty %s", v, stamp["mod"], stamp["vcs.revision"], stamp["vcs.modified"])
	}
}
