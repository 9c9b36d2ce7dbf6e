//go:build unix

package testpty

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Keys as a terminal sends them in raw mode.
const (
	KeyUp        = "\x1b[A"
	KeyDown      = "\x1b[B"
	KeyEnter     = "\r"
	KeySpace     = " "
	KeyCtrlC     = "\x03"
	KeyBackspace = "\x7f"
)

// DefaultTimeout is the Timeout Start gives a Proc.
const DefaultTimeout = 10 * time.Second

// Proc is a process running on a pseudo-terminal.
type Proc struct {
	// Name is what failure messages call the process. Start sets it to the
	// base name of the command's path.
	Name string
	// Timeout bounds every wait for the screen (Expect) or the process
	// (Wait). Start sets it to DefaultTimeout.
	Timeout time.Duration

	t    testing.TB
	cmd  *exec.Cmd
	ptmx *os.File

	mu       sync.Mutex
	raw      bytes.Buffer
	answered int // bytes of raw already scanned for terminal queries
	matched  int // offset in the stripped screen text that Expect has consumed

	readDone chan struct{}
	exited   chan struct{}
	waitErr  error // written before exited is closed, read only after
}

// Start runs cmd on a cols x rows pseudo-terminal. The process leads a new
// session whose controlling terminal is the pty, so a Ctrl-C typed there
// reaches it and the processes it starts, as in a real terminal.
//
// When the test ends, a process group still running is killed, and the
// screen is logged if the test failed.
func Start(t testing.TB, cmd *exec.Cmd, cols, rows uint16) *Proc {
	t.Helper()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: cols, Rows: rows})
	if err != nil {
		t.Fatalf("start %s on a pty: %v", filepath.Base(cmd.Path), err)
	}
	p := &Proc{
		Name:     filepath.Base(cmd.Path),
		Timeout:  DefaultTimeout,
		t:        t,
		cmd:      cmd,
		ptmx:     ptmx,
		readDone: make(chan struct{}),
		exited:   make(chan struct{}),
	}
	go p.readLoop()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			// The process leads its own session and so its own process
			// group: kill it and whatever it started.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
		// The slave side is closed once the process is gone, so the reader
		// ends with EIO; closing the master also ends it.
		select {
		case <-p.readDone:
		case <-time.After(2 * time.Second):
		}
		_ = ptmx.Close()
		if t.Failed() {
			t.Logf("%s: screen:\n%s", strings.Join(append([]string{p.Name}, cmd.Args[1:]...), " "), p.Screen())
		}
	})
	return p
}

// termQueryRE matches what termenv (through lipgloss) asks a terminal to
// decide the background colour: OSC 10/11 queries and a cursor position
// report request.
var termQueryRE = regexp.MustCompile(`\x1b\]1[01];\?(?:\x07|\x1b\\)|\x1b\[6n`)

func (p *Proc) readLoop() {
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
// xterm would (a dark background, the cursor at 1;1). Without answers
// termenv (lipgloss's background detection) waits 5s before the first
// prompt renders. p.mu must be held.
func (p *Proc) termReplies() string {
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

// ansiRE matches the escape sequences a TUI writes: CSI (colours, cursor
// movement, modes), OSC, other string sequences, and two-byte escapes.
var ansiRE = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_]|\x1b[=>78]`)

// StripANSI removes escape sequences from s and normalises line ends to \n.
func StripANSI(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// Raw is everything the process wrote so far, as it wrote it.
func (p *Proc) Raw() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// Screen is everything the process wrote so far, escape sequences removed
// and line ends normalised to \n.
func (p *Proc) Screen() string {
	return StripANSI(p.Raw())
}

// Matched is the offset in Screen() up to which Expect has consumed it: the
// end of the last match.
func (p *Proc) Matched() int {
	return p.matched
}

// Expect waits until text appears on the screen after what earlier Expects
// matched, and consumes the screen up to the end of the match.
func (p *Proc) Expect(text string) {
	p.t.Helper()
	deadline := time.Now().Add(p.Timeout)
	for {
		s := p.Screen()
		if p.matched <= len(s) {
			if i := strings.Index(s[p.matched:], text); i >= 0 {
				p.matched += i + len(text)
				return
			}
		}
		select {
		case <-p.readDone:
			// Nothing more will arrive; check once more what did.
			s = p.Screen()
			if i := strings.Index(s[min(p.matched, len(s)):], text); i >= 0 {
				p.matched += i + len(text)
				return
			}
			p.t.Fatalf("%s exited before %q appeared; screen after the last match:\n%s", p.Name, text, s[min(p.matched, len(s)):])
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %s waiting for %q; screen after the last match:\n%s", p.Timeout, text, s[min(p.matched, len(s)):])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Send types keys.
func (p *Proc) Send(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		if _, err := p.ptmx.WriteString(k); err != nil {
			p.t.Fatalf("write %q to the pty: %v", k, err)
		}
	}
}

// TypeSecret types a secret into a masked input and waits for its mask.
func (p *Proc) TypeSecret(secret string) {
	p.t.Helper()
	p.Send(secret)
	p.Expect(strings.Repeat("*", len(secret)))
}

// MustNotShow fails the test when the output (raw or stripped) contains
// secret.
func (p *Proc) MustNotShow(secret string) {
	p.t.Helper()
	raw := p.Raw()
	if strings.Contains(raw, secret) || strings.Contains(StripANSI(raw), secret) {
		p.t.Errorf("the secret %q was echoed to the terminal", secret)
	}
}

// Wait waits for the process to exit and for its output to be read, and
// returns the exit code (128+signal when a signal ended it).
func (p *Proc) Wait() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(p.Timeout):
		p.t.Fatalf("%s did not exit within %s; screen:\n%s", p.Name, p.Timeout, p.Screen())
	}
	select {
	case <-p.readDone:
	case <-time.After(p.Timeout):
		p.t.Fatalf("pty output did not end within %s after exit", p.Timeout)
	}
	// p.exited is closed: p.waitErr is safe to read.
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

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// RequireExit waits for exit and fails the test unless the code is want.
func (p *Proc) RequireExit(want int) {
	p.t.Helper()
	if got := p.Wait(); got != want {
		p.t.Fatalf("exit code %d, want %d; screen:\n%s", got, want, p.Screen())
	}
}
