//go:build !alchemy_noproviders

package alchemy

// A stack program links every auth provider built into alchemy unless it
// is built with the alchemy_noproviders tag, as the alchemy command builds
// stacks that need only the providers their resources' packages bring
// (aws, cloudflare: each links its own). `go run alchemy.run.go` links
// them all.
import _ "github.com/alchemy-go/alchemy/internal/auth/bundled"
