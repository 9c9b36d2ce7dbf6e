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
	child := list("alchemy_nopg,alchemy_child,alchemy_nos3,alchemy_noproviders")
	for _, p := range commandOnly {
		if child[p] {
			t.Errorf("a stack program built by the alchemy command links %s; `go list -deps -tags=alchemy_nopg,alchemy_child,alchemy_nos3,alchemy_noproviders -f '{{.ImportPath}}: {{.Imports}}' .` shows what imports it", p)
		}
	}
	if !list("")["github.com/alchemy-go/alchemy/internal/prompt/tui"] {
		t.Error("`go run alchemy.run.go` would link no terminal prompter: its prompts would all fail")
	}
}

// The alchemy command builds a stack's program with only the built-in auth
// providers its resources' packages bring, and without the S3 store
// (-tags=alchemy_noproviders,alchemy_nos3), until the stack needs them: a
// stack of local resources links no provider, no cloud client and no AWS
// SDK; one that uses the aws package links AWS's provider and not the
// others; `go run alchemy.run.go` links them all.
func TestStackProgramLinksTheProvidersItUses(t *testing.T) {
	const lean = "alchemy_nopg,alchemy_child,alchemy_nos3,alchemy_noproviders"
	list := func(tags string, pkgs ...string) map[string]bool {
		cmd := exec.Command("go", append([]string{"list", "-deps", "-tags=" + tags, "-f", "{{.ImportPath}}"}, pkgs...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps -tags=%s %v: %v", tags, pkgs, err)
		}
		got := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			got[p] = true
		}
		return got
	}
	const (
		awsAuth = "github.com/alchemy-go/alchemy/internal/auth/aws"
		cfAuth  = "github.com/alchemy-go/alchemy/internal/auth/cloudflare"
		ghAuth  = "github.com/alchemy-go/alchemy/internal/auth/github"
		s3      = "github.com/alchemy-go/alchemy/internal/state/s3state"
	)
	cloudOnly := []string{awsAuth, cfAuth, ghAuth, s3,
		"github.com/alchemy-go/alchemy/internal/aws/awsapi",
		"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi",
		"github.com/alchemy-go/alchemy/internal/github/ghapi",
		"golang.org/x/oauth2",
		"github.com/aws/aws-sdk-go-v2/aws",
		"github.com/aws/smithy-go",
		"encoding/xml",
	}
	local := list(lean, ".", "./local")
	for _, p := range cloudOnly {
		if local[p] {
			t.Errorf("a stack of local resources links %s; `go list -deps -tags=%s -f '{{.ImportPath}}: {{.Imports}}' . ./local` shows what imports it", p, lean)
		}
	}
	withAWS := list(lean, ".", "./aws")
	if !withAWS[awsAuth] || withAWS[cfAuth] || withAWS[ghAuth] || withAWS[s3] {
		t.Errorf("a stack of AWS resources: links AWS's provider %v, Cloudflare's %v, GitHub's %v, the S3 store %v; want AWS's alone",
			withAWS[awsAuth], withAWS[cfAuth], withAWS[ghAuth], withAWS[s3])
	}
	goRun := list("", ".")
	for _, p := range []string{awsAuth, cfAuth, ghAuth, s3} {
		if !goRun[p] {
			t.Errorf("`go run alchemy.run.go` would not link %s", p)
		}
	}
}
