//go:build alchemy_child

package cli

import (
	"context"
	"errors"
)

// A stack program built by the alchemy command (-tags=alchemy_child) runs
// one stack command for it and builds nothing: the builder, the dev loop
// and the terminal prompts stay in the alchemy command (stackfile.go,
// devsession.go), and so do go/build, fsnotify and the form library.

// devRun is never reached in a stack program: dev refuses to run there
// (NewCmdDev).
func devRun(context.Context, *DevOptions, string, []string) error {
	return errors.New("alchemy dev runs from the alchemy command, not from a stack program")
}
