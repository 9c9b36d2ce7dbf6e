//go:build unix

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// devModule writes a Go module outside the repository that uses this
// repository's SDK (replace directive), with a stack whose file content comes
// from message.txt, read when the stack is declared.
func devModule(t testing.TB, dir string) {
	t.Helper()
	writeModule(t, dir, projectModule)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("message.txt", "one")
	write("alchemy.run.go", devStack("hello"))
}

func devStack(prefix string) string {
	return `//go:build ignore

package main

import (
	"os"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("devtest", func(s *alchemy.Stack) {
		msg, _ := os.ReadFile("message.txt")
		f := local.NewFile(s, "Greeting", local.FileProps{
			Path:    alchemy.String("out/greeting.txt"),
			Content: alchemy.String("` + prefix + ` " + string(msg)),
		})
		s.Output("path", f.Path)
	})
}
`
}

// TestDevSession runs `alchemy dev` and edits the stack and a file it reads,
// including a broken edit and its fix, checking the deployed file after each
// cycle; then Ctrl-C stops it cleanly.
func TestDevSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	devModule(t, w.dir)
	cmd, out := startDev(t, w, "ALCHEMY_DEV_POLL=100ms")
	content := func() string {
		b, _ := os.ReadFile(w.path("out", "greeting.txt"))
		return string(b)
	}
	out.waitFor(t, "[dev] cycle 1 applied")
	if got := content(); got != "hello one" {
		t.Fatalf("after the first deploy: %q\n%s", got, out.String())
	}
	if _, err := os.Stat(w.path(".alchemy", "state", "devtest", "dev_tester")); err != nil {
		t.Errorf("the default stage is not dev_$USER: %v", err)
	}

	// A file the stack reads: no rebuild needed, the change is applied.
	start := time.Now()
	os.WriteFile(w.path("message.txt"), []byte("two"), 0o644)
	for content() != "hello two" {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("the edit was never applied:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("edit to applied (one resource, no rebuild): %v", time.Since(start).Round(time.Millisecond))
	out.waitFor(t, "[dev] cycle 2 applied")

	// The stack itself: rebuilt.
	start = time.Now()
	os.WriteFile(w.path("alchemy.run.go"), []byte(devStack("hi")), 0o644)
	for content() != "hi two" {
		if time.Since(start) > 90*time.Second {
			t.Fatalf("the stack edit was never applied:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("edit to applied (stack rebuilt): %v", time.Since(start).Round(time.Millisecond))
	out.waitFor(t, "[dev] cycle 3 applied")

	// A broken edit is reported and the session keeps watching; the fix is applied.
	os.WriteFile(w.path("alchemy.run.go"), []byte(devStack("bad")+"\nthis does not compile\n"), 0o644)
	out.waitFor(t, "failed to build")
	if !strings.Contains(out.String(), "does not compile") {
		t.Fatalf("the compiler error was not shown:\n%s", out.String())
	}
	if got := content(); got != "hi two" {
		t.Fatalf("a broken edit changed the deployed file: %q", got)
	}
	os.WriteFile(w.path("alchemy.run.go"), []byte(devStack("fixed")), 0o644)
	out.waitFor(t, "[dev] cycle 5 applied")
	if got := content(); got != "fixed two" {
		t.Fatalf("after the fix: %q\n%s", got, out.String())
	}
	// State and outputs follow every cycle.
	rows, _ := stateRows(t, w.path(".alchemy", "state", "devtest", "dev_tester"))
	var attr struct{ Size int }
	json.Unmarshal(rows["Greeting"].Attr, &attr)
	if r := rows["Greeting"]; (r.Status != "updated" && r.Status != "created") || attr.Size != len("fixed two") {
		t.Fatalf("Greeting row after the fix: %+v", r)
	}
	outputs, err := os.ReadFile(w.path(".alchemy", "state", "devtest", "dev_tester", "__stack_output__.json"))
	if err != nil || !strings.Contains(string(outputs), "out/greeting.txt") {
		t.Fatalf("stack output: %s %v", outputs, err)
	}

	// Ctrl-C stops it, leaving no lock behind.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	err = cmd.Wait()
	code, _ := exitCode(t, err)
	if code != 130 {
		t.Fatalf("exit %d after Ctrl-C:\n%s", code, out.String())
	}
	locks, _ := filepath.Glob(w.path(".alchemy", "lock", "*.lock"))
	if len(locks) != 0 {
		t.Fatalf("locks left: %v", locks)
	}
}

// startDev starts `alchemy dev` in w with extra environment variables;
// its stdout and stderr collect in out. The process group is killed when
// the test ends.
func startDev(t *testing.T, w *world, extra ...string) (cmd *exec.Cmd, out *lockedBuffer) {
	t.Helper()
	cmd = w.command(extra, "dev")
	out = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killGroup(cmd) })
	return cmd, out
}

// waitFor waits (90 s at most: a first cycle builds the stack) until what
// appears in the output.
func (b *lockedBuffer) waitFor(t *testing.T, what string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(b.String(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %q:\n%s", what, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
