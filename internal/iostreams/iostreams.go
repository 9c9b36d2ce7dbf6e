// Package iostreams owns the process's standard streams and every decision
// that depends on what they are connected to: whether we may prompt, whether
// to draw progress, whether output must stay plain and line-oriented.
package iostreams

import (
	"bytes"
	"fmt"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/alchemy-go/alchemy/internal/redact"
)

// IOStreams are a command's input and outputs.
type IOStreams struct {
	In io.Reader
	// Out and ErrOut pass everything through the redaction registry.
	Out    io.Writer
	ErrOut io.Writer
	// rawOut and rawErr are the streams themselves, for the explicit
	// disclosures (profile env, profile exec) alone.
	rawOut, rawErr io.Writer

	inTTY, outTTY, errTTY bool
	getenv                func(string) string
	mu                    sync.Mutex
}

// System returns the real streams.
func System() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: redact.Writer{W: os.Stdout}, ErrOut: redact.Writer{W: os.Stderr},
		rawOut: os.Stdout, rawErr: os.Stderr,
		inTTY:  isTerminal(os.Stdin),
		outTTY: isTerminal(os.Stdout),
		errTTY: isTerminal(os.Stderr),
		getenv: os.Getenv,
	}
}

// Test returns streams backed by buffers, not terminals, with an empty
// environment for the interactivity check.
func Test() (s *IOStreams, in *bytes.Buffer, out *bytes.Buffer, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: redact.Writer{W: out}, ErrOut: redact.Writer{W: errOut}, rawOut: out, rawErr: errOut,
		getenv: func(string) string { return "" }}, in, out, errOut
}

// Disclosed returns the streams without redaction: for what the user
// explicitly asked to see or pass on (profile env, profile exec), nothing
// else.
func (s *IOStreams) Disclosed() (out, errOut io.Writer) {
	if s.rawOut == nil {
		return s.Out, s.ErrOut
	}
	return s.rawOut, s.rawErr
}

// SetTTY pretends the streams are terminals (tests).
func (s *IOStreams) SetTTY(in, out, errOut bool) { s.inTTY, s.outTTY, s.errTTY = in, out, errOut }

// SetGetenv replaces the environment the interactivity check reads (tests).
func (s *IOStreams) SetGetenv(f func(string) string) { s.getenv = f }

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// agentVars are set by coding agents, which run commands with a pseudo-TTY
// but nobody at the keyboard.
var agentVars = []string{"CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "CURSOR_AGENT", "AIDER_MODEL", "CODEX_CLI"}

// CanPrompt reports whether a person can answer a prompt. It reads the process
// environment, not a .env file: whether someone is at the keyboard is a fact
// about this process, not about the project.
func (s *IOStreams) CanPrompt() bool {
	env := s.getenv
	if env("ALCHEMY_PLAIN") == "1" || env("ALCHEMY_NO_TUI") == "1" {
		return false
	}
	if !s.inTTY || !s.outTTY {
		return false
	}
	if env("ALCHEMY_TUI") == "1" {
		return true
	}
	if s.ci() {
		return false
	}
	for _, v := range agentVars {
		if env(v) != "" {
			return false
		}
	}
	return true
}

// Plain reports whether output must be plain lines: no TTY on stdout, or CI set.
func (s *IOStreams) Plain() bool { return !s.outTTY || s.ci() }

// ci reports whether CI is set to a true value: CI=false, 0, no or off
// (what some runners export outside CI) is not CI, as for credentials
// (envfile.Bool).
func (s *IOStreams) ci() bool { return envfile.IsTrue(s.getenv("CI")) }

// Color reports whether output on stdout (toStderr: on stderr) may carry
// ANSI colour: a terminal, no CI, and no NO_COLOR (https://no-color.org:
// set to anything non-empty).
func (s *IOStreams) Color(toStderr bool) bool {
	tty := s.outTTY
	if toStderr {
		tty = s.errTTY
	}
	return tty && !s.ci() && s.getenv("NO_COLOR") == ""
}

// Printf writes to stdout.
func (s *IOStreams) Printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.Out, format, args...)
}

// Println writes one line to stdout.
func (s *IOStreams) Println(line string) { s.Printf("%s\n", line) }

// Errorf writes to stderr.
func (s *IOStreams) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.ErrOut, format, args...)
}

// Info, Success and Warn are the status lines of auth flows. They go to
// stderr so stdout stays parseable (--json, profile env).
func (s *IOStreams) Info(msg string)    { s.Errorf("%s\n", msg) }
func (s *IOStreams) Success(msg string) { s.Errorf("%s\n", msg) }
func (s *IOStreams) Warn(msg string) {
	if !strings.HasPrefix(msg, "warning: ") {
		msg = "warning: " + msg
	}
	s.Errorf("%s\n", msg)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
