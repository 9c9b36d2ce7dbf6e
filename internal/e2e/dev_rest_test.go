//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devStackStamped is a stack whose file, inside the module, holds the time
// of the deploy that wrote it: every deploy rewrites it with new content.
func devStackStamped() string {
	return `//go:build ignore

package main

import (
	"os"
	"strconv"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("devtest", func(s *alchemy.Stack) {
		msg, _ := os.ReadFile("message.txt")
		local.NewFile(s, "Stamp", local.FileProps{
			Path:    alchemy.String("out/stamp.txt"),
			Content: alchemy.String(string(msg) + " deployed at " + strconv.FormatInt(time.Now().UnixNano(), 10)),
		})
	})
}
`
}

// devStackEmpty is devStack's stack with its file resource removed: its
// deploy deletes the file.
const devStackEmpty = `//go:build ignore

package main

import (
	"github.com/alchemy-go/alchemy"
	_ "github.com/alchemy-go/alchemy/local" // to delete the file
)

func main() {
	alchemy.Run("devtest", func(s *alchemy.Stack) {})
}
`

// devQuiet is how long a dev session must stay without a cycle to count as
// at rest: many polls (ALCHEMY_DEV_POLL=50ms) and several times what a
// cycle of a built stack takes.
const devQuiet = 1500 * time.Millisecond

// cycles counts the cycles a dev session has started.
func cycles(out *lockedBuffer) int {
	return strings.Count(out.String(), "[dev] cycle ")
}

// atRest requires that no cycle starts within devQuiet after cycle n
// finished.
func atRest(t *testing.T, out *lockedBuffer, n int, after string) {
	t.Helper()
	time.Sleep(devQuiet)
	if got := cycles(out); got != n {
		t.Fatalf("after %s the session did not come to rest: %d cycles, want %d:\n%s", after, got, n, out.String())
	}
}

// A resource that writes a file inside the watched module starts no cycle
// of its own: not when it creates the file, not when a deploy deletes it,
// and neither does alchemy's own state under .alchemy, touching a file
// without changing it, or a change undone before dev looked.
func TestDevOwnWritesStartNoCycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	devModule(t, w.dir)
	_, out := startDev(t, w, "ALCHEMY_DEV_POLL=50ms")
	out.waitFor(t, "[dev] cycle 1 applied")
	if _, err := os.Stat(w.path("out", "greeting.txt")); err != nil {
		t.Fatalf("cycle 1 wrote no file: %v\n%s", err, out.String())
	}
	atRest(t, out, 1, "creating out/greeting.txt")

	saveFile(t, w.path("message.txt"), "two")
	out.waitFor(t, "[dev] cycle 2 applied")
	atRest(t, out, 2, "updating out/greeting.txt")

	// Neither alchemy's directory nor a file rewritten with what it held
	// is an edit.
	os.WriteFile(w.path(".alchemy", "scratch.txt"), []byte("anything"), 0o644)
	saveFile(t, w.path("message.txt"), "two")
	later := time.Now().Add(time.Minute)
	os.Chtimes(w.path("alchemy.run.go"), later, later)
	atRest(t, out, 2, "touching files without changing them")

	os.WriteFile(w.path("alchemy.run.go"), []byte(devStackEmpty), 0o644)
	out.waitFor(t, "[dev] cycle 3 applied")
	if _, err := os.Stat(w.path("out", "greeting.txt")); !os.IsNotExist(err) {
		t.Fatalf("cycle 3 did not delete the file (%v):\n%s", err, out.String())
	}
	atRest(t, out, 3, "deleting out/greeting.txt")
	if n := strings.Count(out.String(), "[dev] changed: "); n != 2 {
		t.Errorf("%d changes reported, want the 2 edits:\n%s", n, out.String())
	}
}

// A resource whose file in the module changes on every deploy does not make
// the session deploy forever: one cycle per edit.
func TestDevFileChangedByEveryDeployDoesNotLoop(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	devModule(t, w.dir)
	os.WriteFile(w.path("alchemy.run.go"), []byte(devStackStamped()), 0o644)
	_, out := startDev(t, w, "ALCHEMY_DEV_POLL=50ms")
	out.waitFor(t, "[dev] cycle 1 applied")
	first, err := os.ReadFile(w.path("out", "stamp.txt"))
	if err != nil {
		t.Fatalf("cycle 1 wrote no file: %v\n%s", err, out.String())
	}
	atRest(t, out, 1, "the first deploy")

	saveFile(t, w.path("message.txt"), "two")
	out.waitFor(t, "[dev] cycle 2 applied")
	second, _ := os.ReadFile(w.path("out", "stamp.txt"))
	if !strings.HasPrefix(string(second), "two deployed at ") || string(second) == string(first) {
		t.Fatalf("cycle 2 did not rewrite the file: %q, then %q\n%s", first, second, out.String())
	}
	atRest(t, out, 2, "the second deploy")
}

// devStackNapping is devStack with a pause before the file is written,
// which lasts while the deploy creates or updates it: 1.5 s, a little more
// for a longer message.
func devStackNapping(prefix string) string {
	return `//go:build ignore

package main

import (
	"fmt"
	"os"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("devtest", func(s *alchemy.Stack) {
		msg, _ := os.ReadFile("message.txt")
		nap := local.NewSleep(s, "Nap", local.SleepProps{Create: alchemy.String(fmt.Sprintf("%dms", 1500+len(msg)))})
		local.NewFile(s, "Greeting", local.FileProps{
			Path:    alchemy.String("out/greeting.txt"),
			Content: alchemy.Sprintf("` + prefix + ` %s (after %s)", string(msg), alchemy.Attr[string](nap.Resource, "slept")),
		})
	})
}
`
}

// An edit saved while a deploy runs is deployed by the next cycle, which
// starts as soon as the deploy ends: a change of the stack's Go sources
// (the program that ran is out of date), and a change of any other file
// that no provider call of the deploy reported writing (the program read
// it before the edit). What the deploy's calls reported writing is its
// own output and starts nothing.
func TestDevEditWhileDeploying(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	devModule(t, w.dir)
	os.WriteFile(w.path("alchemy.run.go"), []byte(devStackNapping("hello")), 0o644)
	tmp := t.TempDir() // the session's: what it shares with its programs must not stay there
	cmd, out := startDev(t, w, "ALCHEMY_DEV_POLL=50ms", "TMPDIR="+tmp)
	content := func() string {
		b, _ := os.ReadFile(w.path("out", "greeting.txt"))
		return string(b)
	}

	out.waitFor(t, "[Nap] creating")
	os.WriteFile(w.path("alchemy.run.go"), []byte(devStackNapping("hi")), 0o644)
	out.waitFor(t, "[dev] cycle 2 applied")
	requireContains(t, "dev output", out.String(), "[dev] changed while cycle 1 ran: alchemy.run.go, out/greeting.txt\n")
	if got := content(); got != "hi one (after 1.503s)" {
		t.Fatalf("after cycle 2: %q\n%s", got, out.String())
	}
	atRest(t, out, 2, "the stack edited while cycle 1 deployed")

	saveFile(t, w.path("message.txt"), "three") // a longer pause: Nap is updated
	out.waitFor(t, "[Nap] updating")
	saveFile(t, w.path("message.txt"), "four") // read by cycle 3 before this
	os.WriteFile(w.path("notes.txt"), []byte("saved while deploying"), 0o644)
	out.waitFor(t, "[dev] cycle 4 applied")
	requireContains(t, "dev output", out.String(), "[dev] changed while cycle 3 ran: message.txt, notes.txt\n")
	if got := content(); got != "hi four (after 1.504s)" {
		t.Fatalf("after cycle 4: %q\n%s", got, out.String())
	}
	atRest(t, out, 4, "files edited while cycle 3 deployed")
	if strings.Contains(out.String(), "own output") {
		t.Errorf("a file was taken as the deploy's own output:\n%s", out.String())
	}

	// Killed outright, the session leaves none of the files it shared
	// with its programs (needs, writes report, notices) in its TMPDIR.
	killGroup(cmd)
	cmd.Wait()
	ents, _ := os.ReadDir(tmp)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "alchemy-") {
			t.Errorf("left in TMPDIR after SIGKILL: %s", e.Name())
		}
	}
}

// devStackUnsaid is a stack with a resource of the stack's own whose
// provider writes a file in the module without reporting it
// (alchemy.WriteReporter), after a pause.
const devStackUnsaid = `//go:build ignore

package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/alchemy-go/alchemy"
)

type Args struct {
	Text string ` + "`json:\"text\"`" + `
}

type Attrs struct{}

type scribe struct{}

func (scribe) Type() string        { return "Test.Scribe" }
func (scribe) ReplaceOn() []string { return nil }
func (scribe) write(r *alchemy.Request[Args, Attrs]) (Attrs, error) {
	time.Sleep(1500 * time.Millisecond)
	return Attrs{}, os.WriteFile(filepath.Join(r.Dir, "scribbled.txt"), []byte(r.Props.Text), 0o644)
}
func (p scribe) Create(_ context.Context, r *alchemy.Request[Args, Attrs]) (Attrs, error) { return p.write(r) }
func (p scribe) Update(_ context.Context, r *alchemy.Request[Args, Attrs]) (Attrs, error) { return p.write(r) }
func (scribe) Delete(context.Context, *alchemy.Request[Args, Attrs]) error              { return nil }

type Props struct {
	Text alchemy.Input[string] ` + "`json:\"text\"`" + `
}

func main() {
	alchemy.Run("devtest", func(s *alchemy.Stack) {
		msg, _ := os.ReadFile("message.txt")
		alchemy.Declare[Args, Attrs](s, scribe{}, "Scribe", Props{Text: alchemy.String(string(msg))})
	})
}
`

// A deploy that calls a provider which does not say what it writes: a file
// changed while it ran may be that provider's output, so it starts no cycle
// (the session would otherwise deploy once more after every deploy that
// writes it) and is named, with the reason, for the user to save again.
func TestDevEditWhileAProviderThatDoesNotReportWrites(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	devModule(t, w.dir)
	os.WriteFile(w.path("alchemy.run.go"), []byte(devStackUnsaid), 0o644)
	_, out := startDev(t, w, "ALCHEMY_DEV_POLL=50ms")
	out.waitFor(t, "[dev] cycle 1 applied")
	requireContains(t, "dev output", out.String(),
		"[dev] changed while cycle 1 ran, taken as the deploy's own output (Test.Scribe may write files without saying so): scribbled.txt (if you edited it meanwhile, save it again)\n")
	atRest(t, out, 1, "the first deploy")

	saveFile(t, w.path("message.txt"), "two")
	out.waitFor(t, "[Scribe] updating")
	os.WriteFile(w.path("notes.txt"), []byte("saved while deploying"), 0o644)
	out.waitFor(t, "[dev] cycle 2 applied")
	requireContains(t, "dev output", out.String(),
		"[dev] changed while cycle 2 ran, taken as the deploy's own output (Test.Scribe may write files without saying so): notes.txt, scribbled.txt (if you edited it meanwhile, save it again)\n")
	atRest(t, out, 2, "a file edited while cycle 2 deployed")
}

// devStackStampsItself is a stack whose own code, not a resource, writes a
// file in the module on every run.
const devStackStampsItself = `//go:build ignore

package main

import (
	"os"
	"strconv"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("devtest", func(s *alchemy.Stack) {
		msg, _ := os.ReadFile("message.txt")
		os.WriteFile("generated.txt", []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644)
		local.NewFile(s, "Greeting", local.FileProps{
			Path:    alchemy.String("out/greeting.txt"),
			Content: alchemy.String(string(msg)),
		})
	})
}
`

// A stack whose own code writes a file in the module on every run: no
// provider reports it, so the deploy after it looks like an edit; after a
// second deploy in a row that changed it, dev takes it as the stack's own
// and comes to rest. Two cycles per edit, never a loop.
func TestDevStackThatWritesOnEveryRunDoesNotLoop(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	devModule(t, w.dir)
	os.WriteFile(w.path("alchemy.run.go"), []byte(devStackStampsItself), 0o644)
	_, out := startDev(t, w, "ALCHEMY_DEV_POLL=50ms")
	out.waitFor(t, "[dev] cycle 2 applied")
	requireContains(t, "dev output", out.String(), "[dev] changed while cycle 1 ran: generated.txt\n")
	requireContains(t, "dev output", out.String(),
		"[dev] changed while cycle 2 ran, taken as the deploy's own output (it changed during each of the last 2 deploys: the stack's own code writes it): generated.txt (if you edited it meanwhile, save it again)\n")
	atRest(t, out, 2, "the stack's own writes")

	saveFile(t, w.path("message.txt"), "two")
	out.waitFor(t, "[dev] cycle 4 applied")
	atRest(t, out, 4, "an edit of a stack that writes on every run")
	if b, _ := os.ReadFile(w.path("out", "greeting.txt")); string(b) != "two" {
		t.Errorf("the edit was not deployed: %q\n%s", b, out.String())
	}
}

// saveFile replaces path's content in one step, as an editor that writes a
// new file and renames it over the old one does: a watcher polling under
// load never sees it empty (os.WriteFile truncates first, and a cycle
// started on the truncated file reads nothing).
func saveFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "saving") // outside the module: no file of it appears there
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
