//go:build ignore

// A file, a pause, then a file written after the pause: a deploy that stays
// mid-apply for a few seconds, to be stopped there
// (TestStoppedHolderKeepsTheLease).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("stoppable", func(s *alchemy.Stack) {
		first := local.NewFile(s, "First", local.FileProps{Content: alchemy.String("first\n")})
		nap := local.NewSleep(s, "Nap", local.SleepProps{Create: alchemy.String("3s")})
		local.NewFile(s, "After", local.FileProps{
			Content: alchemy.Sprintf("after a pause of %s, next to %s\n", alchemy.Attr[string](nap.Resource, "slept"), first.Path),
		})
	})
}
