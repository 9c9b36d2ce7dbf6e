//go:build unix

package e2e

import (
	"os/exec"
	"time"

	"github.com/alchemy-go/alchemy/internal/testpty"
)

// Driving the real huh prompts on a pseudo-terminal, as a person would,
// through internal/testpty (answering termenv's terminal queries, stripping
// escapes, expecting text in order), which internal/cli's PTY tests use too.

// ptyTimeout bounds every wait for the screen or the process. Generous: the
// first run of a stack file builds it.
const ptyTimeout = 90 * time.Second

// startPTY runs `alchemy args...` in w's working directory and environment
// (plus extra) on a 120x40 pseudo-terminal. The process leads a new session
// whose controlling terminal is the pty, so a Ctrl-C typed there reaches
// alchemy and the stack program it runs, as in a real terminal.
func (w *world) startPTY(extra []string, args ...string) *testpty.Proc {
	t := w.t
	t.Helper()
	cmd := exec.Command(alchemyBin, args...)
	cmd.Dir = w.dir
	cmd.Env = append(append(append([]string(nil), w.env...), "TERM=xterm-256color"), extra...)
	p := testpty.Start(t, cmd, 120, 40)
	p.Name = "alchemy"
	p.Timeout = ptyTimeout
	return p
}
