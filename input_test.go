package alchemy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// An Input[T] accepts an Output[T] only: a prop of the wrong type is a
// compile error, not a failure halfway through a deploy.
func TestInputsAreTyped(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	build := func(file string) (string, error) {
		cmd := exec.Command(goBin, "build", "-o", filepath.Join(t.TempDir(), "out"), filepath.Join("testdata", "inputtypes", file))
		cmd.Env = os.Environ()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := build("right.go"); err != nil {
		t.Fatalf("the well-typed stack does not build: %v\n%s", err, out)
	}
	out, err := build("wrong.go")
	if err == nil {
		t.Fatal("a stack passing alchemy.Int(42) as a string prop compiled")
	}
	if !strings.Contains(out, "does not implement alchemy.Input[string]") {
		t.Fatalf("unexpected compiler output:\n%s", out)
	}
}
