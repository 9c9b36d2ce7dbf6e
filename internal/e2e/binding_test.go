//go:build unix

package e2e

import (
	"os"
	"syscall"
	"testing"
)

// boundDevStack is a stack whose default stage dev_tester is bound to a
// Cloudflare account; it deploys one local file.
func boundDevStack(account string) string {
	return `//go:build ignore

package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("devbound", func(s *alchemy.Stack) {
		local.NewFile(s, "Greeting", local.FileProps{
			Path:    alchemy.String("out/greeting.txt"),
			Content: alchemy.String("hello"),
		})
	}, alchemy.Stage("dev_tester", alchemy.Account("Cloudflare", "` + account + `")))
}
`
}

// TestDevChecksBoundAccount: every cycle of `alchemy dev` is a deploy, so a
// stage bound to another account than the credentials' changes nothing,
// and the session keeps watching until the binding (or the credentials)
// are fixed.
func TestDevChecksBoundAccount(t *testing.T) {
	t.Parallel()
	const bound, other = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	w := newWorld(t)
	writeModule(t, w.dir, projectModule)
	if err := os.WriteFile(w.path("alchemy.run.go"), []byte(boundDevStack(bound)), 0o644); err != nil {
		t.Fatal(err)
	}
	// CI without a profile: Cloudflare credentials come from the
	// environment, and the account check holds all the same. (The
	// Cloudflare account check reads the resolved credentials: no request.)
	cmd, out := startDev(t, w, "ALCHEMY_DEV_POLL=100ms", "CI=true",
		"CLOUDFLARE_API_TOKEN=cf-dev-token-0001", "CLOUDFLARE_ACCOUNT_ID="+other)
	out.waitFor(t, "[dev] cycle 1: the deploy failed")
	requireContains(t, "dev output", out.String(),
		"Stage dev_tester is bound to Cloudflare account "+bound+", but the Cloudflare credentials from the environment (CI, no profile selected) act in account "+other+". Nothing was changed.")
	for _, p := range []string{w.path("out", "greeting.txt"), w.path(".alchemy")} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("a refused cycle created %s:\n%s", p, out.String())
		}
	}

	// The binding named the wrong account: fixing it deploys.
	if err := os.WriteFile(w.path("alchemy.run.go"), []byte(boundDevStack(other)), 0o644); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "[dev] cycle 2 applied")
	if b, err := os.ReadFile(w.path("out", "greeting.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("after the fix: %q %v\n%s", b, err, out.String())
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	if code, _ := exitCode(t, cmd.Wait()); code != 130 {
		t.Fatalf("exit %d after Ctrl-C:\n%s", code, out.String())
	}
}
