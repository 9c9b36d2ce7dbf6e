//go:build ignore

// A stack file that panics while it declares its resources:
// TestStackPanicNamesItsLine checks that the error names line 17 of this
// file, not the runtime's or the SDK's frames.
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("panicky", func(s *alchemy.Stack) {
		local.NewFile(s, "Greeting", local.FileProps{Content: alchemy.String("hi\n")})
		var names map[string]string
		names["Greeting"] = "boom"
	})
}
