package cli

import (
	"context"
	"os"
	"path/filepath"

	"github.com/alchemy-go/alchemy/internal/stackrun"
)

// runStackFile builds the stack file (cached) and runs it with args.
func runStackFile(ctx context.Context, file string, args []string) (int, error) {
	path, err := stackrun.Locate(file)
	if err != nil {
		return 0, err
	}
	b := &stackrun.Builder{Stderr: os.Stderr}
	exe, err := b.Build(ctx, path)
	if err != nil {
		return 0, err
	}
	abs, _ := filepath.Abs(path)
	return stackrun.Exec(ctx, exe, args, []string{"ALCHEMY_STACK_FILE=" + abs})
}
