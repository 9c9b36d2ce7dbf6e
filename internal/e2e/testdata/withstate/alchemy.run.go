//go:build ignore

// A stack that keeps its state in another project directory
// (alchemy.WithState): TestWithStateFromTheBinary.
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("withstate", func(s *alchemy.Stack) {
		f := local.NewFile(s, "Greeting", local.FileProps{Content: alchemy.String("hello\n")})
		s.Output("greeting", f.Path)
	}, alchemy.WithState("file://shared"))
}
