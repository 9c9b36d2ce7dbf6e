package github

import (
	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// Shape lays the GitHub entry and secrets out as the TypeScript tool's v1
// file (profiles/<p>/github.json) does: profile.GitHubShape, which every
// profile store knows.
func (Provider) Shape() profile.Shape { return profile.GitHubShape() }

// Importing this package links the provider into the program (auth.Link):
// a stack program has the built-in providers its resources use.
func init() { auth.Link(Provider{}) }
