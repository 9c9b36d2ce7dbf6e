//go:build unix

package cli

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// The first SIGINT stops new work; the second aborts the calls in flight.
func TestInterruptsEscalate(t *testing.T) {
	io, _, _, errOut := iostreams.Test()
	ctx, abort, stop := interrupts(io)
	defer stop()
	wait := func(done <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not cancelled", what)
		}
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	wait(ctx.Done(), "the interrupt context")
	select {
	case <-abort.Done():
		t.Fatal("one interrupt aborted the calls in flight")
	case <-time.After(100 * time.Millisecond):
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	wait(abort.Done(), "the abort context")
	if !strings.Contains(errOut.String(), "second interrupt: cancelling the calls in flight") {
		t.Fatalf("stderr = %q", errOut.String())
	}
}
