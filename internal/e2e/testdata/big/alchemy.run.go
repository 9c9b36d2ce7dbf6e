//go:build ignore

// 400 resources: 200 random strings and 200 files, each file reading one
// string, at the files' default paths (.alchemy/files/...).
// TestKillMidDeployResumes kills deploys of it at many points.
package main

import (
	"fmt"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

// Pairs is how many string+file pairs the stack declares.
const Pairs = 200

func main() {
	alchemy.Run("big", func(s *alchemy.Stack) {
		for i := range Pairs {
			str := local.NewRandomString(s, fmt.Sprintf("Str%03d", i), local.RandomStringProps{Length: alchemy.Int(12)})
			local.NewFile(s, fmt.Sprintf("File%03d", i), local.FileProps{
				Content: alchemy.Sprintf("file %d: %s\n", i, str.Value),
			})
		}
		s.Output("pairs", Pairs)
	})
}
