//go:build ignore

// A stack file that does not compile: TestStackFileErrors checks that the
// compiler's error reaches the user.
package main

import "github.com/alchemy-go/alchemy"

func main() {
	alchemy.Run("broken", func(s *alchemy.Stack) {
		var n int = "not a number"
		_ = n
	})
}
