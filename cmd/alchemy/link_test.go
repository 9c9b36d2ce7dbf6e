package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Every package linked into the binary runs its initialisation on every
// command, `alchemy profile show` included: Go has no lazy package init, so
// only what is not linked costs nothing (docs/PERFORMANCE.md). Resource
// packages, test tooling and the AWS SDK's service clients belong in the
// stack programs and the tests.

// allowedAWSServices are the AWS SDK service clients the binary may link:
// none. The CLI calls STS, SSO, SSO-OIDC and (for s3:// state) S3 through
// the small typed clients of internal/aws/awsapi (the v4 signer and
// smithy-go's error types only): the SDK's clients build endpoint tables
// and schemas at init, ~3-4 ms of every command for STS/SSO and ~1 ms and
// 8 MB of binary for S3 (docs/PERFORMANCE.md).
var allowedAWSServices = map[string]bool{}

// heavy reports which forbidden package or module pkg belongs to, and why
// it is forbidden; "" when pkg may be linked.
func heavy(pkg string) (root, why string) {
	const self = "github.com/alchemy-go/alchemy/"
	rules := []struct {
		why      string
		prefixes []string
	}{
		{"a resource package: stack programs link it, the CLI does not", []string{self + "aws", self + "cloudflare"}},
		{"test tooling", []string{self + "internal/fakes", self + "internal/testpeers", self + "internal/testpty",
			self + "internal/testprovider", "github.com/rogpeppe/go-internal", "github.com/ory/fosite", "github.com/chromedp"}},
		// pgx is linked on purpose: `alchemy state` and every stack command
		// may open a postgres:// state store; its package init costs ~0.3 ms
		// (GODEBUG=inittrace=1 on a loaded machine; docs/PERFORMANCE.md).
		{"a heavy client library: the auth checks use the small typed clients (cfapi, ghapi)",
			[]string{"github.com/cloudflare/cloudflare-go"}},
		{"the AWS SDK's shared-config loader or credential providers, which link its STS, SSO, SSO-OIDC and Sign-In clients: the auth provider uses awsapi",
			[]string{"github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/credentials"}},
	}
	for _, r := range rules {
		for _, p := range r.prefixes {
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				return p, r.why
			}
		}
	}
	const services = "github.com/aws/aws-sdk-go-v2/service/"
	if svc, ok := strings.CutPrefix(pkg, services); ok {
		name, _, _ := strings.Cut(svc, "/")
		if !allowedAWSServices[name] {
			return services + name, "an AWS SDK service client (each builds its endpoint tables and schemas at init)"
		}
	}
	return "", ""
}

func TestHeavyPackageRules(t *testing.T) {
	for pkg, want := range map[string]bool{
		"github.com/alchemy-go/alchemy/aws":                           true,
		"github.com/alchemy-go/alchemy/cloudflare/worker":             true,
		"github.com/alchemy-go/alchemy/internal/fakes/awssso":         true,
		"github.com/alchemy-go/alchemy/internal/testpeers":            true,
		"github.com/chromedp/cdproto/cdp":                             true,
		"github.com/aws/aws-sdk-go-v2/service/s3":                     true,
		"github.com/aws/aws-sdk-go-v2/service/s3/types":               true,
		"github.com/aws/aws-sdk-go-v2/service/s3control":              true,
		"github.com/aws/aws-sdk-go-v2/service/dynamodb/types":         true,
		"github.com/alchemy-go/alchemy/internal/auth/aws":             false,
		"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi":     false,
		"github.com/alchemy-go/alchemy/awsx":                          false,
		"github.com/alchemy-go/alchemy/internal/aws/awsapi":           false,
		"github.com/aws/aws-sdk-go-v2/service/sts":                    true,
		"github.com/aws/aws-sdk-go-v2/service/ssooidc/types":          true,
		"github.com/aws/aws-sdk-go-v2/config":                         true,
		"github.com/aws/aws-sdk-go-v2/credentials/ssocreds":           true,
		"github.com/aws/aws-sdk-go-v2/service/internal/presigned-url": true,
		"github.com/aws/aws-sdk-go-v2/aws/signer/v4":                  false,
	} {
		if root, _ := heavy(pkg); (root != "") != want {
			t.Errorf("heavy(%q) = %q, want forbidden: %v", pkg, root, want)
		}
	}
}

// TestBinaryLinksNoHeavyPackages lists what `CGO_ENABLED=0 go build
// ./cmd/alchemy` (the release build) links.
func TestBinaryLinksNoHeavyPackages(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test lists the binary's packages with the go command: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 100 || !strings.Contains(string(out), "github.com/alchemy-go/alchemy/internal/cli\n") {
		t.Fatalf("go list -deps listed %d packages, without internal/cli:\n%s", len(pkgs), out)
	}
	reported := map[string]bool{}
	for _, p := range pkgs {
		if root, why := heavy(p); root != "" && !reported[root] {
			reported[root] = true
			t.Errorf("the alchemy binary links %s (%s...): %s. Every command pays its package init (docs/PERFORMANCE.md); "+
				"`go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/alchemy` shows what imports it", p, root, why)
		}
	}
}
