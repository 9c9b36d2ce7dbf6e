//go:build ignore

// The same with the right types: compiles (TestInputsAreTyped).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("typed", func(s *alchemy.Stack) {
		n := local.NewRandomString(s, "N", local.RandomStringProps{Length: alchemy.Int(8)})
		local.NewFile(s, "F", local.FileProps{Content: alchemy.Sprintf("%s", n.Value), Path: alchemy.Secret("f.txt")})
	})
}
