//go:build ignore

// An Int where a string is expected: must not compile (TestInputsAreTyped).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("typed", func(s *alchemy.Stack) {
		local.NewFile(s, "F", local.FileProps{Content: alchemy.Int(42)})
	})
}
