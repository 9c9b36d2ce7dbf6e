package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// The alchemy command draws the stack program's prompts (over pipes). A
// stack program killed while its approval prompt is on the screen leaves
// no prompt behind: the command takes it down, gives the terminal back
// (cursor shown, bracketed paste off), exits as the program did, and
// nothing was deployed.
func TestStackProgramKilledAtItsPrompt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))
	p := w.startPTY(nil, "deploy", hello)
	p.Expect("Deploy 2 changes to hello/dev_tester?")
	p.Expect("> Deploy")

	var stack []proc
	for deadline := time.Now().Add(10 * time.Second); ; {
		if stack = descendants(procs(), p.Pid()); len(stack) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(stack) != 1 {
		t.Fatalf("want one process under alchemy (the stack program) while it asks; got %v", stack)
	}
	shown := len(p.Raw())
	if err := syscall.Kill(stack[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.RequireExit(128 + int(syscall.SIGKILL))
	after := p.Raw()[shown:]
	for _, seq := range []string{"\x1b[?25h", "\x1b[?2004l"} {
		if !strings.Contains(after, seq) {
			t.Errorf("after the stack program died the terminal was not given back (no %q); output after the kill:\n%q", seq, after)
		}
	}
	if exists(t, w.path(".alchemy", "state")) {
		t.Fatalf("a deploy whose program died at its prompt wrote %v", listDir(t, w.path(".alchemy")))
	}
	if left := descendants(procs(), p.Pid()); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
}

// SIGTERM to the alchemy command while the stack program's prompt is up
// reaches the program (the command forwards it), which stops waiting: the
// command takes the prompt down, the program says it was interrupted, and
// both exit 130 with nothing deployed.
func TestTerminatedAtTheStackProgramsPrompt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))
	p := w.startPTY(nil, "deploy", hello)
	p.Expect("Deploy 2 changes to hello/dev_tester?")
	p.Expect("> Deploy")
	shown := len(p.Raw())
	if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.Expect("Interrupted.")
	p.RequireExit(130)
	if after := p.Raw()[shown:]; !strings.Contains(after, "\x1b[?25h") {
		t.Errorf("the prompt was not taken down (no cursor shown after SIGTERM):\n%q", after)
	}
	if exists(t, w.path(".alchemy", "state")) {
		t.Fatalf("a deploy terminated at its prompt wrote %v", listDir(t, w.path(".alchemy")))
	}
}
