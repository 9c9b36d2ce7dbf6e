//go:build ignore

// The hello stack: two local resources, no cloud account needed. The file's
// content reads the random string's value, so the file depends on it and is
// created after it; the plan shows its content as (known after apply).
//
//	alchemy deploy ./examples/hello      (or: go run ./examples/hello/alchemy.run.go deploy)
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("hello", func(s *alchemy.Stack) {
		name := local.NewRandomString(s, "Name", local.RandomStringProps{
			Length:  alchemy.Int(8),
			Charset: alchemy.String("abcdefghijklmnopqrstuvwxyz"),
		})
		greeting := local.NewFile(s, "Greeting", local.FileProps{
			Content: alchemy.Sprintf("Hello from stage %s, %s!\n", s.Stage(), name.Value),
		})
		s.Output("name", name.Value)
		s.Output("greetingFile", greeting.Path)
	})
}
