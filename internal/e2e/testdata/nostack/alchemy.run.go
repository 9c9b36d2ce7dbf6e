//go:build ignore

// A Go program that declares no stack.
package main

import "fmt"

func main() { fmt.Println("hello, not a stack") }
