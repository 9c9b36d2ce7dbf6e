//go:build unix

package lock

import (
	"errors"

	"golang.org/x/sys/unix"
)

// processDead reports whether pid is certainly gone. EPERM means the
// process exists under another user, so only ESRCH counts.
func processDead(pid int) bool {
	return errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}
