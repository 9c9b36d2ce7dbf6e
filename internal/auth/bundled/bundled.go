// Package bundled lists the auth providers built into the alchemy binary,
// used by commands that run without a stack file (profile, logout, login
// before the engine can discover providers from a stack).
package bundled

import (
	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/auth/aws"
	"github.com/alchemy-go/alchemy/internal/auth/cloudflare"
	"github.com/alchemy-go/alchemy/internal/auth/github"
)

// Registry returns the bundled providers in menu order.
func Registry() *auth.Registry {
	return auth.NewRegistry(cloudflare.Provider{}, aws.Provider{}, github.Provider{})
}
