//go:build ignore

// A stack inside the alchemy module itself, for measuring the cache key on
// this repository. A real stack calls alchemy.Run("hello", func(s *alchemy.Stack) { ... }).
package main

import "fmt"

func main() { fmt.Println("hello") }
