//go:build ignore

// A stack whose output changes without any resource changing: the output
// "mode" is $E2E_MODE (TestKnownBugs/OutputsNeverRewritten).
package main

import (
	"os"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("outputs", func(s *alchemy.Stack) {
		r := local.NewRandomString(s, "R", local.RandomStringProps{Length: alchemy.Int(6)})
		s.Output("value", r.Value)
		s.Output("mode", os.Getenv("E2E_MODE"))
	})
}
