//go:build unix

package stackrun

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM}

// forward passes s on to the child, except a SIGINT that the terminal sent
// to the whole foreground process group (the child got that one itself).
func forward(p *os.Process, s os.Signal) {
	if s == syscall.SIGINT && inForegroundOfTerminal() {
		return
	}
	_ = p.Signal(s)
}

// inForegroundOfTerminal reports whether this process belongs to the
// foreground process group of its controlling terminal: then a Ctrl-C on
// that terminal reached this process and its children alike. A SIGINT sent
// with kill(1) to this process while it is in the foreground is
// indistinguishable and not forwarded; signal the process group instead.
func inForegroundOfTerminal() bool {
	fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // no controlling terminal
	}
	defer unix.Close(fd)
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil {
		return false
	}
	return fg == unix.Getpgrp()
}

func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// childPipes: Exec can pass a child descriptors beyond the standard three.
const childPipes = true
