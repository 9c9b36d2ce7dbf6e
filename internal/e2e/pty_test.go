//go:build unix

package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Driving the real huh prompts on a pseudo-terminal, as a person would. The
// techniques (answering termenv's terminal queries, stripping escapes,
// expecting text in order) are those of internal/cli/pty_test.go.

// Keys as a terminal sends them in raw mode.
const (
	keyDown  = "\x1b[B"
	keyEnter = "\r"
	keyCtrlC = "\x03"
)

// ptyTimeout bounds every wait for the screen or the process. Generous: the
// first run of a stack file builds it.
const ptyTimeout = 90 * time.Second

// ptyProc is a running alchemy on a pseudo-terminal.
type ptyProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File

	mu       sync.Mutex
	raw      bytes.Buffer
	answered int // bytes of raw already scanned for terminal queries
	cursor   int // offset in the stripped screen text that expect has consumed

	readDone chan struct{}
	exited   chan struct{}
	waitErr  error
}

// startPTY runs `alchemy args...` in w's working directory and environment
// (plus extra) on a 120x40 pseudo-terminal. The process leads a new session
// whose controlling terminal is the pty, so a Ctrl-C typed there reaches
// alchemy and the stack program it runs, as in a real terminal.
func (w *world) startPTY(extra []string, args ...string) *ptyProc {
	t := w.t
	t.Helper()
	cmd := exec.Command(alchemyBin, args...)
	cmd.Dir = w.dir
	cmd.Env = append(append(append([]string(nil), w.env...), "TERM=xterm-256color"), extra...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		t.Fatalf("start alchemy on a pty: %v", err)
	}
	p := &ptyProc{t: t, cmd: cmd, ptmx: ptmx, readDone: make(chan struct{}), exited: make(chan struct{})}
	go p.readLoop()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
		select {
		case <-p.readDone:
		case <-time.After(2 * time.Second):
		}
		_ = ptmx.Close()
		if t.Failed() {
			t.Logf("alchemy %s: screen:\n%s", strings.Join(args, " "), p.screen())
		}
	})
	return p
}

// termQueryRE matches what termenv (through lipgloss) asks a terminal to
// decide the background colour: OSC 10/11 queries and a cursor position
// report request.
var termQueryRE = regexp.MustCompile(`\x1b\]1[01];\?(?:\x07|\x1b\\)|\x1b\[6n`)

func (p *ptyProc) readLoop() {
	defer close(p.readDone)
	buf := make([]byte, 4096)
	for {
		n, err := p.ptmx.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.raw.Write(buf[:n])
			replies := p.termReplies()
			p.mu.Unlock()
			if replies != "" {
				_, _ = p.ptmx.WriteString(replies)
			}
		}
		if err != nil {
			return // EIO once the process has exited
		}
	}
}

// termReplies answers the terminal queries seen since the last call, as
// xterm would. Without answers termenv waits 5s before the first prompt.
func (p *ptyProc) termReplies() string {
	var out strings.Builder
	base := p.answered
	data := p.raw.Bytes()[base:]
	for _, m := range termQueryRE.FindAllIndex(data, -1) {
		q := string(data[m[0]:m[1]])
		switch {
		case q == "\x1b[6n":
			out.WriteString("\x1b[1;1R")
		case strings.HasPrefix(q, "\x1b]10;"):
			out.WriteString("\x1b]10;rgb:ffff/ffff/ffff\x1b\\")
		default:
			out.WriteString("\x1b]11;rgb:0000/0000/0000\x1b\\")
		}
		p.answered = base + m[1]
	}
	return out.String()
}

// ansiRE matches the escape sequences a TUI writes.
var ansiRE = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_]|\x1b[=>78]`)

// screen is everything the process wrote, escape sequences removed and line
// ends normalised to \n.
func (p *ptyProc) screen() string {
	p.mu.Lock()
	raw := p.raw.String()
	p.mu.Unlock()
	return stripANSI(raw)
}

func (p *ptyProc) rawOutput() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

func stripANSI(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// expect waits until text appears on the screen after what earlier expects
// matched, and consumes the screen up to the end of the match.
func (p *ptyProc) expect(text string) {
	p.t.Helper()
	deadline := time.Now().Add(ptyTimeout)
	for {
		s := p.screen()
		if p.cursor <= len(s) {
			if i := strings.Index(s[p.cursor:], text); i >= 0 {
				p.cursor += i + len(text)
				return
			}
		}
		select {
		case <-p.readDone:
			s = p.screen()
			if i := strings.Index(s[min(p.cursor, len(s)):], text); i >= 0 {
				p.cursor += i + len(text)
				return
			}
			p.t.Fatalf("alchemy exited before %q appeared; screen after the last match:\n%s", text, s[min(p.cursor, len(s)):])
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %s waiting for %q; screen after the last match:\n%s", ptyTimeout, text, s[min(p.cursor, len(s)):])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send types keys.
func (p *ptyProc) send(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		if _, err := p.ptmx.WriteString(k); err != nil {
			p.t.Fatalf("write %q to the pty: %v", k, err)
		}
	}
}

// wait waits for the process to exit and its output to be read, and
// returns the exit code (128+signal when a signal ended it).
func (p *ptyProc) wait() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(ptyTimeout):
		p.t.Fatalf("alchemy did not exit within %s; screen:\n%s", ptyTimeout, p.screen())
	}
	select {
	case <-p.readDone:
	case <-time.After(ptyTimeout):
		p.t.Fatalf("pty output did not end within %s after exit", ptyTimeout)
	}
	var exit *exec.ExitError
	switch {
	case p.waitErr == nil:
		return 0
	case errors.As(p.waitErr, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.waitErr)
	return -1
}

// requireExit waits for exit and checks the code.
func (p *ptyProc) requireExit(want int) {
	p.t.Helper()
	if got := p.wait(); got != want {
		p.t.Fatalf("exit code %d, want %d; screen:\n%s", got, want, p.screen())
	}
}

// mustNotShow fails when the output (raw or stripped) contains secret.
func (p *ptyProc) mustNotShow(secret string) {
	p.t.Helper()
	raw := p.rawOutput()
	if strings.Contains(raw, secret) || strings.Contains(stripANSI(raw), secret) {
		p.t.Errorf("the secret %q was echoed to the terminal", secret)
	}
}
