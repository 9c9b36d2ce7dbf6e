//go:build unix && !linux

package stackrun

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}

func lockThread() (unlock func()) { return func() {} }

// groupRunning reports whether process group pgid has a member. Without
// /proc a zombie counts too, so endGroup may wait for init to reap one
// (bounded by groupExitWait).
func groupRunning(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}
