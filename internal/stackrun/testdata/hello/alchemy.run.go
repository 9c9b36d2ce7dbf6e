//go:build ignore

// A stack inside the alchemy module itself, for measuring the cache key on
// this repository.
package main

import "github.com/alchemy-go/alchemy"

func main() { alchemy.Run("hello", func(s *alchemy.Stack) {}) }
