//go:build unix

package lock

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// processDead reports whether pid is certainly gone. EPERM means the
// process exists under another user, so only ESRCH counts. A zombie (killed,
// not yet reaped by its parent) is gone too: in containers whose init reaps
// slowly, waiting for the reaping would stall the next run for seconds.
func processDead(pid int) bool {
	if errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
		return true
	}
	return zombie(pid)
}

// zombie reads the process state from /proc (Linux); elsewhere it is false.
func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces or parentheses.
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && data[i+2] == 'Z'
}

// processStart is the start time of pid (in clock ticks since boot, from
// /proc on Linux), "" where unknown. Together with the pid it names one
// process: a pid reused later has another start time.
func processStart(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ""
	}
	// Fields after the command: state is field 3; starttime is field 22.
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 20 {
		return ""
	}
	return string(fields[19])
}
