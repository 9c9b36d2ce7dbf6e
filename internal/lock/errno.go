package lock

import (
	"errors"
	"io/fs"
	"syscall"
)

// unavailableCode names the errno when err means this home cannot hold a
// lock at all (read-only, not ours, or full), and returns "" otherwise. These
// are the codes the TypeScript tool degrades on; anything else is a real
// failure and is returned to the caller.
func unavailableCode(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EROFS:
			return "EROFS"
		case syscall.EACCES:
			return "EACCES"
		case syscall.EPERM:
			return "EPERM"
		case syscall.ENOSPC:
			return "ENOSPC"
		}
	}
	// Windows reports access denial with its own error numbers, which only
	// fs.ErrPermission recognises.
	if errors.Is(err, fs.ErrPermission) {
		return "EACCES"
	}
	return ""
}
