//go:build ignore

// A file at a path the stack names, in the working directory itself
// (TestKnownBugs/FileChmodsItsDirectory).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("localpath", func(s *alchemy.Stack) {
		local.NewFile(s, "Readme", local.FileProps{
			Path:    alchemy.String("greeting.txt"),
			Content: alchemy.String("hello\n"),
		})
		local.NewFile(s, "Nested", local.FileProps{
			Path:    alchemy.String("public/index.html"),
			Content: alchemy.String("<p>hello</p>\n"),
		})
	})
}
