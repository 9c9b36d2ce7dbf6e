package stackrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// A build runs the go command twice at once (go build, and go list for the
// embed manifest), and each go starts compilers, a linker, sometimes cgo's
// C compiler. Cancelling the build (Ctrl-C in `alchemy dev` or `alchemy
// deploy`) must stop all of them and leave nothing on disk, but
// exec.CommandContext kills only the process it started: the linker would
// carry on under init and go's work directory (go-build*, tens of
// megabytes) would never be removed, since go removes it itself only when
// it exits normally. So every go command of a build runs
//
//   - in a process group of its own, killed as a whole (SIGKILL to the
//     group) when the build is cancelled; the build then waits until no
//     member of the group is left running (group_unix.go). Elsewhere only
//     go itself can be killed (group_other.go);
//   - with GOTMPDIR set to a fresh directory under the stack's cache
//     directory, removed when the build ends, whatever happened: go's work
//     directory lives there, so nothing outlives the build even when go
//     itself is killed. One left by an alchemy killed with SIGKILL, which
//     nothing can handle (on Linux the kernel then kills go too: a parent
//     death signal), is removed by a later build of the stack once it is
//     an hour old (prune).
//
// A process group of its own also means a terminal's Ctrl-C no longer
// reaches go directly: alchemy gets it, cancels the build and kills the
// group, so the build stops the same way whoever sent the signal (a
// terminal, kill(1) on alchemy alone, a test).

// goTmpPrefix names a build's GOTMPDIR in the stack's cache directory.
const goTmpPrefix = ".gotmp-"

// groupExitWait bounds how long a finished go command's process group may
// take to die once killed; removing GOTMPDIR does not wait longer.
const groupExitWait = 5 * time.Second

// goTool runs the go command for one build.
type goTool struct {
	bin string   // the go command
	dir string   // the directory it runs in (the stack file's)
	env []string // the build environment
	tmp string   // GOTMPDIR: the build's own, see newGoTmp
}

// newGoTmp makes the fresh GOTMPDIR of one build in the stack's cache
// directory sdir. The caller removes it with removeGoTmp.
func newGoTmp(sdir string) (string, error) {
	dir, err := os.MkdirTemp(sdir, fmt.Sprintf("%s%d-", goTmpPrefix, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("stack cache: %w", err)
	}
	return dir, nil
}

// removeGoTmp removes a build's GOTMPDIR. A process of the build that was
// killed in the middle of a system call may still complete it (creating a
// file) after the first pass, so it tries a few times.
func removeGoTmp(dir string) error {
	var err error
	for try := 0; try < 5; try++ {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// run runs `go args...` with stdout and stderr going to the writers (the
// same one for combined output). When ctx is cancelled, go and everything
// it started is killed. run returns once go has exited and, where the
// platform lets alchemy know, nothing it started is still running.
func (g goTool) run(ctx context.Context, stdout, stderr io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, g.bin, args...)
	cmd.Dir = g.dir
	// Later entries win: this GOTMPDIR replaces the user's.
	cmd.Env = append(g.env[:len(g.env):len(g.env)], "GOTMPDIR="+g.tmp)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// After the kill, stop waiting for output from a process that somehow
	// still holds the pipes.
	cmd.WaitDelay = 5 * time.Second
	isolate(cmd)
	return runIsolated(cmd)
}

// pruneGoTmps removes the GOTMPDIRs of builds killed with their alchemy
// process, once they are old enough not to belong to a build still running
// without the stack's lock.
func pruneGoTmps(sdir string, ents []os.DirEntry, now time.Time) {
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), goTmpPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > staleTemp {
			_ = os.RemoveAll(filepath.Join(sdir, e.Name()))
		}
	}
}
