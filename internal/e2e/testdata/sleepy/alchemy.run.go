//go:build ignore

// 40 independent pauses of 300 ms each: with --concurrency 4 a deploy takes
// about 3 s, long enough to interrupt it (TestCtrlCDuringDeploy).
package main

import (
	"fmt"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("sleepy", func(s *alchemy.Stack) {
		for i := range 40 {
			local.NewSleep(s, fmt.Sprintf("Nap%02d", i), local.SleepProps{Create: alchemy.String("300ms")})
		}
	})
}
