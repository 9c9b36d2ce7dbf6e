package e2e

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The tests SIGKILL alchemy together with the stack program it runs. The
// orphaned stack program is reparented to init, which in some containers
// reaps slowly; until then it is a zombie, and alchemy's lock takes a zombie
// owner for a live one, so the next deploy waits for the reaping. As a
// child subreaper, this process gets those orphans itself and reaps them at
// once, as a normal init would.
func init() {
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// reapGroup reaps the members of process group pgid that were orphaned to
// this process, once they have exited.
func reapGroup(pgid int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil)
		if err != nil {
			return // ECHILD: none left
		}
		if pid == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}
