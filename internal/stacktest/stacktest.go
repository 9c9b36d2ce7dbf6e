// Package stacktest gives tests the stack program alchemy.Run would run,
// without running it, so they can drive the CLI in-process. It is internal:
// the SDK's public API names no internal type.
package stacktest

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/cli"
)

// Program is alchemy.Run(name, body, opts...) without running: the stack
// as the CLI sees it.
func Program(name string, body func(*alchemy.Stack), opts ...alchemy.StackOption) *cli.StackProgram {
	return cli.SDKProgram(name, body, opts)
}
