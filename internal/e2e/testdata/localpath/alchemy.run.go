//go:build ignore

// Files at paths the stack names, next to the stack file itself
// (TestRegressions/FileChmodsItsDirectory, TestExistingFileNeedsAdopt).
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
