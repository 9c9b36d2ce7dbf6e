// Package prompt is the one place alchemy asks a person something. Commands
// and auth providers depend on the Prompter interface; the terminal
// implementation (package tui) uses charmbracelet/huh (arrow-key selects,
// masked secrets), a stack program run by the alchemy command asks through
// it (remote.go), and when nobody can answer every prompt fails with
// ErrNonInteractive instead of blocking.
package prompt

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/redact"
)

// ErrCancelled is returned when the person cancels a prompt (Ctrl-C, Esc).
var ErrCancelled = errors.New("User cancelled prompt")

// ErrNonInteractive is returned by every prompt when nobody can answer.
var ErrNonInteractive = errors.New("cannot prompt: this process is non-interactive")

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
	Hint  string
}

// Input describes a free-text question.
type Input struct {
	Title       string
	Placeholder string
	// Default is returned when the answer is empty.
	Default string
	// Secret masks the answer as it is typed.
	Secret bool
	// Required refuses an empty answer (after Default) with "Required".
	Required bool
	Validate func(string) error
}

// Prompter asks questions.
type Prompter interface {
	Select(ctx context.Context, title string, options []Option, initial string) (string, error)
	MultiSelect(ctx context.Context, title string, options []Option, initial []string) ([]string, error)
	Input(ctx context.Context, in Input) (string, error)
	Confirm(ctx context.Context, title string, initial bool) (bool, error)
}

// interactive serialises whole prompt flows across goroutines, so two
// providers configuring at once never interleave their questions.
var interactive sync.Mutex

// Exclusive runs fn holding the process-wide interactive mutex.
func Exclusive(fn func() error) error {
	interactive.Lock()
	defer interactive.Unlock()
	return fn()
}

// New returns the prompter of this process. When nobody can answer it is
// NonInteractive. A stack program that the alchemy command runs asks
// through it (claimParent): the command draws the prompts, and the
// program links no form library. Otherwise it is the terminal's prompter
// (package tui, linked by the alchemy command and by `go run` of a stack
// file), or NonInteractive in a program built without one.
func New(io *iostreams.IOStreams) Prompter {
	if !io.CanPrompt() {
		return NonInteractive{}
	}
	if parent != nil {
		return parent
	}
	if newTerminal == nil {
		return NonInteractive{}
	}
	// The terminal itself, not the redacting writer: the form library
	// sizes and colours itself from the file, and what it draws is our
	// questions and the person's own (masked) answers.
	out, _ := io.Disclosed()
	return newTerminal(io.In, out)
}

// newTerminal makes the terminal's prompter; set by package tui.
var newTerminal func(in io.Reader, out io.Writer) Prompter

// SetTerminal installs the terminal's prompter (package tui's init).
func SetTerminal(f func(in io.Reader, out io.Writer) Prompter) { newTerminal = f }

// NonInteractive fails every prompt.
type NonInteractive struct{}

func (NonInteractive) Select(context.Context, string, []Option, string) (string, error) {
	return "", ErrNonInteractive
}
func (NonInteractive) MultiSelect(context.Context, string, []Option, []string) ([]string, error) {
	return nil, ErrNonInteractive
}
func (NonInteractive) Input(context.Context, Input) (string, error) { return "", ErrNonInteractive }
func (NonInteractive) Confirm(context.Context, string, bool) (bool, error) {
	return false, ErrNonInteractive
}

// Registering returns p with every answer to a secret input registered
// with the redaction registry the moment it is typed, before anything (a
// failed check, an error message) could show it.
func Registering(p Prompter) Prompter {
	if _, ok := p.(NonInteractive); ok {
		return p
	}
	return registering{p}
}

type registering struct{ Prompter }

func (r registering) Input(ctx context.Context, in Input) (string, error) {
	v, err := r.Prompter.Input(ctx, in)
	if in.Secret {
		redact.Add(v)
	}
	return v, err
}
