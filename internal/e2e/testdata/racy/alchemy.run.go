//go:build ignore

// A pause, then a file written after it: a deploy that takes a few seconds,
// for two deploys of one stage at once (TestKnownBugs/StalePlanAfterLock).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("racy", func(s *alchemy.Stack) {
		nap := local.NewSleep(s, "Nap", local.SleepProps{Create: alchemy.String("3s")})
		f := local.NewFile(s, "After", local.FileProps{
			Content: alchemy.Sprintf("after a pause of %s\n", alchemy.Attr[string](nap.Resource, "slept")),
		})
		s.Output("file", f.Path)
	})
}
