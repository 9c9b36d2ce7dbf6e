//go:build unix

package tui

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/alchemy-go/alchemy/internal/prompt"
)

// A SIGTERM never answers a prompt. bubbletea's own signal handler turned
// it into a submit of what was under the cursor ("Deploy", or half a typed
// token); signals reach a prompt only through its context, which the
// command's handler cancels.
func TestSignalDoesNotAnswerAPrompt(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go func() { // the terminal: read what the form draws, answer nothing
		buf := make([]byte, 4096)
		for {
			if _, err := ptmx.Read(buf); err != nil {
				return
			}
		}
	}()
	// The command's own handler, which keeps SIGTERM from ending the test.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		v   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := New(tty, tty).Select(ctx, "Deploy 2 changes?", []prompt.Option{{Value: "Deploy"}, {Value: "Cancel"}}, "Deploy")
		done <- result{v, err}
	}()
	time.Sleep(300 * time.Millisecond) // the form is up
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-sigs
	select {
	case r := <-done:
		t.Fatalf("SIGTERM answered the prompt: %q, %v", r.v, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	cancel() // what the command's handler does
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) || r.v == "Deploy" && r.err == nil {
			t.Fatalf("after its context ended the prompt returned %q, %v; want context.Canceled", r.v, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the prompt did not end with its context")
	}
}
