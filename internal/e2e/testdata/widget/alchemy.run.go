//go:build ignore

// A stack that needs credentials of the Widget test provider, which is not
// built into alchemy (TestFirstDeployAuthWalk).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/testprovider"
)

func main() {
	alchemy.Run("widget", func(s *alchemy.Stack) {
		th := testprovider.NewThing(s, "Thing", testprovider.ThingProps{Label: alchemy.String("one")})
		s.Output("tokenHash", th.TokenHash)
	}, alchemy.WithAuth(testprovider.Auth{}))
}
