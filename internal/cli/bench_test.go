package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// BenchmarkProfileShow is the in-process part of `alchemy profile show` on a
// profile with three providers: everything but process start-up, which
// scripts/bench-profile-show measures as a whole.
func BenchmarkProfileShow(b *testing.B) {
	home := b.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(home, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	write("profiles.json", `{"version":0,"profiles":{"default":{"Cloudflare":{"method":"stored","credentialType":"apiToken"},"AWS":{"method":"stored"},"GitHub":{"method":"stored"}}}}`)
	write("credentials/default/cf-stored.json", `{"type":"apiToken","apiToken":"cf-bench-token-0000000001","accountId":"0123456789abcdef0123456789abcdef"}`)
	write("credentials/default/aws.json", `{"accountId":"123456789012","accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY","sessionToken":"","region":"us-east-1"}`)
	write("credentials/default/gh-stored.json", `{"type":"pat","token":"ghp_benchtoken000000000001"}`)
	b.Setenv("ALCHEMY_HOME", home)
	b.Setenv("ALCHEMY_PROFILE", "")
	b.Chdir(b.TempDir())

	b.ReportAllocs()
	for b.Loop() {
		io, _, out, _ := iostreams.Test()
		f := &cli.Factory{IO: io, Registry: bundled.Registry, Now: time.Now}
		root := cli.NewRoot(f)
		root.SetArgs([]string{"profile", "show"})
		if err := root.ExecuteContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		if !strings.Contains(out.String(), "── GitHub ──") {
			b.Fatalf("output: %s", out)
		}
	}
}
