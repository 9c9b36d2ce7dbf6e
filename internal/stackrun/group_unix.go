//go:build unix

package stackrun

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// isolate makes cmd the leader of a process group of its own, so that
// cancelling it kills everything it started, and (where the platform can)
// has the kernel kill it if alchemy dies first.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		// Until Wait has reaped go, its pid (the group's id) cannot be
		// reused; once it has, Signal says so and nothing is sent.
		if err := cmd.Process.Signal(syscall.Signal(0)); errors.Is(err, os.ErrProcessDone) {
			return err
		}
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
		return nil
	}
}

// runIsolated starts cmd (see isolate) and waits for it. When go did not
// end on its own (cancelled, or killed by a signal), what it started may
// still be running, orphaned: the group is killed again and runIsolated
// returns once no member of it is left running (or groupExitWait passed),
// so the caller can remove the directories they were writing to. A go that
// exited by itself has waited for its children: nothing is swept then.
func runIsolated(cmd *exec.Cmd) error {
	unlock := lockThread()
	defer unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		endGroup(cmd.Process.Pid)
	}
	return err
}

// endGroup kills what is left of process group pgid and waits until none of
// it is running. A member outlived its leader, so the group, and with it
// its id, still exists: the signal cannot reach anyone else's processes.
func endGroup(pgid int) {
	if syscall.Kill(-pgid, syscall.SIGKILL) != nil {
		return // ESRCH: no member left
	}
	deadline := time.Now().Add(groupExitWait)
	for groupRunning(pgid) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}
