//go:build unix

package cli

import (
	"syscall"
	"testing"
	"time"
)

// The first SIGINT stops new work; the second aborts the calls in flight.
func TestInterruptsEscalate(t *testing.T) {
	ctx, abort, stop := interrupts()
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
}
