package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/testpty"
)

// The alchemy command draws the stack program's approval prompt (over
// pipes). Whatever happens to either process while it is up, the prompt
// never stays behind (the terminal is given back: cursor shown, bracketed
// paste off), no signal answers it, and nothing is deployed unless the
// person chose Deploy.
func TestSignalsAtTheStackProgramsPrompt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))
	// atPrompt starts a deploy and returns it with its prompt up, and the
	// stack program's pid.
	atPrompt := func(t *testing.T) (*testpty.Proc, int) {
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
		return p, stack[0].pid
	}
	kill := func(t *testing.T, pid int, sig syscall.Signal) {
		t.Helper()
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatal(err)
		}
	}
	deployedNothing := func(t *testing.T) {
		t.Helper()
		if exists(t, w.path(".alchemy", "state")) {
			t.Fatalf("the deploy wrote %v", listDir(t, w.path(".alchemy")))
		}
	}
	gaveTheTerminalBack := func(t *testing.T, after string) {
		t.Helper()
		for _, seq := range []string{"\x1b[?25h", "\x1b[?2004l"} {
			if !strings.Contains(after, seq) {
				t.Errorf("the prompt was not taken down (no %q); output after the signal:\n%q", seq, after)
			}
		}
	}

	// Killed: the command takes the prompt down and exits as the program
	// did. (Before the command drew it, a kill left the terminal raw.)
	t.Run("StackProgramKilled", func(t *testing.T) {
		p, stack := atPrompt(t)
		shown := len(p.Raw())
		kill(t, stack, syscall.SIGKILL)
		p.RequireExit(128 + int(syscall.SIGKILL))
		gaveTheTerminalBack(t, p.Raw()[shown:])
		deployedNothing(t)
		if left := descendants(procs(), p.Pid()); len(left) > 0 {
			t.Errorf("processes left: %v", left)
		}
	})

	// SIGTERM to the command reaches the program (forwarded), which stops
	// waiting: the prompt comes down, "Interrupted.", 130. bubbletea's own
	// handler once took it for a submit of "Deploy", and could hang the
	// command for good.
	t.Run("CommandTerminated", func(t *testing.T) {
		p, _ := atPrompt(t)
		shown := len(p.Raw())
		kill(t, p.Pid(), syscall.SIGTERM)
		p.Expect("Interrupted.")
		p.RequireExit(130)
		gaveTheTerminalBack(t, p.Raw()[shown:])
		deployedNothing(t)
	})

	// Paused: the program stopped while the person answers still gets the
	// answer when it goes on, and does what it says.
	t.Run("StackProgramPaused", func(t *testing.T) {
		p, stack := atPrompt(t)
		kill(t, stack, syscall.SIGSTOP)
		p.Send(testpty.KeyDown)
		p.Expect("> Cancel")
		p.Send(testpty.KeyEnter)
		time.Sleep(200 * time.Millisecond) // the answer waits in the pipe
		kill(t, stack, syscall.SIGCONT)
		p.Expect("Deploy aborted: plan declined.")
		p.RequireExit(1)
		deployedNothing(t)
	})
}
