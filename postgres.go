//go:build !alchemy_nopg

package alchemy

// A stack program links the PostgreSQL state store unless it is built with
// the alchemy_nopg tag, as the alchemy command builds stacks whose state
// is not on PostgreSQL (the driver is a fifth of the program and of its
// link). `go run alchemy.run.go` links it.
import _ "github.com/alchemy-go/alchemy/internal/state/pgstate/pglink"
