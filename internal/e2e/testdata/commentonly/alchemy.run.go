//go:build ignore

// Not a stack yet. TODO: call alchemy.Run("name", ...) from main
// (TestKnownBugs/CommentIsNotAStack).
package main

import "fmt"

func main() { fmt.Println("this program declares no stack") }
