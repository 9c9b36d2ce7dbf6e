//go:build !unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
)

// newShared makes a file the alchemy command shares with the stack
// programs it runs, named by its path: os/exec passes no extra descriptors
// here. Its maker removes it; a process killed outright leaves it in
// $TMPDIR.
func newShared(pattern string) (*os.File, error) { return os.CreateTemp("", pattern) }

// sharedByDescriptor: here shared files reach a program by their path.
const sharedByDescriptor = false

// sharedEnv tells a program under key where f is.
func sharedEnv(key string, f *os.File, fd int) string { return key + "=" + f.Name() }

// claimShared opens, at a program's package init, the shared file that v
// names: only an existing regular file (not a link) in the temp directory
// named like alchemy's (newShared), never created. Nil for anything else.
func claimShared(v string) *os.File {
	if !filepath.IsAbs(v) || filepath.Dir(v) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(v), "alchemy-") {
		return nil
	}
	if fi, err := os.Lstat(v); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.OpenFile(v, os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	return f
}
