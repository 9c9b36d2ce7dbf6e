package alchemy_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/local"
)

// A panic while declaring the stack names the line of the stack file that
// panicked, not the runtime's or the SDK's: here an index out of range (a
// runtime panic, raised inside the runtime) and a nil pointer handed to a
// resource constructor's caller.
func TestPanicNamesTheStackFileLine(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	var line int
	// here records its caller's line, so the panic happens on that line.
	here := func() int { _, _, line, _ = runtime.Caller(1); return 3 }
	p := stacktest.Program("hello", func(s *alchemy.Stack) {
		local.NewFile(s, "Greeting", local.FileProps{Content: alchemy.String("hi\n")})
		var ids []string
		_ = ids[here()]
	})
	p.File = file
	_, err := p.Build("dev")
	want := fmt.Sprintf("(at %s:%d)", file, line)
	if err == nil || !strings.Contains(err.Error(), "declaring stack hello: panic: runtime error: index out of range") || !strings.Contains(err.Error(), want) {
		t.Fatalf("panic error %v, want it to name %s", err, want)
	}

	// Without the stack file's path (a build with -trimpath under go run),
	// the deepest frame outside the runtime and the SDK: the same line.
	p = stacktest.Program("hello", func(s *alchemy.Stack) {
		panic(fmt.Sprint("boom", here()))
	})
	_, err = p.Build("dev")
	if want := fmt.Sprintf("declaring stack hello: panic: boom3 (at %s:%d)", file, line); err == nil || err.Error() != want {
		t.Fatalf("panic error %v, want %q", err, want)
	}
}
