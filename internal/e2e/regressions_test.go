//go:build unix

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRegressions reproduces bugs these end-to-end tests found, each now
// fixed; every subtest asserts the right behaviour.
func TestRegressions(t *testing.T) {
	t.Parallel()

	// A deploy whose only change is a stack output is "no changes": the new
	// output is neither saved nor printed, and the old one is shown. The same
	// path loses the outputs for good when a deploy is killed after its last
	// resource and before the output is saved (seen in
	// TestKillMidDeployResumes).
	t.Run("OutputsNeverRewritten", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		stack := w.project(fixture("outputs"))
		r := w.runEnv([]string{"E2E_MODE=a"}, "deploy", stack, "--yes")
		if r.code != 0 || outputs(t, r.stdout)["mode"] != "a" {
			t.Fatalf("first deploy: %s", r)
		}
		r = w.runEnv([]string{"E2E_MODE=b"}, "plan", stack)
		if strings.Contains(r.stdout, "Plan: no changes") {
			t.Errorf("plan with a changed output says no changes:\n%s", r.stdout)
		}
		r = w.runEnv([]string{"E2E_MODE=b"}, "deploy", stack, "--yes")
		if got := outputs(t, r.stdout)["mode"]; r.code != 0 || got != "b" {
			t.Errorf("deploy with the output changed to b prints mode %q; %s", got, r)
		}
	})

	// local.File creates its parent directory through
	// atomicfile.MkdirPrivate, which chmods an existing directory to 0700:
	// a file declared at "greeting.txt" makes the project directory itself
	// private, and "public/index.html" makes public/ 0700 although the code
	// asks for 0755. A file at an absolute path (/tmp/x.txt) would chmod /tmp.
	t.Run("FileChmodsItsDirectory", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		if err := os.Chmod(w.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		w.ok("deploy", w.project(fixture("localpath")), "--yes")
		for _, dir := range []string{w.dir, w.path("public")} {
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("after deploying a local.File into it, %s has mode %v, want 0755", dir, fi.Mode().Perm())
			}
		}
	})

	// Two deploys of one stage at once: the second plans before it takes the
	// stage lock, waits for the first, then applies its stale plan. It
	// creates again what the first created, under new instance ids: the
	// first run's file is left behind, unknown to the state, and survives
	// destroy (for a cloud resource: a leaked duplicate).
	t.Run("StalePlanAfterLock", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		stack := w.project(fixture("racy"))
		w.ok("plan", stack) // build outside the timing
		first := w.command(nil, "deploy", stack, "--yes")
		var out1 bytes.Buffer
		first.Stdout, first.Stderr = &out1, &out1
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- first.Wait() }()
		t.Cleanup(func() { killGroup(first) })
		// Second deploy while the first sleeps its 3 s, after the first
		// committed its first row.
		deadline := time.Now().Add(runTimeout)
		for !exists(t, w.path(".alchemy", "state", "racy", "dev_tester")) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		second := w.run("deploy", stack, "--yes")
		if err := <-done; err != nil {
			t.Fatalf("first deploy: %v\n%s", err, out1.String())
		}
		t.Logf("second deploy: %s", second)
		if files := listDir(t, w.path(".alchemy", "files")); len(files) != 1 {
			t.Errorf("two deploys of one stage left %d files, want 1: %v", len(files), files)
		}
		w.ok("destroy", stack, "--yes")
		if files := listDir(t, w.path(".alchemy", "files")); len(files) != 0 {
			t.Errorf("orphaned after destroy: %v", files)
		}
	})

	// A file that only mentions alchemy.Run( in a comment passes the "does it
	// declare a stack" check, is built and run, and `alchemy deploy` exits 0
	// having deployed nothing.
	t.Run("CommentIsNotAStack", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		r := w.run("deploy", w.project(fixture("commentonly")), "--yes")
		if r.code == 0 {
			t.Errorf("deploying a program that declares no stack succeeded: %s", r)
		}
	})

	// Usage errors exit 2 (an unknown flag, an invalid stage), except a
	// wrong number of arguments, which exits 1 with cobra's bare message.
	t.Run("ArgCountIsAUsageError", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		r := w.run("plan", w.project(example("hello")), "extra-arg")
		if r.code != 2 || !strings.Contains(r.stderr, "--help") {
			t.Errorf("want exit 2 and a pointer to --help; %s", r)
		}
	})

	// A plan right after a killed (or during a running) deploy re-reads and
	// parses the whole state journal once per row: the overlay cache is not
	// used while the journal is less than a second old. 400 rows and a
	// 700-line journal take ~1 s instead of ~60 ms.
	t.Run("PlanAfterKillIsQuadratic", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.project(fixture("big"))
		w.ok("plan", w.dir)
		var k killPoint
		for try := 0; try < 3 && !k.killed; try++ {
			if err := os.RemoveAll(w.path(".alchemy")); err != nil {
				t.Fatal(err)
			}
			k = deployAndKill(t, w, func(p progress) bool { return p.files >= 100 })
		}
		if !k.killed {
			t.Fatalf("three deploys finished before the kill at 100 files: %s", k)
		}
		plan := func() time.Duration {
			cmd := exec.Command(alchemyBin, "plan", w.dir)
			cmd.Dir, cmd.Env = w.dir, w.env
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("plan: %v\n%s", err, out)
			}
			return time.Since(start)
		}
		fresh := plan()
		time.Sleep(1200 * time.Millisecond)
		settled := plan()
		t.Logf("plan right after the kill: %v; a second later: %v", fresh, settled)
		if fresh > 3*settled+100*time.Millisecond {
			t.Errorf("plan right after a kill took %v, %v once the journal is a second old", fresh, settled)
		}
	})
}
