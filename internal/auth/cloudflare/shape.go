package cloudflare

import (
	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// Shape lays the Cloudflare entry and secrets out as the TypeScript tool's
// v1 file (profiles/<p>/cloudflare.json) does: profile.CloudflareShape,
// which every profile store knows.
func (Provider) Shape() profile.Shape { return profile.CloudflareShape() }

// Importing this package links the provider into the program (auth.Link):
// a stack program has the built-in providers its resources use.
func init() { auth.Link(Provider{}) }
