package github

import "github.com/alchemy-go/alchemy/internal/profile"

// Shape lays the GitHub entry and secrets out as the TypeScript tool's v1
// file (profiles/<p>/github.json) does: profile.GitHubShape, which every
// profile store knows.
func (Provider) Shape() profile.Shape { return profile.GitHubShape() }
