//go:build windows

package stackrun

import (
	"os/exec"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// isolate has nothing to set before the start on Windows: runIsolated puts
// the go command in a job object of its own once it has started.
func isolate(*exec.Cmd) {}

// runIsolated starts cmd in a job object of its own, which every process
// it starts (compiler, linker) joins: cancelling the command terminates
// the whole job, and closing the job's handle, which the system does when
// alchemy dies without a chance to cancel, kills whatever is left
// (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE). When go did not end on its own,
// runIsolated returns once no process of the job is left (or
// groupExitWait passed), so the caller can remove the directories they
// were writing to. Without a job (the system refused one), go alone is
// killed, as CommandContext does.
func runIsolated(cmd *exec.Cmd) error {
	job, err := killOnCloseJob()
	if err != nil {
		return cmd.Run()
	}
	defer windows.CloseHandle(job)
	var cancelled atomic.Bool
	cmd.Cancel = func() error {
		cancelled.Store(true)
		windows.TerminateJobObject(job, 1)
		return cmd.Process.Kill()
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// go has only just started: it starts a compiler after reading the
	// module, long after this. os.Process holds a handle to it, so its
	// pid names no other process meanwhile.
	if h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid)); err == nil {
		windows.AssignProcessToJobObject(job, h)
		windows.CloseHandle(h)
	}
	err = cmd.Wait()
	if !cancelled.Load() {
		// go ended by itself, having waited for its compilers: what it
		// left running on purpose (its telemetry upload) may go on, as on
		// Unix, where only a killed build's group is swept.
		setJobLimits(job, 0)
		return err
	}
	windows.TerminateJobObject(job, 1)
	deadline := time.Now().Add(groupExitWait)
	for jobActive(job) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	return err
}

// killOnCloseJob makes a job object whose processes are killed when its
// last handle closes.
func killOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, err
	}
	if err := setJobLimits(job, windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE); err != nil {
		windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
}

// setJobLimits sets job's basic limit flags.
func setJobLimits(job windows.Handle, flags uint32) error {
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{LimitFlags: flags},
	}
	_, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	return err
}

// jobAccounting is JOBOBJECT_BASIC_ACCOUNTING_INFORMATION.
type jobAccounting struct {
	TotalUserTime, TotalKernelTime, ThisPeriodTotalUserTime, ThisPeriodTotalKernelTime int64
	TotalPageFaultCount, TotalProcesses, ActiveProcesses, TotalTerminatedProcesses     uint32
}

// jobActive reports whether a process of job is still running.
func jobActive(job windows.Handle) bool {
	var acct jobAccounting
	if err := windows.QueryInformationJobObject(job, windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&acct)), uint32(unsafe.Sizeof(acct)), nil); err != nil {
		return false
	}
	return acct.ActiveProcesses > 0
}
