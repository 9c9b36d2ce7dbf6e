package alchemy_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A stack program built by the alchemy command (-tags=alchemy_child) runs
// one command under it: the command draws its prompts and owns the
// builder and the dev loop, so the program links none of them. `go run
// alchemy.run.go` (no tag) links the terminal's prompter and asks itself.
func TestStackProgramLinksNoCommandParts(t *testing.T) {
	list := func(tags string) map[string]bool {
		cmd := exec.Command("go", "list", "-deps", "-tags="+tags, "-f", "{{.ImportPath}}", ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps -tags=%s: %v", tags, err)
		}
		pkgs := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			pkgs[p] = true
		}
		if !pkgs["github.com/alchemy-go/alchemy/internal/cli"] {
			t.Fatalf("go list -deps -tags=%s listed no internal/cli:\n%s", tags, out)
		}
		return pkgs
	}
	commandOnly := []string{
		"github.com/alchemy-go/alchemy/internal/prompt/tui",
		"github.com/charmbracelet/huh",
		"github.com/charmbracelet/bubbletea",
		"github.com/charmbracelet/lipgloss",
		"github.com/atotto/clipboard",
		"github.com/alchemy-go/alchemy/internal/stackrun",
		"github.com/fsnotify/fsnotify",
		"go/build",
	}
	child := list("alchemy_nopg,alchemy_child")
	for _, p := range commandOnly {
		if child[p] {
			t.Errorf("a stack program built by the alchemy command links %s; `go list -deps -tags=alchemy_nopg,alchemy_child -f '{{.ImportPath}}: {{.Imports}}' .` shows what imports it", p)
		}
	}
	if !list("")["github.com/alchemy-go/alchemy/internal/prompt/tui"] {
		t.Error("`go run alchemy.run.go` would link no terminal prompter: its prompts would all fail")
	}
}
