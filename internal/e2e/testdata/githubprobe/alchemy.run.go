//go:build ignore

// A stack whose one resource is of a third-party kind that names the
// built-in GitHub auth provider without importing it
// (TestStackProgramLinksProvidersOnlyWhenNeeded).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/testprovider"
)

func main() {
	alchemy.Run("githubprobe", func(s *alchemy.Stack) {
		p := testprovider.NewGitHubProbe(s, "Probe")
		s.Output("tokenHash", p.TokenHash)
	})
}
